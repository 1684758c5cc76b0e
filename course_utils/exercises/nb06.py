"""Exercises for notebook 06 (feature maps): checks and worked solutions.

Each check takes the learner's answer, never raises, prints what is right or
still wrong, and returns True or False.
"""

from __future__ import annotations

from typing import Any

import torch

from course_utils.exercises import not_attempted as _not_attempted, NOT_ATTEMPTED, report



def _as_ints(answer: Any) -> tuple[int, ...] | None:
    try:
        return tuple(int(v) for v in answer)
    except (TypeError, ValueError):
        return None


# --- Exercise 1: predict a layer's output shape -----------------------------------------

def _relu4_3_shape(size: int = 160) -> tuple[int, int, int]:
    """Measured, not typed: VGG16 built on the meta device (shapes only), one hooked forward pass."""
    import torchvision

    from course_utils.features import capture

    with torch.device("meta"):
        model = torchvision.models.vgg16(weights=None)
    maps = capture(model, torch.zeros(1, 3, size, size, device="meta"), ["relu4_3"])
    return tuple(int(s) for s in maps["relu4_3"].shape[1:])


def check_output_shape(answer) -> bool:
    """``answer``: (channels, height, width) of VGG16's relu4_3 output for one 160x160 image."""
    if answer is None:
        return _not_attempted()
    got = _as_ints(answer)
    if got is None:
        return report(False, f"give three integers (channels, height, width), got {answer!r}.")
    expected = _relu4_3_shape()
    if len(got) == 4:
        return report(False, "drop the batch dimension: give (channels, height, width) for one image.")
    if got == expected:
        return report(True, f"relu4_3 gives {expected}: three 2x2 pools have halved 160 three times, to 20.")
    if len(got) == 3 and sorted(got) == sorted(expected):
        return report(False, "right numbers, wrong order: PyTorch puts channels first, (C, H, W).")
    if len(got) == 3 and got[0] == expected[0]:
        return report(False, f"the channels are right. Count the pools *before* relu4_3 (pool1..pool3): 160 / 2**3 = ?")
    return report(False, f"not {got}. Block 4 has 512 channels; each pool before it halves the side.")


def solution_output_shape():
    """Build VGG16 on the meta device (no memory, no weights) and hook the layer."""
    import torch
    import torchvision
    from course_utils.features import capture

    with torch.device("meta"):
        model = torchvision.models.vgg16(weights=None)
    maps = capture(model, torch.zeros(1, 3, 160, 160, device="meta"), ["relu4_3"])
    return tuple(maps["relu4_3"].shape[1:])


# --- Exercise 2: write the hook yourself --------------------------------------------------

def check_record(answer) -> bool:
    """``answer``: a function ``record(model, module, x) -> tensor`` that returns ``module``'s output via a forward hook."""
    if answer is None:
        return _not_attempted()
    if not callable(answer):
        return report(False, f"your answer should be a function record(model, module, x), got {type(answer).__name__}.")
    from course_utils.architecture import build_vgg

    torch.manual_seed(0)
    model = build_vgg("A", width=0.125, num_classes=5, hidden=32, pool_size=1).eval()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    conv = model.features[0]
    with torch.no_grad():
        expected = conv(x)
    try:
        got = answer(model, conv, x)
    except Exception as err:  # the learner's code may raise anything
        return report(False, f"calling your function raised {type(err).__name__}: {err}")
    left = sum(len(m._forward_hooks) for m in model.modules())
    if left:
        for m in model.modules():
            m._forward_hooks.clear()
        return report(False, f"{left} hook(s) were left on the model: keep the handle and call handle.remove() (in a finally:).")
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return report(False, f"expected a tensor of shape {tuple(expected.shape)}, got {getattr(got, 'shape', type(got).__name__)}.")
    if torch.allclose(got, expected.clamp(min=0)) and (expected < 0).any():
        return report(False, "you got conv1_1's output *after* the in-place ReLU overwrote it: store output.clone().")
    if not torch.allclose(got, expected, atol=1e-6):
        return report(False, "the tensor you returned is not the module's output.")
    return report(True, "your hook captured conv1_1's output, negatives and all, and cleaned up after itself.")


def solution_record():
    """A forward hook that keeps a clone, removed in `finally` even if the model raises."""
    import torch

    def record(model, module, x):
        stored = {}

        def hook(mod, inputs, output):
            stored["out"] = output.detach().clone()  # clone: the in-place ReLU comes next

        handle = module.register_forward_hook(hook)
        try:
            with torch.no_grad():
                model(x)
        finally:
            handle.remove()
        return stored["out"]

    return record


# --- Exercise 3: how much smaller? --------------------------------------------------------

def _shrink_factor() -> float:
    import torchvision

    from course_utils.features import block_ends, capture, shape_table

    with torch.device("meta"):
        model = torchvision.models.vgg16(weights=None)
    rows = shape_table(capture(model, torch.zeros(1, 3, 224, 224, device="meta"), block_ends(model)))
    return rows[0].values / rows[-1].values


def check_shrink_factor(answer) -> bool:
    """``answer``: how many times more numbers relu1_2's output holds than relu5_3's, for one 224x224 image."""
    if answer is None:
        return _not_attempted()
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return report(False, f"give one number, got {answer!r}.")
    expected = _shrink_factor()
    if abs(value - expected) < 1e-6 * expected:
        return report(True, f"{expected:.0f} times: the side shrinks 16x (256x fewer positions) while the channels grow only 8x.")
    if abs(value - 1 / expected) < 1e-9:
        return report(False, "upside down: divide relu1_2's count by relu5_3's.")
    if abs(value - 256) < 1e-6:
        return report(False, "that counts positions only; multiply each by its number of channels.")
    return report(False, f"not {value}. Numbers in a map = channels x height x width.")


def solution_shrink_factor():
    """Capture both layers (meta device: shapes only) and divide their sizes."""
    import torch
    import torchvision
    from course_utils.features import capture

    with torch.device("meta"):
        model = torchvision.models.vgg16(weights=None)
    maps = capture(model, torch.zeros(1, 3, 224, 224, device="meta"), ["relu1_2", "relu5_3"])
    return maps["relu1_2"].numel() / maps["relu5_3"].numel()
