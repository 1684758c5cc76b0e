"""What every CAM method shares: one forward pass, one short backward, one weighted sum.

A CAM method turns a layer's activation ``A`` (B, C, h, w) and the gradient of the
class score with respect to it, ``dy/dA``, into one weight per channel; the map is
the ReLU of the weighted sum of channels, upsampled to the image. ``BaseCAM`` does
everything but the weights; a subclass (``GradCAM``, ``GradCAMPlusPlus``) only
writes ``channel_weights``.

The activation and gradient come from ``LayerCapture`` (module ``capture``). Every
parameter has ``requires_grad`` switched off for the duration of the call, so
autograd records nothing it does not need and no parameter ``.grad`` is touched.
Everything is put back in ``finally`` blocks: hooks removed, ``requires_grad``
flags and train/eval mode restored, even when the forward pass raises.

Two ways in, one meaning each: ``cam(x, targets)`` returns the (B, H, W) maps;
``cam.explain(x, targets)`` returns a ``CAMResult`` with every intermediate.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.gradcam.capture import LayerCapture
from course_utils.layer_names import resolve_layer
from course_utils.running import as_batch, eval_mode

Targets = None | int | Sequence[int] | torch.Tensor


@contextmanager
def frozen_parameters(model: nn.Module) -> Iterator[None]:
    """Switch ``requires_grad`` off for every parameter, and restore each flag afterwards.

    Without this, autograd would record the whole forward pass (to be ready to
    compute weight gradients that Grad-CAM never needs).
    """
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def target_indices(targets: Targets, logits: torch.Tensor) -> torch.Tensor:
    """One class index per image as a LongTensor; None means each image's top class."""
    batch, classes = logits.shape[0], logits.shape[1]
    if targets is None:
        return logits.argmax(dim=1)
    if isinstance(targets, int):
        targets = [targets] * batch
    t = torch.as_tensor(targets, device=logits.device).reshape(-1)
    if t.dtype.is_floating_point or t.dtype == torch.bool:
        raise ValueError(f"targets must be integer class indices, got dtype {t.dtype}.")
    if t.numel() != batch:
        raise ValueError(
            f"got {t.numel()} target(s) for a batch of {batch} image(s): give exactly one class index "
            "per image (or None for each image's top class)."
        )
    bad = t[(t < 0) | (t >= classes)]
    if bad.numel():
        raise ValueError(f"class index {bad[0].item()} is out of range: this model has {classes} classes (0 to "
                         f"{classes - 1}).")
    return t.long()


def class_scores(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Sum over the batch of each image's score for its own target class.

    The images do not interact in an eval-mode network, so the gradient of this
    sum with respect to image i's activation is exactly d(score_i)/dA_i.
    """
    return logits.gather(1, targets.view(-1, 1)).sum()


def upsample(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, h, w) -> (B, H, W) by bilinear interpolation (half-pixel centres, like cv2.resize)."""
    return F.interpolate(maps.unsqueeze(1), size=size, mode="bilinear", align_corners=False).squeeze(1)


def scale_maps(maps: torch.Tensor, subtract_min: bool = False) -> torch.Tensor:
    """Scale each (H, W) map of a (B, H, W) batch into [0, 1].

    By default divide by the map's maximum, as the Grad-CAM paper's code does, so 0
    still means "no positive evidence". ``subtract_min=True`` stretches min..max to
    0..1 instead (what pytorch-grad-cam does). An all-zero map stays all zero.
    """
    flat = maps.flatten(1)
    low = flat.min(dim=1).values if subtract_min else torch.zeros(flat.shape[0], device=maps.device, dtype=maps.dtype)
    span = flat.max(dim=1).values - low
    span = torch.where(span > 0, span, torch.ones_like(span))
    out = (maps - low.view(-1, 1, 1)) / span.view(-1, 1, 1)
    return out.clamp(0, 1)


@dataclass
class CAMResult:
    """Everything one CAM call computed, detached from the autograd graph.

    ``maps`` (B, H, W) in [0, 1] at the input resolution is what you draw.
    ``raw`` (B, h, w) is the weighted sum of channels at the layer's resolution,
    before the ReLU: the quantity to compare between implementations.
    """

    maps: torch.Tensor
    raw: torch.Tensor
    weights: torch.Tensor  # (B, C): one weight per channel
    activation: torch.Tensor  # (B, C, h, w)
    gradient: torch.Tensor  # (B, C, h, w)
    logits: torch.Tensor  # (B, classes)
    targets: torch.Tensor  # (B,)
    layer: str


class BaseCAM:
    """Shared machinery: run the model once, capture A and dy/dA, hand them to ``channel_weights``.

    ``layer`` is a paper name (``"relu5_3"``), a module name (``"features.29"``), the
    module itself, or None for the last conv ReLU. The object holds no hooks between calls.
    """

    def __init__(self, model: nn.Module, layer: str | nn.Module | None = None) -> None:
        self.model = model
        self.layer, self.layer_name = resolve_layer(model, layer)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(layer={self.layer_name!r})"

    def channel_weights(self, activation: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) activation and gradient -> (B, C) weights. Subclasses define it."""
        raise NotImplementedError

    def _activation_and_gradient(self, x: torch.Tensor, targets: Targets, counterfactual: bool):
        """One forward pass and the short backward: ``(A, dy/dA, logits, targets)``."""
        with LayerCapture(self.model, self.layer) as cap, frozen_parameters(self.model), eval_mode(self.model), \
                torch.enable_grad():
            logits = self.model(x.detach())
            if cap.activation is None:
                raise RuntimeError(f"layer {self.layer_name!r} was never called in the forward pass; pick a "
                                   "layer the model uses.")
            if cap.activation.dim() != 4:
                raise ValueError(
                    f"layer {self.layer_name!r} outputs shape {tuple(cap.activation.shape)}; CAM needs a convolutional "
                    "layer with (B, C, h, w) output, e.g. the last conv ReLU."
                )
            t = target_indices(targets, logits)
            score = class_scores(logits, t)
            (gradient,) = torch.autograd.grad(-score if counterfactual else score, cap.activation)
        return cap.activation.detach(), gradient.detach(), logits.detach(), t

    def explain(self, x: torch.Tensor, targets: Targets = None, counterfactual: bool = False) -> CAMResult:
        """Compute the maps and keep every intermediate in a ``CAMResult``.

        ``counterfactual=True`` uses the gradient of ``-score``: what would make the
        network *less* sure of the class (Selvaraju et al., Section 5.3).
        """
        x = as_batch(x, self.model)
        activation, gradient, logits, t = self._activation_and_gradient(x, targets, counterfactual)
        if not (torch.isfinite(activation).all() and torch.isfinite(gradient).all()):
            raise ValueError(f"the activation or gradient at {self.layer_name!r} holds NaN or infinite values: "
                             "the model's weights are broken (a diverged training run?); reload them.")
        weights = self.channel_weights(activation, gradient)
        raw = (weights[:, :, None, None] * activation).sum(dim=1)
        maps = scale_maps(upsample(F.relu(raw), tuple(x.shape[-2:])))
        return CAMResult(maps, raw, weights, activation, gradient, logits, t, self.layer_name)

    def __call__(self, x: torch.Tensor, targets: Targets = None, counterfactual: bool = False) -> torch.Tensor:
        """(B, H, W) maps in [0, 1] at the input's resolution, one per image."""
        return self.explain(x, targets, counterfactual).maps
