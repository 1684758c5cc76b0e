"""Grad-CAM++ (Chattopadhay et al., 2018): weight each location, not just each channel.

Grad-CAM gives every position of channel k the same weight. When several
objects of the class are in view, the smaller ones contribute little to the
*average* gradient and fade from the map. Grad-CAM++ weights channel k by

    w_k = sum_ij alpha^k_ij * ReLU(dy/dA^k_ij)

with per-position coefficients

    alpha^k_ij = g^2 / (2 g^2 + sum_ab A^k_ab * g^3),     g = dy/dA^k_ij.

(The paper's closed form uses second and third derivatives; for a score passed
through exp() they reduce to these powers of the first derivative, which is why
every implementation computes them from one ordinary gradient.)
"""

from __future__ import annotations

import torch
from torch import nn

from course_utils.gradcam.base import BaseCAM


class GradCAMPlusPlus(BaseCAM):
    """Grad-CAM++ on one layer; same interface as ``GradCAM``.

    ``eps`` is added to the denominator of alpha. The default 0 follows the
    authors' code (positions where the denominator is 0 get alpha = 0);
    pytorch-grad-cam adds 1e-6, which matters only where gradients are tiny.
    """

    def __init__(self, model: nn.Module, layer: str | nn.Module | None = None, eps: float = 0.0) -> None:
        super().__init__(model, layer)
        self.eps = eps

    def channel_weights(self, activation: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        g2 = gradient.pow(2)
        g3 = g2 * gradient
        sum_a = activation.sum(dim=(2, 3), keepdim=True)
        denom = 2 * g2 + sum_a * g3 + self.eps
        alpha = torch.where((denom != 0) & (gradient != 0), g2 / torch.where(denom != 0, denom, torch.ones_like(denom)), torch.zeros_like(g2))
        return (alpha * gradient.clamp(min=0)).sum(dim=(2, 3))
