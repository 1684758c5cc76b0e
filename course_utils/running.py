"""Running a model safely: the plumbing every lesson module shares.

Two things go wrong whenever a model is run on images, whichever notebook does it:

* **the mode.** Dropout and batch norm behave differently in training and in evaluation, so a
  prediction needs ``eval()``; but switching a model the caller is training into eval mode, and
  leaving it there, silently changes their training. ``eval_mode`` switches and then restores
  every module's own mode.
* **the shape.** A model takes a batch ``(B, C, H, W)`` on its own device; people hand it one
  image ``(C, H, W)``, a channels-last array, or NaNs. ``as_batch`` fixes the first and explains
  the others.

Notebook 05 teaches why the mode matters, and notebook 04 the batch; ``course_utils.inference``
uses both, and so do the Grad-CAM methods, the layer counts and the training loop's evaluation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from course_utils.device import model_device


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Run in eval mode (no dropout, frozen batch-norm statistics), then restore every module's old mode."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def input_channels(model: nn.Module) -> int | None:
    """The channel count the model's first convolution expects (3 for VGG), or None if it has none."""
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return None if first is None else first.in_channels


def as_batch(x: torch.Tensor, model: nn.Module | None = None) -> torch.Tensor:
    """Return ``x`` as a ``(B, C, H, W)`` batch, on ``model``'s device when a model is given.

    C is what the model's first convolution takes (``input_channels``: 3 for VGG, 1 for an
    MNIST network); with no model, or one without a convolution, C is 3 (colour photos).
    One ``(C, H, W)`` image becomes a batch of one. A wrong shape, a channels-last array or
    values that are NaN or infinite get a ``ValueError`` that says what to do.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"expected an image tensor, got {type(x).__name__}. Preprocess the image first "
                         "(weights.transforms()).")
    found = input_channels(model) if model is not None else None
    channels = found or 3
    if x.dim() == 3 and x.shape[0] == channels:
        x = x.unsqueeze(0)
    elif not (x.dim() == 4 and x.shape[1] == channels):
        hint = ""
        if x.dim() in (3, 4) and x.shape[-1] == channels:
            hint = (f" It looks channels-last (H, W, {channels}), as NumPy/OpenCV/PIL store images: "
                    "use x.permute(2, 0, 1) (a batch: x.permute(0, 3, 1, 2)).")
        elif found is not None and x.dim() in (3, 4):
            hint = f" The model's first convolution takes {found} channel(s); this input has {x.shape[-3]}."
        raise ValueError(f"expected an image tensor of shape ({channels}, H, W) or a batch (B, {channels}, H, W), "
                         f"got {tuple(x.shape)}.{hint}")
    if x.is_floating_point() and not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).sum().item()
        raise ValueError(f"the input holds {bad} NaN or infinite value(s); check the preprocessing (a division "
                         "by zero?) "
                         "before running the model.")
    return x if model is None else x.to(model_device(model))
