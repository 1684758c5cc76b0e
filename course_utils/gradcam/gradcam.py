"""Grad-CAM (Selvaraju et al., 2017): where in the image is the evidence for a class?

For a target class c with score y (the logit, before softmax) and a conv layer
with feature maps A^k (k = 1..C, each h x w):

1. the weight of channel k is its gradient averaged over the map,
   ``alpha_k = mean_ij dy/dA^k_ij``: how much the class score rises, on average,
   when channel k fires more;
2. the map is the weighted sum of channels, kept where it is positive,
   ``L = ReLU(sum_k alpha_k A^k)``: we only want evidence *for* the class;
3. it is upsampled to the input size and scaled into [0, 1] to draw it.
"""

from __future__ import annotations

import torch

from course_utils.gradcam.base import BaseCAM


class GradCAM(BaseCAM):
    """Grad-CAM on one layer of ``model`` (default: the last conv ReLU, relu5_3 on VGG16).

    >>> cam = GradCAM(model, "relu5_3")
    >>> maps = cam(x)                 # (B, H, W) in [0, 1], each image's top class
    >>> maps = cam(x, targets=[281, 243])
    >>> result = cam.explain(x)       # maps plus raw map, weights, A, dy/dA, logits
    """

    def channel_weights(self, activation: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        """Global-average-pool the gradients: (B, C, h, w) -> (B, C)."""
        return gradient.mean(dim=(2, 3))
