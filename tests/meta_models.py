"""Full-size VGGs built on PyTorch's meta device: every shape and count, no memory, no time.

Shared by the test files of architecture, layer_names, counting and receptive_field.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from course_utils.architecture import build_vgg

TORCHVISION_VGGS = ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]


def meta_vgg(config: str, batch_norm: bool = False, **kwargs) -> nn.Module:
    """A full-size VGG with shapes only: free to build and to count."""
    with torch.device("meta"):
        return build_vgg(config, batch_norm=batch_norm, init_weights=False, **kwargs)


def meta_torchvision(name: str) -> nn.Module:
    with torch.device("meta"):
        return torchvision.models.get_model(name, weights=None, init_weights=False)
