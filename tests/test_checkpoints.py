"""Checkpoints: atomic save (even when killed halfway), safe load, and resuming training."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_utils.checkpoints import load_checkpoint, save_checkpoint
from course_utils.training import load_training_checkpoint, make_optimizer, make_scheduler, train

REPO = Path(__file__).resolve().parent.parent


def _state(value: float) -> dict:
    return {"weights": torch.full((256, 256), value), "epoch": int(value), "note": "plain data only"}


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_save_then_load_round_trips(tmp_path):
    path = save_checkpoint(_state(1.0), tmp_path / "sub" / "model.pt")
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["weights"], _state(1.0)["weights"]) and loaded["epoch"] == 1
    assert _files(path.parent) == ["model.pt"], "no temporary file may be left behind"


def test_a_save_that_fails_halfway_leaves_the_old_checkpoint_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    save_checkpoint(_state(1.0), path)
    real_save = torch.save

    def half_then_crash(obj, f, *args, **kwargs):
        buffer = io.BytesIO()
        real_save(obj, buffer)
        f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise KeyboardInterrupt("interrupted halfway through writing")

    monkeypatch.setattr(torch, "save", half_then_crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(_state(2.0), path)
    monkeypatch.undo()
    assert _files(tmp_path) == ["model.pt"]
    assert load_checkpoint(path)["epoch"] == 1


def test_a_process_killed_mid_write_leaves_the_old_checkpoint_intact(tmp_path):
    """SIGKILL cannot be caught: the only defence is never writing onto the real file."""
    path = tmp_path / "model.pt"
    save_checkpoint(_state(1.0), path)
    before = path.read_bytes()
    child = textwrap.dedent(f"""
        import io, sys, time, torch
        from course_utils.checkpoints import save_checkpoint
        real_save = torch.save
        def slow_save(obj, f, *args, **kwargs):
            buffer = io.BytesIO()
            real_save(obj, buffer)
            f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            f.flush()
            print("half written", flush=True)
            time.sleep(60)
        torch.save = slow_save
        save_checkpoint({{"weights": torch.full((256, 256), 2.0), "epoch": 2}}, {str(path)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "half written"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == before, "the checkpoint itself was touched"
    assert load_checkpoint(path)["epoch"] == 1
    # What a kill leaves is a hidden partial temp file beside it, never the checkpoint's name.
    leftovers = [name for name in _files(tmp_path) if name != "model.pt"]
    assert leftovers and all(name.startswith(".model.pt.") and name.endswith(".tmp") for name in leftovers), leftovers
    # ... and the next save of the same checkpoint clears it away.
    save_checkpoint(_state(3.0), path)
    assert _files(tmp_path) == ["model.pt"] and load_checkpoint(path)["epoch"] == 3


def test_the_next_save_deletes_stale_temp_files_of_that_checkpoint_only(tmp_path):
    stale = [".model.pt.abcd1234.tmp", ".model.pt.x_9y8z7w.tmp"]  # what killed saves of model.pt leave
    others = [
        ".other.pt.abcd1234.tmp",  # another checkpoint's leftover: its own next save cleans it
        ".model.pt.bak.abcd1234.tmp",  # a leftover of model.pt.bak, not of model.pt
        ".model.pt.abcd1234.tmp.keep", "model.pt.abcd1234.tmp", ".model.pt.short.tmp",  # not our pattern
        "notes.tmp", "model.pt.bak",
    ]
    for name in stale + others:
        (tmp_path / name).write_bytes(b"half a checkpoint")
    (tmp_path / ".model.pt.dir12345.tmp").mkdir()  # a folder with the pattern's name: not ours, left alone
    save_checkpoint(_state(1.0), tmp_path / "model.pt")
    assert _files(tmp_path) == sorted(others + [".model.pt.dir12345.tmp", "model.pt"])


def test_load_refuses_a_pickle_that_would_run_code(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    torch.save({"model": Evil()}, path)  # what a malicious download could contain
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(path)
    assert not marker.exists(), "loading ran the pickled code"


def test_load_of_a_truncated_file_says_so(tmp_path):
    path = save_checkpoint(_state(1.0), tmp_path / "model.pt")
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="damaged"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


# --- resume -------------------------------------------------------------------------

def _data() -> tuple[DataLoader, DataLoader]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 1, 6, 6, generator=g)
    y = (x.mean(dim=(1, 2, 3)) > 0).long()
    return DataLoader(TensorDataset(x, y), 16, shuffle=True), DataLoader(TensorDataset(x, y), 48)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.5), nn.Linear(4, 2))


def test_resume_continues_exactly_where_an_uninterrupted_run_would_be(tmp_path):
    train_loader, val_loader = _data()
    torch.manual_seed(1)
    straight = _model()
    full = train(straight, train_loader, val_loader, 3, lr=0.1, device="cpu", progress=False)

    ckpt = tmp_path / "run.pt"
    torch.manual_seed(1)
    first = _model()
    train(first, train_loader, val_loader, 2, lr=0.1, device="cpu", progress=False, checkpoint=ckpt)
    assert _files(tmp_path) == ["run.pt"]
    torch.manual_seed(999)  # a new session: nothing carried over in memory
    second = _model()
    resumed = train(second, train_loader, val_loader, 3, lr=0.1, device="cpu", progress=False,
                    checkpoint=ckpt, resume=True)

    assert resumed.epochs == 3
    assert resumed.val_acc == full.val_acc and resumed.train_loss == full.train_loss
    for a, b in zip(straight.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)
    assert load_checkpoint(ckpt)["epoch"] == 3


def test_resume_restores_optimizer_and_scheduler_state(tmp_path):
    train_loader, val_loader = _data()
    model = _model()
    opt = make_optimizer(model, lr=0.1)
    sched = make_scheduler(opt, patience=0)
    ckpt = tmp_path / "run.pt"
    train(model, train_loader, val_loader, 2, optimizer=opt, scheduler=sched, device="cpu", progress=False,
          checkpoint=ckpt)

    fresh = _model()
    opt2 = make_optimizer(fresh, lr=0.5)
    sched2 = make_scheduler(opt2, patience=0)
    epoch, history = load_training_checkpoint(ckpt, fresh, opt2, sched2)
    assert epoch == 2 and history.epochs == 2
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    assert sched2.best == sched.best and sched2.num_bad_epochs == sched.num_bad_epochs
    buf = opt.state[next(iter(model.parameters()))]["momentum_buffer"]
    buf2 = opt2.state[next(iter(fresh.parameters()))]["momentum_buffer"]
    assert torch.equal(buf, buf2)


def test_resume_without_a_checkpoint_starts_from_scratch(tmp_path):
    train_loader, val_loader = _data()
    history = train(_model(), train_loader, val_loader, 1, device="cpu", progress=False,
                    checkpoint=tmp_path / "new.pt", resume=True)
    assert history.epochs == 1 and (tmp_path / "new.pt").is_file()
