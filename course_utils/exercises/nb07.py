"""Exercises for notebook 07 (depth, overfitting and checkpoints): augmentation by hand, the confusion matrix.

Each check works its expected answer out another way than the solution does:

* ``check_flip_augment`` compares every output image with its input, unchanged or mirrored, and then
  calls the answer many times to see that each image gets its own fair coin at every call (the
  solution draws the coins; the check only counts what came out).
* ``check_most_confused`` counts the shipped model's mistakes with a plain loop; the solution uses
  ``predicted_labels`` and ``confusion_matrix``.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

import torch

from course_utils.device import cpu_threads
from course_utils.exercises import call_safely, callable_check, not_attempted, report

HINTS = {
    "flip_augment": (
        "Toss one coin per image: `torch.rand(B) < 0.5` is a boolean mask of B coins, new at every call. "
        "Left-right is the last dimension: `x.flip(-1)` mirrors it. A boolean mask can select images: "
        "`images[mask]`.",
        "The shape of it: `flip = torch.rand(images.shape[0]) < 0.5`; `out = images.clone()` (a new tensor: "
        "the input stays as it was); then overwrite `out[flip]` with `images[flip]` mirrored along dim -1, "
        "and return `out`.",
    ),
    "most_confused": (
        "Section 4 of this notebook does the scoring: `predicted_labels(model, DataLoader(data, batch_size=250))` "
        "gives (predictions, true labels), and `confusion_matrix(preds, labels, num_classes=len(CLASSES))` "
        "counts them, one row per true class and one column per prediction.",
        "The diagonal holds the right answers: set it to zero (`m.fill_diagonal_(0)`). The largest entry left "
        "is the most common mistake; `divmod(int(m.argmax()), len(CLASSES))` gives its (row, column), i.e. "
        "(true, predicted) as indices into `CLASSES`. If the whole matrix is then zero, there was no mistake: "
        "answer `()`.",
    ),
}


# --- Exercise 1: augmentation that keeps the label ---------------------------------------------

_CALLS = 200  # calls of the learner's function for the statistics: a fair coin gives each image 50% +- 3.5%


def _which_flipped(out: object, original: torch.Tensor) -> tuple[torch.Tensor | None, str | None, int | None]:
    """(one bool per image: mirrored left-right?, None, None), or (None, what is wrong, hint) for a wrong output."""
    if not isinstance(out, torch.Tensor) or out.shape != original.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return None, f"expected a batch of shape {tuple(original.shape)}, got {got}.", None
    same = (out == original).flatten(1).all(1)
    flipped = (out == original.flip(-1)).flatten(1).all(1)
    if (out == original.flip(-2)).flatten(1).all(1).any() and not flipped.any():
        return None, "that flips top-bottom (dim -2); left-right is the last dimension, -1.", 1
    if not (same | flipped).all():
        return None, "some images are neither unchanged nor mirrored left-right: flip whole images along dim -1.", 1
    return flipped, None, None


def _coin_problem(flips: torch.Tensor) -> str | None:
    """What is wrong with the coins, given ``flips`` (calls, images) as bools; None if they look fair and independent.

    A fair coin per image per call flips each image in about half the calls (never below 30% or above
    70% in 200 calls, except with odds of about one in a million), flips a number of images that varies
    from call to call (standard deviation about 4 of 64), and flips each image independently of the others.
    """
    calls, n = flips.shape
    rate = flips.double().mean(0)
    always, never = (rate == 1).nonzero().flatten().tolist(), (rate == 0).nonzero().flatten().tolist()
    if always or never:
        return (f"over {calls} calls, {len(always)} of the {n} images were mirrored every time and {len(never)} never "
                f"(e.g. images {(always or never)[:4]}): the same images every call. Toss a new coin for each "
                "image at every call.")
    if ((rate < 0.3) | (rate > 0.7)).any():
        k = int((rate - 0.5).abs().argmax())
        return (f"over {calls} calls, image {k} was mirrored in {rate[k]:.0%} of them: "
                "each image should be mirrored with probability 1/2.")
    counts = flips.sum(1).double()
    if counts.std() < 1.5:
        return (f"every call mirrored {int(counts.min())} to {int(counts.max())} of the {n} images: that number "
                "should vary from call to call, as it does when each image gets its own independent coin.")
    corr = torch.corrcoef(flips.double().T)
    corr.fill_diagonal_(0)
    if corr.abs().max() > 0.5:
        i, j = divmod(int(corr.abs().argmax()), n)
        return (f"whether image {i} is mirrored depends on whether image {j} is (correlation {corr[i, j]:+.2f} "
                f"over {calls} calls): give each image its own coin.")
    return None


@callable_check("a function of a batch of images")
def check_flip_augment(answer) -> bool:
    """``answer``: ``f(images)`` that flips each image of a (B, 3, H, W) batch left-right with probability 1/2,
    each with its own coin, tossed anew at every call, and leaves its input unchanged."""
    # Seed the check and leave the learner's random state as it was; one thread: 200 calls on a tiny batch
    # are quickest without threads waiting for each other.
    with torch.random.fork_rng(devices=[]), cpu_threads(1):
        torch.manual_seed(0)
        images = torch.rand(64, 3, 16, 16)
        original = images.clone()
        rows: list[torch.Tensor] = []
        for _ in range(_CALLS):
            later = "on a later call, " if rows else ""
            out, err = call_safely(answer, images)
            if err:
                return report(False, later + err)
            if not torch.equal(images, original):
                return report(False, "your function changed the input batch in place; return a new tensor instead.",
                              hint=2)
            flipped, problem, hint = _which_flipped(out, original)
            if problem:
                return report(False, later + problem, hint=hint)
            rows.append(flipped)
    flips = torch.stack(rows)
    if not flips.any():
        return report(False, f"no image was flipped, in {_CALLS} calls.", hint=1)
    if flips.all():
        return report(False, "every image was flipped, at every call: flip each one with probability 1/2 "
                             "(torch.rand(B) < 0.5).", hint=1)
    if (flips.all(1) | ~flips.any(1)).all():
        return report(False, "each call mirrored every image or none: one coin for the whole batch (what "
                             "T.RandomHorizontalFlip() does when it is given a whole batch). Toss one coin per image: "
                             "torch.rand(B) < 0.5.", hint=1)
    first = int(flips[0].sum())
    problem = _coin_problem(flips)
    if problem:
        return report(False, problem, hint=2)
    return report(True, f"{first} of 64 images mirrored in the first call, and each image about half the time over "
                        f"{_CALLS} calls. A mirrored star is still a star, so the label stays right: that is the rule "
                        "for any augmentation.")


def solution_flip_augment():
    """Draw one coin per image, and mirror the images whose coin came up."""
    import torch

    def answer(images):
        flip = torch.rand(images.shape[0]) < 0.5
        out = images.clone()
        out[flip] = images[flip].flip(-1)
        return out

    return answer


# --- Exercise 2: what does the trained model confuse? --------------------------------------------

_CONFUSION_SEED = 2024


@lru_cache(maxsize=1)
def _mistakes() -> tuple[dict[tuple[int, int], int], int]:
    """({(true, predicted): count} for the wrong predictions, number of images), for the shipped model.

    Counted with a plain loop, not with ``predicted_labels`` and ``confusion_matrix`` (the
    solution's way). Computed once per session: the shipped model and the data never change.
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
    on ``ShapesDataset(1000, seed=2024)`` (any of them if several tie), or ``()`` if it made no mistake."""
    from course_utils.data import CLASSES

    if answer is None:
        return not_attempted()
    mistakes, n_images = _mistakes()
    worst = max(mistakes.values(), default=0)
    if isinstance(answer, (tuple, list)) and len(answer) == 0:
        if worst == 0:
            return report(True, f"no mistake on {n_images} images, so there is nothing to confuse.")
        return report(False, f"() means no mistake, but the model made {sum(mistakes.values())} on these images: "
                             "name the most common (true, predicted) pair.", hint=1)
    if not isinstance(answer, (tuple, list)) or len(answer) != 2 or not all(isinstance(a, str) for a in answer):
        return report(False, "your answer should be a pair of class names, (true class, predicted class), such as "
                             "('circle', 'cross') (or () if the model made no mistake).")
    unknown = [a for a in answer if a not in CLASSES]
    if unknown:
        return report(False, f"{unknown} not in the classes {list(CLASSES)}.")
    if worst == 0:
        return report(False, f"this model made no mistake at all on these {n_images} images, so no pair of classes "
                             "was confused: the answer is ().", hint=2)
    true, pred = CLASSES.index(answer[0]), CLASSES.index(answer[1])
    if true == pred:
        return report(False, "those are the correct predictions (the diagonal); look off the diagonal.", hint=2)
    if mistakes.get((true, pred), 0) == worst:
        tied = [f"{CLASSES[t]} -> {CLASSES[p]}" for (t, p), n in sorted(mistakes.items())
                if n == worst and (t, p) != (true, pred)]
        also = f" ({', '.join(tied)} tied with it)" if tied else ""
        return report(True, f"{worst} {answer[0]}s were called {answer[1]} out of {n_images} images{also}.")
    if mistakes.get((pred, true), 0) == worst:
        return report(False, "rows are the true class and columns the prediction: swap the two.", hint=1)
    return report(False, f"{answer[0]} -> {answer[1]} happened {mistakes.get((true, pred), 0)} times on "
                         f"ShapesDataset({n_images}, seed={_CONFUSION_SEED}) (not section 4's seed 100); "
                         f"the most common mistake happened {worst} times.", hint=2)


def solution_most_confused():
    """Confusion matrix on the fresh data, zero the diagonal, take the largest entry (none left: no mistake)."""
    from torch.utils.data import DataLoader

    from course_utils.data import CLASSES, ShapesDataset
    from course_utils.evaluation import confusion_matrix, predicted_labels
    from course_utils.small_vgg import load_small_vgg

    model = load_small_vgg(device="cpu")
    preds, labels = predicted_labels(model, DataLoader(ShapesDataset(1000, seed=2024), batch_size=250))
    mistakes = confusion_matrix(preds, labels, num_classes=len(CLASSES))
    mistakes.fill_diagonal_(0)
    true, pred = divmod(int(mistakes.argmax()), len(CLASSES))
    return (CLASSES[true], CLASSES[pred]) if mistakes.any() else ()
