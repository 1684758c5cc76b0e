"""What every CAM method shares: find the layer, hook it, run one cheap backward.

Grad-CAM needs two things from one layer of the network: its activation ``A``
(shape B, C, h, w) on the forward pass, and the gradient of the class score with
respect to it, ``dy/dA``, on the backward pass. This module gets both with hooks:

* a **forward hook** on the layer replaces its output by a fresh copy whose
  source, ``A``, is a detached tensor that *requires grad*. That copy is what the
  rest of the network sees, so an in-place ReLU further on cannot overwrite the
  ``A`` we kept (torchvision's VGG ReLUs are all ``inplace=True``);
* a **tensor hook** on ``A`` stores ``dy/dA`` the moment autograd computes it.

Because ``A`` is detached and every parameter has ``requires_grad`` switched off
for the duration of the call, autograd records nothing below the layer. The
backward pass from the logits therefore *stops at the layer*: one forward pass,
a short backward over the layers above it, and no parameter ``.grad`` ever
touched. (Module backward hooks would be the obvious tool, but they do not work
with in-place ReLUs; forward hook + tensor hook does.)

Everything is put back in ``finally`` blocks: hooks removed, ``requires_grad``
flags and train/eval mode restored, even when the forward pass raises.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.architecture import LayerNameError, get_layer, last_conv_relu, paper_names

Targets = Union[None, int, Sequence[int], torch.Tensor]


# ----------------------------------------------------------------------------------
# Which layer?
# ----------------------------------------------------------------------------------

def default_layer(model: nn.Module) -> str:
    """The layer Grad-CAM uses by default: the last ReLU after a convolution.

    For VGG16 that is ``relu5_3`` (``features.29``), the layer of the Grad-CAM paper:
    the last one that still has a spatial map *and* the full 14x14 resolution of
    block 5 at 224x224 input. ``features[-1]`` is pool5, half as fine (7x7).
    """
    try:
        return last_conv_relu(model)
    except (LayerNameError, IndexError):
        raise LayerNameError(
            "cannot guess a target layer for this model (it is not VGG-shaped). "
            "Pass one explicitly, e.g. layer='features.29' or the module itself."
        ) from None


def resolve_layer(model: nn.Module, layer: str | nn.Module | None) -> tuple[str, nn.Module]:
    """``(readable name, module)`` for a module, a dotted name, a paper name or None (default)."""
    if layer is None:
        layer = default_layer(model)
    module = get_layer(model, layer)  # raises LayerNameError listing the valid names
    dotted = next(n for n, m in model.named_modules() if m is module)
    try:
        inverse = {v: k for k, v in paper_names(model).items()}
    except LayerNameError:
        inverse = {}
    name = inverse.get(dotted, dotted)
    return name, module


# ----------------------------------------------------------------------------------
# Putting the model back exactly as it was
# ----------------------------------------------------------------------------------

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


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Run in eval mode (no dropout, frozen batch-norm statistics), then restore the old mode."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        yield
    finally:
        for m, mode in modes:
            m.training = mode


# ----------------------------------------------------------------------------------
# The hook pair
# ----------------------------------------------------------------------------------

class LayerCapture:
    """Context manager that records one layer's activation and its gradient.

    >>> with LayerCapture(model, "relu5_3") as cap:
    ...     logits = model(x)
    ...     score = logits[0, 281]
    ...     grad, = torch.autograd.grad(score, cap.activation)
    >>> torch.equal(cap.gradient, grad)   # the tensor hook saw the same gradient
    """

    def __init__(self, model: nn.Module, layer: str | nn.Module | None = None) -> None:
        self.model = model
        self.name, self.module = resolve_layer(model, layer)
        self.activation: torch.Tensor | None = None
        self.gradient: torch.Tensor | None = None
        self._handles: list = []

    def _forward_hook(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"layer {self.name!r} returns {type(output).__name__}, not a tensor; pick another layer.")
        # A leaf that requires grad: the backward pass will stop here.
        activation = output.detach().requires_grad_(True)
        self._handles.append(activation.register_hook(self._save_gradient))
        self.activation = activation
        # Hand the rest of the network a copy, so in-place ops after this layer
        # (an in-place ReLU after a conv target) change the copy, not our A.
        return activation.clone()

    def _save_gradient(self, grad: torch.Tensor) -> None:
        self.gradient = grad

    def __enter__(self) -> "LayerCapture":
        self.activation = self.gradient = None
        self._handles.append(self.module.register_forward_hook(self._forward_hook))
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove every hook this capture registered (safe to call twice)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


# ----------------------------------------------------------------------------------
# Targets, scores, maps
# ----------------------------------------------------------------------------------

def check_targets(targets: Targets, logits: torch.Tensor) -> torch.Tensor:
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
        raise ValueError(f"class index {bad[0].item()} is out of range: this model has {classes} classes (0 to {classes - 1}).")
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


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters live (CPU for a model without any)."""
    return next(model.parameters(), torch.empty(0)).device


def check_input(x: torch.Tensor, model: nn.Module | None = None) -> torch.Tensor:
    """Accept (3, H, W) or (B, 3, H, W); return 4-D, on the model's device if a model is given."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected an image tensor, got {type(x).__name__}. Use a transform such as standard_transform(weights).")
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4:
        raise ValueError(f"expected images of shape (B, C, H, W) or (C, H, W), got {tuple(x.shape)}.")
    return x if model is None else x.to(model_device(model))


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

    Subclasses only say how to turn the gradients into one weight per channel.
    Use it as a context manager or not: it holds no hooks between calls.
    """

    def __init__(self, model: nn.Module, layer: str | nn.Module | None = None) -> None:
        self.model = model
        self.layer_name, self.layer = resolve_layer(model, layer)
        self.last: CAMResult | None = None

    def __enter__(self) -> "BaseCAM":
        return self

    def __exit__(self, *exc) -> None:
        self.last = None  # drop references to the last result

    def __repr__(self) -> str:
        return f"{type(self).__name__}(layer={self.layer_name!r})"

    def channel_weights(self, activation: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) activation and gradient -> (B, C) weights. Subclasses define it."""
        raise NotImplementedError

    def activation_and_gradient(
        self, x: torch.Tensor, targets: Targets = None, counterfactual: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One forward pass and the short backward: ``(A, dy/dA, logits, targets)``.

        ``counterfactual=True`` returns the gradient of ``-score``: what would make
        the network *less* sure of the class (Selvaraju et al., section 5.3 of the paper).
        """
        x = check_input(x, self.model)
        with LayerCapture(self.model, self.layer) as cap, frozen_parameters(self.model), eval_mode(self.model), torch.enable_grad():
            logits = self.model(x.detach())
            if cap.activation is None:
                raise RuntimeError(f"layer {self.layer_name!r} was never called in the forward pass; pick a layer the model uses.")
            if cap.activation.dim() != 4:
                raise ValueError(
                    f"layer {self.layer_name!r} outputs shape {tuple(cap.activation.shape)}; CAM needs a convolutional "
                    "layer with (B, C, h, w) output, e.g. the last conv ReLU."
                )
            t = check_targets(targets, logits)
            score = class_scores(logits, t)
            if counterfactual:
                score = -score
            (gradient,) = torch.autograd.grad(score, cap.activation)
        return cap.activation.detach(), gradient.detach(), logits.detach(), t

    def explain(self, x: torch.Tensor, targets: Targets = None, counterfactual: bool = False) -> CAMResult:
        """Compute the maps and keep every intermediate in a ``CAMResult``."""
        x = check_input(x)
        activation, gradient, logits, t = self.activation_and_gradient(x, targets, counterfactual)
        weights = self.channel_weights(activation, gradient)
        raw = (weights[:, :, None, None] * activation).sum(dim=1)
        maps = scale_maps(upsample(F.relu(raw), tuple(x.shape[-2:])))
        self.last = CAMResult(maps, raw, weights, activation, gradient, logits, t, self.layer_name)
        return self.last

    def cam(self, x: torch.Tensor, targets: Targets = None, counterfactual: bool = False) -> torch.Tensor:
        """(B, H, W) maps in [0, 1] at the input's resolution, one per image."""
        return self.explain(x, targets, counterfactual).maps

    __call__ = cam
