"""Grad-CAM++ (Chattopadhay et al., 2018): still one weight per channel, built from positive gradients.

Grad-CAM weights channel k by its *average* gradient. When several objects of the
class are in view, the smaller ones contribute little to that average and fade
from the map. Grad-CAM++ keeps the shape of Grad-CAM (one weight per channel, then
a weighted sum of channels) but builds each weight differently: a sum over
positions of the *positive* gradients, each scaled by a position-wise coefficient
(Eq. 7 of arXiv:1710.11063):

    w_k = sum_ij alpha^k_ij * ReLU(g_ij),     g = dy/dA^k

The coefficient's closed form (Eq. 19, for a score passed through exp()) needs
only powers of the ordinary gradient:

    alpha^k_ij = g_ij^2 / (2 g_ij^2 + sum_ab A^k_ab * g_ij^3)

which is why every implementation computes it from one backward pass.
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
        sum_a = activation.sum(dim=(2, 3), keepdim=True)  # sum_ab A^k_ab, one number per channel
        denominator = 2 * g2 + sum_a * g3 + self.eps
        defined = (denominator != 0) & (gradient != 0)  # elsewhere alpha is 0 by convention
        safe_denominator = torch.where(defined, denominator, torch.ones_like(denominator))
        alpha = torch.where(defined, g2 / safe_denominator, torch.zeros_like(g2))  # Eq. 19
        return (alpha * gradient.clamp(min=0)).sum(dim=(2, 3))  # Eq. 7
