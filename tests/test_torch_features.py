"""course_utils.torch_features: the course's torch minimum is computed from the features it uses, and declared."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import course_utils.torch_features as tf

REPO = Path(__file__).resolve().parents[1]


def test_the_course_environment_has_every_feature():
    assert tf.missing_features() == []
    assert tf.version_at_least(torch.__version__, tf.minimum_torch())


def test_each_presence_test_notices_a_missing_feature(monkeypatch):
    """An old torch, faked: no device context manager, no torch.func, no amp.GradScaler, no flop counter."""
    monkeypatch.setattr(tf, "torch", SimpleNamespace(device=object, func=SimpleNamespace(), amp=SimpleNamespace()))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch.utils.flop_counter" else real_find_spec(name, *a))
    assert [f.name for f in tf.missing_features()] == [f.name for f in tf.TORCH_FEATURES]


def test_the_minimum_is_the_newest_feature():
    # The releases were read from each torch wheel's files: torch/utils/_device.py and torch.func in 2.0,
    # torch/utils/flop_counter.py in 2.1, torch/amp/grad_scaler.py (torch.amp.GradScaler) in 2.3 (not in 2.2.2).
    assert {f.since for f in tf.TORCH_FEATURES} == {"2.0", "2.1", "2.3"}
    assert tf.minimum_torch() == "2.3"
    assert [f.since for f in tf.newest_features()] == ["2.3"]


@pytest.mark.parametrize(("version", "minimum", "expected"), [
    ("2.2.2", "2.3", False), ("2.3.0", "2.3", True), ("2.14.1+cu130", "2.3", True), ("2.10.0", "2.3", True),
    ("2.3", "2.3.1", False), ("3.0", "2.3", True), ("2.4.0rc1", "2.4", True), ("1.13.1", "2.0", False),
])
def test_version_comparison_is_numeric_not_textual(version, minimum, expected):
    assert tf.version_at_least(version, minimum) is expected


def test_an_unreadable_version_says_what_was_expected():
    with pytest.raises(ValueError, match="expected something like '2.3.1'"):
        tf.version_at_least("unknown", "2.3")


def test_pyproject_asks_for_at_least_the_computed_minimum():
    """If this fails, raise the torch floor in pyproject.toml and environment.yml (and torchvision's with it)."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_req = next(d for d in deps if re.match(r"torch\b(?!vision)", d))
    floor = re.search(r">=\s*([\d.]+)", torch_req)
    assert floor, f"pyproject.toml's {torch_req!r} has no lower bound"
    assert tf.version_at_least(floor.group(1), tf.minimum_torch()), (
        f"pyproject.toml allows torch {floor.group(1)}, but the course uses "
        f"{', '.join(f.name for f in tf.newest_features())} (torch {tf.minimum_torch()}).")
