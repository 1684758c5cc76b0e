"""Exercises for notebook 09 (feature maps): predict a shape, write a hook that always goes, compare sizes.

The solutions measure with hooks; the checks work the shapes out from the paper's
Table 1: a 3x3 convolution with padding 1 keeps the side, each 2x2 pool halves it,
and block k has 64, 128, 256, 512, 512 channels.
"""

from __future__ import annotations

import math

import torch

from course_utils.exercises import as_number, call_safely, callable_check, not_attempted, number_check, report

_CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}  # VGG16's channels per block (Table 1, configuration D)

HINTS = {
    "output_shape": (
        "Count the 2x2 pools that come before relu4_3: each halves the height and the width; a 3x3 convolution "
        "with padding 1 keeps them. The channels are block 4's, from Table 1 (or from `model.features`).",
        "Or measure it: build `torchvision.models.vgg16()` under `with torch.device(\"meta\"):` and run "
        "`capture(model, torch.zeros(1, 3, 160, 160, device=\"meta\"), [\"relu4_3\"])`; drop the batch "
        "dimension from the shape.",
    ),
    "record": (
        "Section 2's pattern for one layer: a hook function `hook(module, inputs, output)` that stores "
        "`output.detach().clone()` (the in-place ReLU overwrites the original), and the handle that "
        "`module.register_forward_hook(hook)` returns.",
        "`handle = module.register_forward_hook(hook)`, then `try:` run `model(x)` under `torch.no_grad()`, "
        "`finally: handle.remove()`; return what the hook stored. The `finally` runs even if `model(x)` raises.",
    ),
    "shrink_factor": (
        "The numbers in one map are channels x height x width. pool5 comes after the fifth 2x2 pool, so its side "
        "is 224 halved five times; relu1_2 comes before any pool.",
        "Capture both layers in one pass on the meta device (as in exercise 1) and divide their `numel()`, or "
        "work out (64 * 224 * 224) / (channels * side * side) for pool5.",
    ),
}


def _map_shape(block: int, size: int) -> tuple[int, int, int]:
    """(channels, height, width) of any ReLU in ``block`` for a size x size image: block k comes after k - 1 pools."""
    side = size // 2 ** (block - 1)
    return _CHANNELS[block], side, side


def _as_ints(answer) -> tuple[int, ...] | None:
    """A list, tuple or torch.Size of whole numbers as a tuple of ints; None for anything else."""
    if isinstance(answer, (str, bytes)):
        return None
    values, err = call_safely(list, answer)
    if err:
        return None
    numbers = tuple(as_number(v, whole=True) for v in values)
    return None if None in numbers else numbers


# --- Exercise 1: predict a layer's output shape -----------------------------------------


def check_output_shape(answer) -> bool:
    """``answer``: (channels, height, width) of VGG16's relu4_3 output for one 160x160 image."""
    if answer is None:
        return not_attempted()
    got = _as_ints(answer)
    if got is None:
        return report(False, f"give three integers (channels, height, width), got {answer!r}.")
    expected = _map_shape(block=4, size=160)
    if len(got) == 4:
        return report(False, "drop the batch dimension: give (channels, height, width) for one image.")
    if got == expected:
        return report(True, f"relu4_3 gives {expected}: three 2x2 pools have halved 160 three times, to 20.")
    if len(got) == 3 and sorted(got) == sorted(expected):
        return report(False, "right numbers, wrong order: PyTorch puts channels first, (C, H, W).")
    if len(got) == 3 and got[0] == expected[0]:
        return report(False, "the channels are right. Count the pools *before* relu4_3 (pool1..pool3): 160 / 2**3 = ?")
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

class _RaisesInForward(torch.nn.Module):
    """A model with a bug: it runs ``layer``, then raises, as a shape mistake deep in a model would."""

    def __init__(self, layer: torch.nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.layer(x)
        raise RuntimeError("a bug later in this model's forward")


@callable_check("a function record(model, module, x)")
def check_record(answer) -> bool:
    """``answer``: a function ``record(model, module, x)`` returning ``module``'s output via a forward hook."""
    from course_utils.architecture import build_vgg

    torch.manual_seed(0)
    model = build_vgg("A", width=0.125, num_classes=5, hidden=32, pool_size=1).eval()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    conv = model.features[0]
    with torch.no_grad():
        expected = conv(x)
    got, err = call_safely(answer, model, conv, x)
    if err:
        conv._forward_hooks.clear()
        return report(False, err)
    left = sum(len(m._forward_hooks) for m in model.modules())
    if left:
        for m in model.modules():
            m._forward_hooks.clear()
        return report(False, f"{left} hook(s) were left on the model: "
                             "keep the handle and call handle.remove() (in a finally:).", hint=2)
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        got = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        return report(False, f"expected a tensor of shape {tuple(expected.shape)}, got {got}.")
    got = got.detach().float()
    if torch.allclose(got, expected.clamp(min=0)) and (expected < 0).any():
        return report(False, "you got conv1_1's output *after* the in-place ReLU overwrote it: store "
                             "output.clone(), and return nothing from the hook (a value it returns replaces the "
                             "layer's output, so the ReLU then overwrites your copy).", hint=1)
    if not torch.allclose(got, expected, atol=1e-6):
        return report(False, "the tensor you returned is not the module's output.")
    broken = _RaisesInForward(conv)  # the hooked layer runs, then the model fails
    call_safely(answer, broken, conv, x)  # it may raise or not: what counts is what it leaves behind
    if conv._forward_hooks:
        conv._forward_hooks.clear()
        return report(False, "on a model that raises inside forward, your hook stayed on the layer: a line after "
                             "model(x) never runs when model(x) raises. Remove the hook in a finally: block.", hint=2)
    return report(True, "your hook captured conv1_1's output, negatives and all, and cleaned up after itself, "
                        "even when the model raised.")


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

_POOL5 = (512, 7, 7)  # pool5 at 224x224: five 2x2 pools halve 224 five times (Table 1's last "maxpool")


@number_check("one number")
def check_shrink_factor(value: float) -> bool:
    """The answer: how many times more numbers relu1_2's output holds than pool5's, for one 224x224 image."""
    relu1_2 = math.prod(_map_shape(block=1, size=224))
    expected = relu1_2 / math.prod(_POOL5)
    if abs(value - expected) < 1e-6 * expected:
        return report(True, f"{expected:.0f} times: the side shrinks 32x (1024x fewer positions) "
                            "while the channels grow only 8x.")
    if abs(value - 1 / expected) < 1e-9:
        return report(False, "upside down: divide relu1_2's count by pool5's.")
    if abs(value - relu1_2 / math.prod(_map_shape(block=5, size=224))) < 1e-6:
        return report(False, "that is relu1_2 against relu5_3 (section 4 printed it): pool5 halves the side "
                             "once more.", hint=2)
    if abs(value - (224 // 7) ** 2) < 1e-6:
        return report(False, "that counts positions only; multiply each by its number of channels.", hint=1)
    return report(False, f"not {value}. Numbers in a map = channels x height x width.", hint=1)


def solution_shrink_factor():
    """Capture both layers (meta device: shapes only) and divide their sizes."""
    import torch
    import torchvision

    from course_utils.features import capture

    with torch.device("meta"):
        model = torchvision.models.vgg16(weights=None)
    maps = capture(model, torch.zeros(1, 3, 224, 224, device="meta"), ["relu1_2", "pool5"])
    return maps["relu1_2"].numel() / maps["pool5"].numel()
