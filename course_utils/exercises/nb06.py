"""Exercises for notebook 06 (training a VGG): what batch norm costs.

The check works its expected answer out another way than the solution does: it reads the
``BatchNorm2d`` layers of ``small_vgg()`` one by one, where the solution subtracts the parameter
counts of the model with and without batch norm.
"""

from __future__ import annotations

from torch import nn

from course_utils.exercises import number_check, report

HINTS = {
    "bn_parameters": (
        "`sum(p.numel() for p in model.parameters())` counts a model's learnable numbers. "
        "`small_vgg()` takes `batch_norm=True` or `batch_norm=False`, and changes nothing else.",
        "Count `small_vgg(batch_norm=True)` and `small_vgg(batch_norm=False)` that way, and subtract. "
        "(Or walk `model.modules()`, keep the `nn.BatchNorm2d` ones and add up their parameters: a scale "
        "and a shift per channel. `running_mean` and `running_var` are buffers, not parameters.)",
    ),
}


# --- Exercise 1: what does batch norm cost? ---------------------------------------------------

def _bn_parameters() -> tuple[int, int, int]:
    """(learnable BN parameters, BN layers, BN channels) of small_vgg(), read off its BatchNorm2d layers
    (the solution subtracts the totals of the model with and without batch norm instead)."""
    from course_utils.small_vgg import small_vgg

    bns = [m for m in small_vgg().modules() if isinstance(m, nn.BatchNorm2d)]
    return sum(p.numel() for m in bns for p in m.parameters()), len(bns), sum(m.num_features for m in bns)


@number_check("a number of parameters")
def check_bn_parameters(answer: float) -> bool:
    """The answer: how many learnable parameters the batch-norm layers add to ``small_vgg()``."""
    total, layers, channels = _bn_parameters()
    if answer == total:
        return report(True, f"{total} parameters: a scale (gamma) and a shift (beta) for each of {channels} channels, "
                            "tiny next to the convolutions' weights. Section 5 measured what they buy.")
    if answer == layers:
        return report(False, "that is the number of batch-norm layers; count their parameters (p.numel()).", hint=1)
    if answer == channels:
        return report(False, "that counts one number per channel; "
                             "each channel has two learnable ones, a scale and a shift.", hint=2)
    if answer == 2 * total:
        return report(False, "running_mean and running_var are buffers, not learnable parameters: leave them out.",
                      hint=2)
    if answer == 2 * total + layers:
        return report(False, "that counts the whole state_dict: running_mean, running_var and num_batches_tracked "
                             "are buffers, not learnable parameters. Count model.parameters().", hint=2)
    return report(False, f"{answer} is not it. Compare sum(p.numel() for p in model.parameters()) "
                         "with and without batch_norm, or add up the BatchNorm2d layers' parameters.", hint=2)


def solution_bn_parameters():
    """Count the parameters with and without batch norm, and subtract."""
    from course_utils.small_vgg import small_vgg

    def count(model):
        return sum(p.numel() for p in model.parameters())

    return count(small_vgg(batch_norm=True)) - count(small_vgg(batch_norm=False))
