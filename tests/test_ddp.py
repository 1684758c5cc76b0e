"""Data-parallel training (scripts/train_ddp.py, course_utils.distributed), on CPU with gloo.

The launches are real: ``python -m torch.distributed.run`` starting real worker
processes that talk over gloo. The model is tiny (small VGG at width 1/16, FC 32,
32x32 shapes, 64 training images), so each launch costs mostly process start-up.
The exact-maths runs use no batch norm and no dropout: those are the two places
where a rank's computation depends on its own slice of the batch or its own random
numbers, so without them DDP must give SGD on the global batch to float precision.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from course_utils import distributed as D
from course_utils import launch
from course_utils.checkpoints import load_checkpoint
from course_utils.device import cpu_threads

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "train_ddp.py"
# No batch norm, no dropout: the settings under which 2 x b must equal 1 x 2b.
EXACT = ["--n-train", "64", "--n-val", "20", "--image-size", "32", "--width", "0.0625", "--hidden", "32",
         "--no-batch-norm", "--dropout", "0", "--lr", "0.05"]
B = 8  # per-rank batch of the 2-process runs; 64 images -> 4 steps per epoch in both layouts
STEPS_PER_EPOCH = 64 // (2 * B)
# float32 sums taken in another order (two half-batch gradients averaged, against one
# full-batch gradient) differ by ~1e-8 here; 1e-6 still sits 100x below one SGD step.
TOL = 1e-6



def keeping_threads():
    """The script sets its own thread count (``--threads``); this block gives the test process its own back."""
    return cpu_threads(torch.get_num_threads())


def _run(cmd: list[str], timeout: int = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for var in launch.LAUNCH_VARS:  # never inherit a launcher's variables from the test process
        env.pop(var, None)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def torchrun(nproc: int, *args: str, max_restarts: int = 0) -> subprocess.CompletedProcess:
    return _run(launch.torchrun_command(SCRIPT, args, nproc, max_restarts))


def plain(*args: str) -> subprocess.CompletedProcess:
    """``python scripts/train_ddp.py ...`` (one process, no process group), run inside this process.

    The same code path as a fresh interpreter minus its start-up time: a few
    seconds per run on a 2-core machine, which keeps this file near a minute.
    """
    script = _script()
    saved_env = {v: os.environ.pop(v) for v in launch.LAUNCH_VARS if v in os.environ}
    out, err = io.StringIO(), io.StringIO()
    try:
        with keeping_threads(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = script.main([str(a) for a in args])
    finally:
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(["train_ddp.py", *args], code, out.getvalue(), err.getvalue())


@functools.lru_cache(maxsize=1)
def _script():
    """scripts/train_ddp.py imported as a module (it is not part of a package)."""
    spec = importlib.util.spec_from_file_location("train_ddp", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ok(result: subprocess.CompletedProcess) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"exit code {result.returncode}:\n{output[-3000:]}"
    return output


class Runs:
    """Each launch runs once per test session, on first use, and its folder is reused."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def _launch(self, name: str, launcher, *args, start_from: Path | None = None, **kw) -> tuple[Path, str]:
        folder = self.base / name
        if start_from is not None:
            shutil.copytree(start_from, folder)
        return folder, _ok(launcher(*args, "--checkpoint-dir", folder, **kw))

    @functools.cached_property
    def two_procs_1_epoch(self):
        return self._launch("two", lambda *a: torchrun(2, *a), *EXACT, "--batch-size", B, "--epochs", 1)

    @functools.cached_property
    def one_proc_1_epoch(self):
        return self._launch("one", plain, *EXACT, "--batch-size", 2 * B, "--epochs", 1)

    @functools.cached_property
    def one_proc_2_epochs(self):
        """The uninterrupted reference."""
        return self._launch("one_2", plain, *EXACT, "--batch-size", 2 * B, "--epochs", 2)

    @functools.cached_property
    def two_then_one(self):
        """Epoch 1 written by 2 processes, epoch 2 run by 1."""
        return self._launch("two_then_one", plain, *EXACT, "--batch-size", 2 * B, "--epochs", 2,
                            start_from=self.two_procs_1_epoch[0])

    @functools.cached_property
    def one_then_two_killed(self):
        """Epoch 1 written by 1 process; epoch 2 by 2, whose rank 1 is SIGKILLed mid-epoch on the first try."""
        crash = STEPS_PER_EPOCH + STEPS_PER_EPOCH // 2
        return self._launch("one_then_two", lambda *a: torchrun(2, *a, max_restarts=1), *EXACT, "--batch-size", B,
                            "--epochs", 2, "--crash-at-step", crash, start_from=self.one_proc_1_epoch[0])


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    return Runs(tmp_path_factory.mktemp("ddp"))


def state(folder: Path) -> dict:
    return load_checkpoint(folder / "last.pt")


def max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def last_step_size(s: dict) -> float:
    """lr x the largest momentum buffer entry: how far the last SGD step moved a weight."""
    lr = s["optimizer"]["param_groups"][0]["lr"]
    return lr * max(v["momentum_buffer"].abs().max().item() for v in s["optimizer"]["state"].values())


# ----------------------------------------------------------------------------------
# The lesson: DDP is SGD on the global batch
# ----------------------------------------------------------------------------------

def test_two_processes_equal_one_process_with_twice_the_batch(runs):
    two_dir, two_out = runs.two_procs_1_epoch
    one_dir, _ = runs.one_proc_1_epoch
    assert f"global batch {2 * B}" in two_out and "backend gloo" in two_out
    two, one = state(two_dir), state(one_dir)
    assert two["run"]["world_sizes"] == [2] and one["run"]["world_sizes"] == [1]
    assert len(two["optimizer"]["state"]) > 0, "no optimizer step was taken"
    step = last_step_size(two)
    diff = max_difference(two["model"], one["model"])
    print(f"after {STEPS_PER_EPOCH} steps: max |2 procs - 1 proc| = {diff:.2e}, last step up to {step:.2e}")
    assert step > 100 * TOL, "the weights hardly moved: the comparison would prove nothing"
    assert diff <= TOL


# ----------------------------------------------------------------------------------
# Checkpoints across world sizes, and a dead worker
# ----------------------------------------------------------------------------------

def test_checkpoint_written_by_two_processes_resumes_in_one(runs):
    folder, out = runs.two_then_one
    assert "resumed from" in out and "written by 2 process(es)" in out
    s, reference = state(folder), state(runs.one_proc_2_epochs[0])
    assert s["epoch"] == 2 and s["run"]["world_sizes"] == [2, 1]
    assert max_difference(s["model"], reference["model"]) <= TOL


def test_checkpoint_written_by_one_process_resumes_in_two(runs):
    folder, out = runs.one_then_two_killed
    assert "written by 1 process(es)" in out
    s, reference = state(folder), state(runs.one_proc_2_epochs[0])
    assert s["epoch"] == 2 and s["run"]["world_sizes"] == [1, 2]
    assert max_difference(s["model"], reference["model"]) <= TOL


def test_killed_worker_is_restarted_and_finishes_like_an_uninterrupted_run(runs):
    folder, out = runs.one_then_two_killed
    assert "killing myself (SIGKILL)" in out, "the crash was not triggered: nothing was tested"
    assert "torchrun restart 1 of 1" in out and out.count("resumed from") == 2, out[-3000:]
    s, reference = state(folder), state(runs.one_proc_2_epochs[0])
    accuracy, expected = s["history"]["val_acc"][-1], reference["history"]["val_acc"][-1]
    print(f"final validation accuracy: restarted {accuracy:.3f}, uninterrupted {expected:.3f}")
    assert abs(accuracy - expected) <= 0.01
    assert max_difference(s["model"], reference["model"]) <= TOL  # stronger: the same weights


# ----------------------------------------------------------------------------------
# Bad launches: one clear line, exit code 2, before any process group exists
# ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def script():
    return _script()


@pytest.fixture
def fake_torchrun(monkeypatch):
    """This process looks like rank 0 of a torchrun launch with ``world`` processes."""
    def launch(world: int) -> None:
        for var, value in dict(RANK="0", WORLD_SIZE=str(world), LOCAL_RANK="0", LOCAL_WORLD_SIZE=str(world),
                               MASTER_ADDR="127.0.0.1", MASTER_PORT="1").items():
            monkeypatch.setenv(var, value)
    return launch


# Tiny settings, so that a check that wrongly lets a launch through fails in seconds, not minutes.
TINY = ["--n-train", 8, "--n-val", 4, "--epochs", 1, "--width", 0.0625, "--hidden", 8, "--batch-size", 4]


def _fails_with(script, capsys, args: list, *phrases: str) -> str:
    with keeping_threads():
        code = script.main([str(a) for a in [*TINY, *args]])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: "), err
    for phrase in phrases:
        assert phrase in err, err
    return err


def test_more_processes_than_images_is_refused(script, capsys, fake_torchrun):
    fake_torchrun(4)
    _fails_with(script, capsys, ["--n-train", 3], "3 images, fewer than the 4 processes", "--nproc_per_node=3")


def test_more_processes_than_images_through_torchrun():
    """The same, launched for real: the message gets through torchrun's own report."""
    result = torchrun(2, "--n-train", 1, "--n-val", 1)
    assert result.returncode != 0
    assert "error: the training set has 1 images, fewer than the 2 processes" in result.stderr


def test_unwritable_checkpoint_folder_is_refused(script, capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    _fails_with(script, capsys, ["--checkpoint-dir", blocker / "runs"], "cannot write checkpoints in",
                "--checkpoint-dir")
    assert not (blocker.parent / "runs").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_checkpoint_folder_is_refused(script, capsys, tmp_path):
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        _fails_with(script, capsys, ["--checkpoint-dir", folder], "cannot write checkpoints in")
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize("layout, phrase", [
    ({}, "no train/ folder"),                                   # an empty folder
    ({"train/": None, "val/": None}, "is not an ImageFolder"),  # no class folders
    ({"train/cat/notes.txt": "x", "val/cat/notes.txt": "x"}, "is not an ImageFolder"),  # no images
    ({"cat/a.png": "png"}, "no train/ folder"),                 # classes at the top, not under train/
], ids=["empty", "no-classes", "no-images", "no-split"])
def test_data_that_is_not_an_image_folder_is_refused(script, capsys, tmp_path, layout, phrase):
    _make_tree(tmp_path, layout)
    err = _fails_with(script, capsys, ["--data", tmp_path], phrase)
    assert "train/<class>/<image>" in err  # shows the layout it wants


def test_missing_data_folder_is_refused(script, capsys, tmp_path):
    _fails_with(script, capsys, ["--data", tmp_path / "nowhere"], "no such folder")


def test_half_a_torchrun_environment_is_refused(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    for var in ("WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(D.LaunchError, match="start the script with torchrun"):
        D.launch_env()


def _make_tree(root: Path, layout: dict) -> None:
    from PIL import Image

    for rel, content in layout.items():
        path = root / rel
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if content == "png":
            Image.new("RGB", (40, 30), (200, 30, 30)).save(path)
        else:
            path.write_text(content)


# ----------------------------------------------------------------------------------
# The ImageFolder path works, and the small pieces
# ----------------------------------------------------------------------------------

def test_image_folder_run_with_scale_jittering(script, capsys, tmp_path):
    from PIL import Image

    for split in ("train", "val"):
        for name, rgb in (("red", (220, 20, 20)), ("blue", (20, 20, 220))):
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(2):  # two sizes, neither square
                Image.new("RGB", (50 + 10 * i, 40), rgb).save(tmp_path / split / name / f"{i}.png")
    with keeping_threads():
        code = script.main([str(a) for a in ("--data", tmp_path, "--crop", 32, "--scale", 36, 44, "--width", 0.0625,
                            "--hidden", 8, "--epochs", 1, "--batch-size", 2, "--workers", 0,
                            "--checkpoint-dir", tmp_path / "ckpt")])
    out = capsys.readouterr().out
    assert code == 0, out
    s = load_checkpoint(tmp_path / "ckpt" / "last.pt")
    assert s["classes"] == ["blue", "red"] and s["settings"]["num_classes"] == 2


def test_scale_jittering_draws_the_shorter_side_from_the_range(script):
    from PIL import Image

    train, val = script.paper_transforms(crop=224, smin=256, smax=512)
    jitter = train.transforms[1]
    photo = Image.new("RGB", (500, 375))
    sides = set()
    torch.manual_seed(0)
    for _ in range(200):
        sides.add(min(jitter(photo).size))
    assert min(sides) >= 256 and max(sides) <= 512 and len(sides) > 50  # many scales, all in range
    assert tuple(train(photo).shape) == (3, 224, 224) and tuple(val(photo).shape) == (3, 224, 224)


def test_warmup_goes_from_lr_over_k_to_lr():
    # Goyal et al. (2017): batch 8192 = 32 x 256, rate 0.1 x 32 = 3.2, warmed up from 0.1 over 5 epochs.
    assert D.warmup_lr(3.2, 0.0, 5, k=32) == pytest.approx(0.1)
    assert D.warmup_lr(3.2, 2.5, 5, k=32) == pytest.approx(1.65)
    assert D.warmup_lr(3.2, 5.0, 5, k=32) == pytest.approx(3.2)
    assert D.warmup_lr(3.2, 9.0, 5, k=32) == pytest.approx(3.2)
    assert D.warmup_lr(3.2, 0.0, 0, k=32) == pytest.approx(3.2)  # no warm-up asked
    assert D.warmup_lr(0.05, 0.0, 5, k=0.25) == pytest.approx(0.05)  # a batch below the reference: nothing to warm


def _ctx(rank: int, world: int) -> D.DistContext:
    return D.DistContext(rank=rank, world_size=world, local_rank=rank, local_world_size=world,
                         device=torch.device("cpu"), backend=None, threads=1)


def test_training_shards_are_disjoint_equal_and_cover_the_data():
    data = torch.utils.data.TensorDataset(torch.arange(10))
    shards = []
    for rank in range(2):
        loader = D.shard_loader(data, 3, _ctx(rank, 2), train=True, seed=0)
        loader.sampler.set_epoch(1)
        shards.append([int(x) for batch in loader for x in batch[0]])
    assert len(shards[0]) == len(shards[1]) == 5
    assert sorted(shards[0] + shards[1]) == list(range(10))
    loader.sampler.set_epoch(2)
    assert [int(x) for batch in loader for x in batch[0]] != shards[1], "set_epoch should reshuffle"


def test_evaluation_shards_count_every_image_once():
    data = torch.utils.data.TensorDataset(torch.arange(7))
    seen = sorted(int(x) for rank in range(3) for batch in D.shard_loader(data, 2, _ctx(rank, 3), train=False)
                  for x in batch[0])
    assert seen == list(range(7))  # no padding: 7 images over 3 ranks are 3 + 2 + 2


def test_amp_choice():
    cpu = torch.device("cpu")
    assert D.amp_dtype(None, cpu) is None
    assert D.amp_dtype("auto", cpu) == torch.bfloat16
    assert D.make_scaler(torch.bfloat16, cpu) is None
    assert D.make_scaler(torch.float16, cpu) is not None  # fp16 needs loss scaling
    with pytest.raises(D.LaunchError, match="bf16, fp16 or auto"):
        D.amp_dtype("fp8", cpu)


# ----------------------------------------------------------------------------------
# Notebook 13's figure and the hints of its exercises
# ----------------------------------------------------------------------------------

def test_data_parallel_diagram_draws_one_box_per_replica():
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    from course_utils.ddp_diagram import draw_data_parallel

    fig = draw_data_parallel(replicas=3, per_replica=2)
    boxes = [p for p in fig.axes[0].patches if isinstance(p, FancyBboxPatch)]
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    plt.close(fig)
    assert len(boxes) == 3 + 1  # three replicas and the all-reduce
    assert "6 images" in texts and "(g0 + g1 + g2) / 3" in texts
    with pytest.raises(ValueError, match="1 to 8 replicas"):
        draw_data_parallel(replicas=0)


def _hint(capsys, check, answer, phrase):
    assert check(answer) is False
    out = capsys.readouterr().out
    assert "Not yet" in out and phrase in out, out


def test_nb13_hints(capsys):
    from course_utils.exercises import nb13

    _hint(capsys, nb13.check_scaled_lr, 0.08, "number of GPUs")
    _hint(capsys, nb13.check_scaled_lr, 0.01, "unchanged")
    _hint(capsys, nb13.check_scaled_lr, 0.005, "not smaller")
    _hint(capsys, nb13.check_shard, lambda n, r, w: list(range(r, n, w)), "pads the list")
    _hint(capsys, nb13.check_shard, lambda n, r, w: list(range(r * -(-n // w), min(n, (r + 1) * -(-n // w)))),
          "contiguous blocks")
    _hint(capsys, nb13.check_warmup_lr, 1.6, "ramps up from 0")
    _hint(capsys, nb13.check_warmup_lr, 3.2, "full rate")


def test_a_checkpoint_of_another_model_is_refused(script, capsys, tmp_path):
    with keeping_threads():
        assert script.main([str(a) for a in [*TINY, "--checkpoint-dir", tmp_path]]) == 0
    capsys.readouterr()
    _fails_with(script, capsys, ["--checkpoint-dir", tmp_path, "--epochs", 2, "--width", 0.125],
                "holds a different model", "another --checkpoint-dir")
