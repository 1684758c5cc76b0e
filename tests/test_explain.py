"""``python -m course_utils.explain``: exit codes, the PNGs it writes, the stand-in warning, every option.

Most tests call ``main([...])`` in-process (the model loads in well under a second from the stand-in
files); one runs the real command in a subprocess, to see exactly what a terminal would. The weights
are the seeded stand-ins of the top-level conftest.py (vgg11 and vgg16; any other VGG is "not cached",
which is how the missing-weights case is tested with COURSE_OFFLINE=1).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from course_utils.explain import BAD_INPUT, NO_WEIGHTS, BadInput, main, output_path, resolve_target
from course_utils.images import shipped_images
from course_utils.weights import get_weights

REPO = Path(__file__).resolve().parent.parent
PHOTOS = shipped_images()
CAT, COFFEE = str(PHOTOS["cat"]), str(PHOTOS["coffee"])
CATEGORIES = get_weights("vgg16").meta["categories"]


def call(*argv: str) -> tuple[int, str, str]:
    """Run the command in-process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exit_:  # argparse: --help, or a usage error
            status = exit_.code
    return status, out.getvalue(), err.getvalue()


def table_rows(stdout: str) -> list[str]:
    """The top-K lines: '   1.   0.11%   100 black swan'."""
    return [line for line in stdout.splitlines() if line.strip()[:1].isdigit()]


@pytest.fixture(scope="module")
def batch_of_two(tmp_path_factory) -> tuple[int, str, str, Path]:
    """VGG16 with every default, two shipped photos as one batch: the run most tests read."""
    out = tmp_path_factory.mktemp("explained")
    return (*call(CAT, COFFEE, "--out", str(out)), out)


def test_a_batch_of_two_photos_writes_one_png_each(batch_of_two):
    status, stdout, _, out = batch_of_two
    assert status == 0
    pngs = sorted(out.glob("*.png"))
    assert [p.name for p in pngs] == ["cat-gradcam.png", "coffee-gradcam.png"]
    for png in pngs:
        assert png.stat().st_size > 20_000  # three 224 x 224 pictures, not an empty canvas
        with Image.open(png) as img:
            assert img.format == "PNG"
            assert img.width > 2.5 * img.height  # photo, map and overlay side by side
    assert len(table_rows(stdout)) == 2 * 5  # the default top-5, for each photo
    assert "relu5_3" in stdout  # VGG16's last conv ReLU, the default layer


def test_the_stand_in_weights_are_said_once_and_loudly(batch_of_two):
    _, _, stderr, _ = batch_of_two
    assert stderr.count("STAND-IN WEIGHTS") == 1
    assert "MEAN NOTHING" in stderr
    assert "Warning:" not in stderr  # ours, not Python's warning line with a file name and line number


@pytest.mark.parametrize("target, method, panels", [
    ("Tabby", "gradcam++", 3),  # a name, in any case
    ("281", "guided", 4),  # the same class by its index; Guided Grad-CAM adds a fourth picture
    ("tabby", "guided-backprop", 4),
])
def test_target_by_name_or_index_and_each_method(tmp_path, target, method, panels):
    """VGG11 (cheaper than VGG16), one photo: every --method, --target both ways, --top 3."""
    status, stdout, _ = call(CAT, "--model", "vgg11", "--target", target, "--method", method, "--top", "3",
                             "--out", str(tmp_path))
    assert status == 0, stdout
    assert len(table_rows(stdout)) == 3
    assert "for 281 'tabby' at relu5_2" in stdout  # VGG11's last conv ReLU
    with Image.open(tmp_path / f"cat-{method}.png") as img:
        assert round(img.width / img.height) == round(panels * 3.2 / 3.6)


@pytest.mark.parametrize("args, says", [
    (["--model", "vgg17"], "invalid choice: 'vgg17'"),
    (["--layer", "relu5_4"], "its layers are: conv1_1, relu1_1"),
    (["--target", "tabbby"], "closest ImageNet names: 'tabby'"),
    (["--target", "cat"], "'Egyptian cat'"),
    (["--target", "1000"], "class index 1000 is out of range"),
    (["--top", "0"], "--top must be between 1 and 1000"),
], ids=["model", "layer", "class-name", "ambiguous-name", "class-index", "top"])
def test_bad_input_exits_2_with_one_line(tmp_path, args, says):
    status, stdout, stderr = call(CAT, *args, "--out", str(tmp_path))
    assert status == BAD_INPUT
    assert stderr.count("\n") == 1 and says in stderr, stderr
    assert not list(tmp_path.glob("*.png"))


def test_an_unreadable_photo_exits_2_with_load_images_message(tmp_path):
    fake = tmp_path / "holiday.jpg"
    fake.write_bytes(b"%PDF-1.4 not a photo at all")
    status, _, stderr = call(CAT, str(fake), "--out", str(tmp_path))
    assert status == BAD_INPUT
    assert stderr.count("\n") == 1 and "holiday.jpg" in stderr
    status, _, stderr = call(str(tmp_path / "missing.jpg"), "--out", str(tmp_path))
    assert status == BAD_INPUT and "no such file" in stderr


def test_missing_weights_offline_exit_3_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    status, _, stderr = call(CAT, "--model", "vgg19", "--out", str(tmp_path))  # no stand-in for vgg19
    assert status == NO_WEIGHTS
    assert "vgg19-dcbb9e9d.pth" in stderr and "Traceback" not in stderr


def test_help_shows_examples():
    status, stdout, _ = call("--help")
    assert status == 0
    assert "examples:" in stdout and "--target" in stdout and "exit status" in stdout


def test_the_real_command_in_a_terminal(tmp_path):
    """A subprocess, as a learner runs it: exit status 2 and exactly one line, no traceback."""
    env = {**os.environ, "COURSE_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "course_utils.explain", CAT, "--layer", "relu6_1",
                           "--out", str(tmp_path)], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "relu5_3" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_class_names_resolve_exactly_or_uniquely():
    assert resolve_target(None, CATEGORIES) is None
    assert resolve_target("egyptian", CATEGORIES) == CATEGORIES.index("Egyptian cat")  # the only one containing it
    assert resolve_target("0", CATEGORIES) == 0
    with pytest.raises(BadInput, match="closest"):
        resolve_target("zzzzzz", CATEGORIES)


def test_two_photos_with_one_name_get_two_files(tmp_path):
    taken: set[Path] = set()
    first = output_path(tmp_path, Path("a/cat.jpg"), "gradcam", taken)
    second = output_path(tmp_path, Path("b/cat.jpg"), "gradcam", taken)
    assert first.name == "cat-gradcam.png" and second.name == "cat-gradcam-2.png"
