"""Exercises for notebook 02 (build VGG by hand): checks and worked solutions.

Each check takes the learner's model, never raises, prints what is right or still
wrong, and returns True or False. A model passes when it has the reference's
``state_dict`` (same names, same shapes) AND gives the reference's logits once the
reference is loaded with the learner's own weights: the same test the notebook
uses to prove the hand-built VGG16 is torchvision's.
"""

from __future__ import annotations

from typing import Callable

import torch
import torchvision
from torch import nn

from course_utils.architecture import build_vgg, paper_names
# The solutions call `make_features` and `VGG`. Here they are the packaged ones; in the
# notebook the revealed code runs with the learner's own hand-built functions of the
# same names, which take the same arguments.
from course_utils.architecture import VGG, make_features  # noqa: F401
from course_utils.exercises import not_attempted as _not_attempted, NOT_ATTEMPTED, report

_PROBE_SIZE = 32  # the smallest input VGG accepts; the adaptive pool makes it enough



def _structure_problem(answer: nn.Module, reference: nn.Module) -> str | None:
    """What differs between the two state_dicts (names, then shapes), or None."""
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
        hint = " Batch norm adds running_mean/running_var: this exercise has none." if any("running" in k for k in extra) else ""
        return ("the state_dict names differ from the reference's: " + "; ".join(parts) + "."
                " Keep the layout features / avgpool / classifier, in the lesson's order." + hint)
    for k, shape in theirs.items():
        if mine[k] != shape:
            return f"{k} has shape {mine[k]}, the reference has {shape}. Check that layer's channel counts."
    return None


def _logits_problem(answer: nn.Module, reference: nn.Module) -> str | None:
    """Hand the learner's weights to the reference and compare outputs on one random image.

    The reference is built on the "meta" device and takes the learner's tensors as they
    are (``assign=True``): no copy, no second 500 MB model.
    """
    try:
        reference.load_state_dict(answer.state_dict(), assign=True)
    except RuntimeError as err:
        return f"the reference could not load your weights: {str(err)[:300]}"
    device = next(answer.parameters()).device
    x = torch.randn(1, 3, _PROBE_SIZE, _PROBE_SIZE, generator=torch.Generator().manual_seed(0)).to(device)
    was_training = answer.training
    try:
        answer.eval()
        with torch.no_grad():
            mine = answer(x).float().cpu()
            theirs = reference.eval()(x).float().cpu()
    except Exception as err:  # the learner's forward may raise anything; report it, don't crash
        return f"running your model on a 1x3x{_PROBE_SIZE}x{_PROBE_SIZE} tensor raised {type(err).__name__}: {str(err)[:300]}"
    finally:
        answer.train(was_training)
    if mine.shape != theirs.shape:
        return f"your model returns shape {tuple(mine.shape)}, expected {tuple(theirs.shape)}."
    if not torch.allclose(mine, theirs, rtol=1e-4, atol=1e-5):
        diff = (mine - theirs).abs().max().item()
        return (f"same weights, different logits (largest difference {diff:.3g}). Check the order of the layers, "
                "the padding of each conv, the avgpool and the flatten before the classifier.")
    return None


def _check_model(answer, make_reference: Callable[[], nn.Module], what: str) -> bool:
    if answer is None:
        return _not_attempted()
    if not isinstance(answer, nn.Module):
        return report(False, f"your answer should be a model (an nn.Module), got {type(answer).__name__}.")
    with torch.device("meta"):
        reference = make_reference()
    problem = _structure_problem(answer, reference)
    if not problem and any(p.is_meta for p in answer.parameters()):
        problem = "your model is on the 'meta' device (shapes only); build it on the CPU to run it."
    problem = problem or _logits_problem(answer, reference)
    if problem:
        return report(False, problem)
    n = sum(p.numel() for p in answer.parameters())
    return report(True, f"your model is {what}: same state_dict, same logits ({n:,} parameters).")


# --- Exercise 1: VGG13 (configuration B) ---------------------------------------------------

def check_vgg13(answer) -> bool:
    """``answer``: a hand-built VGG13 that matches ``torchvision.models.vgg13``."""
    return _check_model(answer, lambda: torchvision.models.vgg13(weights=None, init_weights=False), "torchvision's VGG13")


def solution_vgg13():
    """Configuration B is A with a second conv in blocks 1 and 2: two convs in every block."""
    cfg_b = [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
    answer = VGG(make_features(cfg_b))
    return answer


# --- Exercise 2: configuration C, with its 1x1 convolutions ------------------------------

def check_config_c(answer) -> bool:
    """``answer``: configuration C (D with conv3_3, conv4_3, conv5_3 as 1x1 convs)."""
    if isinstance(answer, nn.Module):
        try:
            names = paper_names(answer)
            modules = dict(answer.named_modules())
            wrong = [n for n in ("conv3_3", "conv4_3", "conv5_3")
                     if n not in names or tuple(modules[names[n]].kernel_size) != (1, 1)]
        except Exception:  # an unusual model: let the state_dict comparison explain
            wrong = []
        if wrong:
            return report(False, f"{', '.join(wrong)} should be 1x1 convolutions (kernel_size=1, padding=0).")
    return _check_model(answer, lambda: build_vgg("C", init_weights=False), "configuration C")


def solution_config_c():
    """D's config with the third conv of blocks 3, 4 and 5 written as (channels, 1): a 1x1 conv."""
    cfg_c = [64, 64, "M", 128, 128, "M", 256, 256, (256, 1), "M",
             512, 512, (512, 1), "M", 512, 512, (512, 1), "M"]
    answer = VGG(make_features(cfg_c))
    return answer
