"""Exercises for notebook 08 (transfer learning): freezing, counting what trains, parameter groups.

The checks look at structure only, so they build their own VGG11s without weights:
quick, and no download.
"""

from __future__ import annotations

import torch
from torch import nn

from course_utils.exercises import call_safely, not_attempted, number_check, report

NUM_CLASSES = 5  # the shapes' classes


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
        return report(False, f"the new head has {head.out_features} outputs; the shapes have {NUM_CLASSES} classes.")
    trainable = _trainable(answer)
    if trainable == set():
        return report(False, "nothing is trainable: freeze first, then replace classifier[6] "
                             "(a new layer starts trainable).")
    if trainable != {"classifier.6.weight", "classifier.6.bias"}:
        extra = sorted(trainable - {"classifier.6.weight", "classifier.6.bias"})
        return report(False, f"{len(extra)} other tensors still train, e.g. {extra[:3]}: "
                             "call model.requires_grad_(False) first.")
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
    if answer == expected:
        return report(True, f"{expected:,} parameters. Most of them are fc6 (25088 x 4096): "
                            "the fully connected layers, not the convolutions, are where VGG's parameters live.")
    if answer >= _VGG11_PARAMETERS or answer > expected:
        return report(False, "that is more than the block and the classifier: blocks 1-4 stay frozen.")
    return report(False, f"{answer:,} is not it. Add up p.numel() over model.features[16:] and model.classifier "
                         "after replacing classifier[6].")


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


def check_param_groups(answer) -> bool:
    """``answer``: ``f(model)`` returning SGD with block 5 at lr 0.001 and the classifier at lr 0.01."""
    if answer is None:
        return not_attempted()
    if not callable(answer):
        return report(False, f"your answer should be a function f(model) -> optimizer, got {type(answer).__name__}.")
    model = _small_vgg11_layout()
    opt, err = call_safely(answer, model)
    if err:
        return report(False, err)
    if not isinstance(opt, torch.optim.SGD):
        return report(False, f"expected a torch.optim.SGD, got {type(opt).__name__}.")
    block5 = {id(p) for p in model.features[16:].parameters()}
    head = {id(p) for p in model.classifier.parameters()}
    groups = [({id(p) for p in g["params"]}, g["lr"]) for g in opt.param_groups]
    if len(groups) != 2:
        return report(False, f"the optimizer has {len(groups)} parameter group(s); "
                             "make two: block 5 and the classifier.")
    by_lr = {lr: ids for ids, lr in groups}
    if by_lr.get(0.001) != block5 or by_lr.get(0.01) != head:
        found = ", ".join(f"{len(ids)} tensors at lr {lr}" for ids, lr in groups)
        return report(False, f"found {found}; expected model.features[16:] at 0.001 and model.classifier at 0.01.")
    if any(g["momentum"] != 0.9 for g in opt.param_groups):
        return report(False, "use momentum=0.9 as in the paper.")
    return report(True, "block 5 moves 10x more gently than the new head: it already holds useful features.")


def solution_param_groups():
    """One dict per group; settings outside the list apply to every group."""
    import torch

    def answer(model):
        return torch.optim.SGD([
            {"params": model.features[16:].parameters(), "lr": 0.001},   # pretrained block 5: small steps
            {"params": model.classifier.parameters(), "lr": 0.01},       # fc6-fc8 with the new head
        ], momentum=0.9, weight_decay=5e-4)

    return answer
