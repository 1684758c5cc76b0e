"""Exercises for notebook 00 (setup)."""

from __future__ import annotations

from pathlib import Path

from course_utils.exercises import NOT_ATTEMPTED, report


def check_cache_folder(answer) -> bool:
    """Exercise 1: the folder where torch keeps downloaded weights."""
    from course_utils.weights import cache_dir

    if answer is None:
        print(NOT_ATTEMPTED)
        return False
    ok = Path(answer).expanduser().resolve() == cache_dir().resolve()
    return report(ok, f"torch keeps weights in {cache_dir()}" if ok else
                  f"{answer} is not it. Hint: torch.hub.get_dir() gives the hub folder; weights go in a subfolder.")


def solution_cache_folder():
    """Exercise 1 solution."""
    import torch
    from pathlib import Path

    answer = Path(torch.hub.get_dir()) / "checkpoints"
    return answer


def check_vgg16_megabytes(answer) -> bool:
    """Exercise 2: VGG16's weights file size in MiB, from its parameter count."""
    from torchvision.models import VGG16_Weights

    if answer is None:
        print(NOT_ATTEMPTED)
        return False
    expected = VGG16_Weights.IMAGENET1K_V1.meta["num_params"] * 4 / 2**20
    try:
        ok = abs(float(answer) - expected) < 1
    except (TypeError, ValueError):
        return report(False, f"expected a number of MiB, got {answer!r}.")
    return report(ok, f"{expected:.1f} MiB: every parameter is a 4-byte float32." if ok else
                  f"{float(answer):.1f} is off. Hint: parameters x bytes per float32 / 2**20.")


def solution_vgg16_megabytes():
    """Exercise 2 solution."""
    from torchvision.models import VGG16_Weights

    num_params = VGG16_Weights.IMAGENET1K_V1.meta["num_params"]
    answer = num_params * 4 / 2**20  # float32 = 4 bytes; 1 MiB = 2**20 bytes
    return answer
