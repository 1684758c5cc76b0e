"""What the course needs from PyTorch, and whether the installed torch has it.

A version number is only a proxy: what a notebook needs is a feature. Each entry
below names one feature the course uses, the torch release that introduced it
(checked in that release's files), where the course uses it, and a test for its
presence. The course's minimum torch version is the newest of those releases, so
it is computed here rather than remembered, and ``tests/test_torch_features.py``
checks that ``pyproject.toml`` asks for at least that.

torchvision's weights enums (``VGG16_Weights.IMAGENET1K_V1``) are not on the
list: they came with torchvision 0.13 (paired with torch 1.12), long before any
feature here. The test tools agree with the minimum: captum 0.9.0 (the ``test``
extra) itself requires torch 2.3 or newer.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TorchFeature:
    """One thing the course uses that older torch releases lack."""

    name: str
    since: str  # the first torch release that has it, "major.minor"
    used_for: str
    present: Callable[[], bool]


def _has_flop_counter() -> bool:
    try:
        return importlib.util.find_spec("torch.utils.flop_counter") is not None
    except ModuleNotFoundError:
        return False


TORCH_FEATURES: tuple[TorchFeature, ...] = (
    TorchFeature("`with torch.device(...)`: build a model on a device, e.g. the meta device", "2.0",
                 "counting parameters and shapes with no memory (notebooks 01, 02, 03, 12; course_utils.zoo)",
                 lambda: hasattr(torch.device, "__enter__")),
    TorchFeature("`torch.func.functional_call`", "2.0",
                 "running a model with stand-in weights (course_utils.counting, notebook 02)",
                 lambda: hasattr(getattr(torch, "func", None), "functional_call")),
    TorchFeature("`torch.utils.flop_counter.FlopCounterMode`", "2.1",
                 "cross-checking the multiply-add counts (notebook 02, notebook 12's exercise)",
                 _has_flop_counter),
    TorchFeature("`torch.amp.GradScaler(device)`", "2.3",
                 "float16 mixed-precision training on a GPU (`scripts/train_ddp.py --amp`, notebook 13)",
                 lambda: hasattr(getattr(torch, "amp", None), "GradScaler")),
)


def _as_tuple(version: str) -> tuple[int, ...]:
    """'2.3' -> (2, 3); '2.14.1+cu130' -> (2, 14, 1); '2.4.0rc1' -> (2, 4, 0): the leading release numbers."""
    match = re.match(r"\d+(\.\d+)*", version.strip())
    if match is None:
        raise ValueError(f"cannot read a version number from {version!r}; expected something like '2.3.1'.")
    return tuple(int(part) for part in match.group().split("."))


def minimum_torch() -> str:
    """The oldest torch release that has every feature in ``TORCH_FEATURES``."""
    return max((f.since for f in TORCH_FEATURES), key=_as_tuple)


def newest_features() -> list[TorchFeature]:
    """The features that set the minimum: those introduced in ``minimum_torch()``."""
    return [f for f in TORCH_FEATURES if f.since == minimum_torch()]


def missing_features() -> list[TorchFeature]:
    """The features this torch lacks (empty when the install is recent enough)."""
    return [f for f in TORCH_FEATURES if not f.present()]


def version_at_least(version: str, minimum: str) -> bool:
    """True when ``version`` (e.g. torch.__version__, '2.14.1+cu130') is ``minimum`` ('2.3') or newer."""
    have, need = _as_tuple(version), _as_tuple(minimum)
    width = max(len(have), len(need))
    return have + (0,) * (width - len(have)) >= need + (0,) * (width - len(need))
