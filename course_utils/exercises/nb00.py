"""Exercises for notebook 00 (setup): where weights live, and how big they are."""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torchvision

from course_utils.exercises import not_attempted, number_check, report

HINTS = {
    "cache_folder": (
        "`torch.hub.get_dir()` gives torch's hub folder; the downloaded weights files sit in one of its "
        "subfolders.",
        "Wrap it in a `Path` and add the subfolder with `/`: `Path(torch.hub.get_dir()) / \"...\"`, with the "
        "subfolder's name in the quotes.",
    ),
    "vgg16_megabytes": (
        "The file holds one float32 number per parameter, and a float32 takes 4 bytes.",
        "Bytes = `num_params * 4`; one MiB is `2**20` bytes (1,048,576), not a million.",
    ),
}


def _documented_cache_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints``, with the defaults torch.hub documents.

    TORCH_HOME defaults to ``$XDG_CACHE_HOME/torch``, and XDG_CACHE_HOME to ``~/.cache``.
    Worked out from the environment, not from ``torch.hub.get_dir()`` (the solution's way).
    """
    torch_home = os.environ.get("TORCH_HOME", os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch"))
    return Path(torch_home).expanduser().resolve() / "hub" / "checkpoints"


def check_cache_folder(answer) -> bool:
    """Exercise 1: the folder where torch keeps downloaded weights."""
    if answer is None:
        return not_attempted()
    if not isinstance(answer, (str, os.PathLike)):
        return report(False, f"give a folder as a Path or a string, got {type(answer).__name__}.")
    expected = _documented_cache_dir()
    given = Path(answer).expanduser().resolve()
    if given == expected:
        return report(True, f"torch keeps weights in {expected}")
    if given == expected.parent:
        return report(False, f"{answer} is torch's hub folder; the weights go in one of its subfolders.", hint=2)
    return report(False, f"{answer} is not it: start from torch.hub.get_dir().", hint=1)


def solution_cache_folder():
    """Exercise 1 solution."""
    from pathlib import Path

    import torch

    answer = Path(torch.hub.get_dir()) / "checkpoints"
    return answer


def _vgg16_parameters() -> int:
    """Counted on a VGG16 built on the meta device (shapes, no memory), not read from weights.meta."""
    with torch.device("meta"):
        model = torchvision.models.vgg16(weights=None)
    return sum(p.numel() for p in model.parameters())


@number_check("a number of MiB")
def check_vgg16_megabytes(value: float) -> bool:
    """Exercise 2: VGG16's weights file size in MiB, from its parameter count."""
    params = _vgg16_parameters()
    expected = params * 4 / 2**20
    if abs(value - expected) < 1:
        return report(True, f"{expected:.1f} MiB: every parameter is a 4-byte float32.")
    if abs(value - params * 4 / 1e6) < 1:
        return report(False, f"{value:.1f} is in MB (millions of bytes); a MiB is 2**20 bytes.", hint=2)
    if abs(value - params * 4 / 2**30) < 0.01:
        return report(False, f"{value:.3f} is in GiB (2**30 bytes); the exercise asks for MiB (2**20 bytes).", hint=2)
    if abs(value - params * 4) < 1e6:
        return report(False, f"{value:,.0f} is in bytes; divide by 2**20 for MiB.", hint=2)
    if abs(value - params / 2**20) < 1 or abs(value - params / 1e6) < 1:
        return report(False, f"{value:.1f} counts parameters, not bytes: each one is a 4-byte float32.", hint=1)
    return report(False, f"{value:.1f} is off: parameters x bytes per float32, in MiB.", hint=2)


def solution_vgg16_megabytes():
    """Exercise 2 solution."""
    from torchvision.models import VGG16_Weights

    num_params = VGG16_Weights.IMAGENET1K_V1.meta["num_params"]
    answer = num_params * 4 / 2**20  # float32 = 4 bytes; 1 MiB = 2**20 bytes
    return answer
