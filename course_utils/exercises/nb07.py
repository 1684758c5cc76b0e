"""Exercises for notebook 06 (training a VGG): batch norm's cost, augmentation, the confusion matrix."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

import torch
from torch import nn

from course_utils.exercises import call_safely, not_attempted, number_check, report

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
        return report(False, "that is the number of batch-norm layers; count their parameters (p.numel()).")
    if answer == channels:
        return report(False, "that counts one number per channel; "
                             "each channel has two learnable ones, a scale and a shift.")
    if answer == 2 * total:
        return report(False, "running_mean and running_var are buffers, not learnable parameters: leave them out.")
    return report(False, f"{answer} is not it. Compare sum(p.numel() for p in model.parameters()) "
                         "with and without batch_norm, or add up the BatchNorm2d layers' parameters.")


def solution_bn_parameters():
    """Count the parameters with and without batch norm, and subtract."""
    from course_utils.small_vgg import small_vgg

    def count(model):
        return sum(p.numel() for p in model.parameters())

    return count(small_vgg(batch_norm=True)) - count(small_vgg(batch_norm=False))


# --- Exercise 2: augmentation that keeps the label ---------------------------------------------

def check_flip_augment(answer) -> bool:
    """``answer``: ``f(images)`` that flips each image of a (B, 3, H, W) batch left-right with probability 1/2."""
    if answer is None:
        return not_attempted()
    if not callable(answer):
        return report(False, f"your answer should be a function of a batch of images, got {type(answer).__name__}.")
    torch.manual_seed(0)
    images = torch.rand(64, 3, 16, 16)
    original = images.clone()
    out, err = call_safely(answer, images)
    if err:
        return report(False, err)
    if not isinstance(out, torch.Tensor) or out.shape != images.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return report(False, f"expected a batch of shape {tuple(images.shape)}, got {got}.")
    if not torch.equal(images, original):
        return report(False, "your function changed the input batch in place; return a new tensor instead.")
    same = (out == original).flatten(1).all(1)
    flipped = (out == original.flip(-1)).flatten(1).all(1)
    if (out == original.flip(-2)).flatten(1).all(1).any() and not flipped.any():
        return report(False, "that flips top-bottom (dim -2); left-right is the last dimension, -1.")
    if not (same | flipped).all():
        return report(False, "some images are neither unchanged nor mirrored left-right: "
                             "flip whole images along dim -1.")
    if same.all():
        return report(False, "no image was flipped.")
    if flipped.all():
        return report(False, "every image was flipped: flip each one with probability 1/2 (torch.rand(B) < 0.5).")
    return report(True, f"{int(flipped.sum())} of 64 images mirrored. A mirrored star is still a star, "
                        "so the label stays right: that is the rule for any augmentation.")


def solution_flip_augment():
    """Draw one coin per image, and mirror the images whose coin came up."""
    import torch

    def answer(images):
        flip = torch.rand(images.shape[0]) < 0.5
        out = images.clone()
        out[flip] = images[flip].flip(-1)
        return out

    return answer


# --- Exercise 3: what does the trained model confuse? --------------------------------------------

_CONFUSION_SEED = 2024


@lru_cache(maxsize=1)
def _mistakes() -> tuple[dict[tuple[int, int], int], int]:
    """({(true, predicted): count} for the wrong predictions, number of images), for the shipped model.

    Counted with a plain loop, not with ``predict`` and ``confusion_matrix`` (the solution's
    way). Computed once per session: the shipped model and the data never change.
    """
    from torch.utils.data import DataLoader

    from course_utils.data import ShapesDataset
    from course_utils.small_vgg import load_small_vgg

    model = load_small_vgg(device="cpu").eval()
    data = ShapesDataset(1000, seed=_CONFUSION_SEED)
    counts: Counter = Counter()
    with torch.inference_mode():
        for images, labels, _ in DataLoader(data, batch_size=250):
            predicted = model(images).argmax(dim=1)
            counts.update((t, p) for t, p in zip(labels.tolist(), predicted.tolist()) if t != p)
    return dict(counts), len(data)


def check_most_confused(answer) -> bool:
    """``answer``: ``(true class name, predicted class name)`` of the shipped model's most common mistake
    on ``ShapesDataset(1000, seed=2024)``."""
    from course_utils.data import CLASSES

    if answer is None:
        return not_attempted()
    if not isinstance(answer, (tuple, list)) or len(answer) != 2 or not all(isinstance(a, str) for a in answer):
        return report(False, "your answer should be a pair of class names, e.g. ('square', 'circle').")
    unknown = [a for a in answer if a not in CLASSES]
    if unknown:
        return report(False, f"{unknown} not in the classes {list(CLASSES)}.")
    mistakes, n_images = _mistakes()
    worst = max(mistakes.values(), default=0)
    true, pred = CLASSES.index(answer[0]), CLASSES.index(answer[1])
    if worst == 0:
        return report(True, "this model made no mistake at all on these images, so there is nothing to confuse.")
    if true == pred:
        return report(False, "those are the correct predictions (the diagonal); look off the diagonal.")
    if mistakes.get((true, pred), 0) == worst:
        return report(True, f"{worst} {answer[0]}s were called {answer[1]} out of {n_images} images.")
    if mistakes.get((pred, true), 0) == worst:
        return report(False, "rows are the true class and columns the prediction: swap the two.")
    return report(False, f"{answer[0]} -> {answer[1]} happened {mistakes.get((true, pred), 0)} times; "
                         f"the most common mistake happened {worst} times.")


def solution_most_confused():
    """Confusion matrix on the fresh data, zero the diagonal, take the largest entry."""
    from torch.utils.data import DataLoader

    from course_utils.data import CLASSES, ShapesDataset
    from course_utils.small_vgg import load_small_vgg
    from course_utils.training import confusion_matrix, predicted_labels

    model = load_small_vgg(device="cpu")
    preds, labels = predicted_labels(model, DataLoader(ShapesDataset(1000, seed=2024), batch_size=250))
    mistakes = confusion_matrix(preds, labels)
    mistakes.fill_diagonal_(0)
    true, pred = divmod(int(mistakes.argmax()), len(CLASSES))
    return (CLASSES[true], CLASSES[pred])
