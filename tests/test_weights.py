"""course_utils.weights: the real API, offline errors that say what to do, honest hash checks."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.error import URLError

import pytest
import torch

from course_utils import prefetch, weights
from course_utils.weights import (
    CorruptWeightsError,
    StandInWeightsWarning,
    WeightsUnavailableError,
    load_pretrained,
    weights_status,
)


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch):
    """A TORCH_HOME with nothing cached, and a download that fails like a dead network."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)

    def no_network(*args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path


def test_the_test_run_uses_stand_ins_not_the_learners_cache():
    assert "standin-torch-home" in os.environ["TORCH_HOME"]
    assert weights.cache_dir() == Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints"


def test_official_file_names_and_sizes():
    w16 = weights.get_weights("vgg16")
    assert weights.file_name(w16) == "vgg16-397923af.pth"
    assert round(weights.approx_size_mb(w16)) == 528
    w11 = weights.get_weights("vgg11", "VGG11_Weights.IMAGENET1K_V1")
    assert weights.file_name(w11) == "vgg11-8a719046.pth"
    assert round(weights.approx_size_mb(w11)) == 507


def test_stand_in_is_detected_and_warned_about_but_still_runs():
    assert weights_status("vgg11").state == "mismatch"
    with pytest.warns(StandInWeightsWarning, match="predictions MEAN NOTHING"):
        model = load_pretrained("vgg11", device="cpu")
    assert not model.training
    assert model.weights_status.state == "mismatch" and not model.weights_status.verified
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 1000)


def test_matching_hash_is_verified(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    payload = b"pretend checkpoint"
    prefix = hashlib.sha256(payload).hexdigest()[:8]
    name = f"vgg16-{prefix}.pth"
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / name).write_bytes(payload)
    monkeypatch.setattr(weights, "file_name", lambda w: name)
    assert weights_status("vgg16").state == "verified"
    (tmp_path / "hub" / "checkpoints" / name).write_bytes(payload + b"!")  # one byte more
    assert weights_status("vgg16").state == "mismatch"


def test_offline_without_cache_names_file_size_folder_and_fix(empty_torch_home):
    with pytest.raises(WeightsUnavailableError) as info:
        load_pretrained("vgg16", device="cpu")
    msg = str(info.value)
    assert "vgg16-397923af.pth" in msg and "528 MiB" in msg
    assert str(empty_torch_home / "hub" / "checkpoints") in msg
    assert "python course.py prefetch" in msg
    assert "Temporary failure in name resolution" in msg  # the cause, in one line
    assert info.value.__cause__ is None  # no chained URLError traceback


def test_course_offline_flag_never_tries_the_network(empty_torch_home, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *a, **k: pytest.fail("tried the network"))
    with pytest.raises(WeightsUnavailableError, match="vgg11-8a719046.pth"):
        load_pretrained("vgg11", device="cpu")


def test_corrupted_file_gets_a_clear_error(empty_torch_home):
    folder = empty_torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "vgg11-8a719046.pth").write_bytes(os.urandom(4096))
    with pytest.warns(StandInWeightsWarning):
        with pytest.raises(CorruptWeightsError, match="Delete it and run `python course.py prefetch`"):
            load_pretrained("vgg11", device="cpu")


def test_wrong_arch_or_weights_name_lists_the_choices():
    with pytest.raises(ValueError, match="unknown architecture 'vgg17'.*vgg16"):
        weights.get_weights("vgg17")
    with pytest.raises(ValueError, match="vgg16 has no weights 'IMAGENET9K'.*IMAGENET1K_V1"):
        weights.get_weights("vgg16", "IMAGENET9K")


def test_prefetch_reports_failure_without_network(empty_torch_home, capsys):
    assert prefetch.prefetch(progress=False) is False
    out = capsys.readouterr().out
    assert "FAILED    vgg11-8a719046.pth" in out and "FAILED    vgg16-397923af.pth" in out


def test_prefetch_skips_verified_files(monkeypatch, capsys):
    ok = weights.WeightsStatus("vgg11", "x", "vgg11-8a719046.pth", Path("/x"), "verified", 507.0)
    monkeypatch.setattr(prefetch, "weights_status", lambda arch, name: ok)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *a, **k: pytest.fail("downloaded again"))
    assert prefetch.prefetch(progress=False) is True
    assert "already cached and verified" in capsys.readouterr().out


def test_course_weights_status_covers_every_course_file():
    states = weights.course_weights_status()
    assert [s.arch for s in states] == list(weights.COURSE_WEIGHTS)
    assert all(s.state == "mismatch" for s in states)  # stand-ins under test


# Loading holds the weights once (Binder's 2 GB): measured in a fresh process, where the peak
# resident memory is the process's own. VGG16's file is 528 MiB; get_model(weights=...) peaks
# at twice that (a random model, then a loaded copy).
_LOAD_PEAK = """
import warnings, torch, torchvision
def hwm():  # this process's peak resident memory in KiB (ru_maxrss would include the parent's, from fork)
    return int(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")))
from course_utils.weights import load_pretrained
before = hwm()
warnings.simplefilter("ignore")
model = load_pretrained(ARCH, device="cpu")
with torch.no_grad():
    model(torch.zeros(1, 3, 32, 32))  # touches every weight: a mapped page counts once read
print((hwm() - before) // 1024)
"""


def _load_peak_mib(arch: str, env) -> int:
    import subprocess
    import sys

    code = _LOAD_PEAK.replace("ARCH", repr(arch))
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env=env).stdout.split()[-1])


def test_loading_holds_the_weights_once_not_twice():

    grown = _load_peak_mib("vgg16", os.environ)
    assert 500 < grown < 700, f"loading VGG16 grew the peak by {grown} MiB (once is about 528)"


def test_a_legacy_format_file_loads_too(tmp_path, monkeypatch):
    """torchvision's 2017 files predate torch's zip format, which memory-mapping needs."""
    w = weights.get_weights("vgg11")
    src = weights.weights_status("vgg11").path
    state = torch.load(str(src), map_location="cpu", weights_only=True)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    dest = weights.cache_dir() / weights.file_name(w)
    dest.parent.mkdir(parents=True)
    torch.save(state, dest, _use_new_zipfile_serialization=False)
    import zipfile

    assert not zipfile.is_zipfile(dest)
    with pytest.warns(StandInWeightsWarning):
        model = load_pretrained("vgg11", device="cpu")
    assert torch.equal(model.classifier[6].bias, state["classifier.6.bias"])
    assert not any(t.is_meta for t in model.state_dict().values())
    del model, state
    grown = _load_peak_mib("vgg11", {**os.environ, "TORCH_HOME": str(tmp_path)})  # read into memory: still once
    assert 480 < grown < 680, f"loading VGG11 (507 MiB, legacy format) grew the peak by {grown} MiB"
