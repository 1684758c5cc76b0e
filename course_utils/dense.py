"""VGG as a fully convolutional network: the paper's dense evaluation.

Simonyan & Zisserman (2015), Sec. 3.2 "Testing": at test time the fully connected
layers are converted to convolutions (fc6 to a 7x7 convolution, fc7 and fc8 to 1x1
convolutions), the network runs on the whole, uncropped image, and gives a *class
score map*: one score vector per position. Averaging the map over space gives one
score per class, for an image of any size.

No new weights are needed. fc6 reads pool5's (C, 7, 7) block flattened into one
vector, which is exactly what a 7x7 convolution with C input channels reads at one
position, so fc6's (out, C*7*7) matrix is reshaped to (out, C, 7, 7) filters. fc7
and fc8 read one vector per position: 1x1 convolutions. The convolutions are views
of the Linear layers' weights (no copy), so converting VGG16 costs no memory.

Running it could cost memory, though: oneDNN, PyTorch's fast CPU convolution, first copies a layer's
filters into a layout of its own, and fc6's filters are 392 MiB. ``filters_read_in_place``
turns oneDNN off for the head, and the plain convolution reads the filters where they
are (a 7x7 window over a few pool5 positions is a small matrix product either way).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def linear_to_conv(linear: nn.Linear, in_channels: int, kernel_size: int) -> nn.Conv2d:
    """``linear``, which reads a flattened (in_channels, k, k) block, as a k x k convolution sharing its weights."""
    expected = in_channels * kernel_size * kernel_size
    if linear.in_features != expected:
        raise ValueError(f"this Linear layer reads {linear.in_features} values, but a {kernel_size}x{kernel_size} "
                         f"convolution over {in_channels} channels reads {expected}: "
                         "check in_channels and kernel_size.")
    # Built on the meta device: no memory and no random initialisation for weights we replace at once.
    conv = nn.Conv2d(in_channels, linear.out_features, kernel_size, bias=linear.bias is not None, device="meta")
    shape = (linear.out_features, in_channels, kernel_size, kernel_size)
    conv.weight = nn.Parameter(linear.weight.detach().view(shape), requires_grad=False)  # (C, k, k): flatten's order
    if linear.bias is not None:
        conv.bias = nn.Parameter(linear.bias.detach(), requires_grad=False)
    return conv


@contextmanager
def filters_read_in_place() -> Iterator[None]:
    """Inside: CPU convolutions skip oneDNN, which would copy the filters first (fc6's: 392 MiB more)."""
    previous = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = previous


class DenseVGG(nn.Module):
    """A VGG's conv features followed by its classifier as convolutions; returns a class score map."""

    def __init__(self, features: nn.Sequential, head: nn.Sequential, min_size: int) -> None:
        super().__init__()
        self.features = features
        self.head = head
        self.min_size = min_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` -> class score map ``(B, classes, H', W')``; 1 x 1 at the training size."""
        if x.dim() != 4 or min(x.shape[-2:]) < self.min_size:
            raise ValueError(f"dense evaluation needs a batch (B, 3, H, W) with H and W at least {self.min_size} "
                             f"pixels (fc6 is a 7x7 window on pool5), got {tuple(x.shape)}. Resize the image up.")
        features = self.features(x)
        with filters_read_in_place():
            return self.head(features)


def fully_convolutional(model: nn.Module) -> DenseVGG:
    """torchvision's (or the course's) VGG as ``DenseVGG``: fc6 -> 7x7 conv, fc7 and fc8 -> 1x1 convs.

    The features are shared with ``model``, not copied. Dropout is left out: dense
    evaluation is for testing, where dropout does nothing (call ``model.eval()`` first).
    """
    fc6, fc7, fc8 = _three_linears(model)
    size = model.avgpool.output_size
    k = size if isinstance(size, int) else size[0]
    if not isinstance(size, int) and size[0] != size[1]:
        raise ValueError(f"the model pools to {tuple(size)}; dense evaluation needs a square pool5 window.")
    channels = [m for m in model.features if isinstance(m, nn.Conv2d)][-1].out_channels
    head = nn.Sequential(
        linear_to_conv(fc6, channels, k), nn.ReLU(inplace=True),
        linear_to_conv(fc7, fc6.out_features, 1), nn.ReLU(inplace=True),
        linear_to_conv(fc8, fc7.out_features, 1),
    )
    stride = 2 ** sum(isinstance(m, nn.MaxPool2d) for m in model.features)  # 32 for VGG: five 2x2 pools
    return DenseVGG(model.features, head, min_size=k * stride)


def _three_linears(model: nn.Module) -> list[nn.Linear]:
    classifier = getattr(model, "classifier", None)
    linears = [m for m in classifier if isinstance(m, nn.Linear)] if isinstance(classifier, nn.Sequential) else []
    if len(linears) != 3 or not hasattr(model, "features") or not hasattr(model, "avgpool"):
        raise ValueError("fully_convolutional expects a VGG: .features, .avgpool and a .classifier with three "
                         f"Linear layers (fc6, fc7, fc8); got {type(model).__name__} with {len(linears)} "
                         "Linear layers.")
    return linears
