"""A damaged checkpoint is an error that says what to do, never a model (issue: nothing silently wrong).

torch's zip reader does not check the bytes of a stored tensor, so these tests damage files the
way a bad copy does (zero bytes written over the middle) and require every loader to notice:
``load_checkpoint``, ``load_small_vgg`` (which also checks the hash the course ships), resuming
``train``, and the loaders of the other shipped files.
"""

from __future__ import annotations

import json
import shutil
import warnings

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from course_utils import small_vgg as sv
from course_utils.checkpoints import CheckpointError, file_sha256, fingerprint, load_checkpoint, save_checkpoint
from course_utils.training import History, train

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
