"""Exercises for notebook 03 (build VGG by hand): VGG13 and configuration C.

A model passes when it has the reference's ``state_dict`` (same names, same shapes),
the reference's weightless layers in the same places (the kind of pooling, dropout
with the paper's p = 0.5: eval-mode logits cannot see dropout at all), AND gives the
reference's logits once the reference is loaded with the learner's own weights: the
same test the notebook uses to prove the hand-built VGG16 is torchvision's. The
references are torchvision's models, never the course's ``build_vgg``, so a bug
shared by the solution and the course code cannot pass.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torchvision
from torch import nn

from course_utils.architecture import VGG, make_features
from course_utils.exercises import call_safely, not_attempted, report
from course_utils.layer_names import paper_names

HINTS = {
    "vgg13": (
        "Only the configuration list changes: start from section 1's `cfg_d` and look at Table 1. In D, "
        "blocks 3 to 5 have three convolutions; in B every block has two. Keep your `VGG` class as it is.",
        "`cfg_b = [64, 64, \"M\", 128, 128, \"M\", 256, 256, \"M\", ...]` (two numbers, then \"M\", for "
        "each of the five blocks), then `answer = VGG(make_features(cfg_b))`. The classifier stays section 6's: "
        "`AdaptiveAvgPool2d((7, 7))`, then Linear, ReLU, Dropout(p=0.5) twice, then Linear.",
    ),
    "config_c": (
        "`make_features` reads an item `(channels, 1)` as a 1x1 convolution with `padding = 1 // 2 = 0`. "
        "Which items of `cfg_d` are the third convolution of blocks 3, 4 and 5?",
        "Copy `cfg_d` and replace the last number before the 3rd, 4th and 5th \"M\" with `(256, 1)`, "
        "`(512, 1)` and `(512, 1)`; then `answer = VGG(make_features(cfg_c))`.",
    ),
}

# The solutions call `make_features` and `VGG`. Here they are the packaged ones; in the
# notebook the revealed code runs with the learner's own hand-built functions of the
# same names, which take the same arguments.
NOTEBOOK_DEFINES = ("VGG", "make_features")

# 64x64 leaves pool5 at 2x2, so AdaptiveAvgPool2d((7, 7)) really averages (at 32x32 pool5 is 1x1 and
# an AdaptiveMaxPool2d gives the same logits). Small enough to stay quick on a CPU.
_PROBE_SIZE = 64


def _structure_problem(answer: nn.Module, reference: nn.Module) -> tuple[str, int | None] | None:
    """What differs between the two state_dicts (names, then shapes), and the hint that helps; or None.

    A different number of convolutions is a wrong configuration list (hint 1 of each exercise).
    """
    mine = {k: tuple(v.shape) for k, v in answer.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    missing = [k for k in theirs if k not in mine]
    extra = [k for k in mine if k not in theirs]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
        if extra:
            parts.append(f"unexpected {', '.join(extra[:4])}{' ...' if len(extra) > 4 else ''}")
        batch_norm = any("running" in k for k in extra)
        hint = " Batch norm adds running_mean/running_var: this exercise has none." if batch_norm else ""
        convs = [sum(k.startswith("features.") and len(s) == 4 for k, s in d.items()) for d in (mine, theirs)]
        if convs[0] != convs[1] and not batch_norm:  # a wrong configuration list, most likely
            return (f"the state_dict names differ from the reference's: your features have {convs[0]} "
                    f"convolutions, the reference has {convs[1]}. Count them per block in the paper's Table 1 "
                    "and fix the configuration list.", 1)
        return ("the state_dict names differ from the reference's: " + "; ".join(parts) + "."
                " Keep the layout features / avgpool / classifier, in the lesson's order." + hint, None)
    for k, shape in theirs.items():
        if mine[k] != shape:
            return f"{k} has shape {mine[k]}, the reference has {shape}. Check that layer's channel counts.", None
    return None


def _layer_problem(answer: nn.Module, reference: nn.Module) -> str | None:
    """Weightless layers out of place or of the wrong kind, or dropout with the wrong p, or None.

    The state_dict cannot see layers without weights, and eval-mode logits cannot see
    dropout: a ``Dropout(p=0.2)``, or one placed before the ReLU, gives the same logits.
    """
    mine = dict(answer.named_modules())
    for name, theirs in reference.named_modules():
        if not name or isinstance(theirs, nn.Sequential):
            continue
        got = mine.get(name)
        if type(got) is not type(theirs):
            found = type(got).__name__ if got is not None else "missing"
            in_features = name.startswith("features")
            layout = ("a conv block per number (Conv2d, ReLU), a MaxPool2d(2, 2) per \"M\"" if in_features
                      else "AdaptiveAvgPool2d((7, 7)), then Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear")
            return f"{name} is {found}, where torchvision has {theirs!r}. Keep the lesson's layout: {layout}."
        if isinstance(theirs, nn.Dropout) and got.p != theirs.p:
            return (f"{name} is Dropout(p={got.p}); the paper (Sec. 3.1) and torchvision drop with p={theirs.p}. "
                    "Dropout is off in eval(), so the logits alone could not tell.")
        if isinstance(theirs, nn.AdaptiveAvgPool2d) and got.output_size != theirs.output_size:
            return f"{name} gives {got.output_size}; the classifier expects {theirs.output_size}."
    return None


def _logits_problem(answer: nn.Module, reference: nn.Module) -> str | None:
    """Hand the learner's weights to the reference and compare outputs on two random images.

    The reference is built on the "meta" device and takes the learner's tensors as they
    are (``assign=True``): no copy, no second 500 MB model. Two images, because the
    difference between their logits is what the images change: the FC biases cancel in it,
    and it is what a wrong layer shows up in (at PyTorch's default init the biases dwarf it).
    """
    _, err = call_safely(lambda: reference.load_state_dict(answer.state_dict(), assign=True),
                         doing="loading your weights into the reference")
    if err:
        return err
    weight = next(answer.parameters())  # the probe takes the model's device and dtype
    x = torch.randn(2, 3, _PROBE_SIZE, _PROBE_SIZE, generator=torch.Generator().manual_seed(0))
    x = x.to(weight.device, weight.dtype)
    was_training = answer.training
    with torch.no_grad():
        doing = f"running your model on a 2x3x{_PROBE_SIZE}x{_PROBE_SIZE} tensor"
        mine, err = call_safely(answer.eval(), x, doing=doing)
        answer.train(was_training)
        if err:
            return err
        theirs, err = call_safely(reference.eval(), x, doing="running torchvision's model with your weights")
    if err:
        return err
    theirs = theirs.float().cpu()
    if not isinstance(mine, torch.Tensor):
        return f"your model returns a {type(mine).__name__}; it should return the logits, one tensor."
    mine = mine.float().cpu()
    if mine.shape != theirs.shape:
        return f"your model returns shape {tuple(mine.shape)}, expected {tuple(theirs.shape)}."
    # Same weights, same operations: the same logits, up to rounding far below what the images change.
    diff = (mine - theirs).abs().max().item()
    if not diff <= 1e-3 * (theirs[0] - theirs[1]).abs().max().item():
        return (f"same weights, different logits (largest difference {diff:.3g}). Check the order of the layers, "
                "the padding of each conv, the avgpool and the flatten before the classifier.")
    return None


def _check_model(answer, make_reference: Callable[[], nn.Module], what: str, layer_hint: int | None = None) -> bool:
    if answer is None:
        return not_attempted()
    if not isinstance(answer, nn.Module):
        return report(False, f"your answer should be a model (an nn.Module), got {type(answer).__name__}.")
    with torch.device("meta"):
        reference = make_reference()
    structure = _structure_problem(answer, reference)
    if structure:
        return report(False, *structure)
    problem, _ = call_safely(_layer_problem, answer, reference, doing="comparing your layers")
    if problem:
        return report(False, problem, hint=layer_hint)
    if any(p.is_meta for p in answer.parameters()):
        return report(False, "your model is on the 'meta' device (shapes only); build it on the CPU to run it.")
    problem = _logits_problem(answer, reference)
    if problem:
        return report(False, problem)
    n = sum(p.numel() for p in answer.parameters())
    return report(True, f"your model is {what}: same state_dict, same logits ({n:,} parameters).")


# --- Exercise 1: VGG13 (configuration B) ---------------------------------------------------

def check_vgg13(answer) -> bool:
    """``answer``: a hand-built VGG13 that matches ``torchvision.models.vgg13``."""
    return _check_model(answer, lambda: torchvision.models.vgg13(weights=None, init_weights=False),
                        "torchvision's VGG13", layer_hint=2)


def solution_vgg13():
    """Configuration B is A with a second conv in blocks 1 and 2: two convs in every block."""
    cfg_b = [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
    answer = VGG(make_features(cfg_b))
    return answer


# --- Exercise 2: configuration C, with its 1x1 convolutions ------------------------------

def _config_c_reference() -> nn.Module:
    """Table 1's configuration C built from torchvision's VGG16 (configuration D):
    conv3_3, conv4_3 and conv5_3 (``features[14]``, ``[21]``, ``[28]``) become 1x1 convolutions."""
    model = torchvision.models.vgg16(weights=None, init_weights=False)
    for index in (14, 21, 28):
        channels = model.features[index].out_channels
        model.features[index] = nn.Conv2d(channels, channels, kernel_size=1)
    return model


def _not_1x1(model: nn.Module) -> list[str]:
    """Which of conv3_3, conv4_3, conv5_3 are missing or not 1x1 (raises on models without paper names)."""
    names, modules = paper_names(model), dict(model.named_modules())
    return [n for n in ("conv3_3", "conv4_3", "conv5_3")
            if n not in names or tuple(modules[names[n]].kernel_size) != (1, 1)]


def check_config_c(answer) -> bool:
    """``answer``: configuration C (D with conv3_3, conv4_3, conv5_3 as 1x1 convs)."""
    if isinstance(answer, nn.Module):
        wrong, _ = call_safely(_not_1x1, answer)  # an unusual model: let the state_dict comparison explain
        if wrong:
            return report(False, f"{', '.join(wrong)} should be 1x1 convolutions (kernel_size=1, padding=0).",
                          hint=1)
    return _check_model(answer, _config_c_reference, "configuration C")


def solution_config_c():
    """D's config with the third conv of blocks 3, 4 and 5 written as (channels, 1): a 1x1 conv."""
    cfg_c = [64, 64, "M", 128, 128, "M", 256, 256, (256, 1), "M",
             512, 512, (512, 1), "M", 512, 512, (512, 1), "M"]
    answer = VGG(make_features(cfg_c))
    return answer
