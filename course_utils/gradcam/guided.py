"""Guided Backpropagation and Guided Grad-CAM.

Guided Backprop (Springenberg et al., 2015) is the gradient of the class score
with respect to the *input pixels*, with one change at every ReLU on the way
back: only positive gradients pass. The ordinary ReLU backward already zeroes
positions where the forward input was negative; guided backprop also zeroes
those where the incoming gradient is negative. The result is a sharp,
pixel-level picture of edges and textures, but it is barely class-specific.

Guided Grad-CAM (Selvaraju et al.) multiplies it by the upsampled Grad-CAM map:
sharp *and* class-discriminative.

How it is done here: a forward hook on every ``nn.ReLU`` registers a tensor hook
on that ReLU's output which clamps the incoming gradient at 0. The ReLU modules
themselves are never replaced or changed (torchvision's stay the same objects,
``inplace=True``), and the hooks are removed when the call ends, even on error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from course_utils.gradcam.base import BaseCAM, Targets, class_scores, frozen_parameters, target_indices
from course_utils.gradcam.gradcam import GradCAM
from course_utils.running import as_batch, eval_mode


@contextmanager
def guided_relus(model: nn.Module) -> Iterator[int]:
    """While inside, every ``nn.ReLU`` of ``model`` lets only positive gradients through.

    Yields the number of ReLU modules hooked.
    """
    handles: list = []

    def clamp_gradient(grad: torch.Tensor) -> torch.Tensor:
        return grad.clamp(min=0)

    def forward_hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if output.requires_grad:
            handles.append(output.register_hook(clamp_gradient))

    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        for relu in relus:
            handles.append(relu.register_forward_hook(forward_hook))
        yield len(relus)
    finally:
        for handle in handles:
            handle.remove()


class GuidedBackprop:
    """Guided Backpropagation: (B, 3, H, W) gradients of each image's target score."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        if not any(isinstance(m, nn.ReLU) for m in model.modules()):
            raise ValueError("Guided Backprop needs nn.ReLU modules in the model (this one has none).")

    def __call__(self, x: torch.Tensor, targets: Targets = None) -> torch.Tensor:
        """The guided gradient with respect to the input, same shape as ``x`` (batched)."""
        x = as_batch(x, self.model).detach().clone().requires_grad_(True)
        with guided_relus(self.model), frozen_parameters(self.model), eval_mode(self.model), torch.enable_grad():
            logits = self.model(x)
            t = target_indices(targets, logits)
            (grad,) = torch.autograd.grad(class_scores(logits, t), x)
        return grad.detach()


def guided_gradcam(
    model: nn.Module, x: torch.Tensor, targets: Targets = None, layer: str | nn.Module | None = None,
    cam: BaseCAM | None = None,
) -> torch.Tensor:
    """Guided Backprop times the Grad-CAM map: (B, 3, H, W).

    ``cam`` lets you pass a Grad-CAM++ (or any BaseCAM) instead of plain Grad-CAM.
    The targets are resolved once, so both parts explain the same class.
    """
    cam = cam if cam is not None else GradCAM(model, layer)
    result = cam.explain(x, targets)
    guided = GuidedBackprop(model)(x, result.targets)
    return guided * result.maps.unsqueeze(1)


def to_image(attribution: torch.Tensor) -> np.ndarray:
    """A (3, H, W) gradient as an (H, W, 3) float array in [0, 1] for plt.imshow, like every picture
    the course draws (``images.to_numpy_image``): centred on grey, clipped at about 3 std."""
    a = attribution.detach().float()
    a = (a - a.mean()) / (a.std() + 1e-12) * 0.15 + 0.5
    return a.clamp(0, 1).permute(1, 2, 0).cpu().numpy()
