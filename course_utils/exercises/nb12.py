"""Exercises for notebook 12 (beyond VGG): accuracy against compute, what a recipe is worth, FLOPs,
a residual block.

The solutions read the course's model cards and count with ``FlopCounterMode``; the
checks read torchvision's weights metadata directly and use what a multiply-add is.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from course_utils.exercises import call_safely, not_attempted, number_check, report
from course_utils.zoo import DEFAULT_WEIGHTS, ZOO

HINTS = {
    "better_and_cheaper": (
        "Find VGG19's card in `zoo_cards()`, then test every card against it on two things at once: "
        "`acc1` higher, and `gflops` below a quarter of VGG19's.",
        "A set comprehension over the cards, `{c.arch for c in cards if ... and ...}`, with VGG19's card from "
        "`next(c for c in cards if c.arch == \"vgg19\")`.",
    ),
    "recipe_share": (
        "Two differences of top-1 accuracy (`acc1`): ConvNeXt-Tiny's lead over ResNet-50's V1 weights, and "
        "how much ResNet-50's V2 weights gained over its V1 weights.",
        "`model_card(\"resnet50\", \"IMAGENET1K_V2\")` is the V2 card; the answer is (V2 - V1) / (ConvNeXt - V1), "
        "a fraction, not points or a percentage.",
    ),
    "flop_ratio": (
        "`counter = FlopCounterMode(display=False)` (from `torch.utils.flop_counter`) counts the FLOPs of everything "
        "run inside `with counter:`; run one forward pass there and read `counter.get_total_flops()`.",
        "After `import torchvision`, build `torchvision.models.resnet18()` and `torch.randn(1, 3, 224, 224)` inside "
        "`with torch.device(\"meta\"):` (shapes only, instant), count, then divide by "
        "`torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta[\"_ops\"] * 1e9`.",
    ),
    "residual_block": (
        "Write a subclass of `nn.Module`: build the two convolutions in `__init__`, and in `forward` add the "
        "block's input `x` to their output before the last ReLU.",
        "In `__init__`: `self.f = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(), "
        "nn.Conv2d(channels, channels, 3, padding=1))`; `forward(self, x)` returns `(x + self.f(x)).relu()`. "
        "The class itself can be `make_block`.",
    ),
}

# --- Exercise 1: which designs beat VGG19 at a quarter of its compute? -----------------------

def _acc1_and_gflops(arch: str) -> tuple[float, float]:
    """Top-1 accuracy and GFLOPS straight from torchvision's weights metadata (not the course's model cards)."""
    meta = torchvision.models.get_model_weights(arch)[DEFAULT_WEIGHTS].meta
    return meta["_metrics"]["ImageNet-1K"]["acc@1"], meta["_ops"]


def _better_and_cheaper() -> set[str]:
    vgg19_acc1, vgg19_gflops = _acc1_and_gflops("vgg19")
    numbers = {arch: _acc1_and_gflops(arch) for arch in ZOO}
    return {arch for arch, (acc1, gflops) in numbers.items() if acc1 > vgg19_acc1 and gflops < vgg19_gflops / 4}


def check_better_and_cheaper(answer) -> bool:
    """``answer``: the set of zoo architectures more accurate than VGG19 with under 1/4 of its GFLOPS."""
    if answer is None:
        return not_attempted()
    items, err = call_safely(list, answer)
    if err or isinstance(answer, str):
        return report(False, f"give a set or list of architecture names such as {{'resnet50'}}, got {answer!r}.")
    given = {str(a) for a in items}
    unknown = given - set(ZOO)
    if unknown:
        return report(False, f"{sorted(unknown)} are not zoo keys. Use the architecture keys: {', '.join(ZOO)}.")
    expected = _better_and_cheaper()
    if given == expected:
        return report(True, f"{sorted(expected)}: later designs beat VGG19 with a fraction of its compute.")
    missing, extra = sorted(expected - given), sorted(given - expected)
    hint = []
    if missing:
        hint.append(f"{len(missing)} qualifying model(s) missing")
    if extra:
        hint.append(f"{extra} do not qualify (check both accuracy and GFLOPS)")
    return report(False, "; ".join(hint) + ". Compare each card's acc1 and gflops with VGG19's.", hint=1)


def solution_better_and_cheaper():
    """Filter the model cards against VGG19's card."""
    from course_utils.zoo import zoo_cards

    cards = zoo_cards()
    vgg19 = next(c for c in cards if c.arch == "vgg19")
    answer = {c.arch for c in cards if c.acc1 > vgg19.acc1 and c.gflops < vgg19.gflops / 4}
    return answer


# --- Exercise 2: how much of ConvNeXt-Tiny's lead is the recipe? -----------------------------

def _acc1(arch: str, weights: str) -> float:
    """Top-1 accuracy straight from torchvision's weights metadata (the solution goes through model_card)."""
    return torchvision.models.get_model_weights(arch)[weights].meta["_metrics"]["ImageNet-1K"]["acc@1"]


@number_check("a fraction between 0 and 1")
def check_recipe_share(value: float) -> bool:
    """The answer: (ResNet-50 V2 - ResNet-50 V1) / (ConvNeXt-Tiny V1 - ResNet-50 V1), top-1 accuracies."""
    r50_v1, r50_v2 = _acc1("resnet50", "IMAGENET1K_V1"), _acc1("resnet50", "IMAGENET1K_V2")
    lead, closed = _acc1("convnext_tiny", "IMAGENET1K_V1") - r50_v1, r50_v2 - r50_v1
    expected = closed / lead
    if abs(value - expected) < 0.01:
        return report(True, f"{value:.2f}: the new recipe closes {closed:.1f} of ConvNeXt-Tiny's {lead:.1f}-point "
                            "lead. Much of what looks like architecture in that table is training.")
    if abs(value - 100 * expected) < 1:
        return report(False, "that looks like a percentage: give the fraction (between 0 and 1).")
    if abs(value - lead / closed) < 0.01:
        return report(False, "your ratio is upside down: the points closed by V2, divided by the whole lead.", hint=2)
    if abs(value - closed) < 0.01 or abs(value - lead) < 0.01:
        return report(False, "that is a number of points, not a fraction: divide the points closed by the lead.",
                      hint=2)
    return report(False, f"{value:.3f} is off. Lead = ConvNeXt-Tiny V1 - ResNet-50 V1; closed = ResNet-50 V2 - V1; "
                         "answer = closed / lead (use each card's acc1).", hint=1)


def solution_recipe_share():
    """Read the three cards; the fraction of the lead that training alone closes."""
    from course_utils.zoo import model_card

    r50_v1, r50_v2 = model_card("resnet50", "IMAGENET1K_V1"), model_card("resnet50", "IMAGENET1K_V2")
    convnext = model_card("convnext_tiny")
    answer = (r50_v2.acc1 - r50_v1.acc1) / (convnext.acc1 - r50_v1.acc1)
    return answer


# --- Exercise 3: what does torchvision's "GFLOPS" count? ------------------------------------

# torchvision's "_ops" counts multiply-adds; FlopCounterMode counts the multiply and the add
# as two FLOPs. So the ratio is 2 by definition, up to the 3 decimals "_ops" is given to
# (tests/test_exercises.py measures it on a real ResNet-18).
_FLOPS_PER_MULTIPLY_ADD = 2.0


@number_check("a number (counted FLOPs / torchvision's figure)")
def check_flop_ratio(value: float) -> bool:
    """The answer: FLOPs counted by ``FlopCounterMode`` for ResNet-18 at 224 divided by ``meta["_ops"] * 1e9``."""
    expected = _FLOPS_PER_MULTIPLY_ADD
    if abs(value - expected) < 0.05:
        return report(True, f"the ratio is {value:.3f}, about {expected:.0f}: torchvision's figure counts "
                            "multiply-adds, FlopCounterMode counts the multiply and the add separately.")
    if abs(value - 1 / expected) < 0.05:
        return report(False, "your ratio is upside down: counted FLOPs divided by torchvision's figure.", hint=2)
    if abs(value / 1e9 - expected) < 0.05:
        return report(False, "torchvision's figure is in giga-operations: multiply meta['_ops'] by 1e9 "
                             "before dividing.", hint=2)
    return report(False, f"{value:.3f} is off. Count with FlopCounterMode(display=False) around one forward, "
                         "then get_total_flops() / (meta['_ops'] * 1e9).", hint=1)


def solution_flop_ratio():
    """Count on the 'meta' device: shapes only, no memory, no time."""
    import torch
    import torchvision
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = torchvision.models.resnet18().eval()
        x = torch.randn(1, 3, 224, 224)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    meta_gflops = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["_ops"]
    answer = counter.get_total_flops() / (meta_gflops * 1e9)
    return answer


# --- Exercise 4: a residual block by hand ---------------------------------------------------

@torch.no_grad()
def _run_and_switch_off(block: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The block's output on ``x``, then its output with every parameter set to zero."""
    block.eval()
    out = block(x)
    for p in block.parameters():
        p.zero_()
    return out, block(x)


def check_residual_block(answer) -> bool:
    """``answer``: ``make_block(channels) -> nn.Module`` computing ``relu(x + F(x))`` with F two 3x3 convs."""
    if answer is None:
        return not_attempted()
    if isinstance(answer, nn.Module):
        return report(False, "that is one block, already built; give what builds blocks: `answer = make_block` "
                             "(the function or the class itself, without calling it).")
    if not callable(answer):
        return report(False, f"your answer should be a function make_block(channels), got {type(answer).__name__}.")
    block, err = call_safely(answer, 8, doing="make_block(8)")
    if err:
        return report(False, err)
    if not isinstance(block, nn.Module):
        return report(False, f"make_block(8) should return an nn.Module, got {type(block).__name__}.")
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) < 2 or any(c.kernel_size != (3, 3) for c in convs):
        return report(False, "the residual branch F should hold two 3x3 convolutions (padding=1 keeps the size).",
                      hint=2)
    torch.manual_seed(0)
    x = torch.randn(2, 8, 16, 16)
    outputs, err = call_safely(_run_and_switch_off, block, x, doing="running the block")
    if err:
        return report(False, err)
    out, switched_off = outputs
    if not all(isinstance(t, torch.Tensor) and t.shape == x.shape for t in outputs):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return report(False, f"the output must have the input's shape {tuple(x.shape)}, got {got}. Use padding=1.",
                      hint=2)
    out, switched_off = out.float(), switched_off.float()
    if not torch.isfinite(out).all():
        return report(False, "the block's output holds NaN or inf values.")
    if torch.allclose(out, x.relu(), atol=1e-6) or torch.allclose(out, x, atol=1e-6):
        return report(False, "the output equals the input: the convolutions are not used. Add F(x) to x.", hint=1)
    if not (torch.allclose(switched_off, x.relu(), atol=1e-6) or torch.allclose(switched_off, x, atol=1e-6)):
        return report(False, "with every weight set to zero the block should pass x through (relu(x + 0)). "
                             "Is the skip connection there? Return relu(x + F(x)).", hint=2)
    if (out < 0).any():
        return report(False, "the output has negative values, so the last step is not the ReLU: the block "
                             "computes relu(x + F(x)), the ReLU after the sum.", hint=2)
    return report(True, "with its weights at zero the block passes its input through. A block near zero is "
                        "close to the identity, and gradients flow through the skip path: "
                        "that is why very deep ResNets train.")


def solution_residual_block():
    """x + F(x), where F is conv-BN-ReLU-conv-BN (the ResNet-18 block without downsampling)."""
    from torch import nn

    class ResidualBlock(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.f = nn.Sequential(
                nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(),
                nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
            )

        def forward(self, x):
            return (x + self.f(x)).relu()

    answer = ResidualBlock
    return answer
