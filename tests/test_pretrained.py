"""Real ImageNet predictions on the shipped photos: opt-in, with `make test-pretrained`.

The tests marked ``pretrained`` need torchvision's real VGG11 and VGG16 weights in the
learner's own TORCH_HOME. They run only when ``COURSE_REAL_WEIGHTS=1``, which
``make test-pretrained`` sets (and which stops the root conftest from installing
stand-ins). Under plain ``make test`` they are reported as skipped, with the reason.
Where a real file is missing or fails its hash check they skip too (never fail),
saying which file and what to do.

They use the very helpers notebook 04 uses: ``load_image``, ``weights.transforms()``,
``preprocess_batch``, ``predict`` and ``topk``.

The unmarked tests at the bottom check the skip logic itself; they run under ``make test``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from course_utils.images import load_image, shipped_images
from course_utils.inference import predict, preprocess_batch, topk
from course_utils.weights import COURSE_WEIGHTS, StandInWeightsWarning, get_weights, load_pretrained, weights_status

REPO = Path(__file__).resolve().parent.parent
REAL_WEIGHTS = os.environ.get("COURSE_REAL_WEIGHTS") == "1"

needs_real_weights = pytest.mark.skipif(
    not REAL_WEIGHTS,
    reason="needs torchvision's real weights: run `make prefetch` once, "
    "then `make test-pretrained` (sets COURSE_REAL_WEIGHTS=1)",
)

DOMESTIC_CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat

# photo -> (what its top-5 must contain, the test on the top-5 rows)
EXPECTED = {
    "cat": ("a domestic cat (classes 281-285)", lambda rows: any(r.index in DOMESTIC_CATS for r in rows)),
    "coffee": ("espresso, cup or coffee mug",
               lambda rows: any(r.name in {"espresso", "cup", "coffee mug"} for r in rows)),
    "rocket": ("missile, projectile or space shuttle",
               lambda rows: any(r.name in {"missile", "projectile", "space shuttle"} for r in rows)),
}


def skip_reason(arch: str) -> str | None:
    """Why the real ``arch`` weights cannot be tested here, or None when they are verified."""
    status = weights_status(arch, COURSE_WEIGHTS[arch])
    if status.state == "missing":
        return f"{status.file_name} is not in {status.path.parent}: run `make prefetch` with a network"
    if status.state != "verified":
        return (f"{status.path} fails its SHA-256 check (a stand-in or a damaged download): "
                "delete it and run `make prefetch`")
    return None


@pytest.fixture(scope="module", params=list(COURSE_WEIGHTS))
def real_top5(request) -> tuple[str, dict]:
    """(arch, {photo: top-5 rows}) from the verified real weights, exactly as notebook 04 computes them."""
    arch = request.param
    reason = skip_reason(arch)
    if reason:
        pytest.skip(reason)
    weights = get_weights(arch, COURSE_WEIGHTS[arch])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = load_pretrained(arch, weights, device="cpu")
    assert model.weights_status.verified
    assert not [w for w in caught if issubclass(w.category, StandInWeightsWarning)]
    paths = shipped_images()
    names = list(EXPECTED)
    batch = preprocess_batch([load_image(paths[n]) for n in names], weights.transforms())
    probs = predict(model, batch)
    categories = weights.meta["categories"]
    return arch, {n: topk(probs[i], categories, k=5) for i, n in enumerate(names)}


@needs_real_weights
@pytest.mark.pretrained
@pytest.mark.parametrize("photo", list(EXPECTED))
def test_real_top5_on_shipped_photos(real_top5, photo):
    arch, top5 = real_top5
    wanted, ok = EXPECTED[photo]
    rows = top5[photo]
    assert ok(rows), f"{arch} on {photo}.jpg: top-5 {[r.name for r in rows]} should contain {wanted}"


# --- The skip logic (unmarked: runs under `make test`) ----------------------------------------

class _Status:
    def __init__(self, state):
        self.state = state
        self.file_name = "vgg11-8a719046.pth"
        self.path = Path("/somewhere/hub/checkpoints/vgg11-8a719046.pth")


@pytest.mark.parametrize("state, expected", [
    ("missing", "is not in /somewhere/hub/checkpoints: run `make prefetch`"),
    ("mismatch", "fails its SHA-256 check"),
    ("verified", None),
])
def test_skip_reason_for_each_weights_state(monkeypatch, state, expected):
    monkeypatch.setattr(sys.modules[__name__], "weights_status", lambda arch, w: _Status(state))
    reason = skip_reason("vgg11")
    if expected is None:
        assert reason is None
    else:
        assert expected in reason


def _run_pretrained_tests(env: dict) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest", str(Path(__file__)), "-m", "pretrained", "-rs", "-q",
           "-p", "no:cacheprovider"]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def _summary(result: subprocess.CompletedProcess) -> str:
    return result.stdout.strip().splitlines()[-1]


def test_without_course_real_weights_they_are_skipped_not_run():
    """Plain `make test` sets no COURSE_REAL_WEIGHTS: the marked tests carry a skipif that fires, with a reason."""
    marks = {m.name: m for m in test_real_top5_on_shipped_photos.pytestmark}
    assert "pretrained" in marks and "skipif" in marks
    assert marks["skipif"].args == (os.environ.get("COURSE_REAL_WEIGHTS") != "1",)
    assert "make test-pretrained" in marks["skipif"].kwargs["reason"]


def test_missing_or_stand_in_weights_skip_instead_of_failing(tmp_path):
    """vgg11's file is a stand-in (fails its hash), vgg16's is missing: both skip, saying why."""
    from standin_weights import STANDIN_TORCH_HOME

    from course_utils.weights import file_name

    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    name = file_name(get_weights("vgg11"))
    (folder / name).symlink_to(STANDIN_TORCH_HOME / "hub" / "checkpoints" / name)
    env = {**os.environ, "COURSE_REAL_WEIGHTS": "1", "TORCH_HOME": str(tmp_path), "COURSE_OFFLINE": "1"}
    result = _run_pretrained_tests(env)
    assert result.returncode == 0, result.stdout + result.stderr
    n = len(EXPECTED) * len(COURSE_WEIGHTS)
    assert _summary(result).startswith(f"{n} skipped") and "failed" not in _summary(result), result.stdout
    assert "fails its SHA-256 check" in result.stdout
    assert "vgg16-397923af.pth is not in" in result.stdout
