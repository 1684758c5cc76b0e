"""Checkpoints: atomic save (even when killed halfway), safe load, and resuming training."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_utils import small_vgg as sv
from course_utils.checkpoints import CheckpointError, file_sha256, fingerprint, load_checkpoint, save_checkpoint
from course_utils.training import History, load_training_checkpoint, make_optimizer, make_scheduler, train

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


# --- A damaged checkpoint is an error that says what to do, never a model (issue: nothing silently wrong). ---

OFFSETS = (0.1, 0.3, 0.5, 0.7, 0.9)  # where in the file 64 zero bytes land


def _damage(path, where: float, n: int = 64) -> None:
    data = bytearray(path.read_bytes())
    start = int(len(data) * where)
    data[start:start + n] = bytes(n)
    path.write_bytes(bytes(data))


def test_the_fingerprint_sees_every_value():
    state = {"w": torch.arange(6.0), "meta": {"lr": 0.1, "names": ["a", "b"]}}
    same = {"meta": {"names": ["a", "b"], "lr": 0.1}, "w": torch.arange(6.0)}  # other key order, same content
    assert fingerprint(state) == fingerprint(same)
    for changed in ({"w": torch.arange(6.0) + 1e-6, "meta": state["meta"]},
                    {"w": torch.arange(6.0).double(), "meta": state["meta"]},
                    {"w": torch.arange(6.0).reshape(2, 3), "meta": state["meta"]},
                    {"w": state["w"], "meta": {"lr": 0.2, "names": ["a", "b"]}}):
        assert fingerprint(changed) != fingerprint(state)


@pytest.mark.parametrize("where", OFFSETS)
def test_a_damaged_shipped_model_is_refused_at_every_offset(tmp_path, where):
    copy = tmp_path / "small_vgg.pt"
    shutil.copy(sv.SMALL_VGG_PATH, copy)
    _damage(copy, where)
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(copy)
    with pytest.raises(CheckpointError, match="damaged"):
        sv.load_small_vgg(copy, device="cpu")


def test_zero_bytes_inside_a_tensor_are_caught_by_the_fingerprint_not_by_torch(tmp_path):
    """The failure the issue measured: torch alone loads the damaged file without a word."""
    path = tmp_path / "big.pt"
    save_checkpoint({"w": torch.ones(250_000)}, path)  # 1 MB of tensor bytes: the middle is inside it
    _damage(path, 0.5)
    raw = torch.load(path, weights_only=True)  # torch is happy ...
    assert raw["state"]["w"].sum() < 250_000  # ... with different weights
    with pytest.raises(CheckpointError, match="does not match the fingerprint"):
        load_checkpoint(path)


def test_the_shipped_file_matches_the_hash_the_course_ships():
    assert file_sha256(sv.SMALL_VGG_PATH) == sv.shipped_hash(), (
        "data/small_vgg.pt does not match data/small_vgg.pt.sha256: "
        "rerun scripts/train_small_vgg.py, which writes both")


def test_a_replaced_shipped_file_is_named_with_what_to_do(monkeypatch, tmp_path):
    fake = tmp_path / "small_vgg.pt"
    save_checkpoint({"model": {}, "history": History().as_dict()}, fake)  # a valid checkpoint, not the course's
    monkeypatch.setattr(sv, "SMALL_VGG_PATH", fake)
    with pytest.raises(CheckpointError, match="not the one the course ships") as err:
        sv.load_small_vgg(fake, device="cpu")
    assert "git checkout data/small_vgg.pt" in str(err.value) and "train_small_vgg.py" in str(err.value)


def _tiny_run(tmp_path, epochs: int, resume: bool):
    torch.manual_seed(0)
    x, y = torch.rand(32, 3, 8, 8), torch.randint(0, 2, (32,))
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
    return train(model, loader, loader, epochs, lr=0.1, checkpoint=tmp_path / "run.pt", resume=resume,
                 device="cpu", progress=False)


def test_resume_refuses_a_damaged_checkpoint(tmp_path):
    _tiny_run(tmp_path, 1, resume=False)
    _damage(tmp_path / "run.pt", 0.5, n=16)
    with pytest.raises(CheckpointError):
        _tiny_run(tmp_path, 2, resume=True)


def test_a_checkpoint_without_a_fingerprint_loads_with_a_warning(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save({"w": torch.ones(2)}, path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert torch.equal(load_checkpoint(path)["w"], torch.ones(2))
    assert any("cannot be checked" in str(w.message) for w in caught)


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary", b"not json at all",
                                     b'{"runs": 3}', b"[1, 2]"])
def test_a_damaged_sweep_file_gets_one_clear_message(tmp_path, content):
    path = tmp_path / "sweep.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="sweep") as err:
        sv.load_small_vgg_sweep(path)
    assert "sweep_small_vgg.py" in str(err.value)


def test_missing_shipped_files_say_how_to_get_them_back(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_small_vgg.py"):
        sv.load_small_vgg(tmp_path / "none.pt")
    with pytest.raises(FileNotFoundError, match="train_small_vgg.py"):
        sv.load_small_vgg_history(tmp_path / "none.pt")
    with pytest.raises(FileNotFoundError, match="sweep_small_vgg.py"):
        sv.load_small_vgg_sweep(tmp_path / "none.json")


def test_a_checkpoint_without_history_is_refused_by_the_history_loader(tmp_path):
    path = tmp_path / "weights_only.pt"
    save_checkpoint({"model": {}}, path)
    with pytest.raises(CheckpointError, match="no training history"):
        sv.load_small_vgg_history(path)
    assert json.loads(json.dumps(History().as_dict())) == History().as_dict()
