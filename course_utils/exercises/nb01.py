"""Exercises for notebook 01 (the VGG architecture): checks and worked solutions.

Each check takes the learner's answer, never raises, prints what is right or
still wrong, and returns True or False. The expected values are computed here,
from ``course_utils.architecture``, never typed in.
"""

from __future__ import annotations

import numbers

import torch

from course_utils.architecture import build_vgg, layer_table, stacked_receptive_field
from course_utils.exercises import not_attempted as _not_attempted, NOT_ATTEMPTED, report



def _is_number(answer) -> bool:
    return isinstance(answer, numbers.Real) and not isinstance(answer, bool)


def _vgg16_table(size: int):
    with torch.device("meta"):
        model = build_vgg("D", init_weights=False)
    return layer_table(model, (3, size, size))


# --- Exercise 1: how many 3x3 layers see as much as AlexNet's 11x11? --------------------

def check_layers_for_11x11(answer) -> bool:
    """``answer``: how many stacked 3x3 (stride 1) convolutions have an 11x11 receptive field."""
    if answer is None:
        return _not_attempted()
    if not _is_number(answer) or int(answer) != answer:
        return report(False, f"give a whole number of layers, got {answer!r}.")
    answer = int(answer)
    if answer < 1:
        return report(False, "you need at least one layer.")
    rf = stacked_receptive_field(answer)
    if rf < 11:
        return report(False, f"{answer} stacked 3x3 layers see only {rf}x{rf}. Each layer adds 2 pixels.")
    if rf > 11:
        return report(False, f"{answer} stacked 3x3 layers see {rf}x{rf}, more than 11x11. Each layer adds 2 pixels.")
    return report(True, f"{answer} layers: 1 + {answer} x 2 = {rf}.")


def solution_layers_for_11x11():
    """Add 3x3 layers until the receptive field reaches 11."""
    from course_utils.architecture import stacked_receptive_field

    answer = 1
    while stacked_receptive_field(answer) < 11:
        answer += 1
    return answer


# --- Exercise 2: the share of VGG16's parameters in the FC layers ------------------------

def check_fc_share(answer) -> bool:
    """``answer``: the fraction (0 to 1) of VGG16's parameters held by fc6, fc7 and fc8."""
    if answer is None:
        return _not_attempted()
    if not _is_number(answer):
        return report(False, f"give a number between 0 and 1, got {answer!r}.")
    table = _vgg16_table(224)
    expected = table.split()["fc"]["params"] / table.params
    if 1 < answer <= 100 and abs(answer / 100 - expected) < 0.002:
        return report(False, f"that looks like a percentage ({answer}); give the fraction, {answer / 100:.3f}.")
    if abs(answer - expected) < 0.002:
        return report(True, f"the FC layers hold {expected:.1%} of VGG16's {table.params:,} parameters.")
    fc6 = next(r for r in table if r.paper_name == "fc6").params / table.params
    if abs(answer - fc6) < 0.002:
        return report(False, "that is fc6 alone; add fc7 and fc8.")
    return report(False, f"{answer:.3f} is not it. Sum the params of the rows whose kind is 'fc' "
                         "(or use table.split()) and divide by table.params.")


def solution_fc_share():
    """Count VGG16 on the meta device and divide the FC parameters by the total."""
    import torch
    from course_utils.architecture import build_vgg, layer_table

    with torch.device("meta"):
        vgg16 = build_vgg("vgg16", init_weights=False)
    table = layer_table(vgg16)
    answer = table.split()["fc"]["params"] / table.params
    return answer


# --- Exercise 3: VGG16's multiply-adds at 112x112 ----------------------------------------

def check_gmacs_at_112(answer) -> bool:
    """``answer``: VGG16's multiply-adds for one 112x112 image, in billions."""
    if answer is None:
        return _not_attempted()
    if not _is_number(answer):
        return report(False, f"give a number (billions of multiply-adds), got {answer!r}.")
    expected = _vgg16_table(112).gmacs
    at_224 = _vgg16_table(224).gmacs
    if abs(answer - expected) <= 0.005 * expected:
        return report(True, f"{expected:.3f} G multiply-adds: the convolutions shrink 4x, "
                            "but the FC layers cost the same, because the adaptive pool always gives them 7x7.")
    if abs(answer - at_224 / 4) <= 0.005 * at_224 / 4:
        return report(False, "a quarter of the 224x224 figure assumes every layer shrinks. "
                             "Which layers see the same input size whatever the image size?")
    if answer > 1000:
        return report(False, f"{answer:,.0f} looks like a raw count; give it in billions (divide by 1e9).")
    return report(False, f"{answer:.3f} is not it. Try layer_table(model, (3, 112, 112)).gmacs.")


def solution_gmacs_at_112():
    """The same count as at 224x224, with a different input size."""
    import torch
    from course_utils.architecture import build_vgg, layer_table

    with torch.device("meta"):
        vgg16 = build_vgg("vgg16", init_weights=False)
    answer = layer_table(vgg16, (3, 112, 112)).gmacs
    return answer
