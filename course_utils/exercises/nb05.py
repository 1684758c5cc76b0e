"""Exercises for notebook 05 (inference in depth): a prediction that train mode cannot fool, and fc6 as a convolution.

The safe-prediction check starts the learner's function from both modes, ``train()`` and
``eval()``, and compares its output with the model's eval-mode probabilities worked out
layer by layer (the dropout layer skipped). The convolution check applies the Linear layer
to every window of a larger input, one window at a time.
"""

from __future__ import annotations

import torch
from torch import nn

from course_utils.exercises import call_safely, callable_check, report

HINTS = {
    "safe_predict": (
        "Three pieces: `model.eval()` turns dropout off, `torch.inference_mode()` stops autograd tracking, and "
        "`model.training` (True or False) is the mode to give back when you are done.",
        "`was_training = model.training`, then `model.eval()`; run `model(x).softmax(dim=1)` inside "
        "`with torch.inference_mode():`; finally `model.train(was_training)` (in a `try` / `finally`, so that the "
        "mode comes back even if the forward raises). Not `model.train()`: that is right only for a model that "
        "started in train mode.",
    ),
    "linear_to_conv": (
        "`nn.Conv2d(in_channels, linear.out_features, kernel_size)` has a weight of shape (out, in_channels, k, k); "
        "the Linear layer's weight, (out, in_channels * k * k), holds the same numbers in `flatten`'s order.",
        "Inside `with torch.no_grad():`, `conv.weight.copy_(linear.weight.view(out, in_channels, k, k))` and "
        "`conv.bias.copy_(linear.bias)`; then return the convolution.",
    ),
}


# --- Exercise 1: a prediction function that cannot be fooled by train mode -------------------

def _dropout_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 4))


def _eval_probabilities(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's softmax with dropout off, worked out layer by layer: the Dropout (``model[2]``) skipped."""
    with torch.no_grad():
        return model[3](model[1](model[0](x))).softmax(dim=1)


@callable_check("a function f(model, x)")
def check_safe_predict(answer) -> bool:
    """``answer``: ``f(model, x) -> probabilities``: the eval-mode ones from either mode, the mode given back."""
    model = _dropout_model().train()
    x = torch.randn(3, 8)
    expected = _eval_probabilities(model, x)
    first, err = call_safely(answer, model, x)
    if err:
        return report(False, err)
    if not isinstance(first, torch.Tensor) or first.shape != (3, 4):
        got = tuple(first.shape) if isinstance(first, torch.Tensor) else type(first).__name__
        return report(False, f"expected probabilities of shape (3, 4), got {got}.")
    if not torch.allclose(first.detach().float().sum(dim=1), torch.ones(3), atol=1e-5):
        return report(False, "each row should sum to 1: apply softmax over the classes (dim=1).", hint=2)
    restored_train = model.training
    model.train()  # the second call starts from train mode too, whatever the first one left
    second, _ = call_safely(answer, model, x)
    if not isinstance(second, torch.Tensor) or second.shape != first.shape or not torch.equal(first, second):
        return report(False, "two calls gave different outputs: dropout is still on. Call model.eval() first.", hint=1)
    if not torch.allclose(first.detach().float(), expected, atol=1e-5):
        return report(False, "the rows sum to 1 but are not the model's probabilities with dropout off: "
                             "return model(x).softmax(dim=1), computed in eval mode.", hint=2)
    if first.requires_grad:
        return report(False, "the output still tracks gradients: "
                             "wrap the forward in torch.inference_mode() or torch.no_grad().", hint=1)
    if not restored_train:
        return report(False, "the model is left in eval mode: "
                             "put it back the way you found it (model.train(was_training)).", hint=2)
    model.eval()  # now from eval mode: the function must leave it there
    third, err = call_safely(answer, model, x, doing="calling your answer on a model in eval() mode")
    if err:
        return report(False, err)
    if model.training:
        return report(False, "given a model in eval() mode, your function left it in train() mode: give back the "
                             "mode it had (model.train(was_training)), not always train().", hint=2)
    if not isinstance(third, torch.Tensor) or third.shape != first.shape or not torch.equal(third, first):
        return report(False, "from eval() mode your function gave different probabilities than from train() mode; "
                             "they should be the same.", hint=2)
    return report(True, "the eval-mode probabilities from either mode, no autograd, and the model's mode given back.")


def solution_safe_predict():
    """eval() for the call, inference_mode, softmax, then restore the mode."""
    import torch

    def answer(model, x):
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                return model(x).softmax(dim=1)
        finally:
            model.train(was_training)
    return answer


# --- Exercise 2: a Linear layer as a convolution (dense evaluation) -------------------------

def _windows_through(linear: nn.Linear, x: torch.Tensor, k: int) -> torch.Tensor:
    """The expected score map, the slow way: ``linear`` applied to every k x k window of ``x``, flattened."""
    rows, cols = x.shape[-2] - k + 1, x.shape[-1] - k + 1
    out = torch.empty(x.shape[0], linear.out_features, rows, cols)
    for i in range(rows):
        for j in range(cols):
            out[:, :, i, j] = linear(x[:, :, i:i + k, j:j + k].flatten(1))
    return out


@callable_check("a function f(linear, in_channels, kernel_size)")
def check_linear_to_conv(answer) -> bool:
    """``answer``: ``f(linear, in_channels, kernel_size)`` -> a convolution computing ``linear`` at every position."""
    torch.manual_seed(0)
    linear, x = nn.Linear(4 * 3 * 3, 6), torch.randn(2, 4, 5, 7)  # reads a flattened 4 x 3 x 3 block
    conv, err = call_safely(answer, linear, 4, 3)
    if err and "leaf Variable" in err:  # copy_ into a parameter while autograd records
        return report(False, err + " Copy into the convolution's weight and bias inside `with torch.no_grad():`.",
                      hint=2)
    if err:
        return report(False, err)
    if not isinstance(conv, nn.Module):
        return report(False, f"your function should return a module such as nn.Conv2d, got {type(conv).__name__}.",
                      hint=1)
    with torch.no_grad():
        out, err = call_safely(conv, x, doing="running your convolution on a (2, 4, 5, 7) input")
        expected = _windows_through(linear, x, 3)
    if err:
        return report(False, err)
    if not isinstance(out, torch.Tensor) or out.shape != expected.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return report(False, f"on a (2, 4, 5, 7) input the convolution should give {tuple(expected.shape)} "
                             f"(a 3x3 window, no padding), got {got}.", hint=1)
    gap = (out - expected).abs().max().item()
    if not gap <= 1e-5:  # written so that NaN fails too
        return report(False, f"the scores differ from the Linear layer's by up to {gap:.3f}. Reshape the weight in "
                             "flatten's order, (out, channels, rows, columns), and keep the bias.", hint=2)
    return report(True, f"every position of your convolution equals the Linear layer on that window (gap {gap:.1e}).")


def solution_linear_to_conv():
    """Reshape the weight matrix into filters in flatten's order (channel, row, column); the bias stays."""
    import torch
    from torch import nn

    def answer(linear, in_channels, kernel_size):
        conv = nn.Conv2d(in_channels, linear.out_features, kernel_size)
        with torch.no_grad():
            conv.weight.copy_(linear.weight.view(linear.out_features, in_channels, kernel_size, kernel_size))
            conv.bias.copy_(linear.bias)
        return conv
    return answer
