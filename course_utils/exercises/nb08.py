"""Exercises for notebook 08 (transfer learning): freezing, counting what trains, parameter groups.

The checks look at structure only, so they build their own VGG11s without weights:
quick, and no download.
"""

from __future__ import annotations

import torch
from torch import nn

from course_utils.exercises import call_safely, callable_check, not_attempted, number_check, report

NUM_CLASSES = 5  # the shapes' classes

HINTS = {
    "frozen_with_new_head": (
        "Two steps, in this order: freeze every parameter of the model with one call, then replace the last "
        "layer. A layer you create starts trainable, so the new head is then the only thing that trains.",
        "`model = torchvision.models.vgg11()`, then `model.requires_grad_(...)`, then "
        "`model.classifier[6] = nn.Linear(..., ...)`: 4096 features in, one output per shape class.",
    ),
    "block5_parameters": (
        "Count, don't work it out by hand: build VGG11 (under `with torch.device(\"meta\"):` it costs no memory), "
        "put the 5-class head in `classifier[6]` first, then add up `p.numel()` over the parts that train.",
        "The parts that train are `model.features[16:]` (conv5_1, conv5_2) and all of `model.classifier` "
        "(fc6, fc7, the new fc8): sum `p.numel()` over the parameters of both.",
    ),
    "param_groups": (
        "Three parts (exercise 2's), two rates (section 4's): the pretrained layers that fine-tune (block 5, "
        "`model.features[16:]`, and fc6, fc7, `model.classifier[:6]`) take small steps, 0.001; only the new head, "
        "`model.classifier[6]`, starts from random weights and takes 0.01. Blocks 1-4 stay frozen: leave them out.",
        "`torch.optim.SGD([{\"params\": model.features[16:].parameters(), \"lr\": 0.001}, {...}, {...}], "
        "momentum=0.9)`: one dict per group; a setting after the list applies to every group.",
    ),
}


def _trainable(model: nn.Module) -> set[str]:
    return {name for name, p in model.named_parameters() if p.requires_grad}


# --- Exercise 1: a new head on a frozen VGG11 ---------------------------------------------------

def check_frozen_with_new_head(answer) -> bool:
    """``answer``: a VGG11 with a new 5-class ``classifier[6]``, and nothing else trainable."""
    if answer is None:
        return not_attempted()
    classifier = getattr(answer, "classifier", None)
    if not isinstance(answer, nn.Module) or not isinstance(classifier, nn.Sequential) or len(classifier) != 7:
        return report(False, "your answer should be the VGG11 model itself (its classifier holds 7 modules), "
                             f"got {type(answer).__name__}.")
    head = classifier[6]
    if not isinstance(head, nn.Linear) or head.in_features != 4096:
        return report(False, "classifier[6] should be an nn.Linear taking fc7's 4096 features.")
    if head.out_features != NUM_CLASSES:
        return report(False, f"the new head has {head.out_features} outputs; the shapes have {NUM_CLASSES} classes.",
                      hint=2)
    trainable = _trainable(answer)
    if trainable == set():
        return report(False, "nothing is trainable: freeze first, then replace classifier[6] "
                             "(a new layer starts trainable).", hint=1)
    if trainable != {"classifier.6.weight", "classifier.6.bias"}:
        extra = sorted(trainable - {"classifier.6.weight", "classifier.6.bias"})
        return report(False, f"{len(extra)} other tensors still train, e.g. {extra[:3]}: "
                             "call model.requires_grad_(False) first.", hint=1)
    n, total = sum(p.numel() for p in head.parameters()), sum(p.numel() for p in answer.parameters())
    return report(True, f"only the new head trains: {n:,} of {total:,} parameters.")


def solution_frozen_with_new_head():
    """Freeze everything, then put a fresh layer in classifier[6] (new layers are trainable)."""
    import torchvision
    from torch import nn

    model = torchvision.models.vgg11()  # in the notebook: load_pretrained("vgg11")
    model.requires_grad_(False)
    model.classifier[6] = nn.Linear(4096, 5)
    return model


# --- Exercise 2: how much trains when fine-tuning the last block? ---------------------------------

# From the paper's Table 1 (configuration A), each layer's weights plus one bias per output:
_CONV5 = 2 * (512 * 512 * 3 * 3 + 512)  # conv5_1 and conv5_2: 3x3, 512 -> 512
_CLASSIFIER = (512 * 7 * 7 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * NUM_CLASSES + NUM_CLASSES)  # fc6-fc8
_VGG11_PARAMETERS = 132_863_336  # the whole VGG11 (torchvision's VGG11_Weights documentation)


@number_check("a number of parameters")
def check_block5_parameters(answer: float) -> bool:
    """The answer: how many parameters train when block 5 (``features[16:]``) and the whole
    classifier (with the new 5-class head) of VGG11 are fine-tuned."""
    expected = _CONV5 + _CLASSIFIER
    imagenet_head = expected - (4096 * NUM_CLASSES + NUM_CLASSES) + (4096 * 1000 + 1000)
    if answer == expected:
        return report(True, f"{expected:,} parameters. Most of them are fc6 (25088 x 4096): "
                            "the fully connected layers, not the convolutions, are where VGG's parameters live.")
    if answer == imagenet_head:
        return report(False, "that counts ImageNet's 1000-class fc8: replace classifier[6] with the 5-class "
                             "head first.", hint=1)
    if answer == _CONV5:
        return report(False, "that is block 5 alone: fc6, fc7 and the new head train too.", hint=2)
    if answer == _CLASSIFIER:
        return report(False, "that is the classifier alone: add block 5's two convolutions.", hint=2)
    if answer >= _VGG11_PARAMETERS or answer > expected:
        return report(False, "that is more than the block and the classifier: blocks 1-4 stay frozen.", hint=2)
    return report(False, f"{answer:,} is not it. Add up p.numel() over model.features[16:] and model.classifier "
                         "after replacing classifier[6].", hint=2)


def solution_block5_parameters():
    """Build VGG11 on the meta device (no memory), swap the head, count the tail."""
    import torch
    import torchvision
    from torch import nn

    with torch.device("meta"):
        model = torchvision.models.vgg11()
        model.classifier[6] = nn.Linear(4096, 5)
    tail = list(model.features[16:].parameters()) + list(model.classifier.parameters())
    return sum(p.numel() for p in tail)


# --- Exercise 3: two learning rates with parameter groups -----------------------------------------

def _small_vgg11_layout() -> nn.Module:
    """A tiny VGG with VGG11's exact module layout: features[16:] is block 5."""
    from course_utils.architecture import build_vgg

    torch.manual_seed(0)
    return build_vgg("A", num_classes=NUM_CLASSES, width=0.125, pool_size=1)


@callable_check("a function f(model) -> optimizer")
def check_param_groups(answer) -> bool:
    """``answer``: ``f(model)`` returning SGD (momentum 0.9) with the pretrained layers that fine-tune
    (block 5, fc6, fc7) at lr 0.001, the new head ``classifier[6]`` at lr 0.01, and blocks 1-4 left out."""
    model = _small_vgg11_layout()
    opt, err = call_safely(answer, model)
    if err:
        return report(False, err)
    if not isinstance(opt, torch.optim.SGD):
        return report(False, f"expected a torch.optim.SGD, got {type(opt).__name__}.")
    if len(opt.param_groups) == 1:
        return report(False, "the optimizer has 1 parameter group, so every tensor gets the same rate: "
                             "pass a list of dicts, one per learning rate.", hint=2)
    lr_of = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    parts = {  # what each part of the model should get: the lesson's rates (section 4)
        "blocks 1-4 (features[:16])": (model.features[:16], None),
        "block 5 (features[16:])": (model.features[16:], 0.001),
        "fc6 and fc7 (classifier[:6])": (model.classifier[:6], 0.001),
        "the new head (classifier[6])": (model.classifier[6], 0.01),
    }
    got = {name: {lr_of.get(id(p)) for p in part.parameters()} for name, (part, _) in parts.items()}
    if got["fc6 and fc7 (classifier[:6])"] == {0.01}:
        return report(False, "fc6 and fc7 got 0.01: they are pretrained too, so they move slowly, at 0.001 like "
                             "block 5. Only the new head, classifier[6], starts from random weights and gets 0.01.",
                      hint=1)
    for name, (_, lr) in parts.items():
        if got[name] != {lr}:
            rates = ", ".join("not in the optimizer" if r is None else f"lr {r:g}" for r in sorted(
                got[name], key=lambda r: -1 if r is None else r))
            wanted = "not in the optimizer: they stay frozen" if lr is None else f"lr {lr:g}"
            return report(False, f"{name}: found {rates}; expected {wanted}.", hint=1)
    if any(g["momentum"] != 0.9 for g in opt.param_groups):
        return report(False, "use momentum=0.9 as in the paper.")
    return report(True, "the pretrained block 5, fc6 and fc7 move 10x more gently than the new head, "
                        "and blocks 1-4 stay out: section 4's two rates, on exercise 2's three parts.")


def solution_param_groups():
    """One dict per group; settings outside the list (momentum, weight decay) apply to every group."""
    import torch

    def answer(model):
        return torch.optim.SGD([
            {"params": model.features[16:].parameters(), "lr": 0.001},   # pretrained block 5: small steps
            {"params": model.classifier[:6].parameters(), "lr": 0.001},  # pretrained fc6, fc7: small steps
            {"params": model.classifier[6].parameters(), "lr": 0.01},    # the new head: larger steps
        ], momentum=0.9, weight_decay=5e-4)

    return answer
