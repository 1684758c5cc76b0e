"""Exercises for notebook 02 (the VGG architecture): receptive fields, parameters, multiply-adds.

The notebook counts with ``course_utils`` (``layer_table``); the checks count another
way: by the receptive-field formula, by the layer sizes of the paper's Table 1, and
with torch's own ``FlopCounterMode`` on torchvision's VGG16.
"""

from __future__ import annotations

import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

from course_utils.exercises import number_check, report

HINTS = {
    "layers_for_11x11": (
        "One 3x3 layer sees 3x3, and each further stride-1 3x3 layer widens the view by 2 pixels "
        "(section 3): `stacked_receptive_field(n)` is 1 + 2 x n.",
        "Solve 1 + 2 x n = 11 for n, or count up: `n = 1`, then `n += 1` while "
        "`stacked_receptive_field(n) < 11`.",
    ),
    "fc_share": (
        "Count VGG16 with `layer_table` on the meta device, as in section 4: `table.split()` separates the "
        "convolutions (\"conv\") from the fully connected layers (\"fc\"), and `table.params` is the total.",
        "Build `vgg16` on the meta device (`with torch.device(\"meta\"):`), make `table = layer_table(vgg16)`, "
        "then divide the \"params\" of `table.split()[\"fc\"]` by `table.params`.",
    ),
    "gmacs_at_112": (
        "`layer_table(model, (3, 112, 112))` counts for another input size, and its `.gmacs` is the total in "
        "billions. Predict first: which layers see the same input whatever the image size?",
        "The convolutions do a quarter of their 224x224 work, but `AdaptiveAvgPool2d` always hands fc6 a "
        "7x7 map, so fc6-fc8 cost the same. Count it: a `layer_table` of VGG16 (built on the meta device) "
        "for `(3, 112, 112)`, and its `.gmacs`.",
    ),
}

# --- Exercise 1: how many 3x3 layers see as much as AlexNet's 11x11? --------------------


@number_check("a whole number of layers", whole=True)
def check_layers_for_11x11(n: int) -> bool:
    """The answer: how many stacked 3x3 (stride 1) convolutions have an 11x11 receptive field."""
    if n < 1:
        return report(False, "you need at least one layer.")
    rf = 1 + 2 * n  # one pixel, and each 3x3 stride-1 layer widens the view by one pixel on each side
    if rf < 11:
        return report(False, f"{n} stacked 3x3 layers see only {rf}x{rf}. Each layer adds 2 pixels.", hint=1)
    if rf > 11:
        return report(False, f"{n} stacked 3x3 layers see {rf}x{rf}, more than 11x11. Each layer adds 2 pixels.",
                      hint=1)
    return report(True, f"{n} layers: 1 + {n} x 2 = {rf}.")


def solution_layers_for_11x11():
    """Add 3x3 layers until the receptive field reaches 11."""
    from course_utils.receptive_field import stacked_receptive_field

    answer = 1
    while stacked_receptive_field(answer) < 11:
        answer += 1
    return answer


# --- Exercise 2: the share of VGG16's parameters in the FC layers ------------------------

# fc6, fc7, fc8 from the paper's Table 1: weights plus one bias per output.
_FC6 = 512 * 7 * 7 * 4096 + 4096  # 512 maps of 7x7 from pool5 -> 4096
_FC7 = 4096 * 4096 + 4096
_FC8 = 4096 * 1000 + 1000  # 1000 ImageNet classes


def _vgg16_meta() -> torch.nn.Module:
    """torchvision's VGG16 on the meta device: shapes, no memory, no time."""
    with torch.device("meta"):
        return torchvision.models.vgg16(weights=None)


@number_check("a number between 0 and 1")
def check_fc_share(value: float) -> bool:
    """The answer: the fraction (0 to 1) of VGG16's parameters held by fc6, fc7 and fc8."""
    total = sum(p.numel() for p in _vgg16_meta().parameters())
    expected = (_FC6 + _FC7 + _FC8) / total
    if 1 < value <= 100 and abs(value / 100 - expected) < 0.002:
        return report(False, f"that looks like a percentage ({value}); give the fraction, {value / 100:.3f}.")
    if abs(value - expected) < 0.002:
        return report(True, f"the FC layers hold {expected:.1%} of VGG16's {total:,} parameters.")
    if abs(value - _FC6 / total) < 0.002:
        return report(False, "that is fc6 alone; add fc7 and fc8.", hint=1)
    if abs(value - (1 - expected)) < 0.002:
        return report(False, "that is the convolutions' share; the question asks for the FC layers' (\"fc\").",
                      hint=2)
    return report(False, f"{value:.3f} is not it. Sum the params of the rows whose kind is 'fc' "
                         "(or use table.split()) and divide by table.params.", hint=2)


def solution_fc_share():
    """Count VGG16 on the meta device and divide the FC parameters by the total."""
    import torch

    from course_utils.architecture import build_vgg
    from course_utils.counting import layer_table

    with torch.device("meta"):
        vgg16 = build_vgg("vgg16", init_weights=False)
    table = layer_table(vgg16)
    answer = table.split()["fc"]["params"] / table.params
    return answer


# --- Exercise 3: VGG16's multiply-adds at 112x112 ----------------------------------------

def _counted_gmacs(size: int) -> float:
    """torch's FlopCounterMode on torchvision's VGG16; a multiply-add is two FLOPs."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        _vgg16_meta()(torch.zeros(1, 3, size, size, device="meta"))
    return counter.get_total_flops() / 2 / 1e9


@number_check("a number (billions of multiply-adds)")
def check_gmacs_at_112(value: float) -> bool:
    """The answer: VGG16's multiply-adds for one 112x112 image, in billions."""
    expected = _counted_gmacs(112)
    quarter = _counted_gmacs(224) / 4
    if abs(value - expected) <= 0.005 * expected:
        return report(True, f"{expected:.3f} G multiply-adds: the convolutions shrink 4x, "
                            "but the FC layers cost the same, because the adaptive pool always gives them 7x7.")
    if abs(value - quarter) <= 0.005 * quarter:
        return report(False, "a quarter of the 224x224 figure assumes every layer shrinks. "
                             "Which layers see the same input size whatever the image size?", hint=2)
    if value > 1000:
        return report(False, f"{value:,.0f} looks like a raw count; give it in billions (divide by 1e9).")
    if abs(value - 2 * expected) <= 0.01 * expected:
        return report(False, "that is FLOPs: FlopCounterMode counts a multiply-add as two. Give multiply-adds "
                             "(half of it), as layer_table's .gmacs does.", hint=1)
    return report(False, f"{value:.3f} is not it. Try layer_table(model, (3, 112, 112)).gmacs.", hint=1)


def solution_gmacs_at_112():
    """The same count as at 224x224, with a different input size."""
    import torch

    from course_utils.architecture import build_vgg
    from course_utils.counting import layer_table

    with torch.device("meta"):
        vgg16 = build_vgg("vgg16", init_weights=False)
    answer = layer_table(vgg16, (3, 112, 112)).gmacs
    return answer
