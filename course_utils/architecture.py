"""VGG from the paper's Table 1, written the plain way (notebook 03 writes it by hand).

Simonyan & Zisserman (2015), "Very Deep Convolutional Networks for Large-Scale
Image Recognition", Table 1 lists configurations A to E. Every one is the same
recipe: stacks of 3x3 convolutions (stride 1, padding 1, so the size is kept),
each followed by a ReLU, with a 2x2 max-pool (stride 2, size halved) between
stacks, then three fully connected layers. Only the number of convolutions per
stack changes, so a configuration is just a list:

* an ``int`` is a 3x3 convolution with that many output channels;
* ``(channels, 1)`` is a 1x1 convolution (configuration C only);
* ``"M"`` is a 2x2 max-pool.

``conv_block`` and ``make_features`` are the functions notebook 03 has the learner
write, line for line; ``build_vgg`` adds the options later notebooks need (batch
norm, a width multiplier applied to the list before building, the FC width). The
modules come out in the same order and with the same names as torchvision's
``models/vgg.py``, so torchvision's pretrained ``state_dict`` loads unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

Layer = int | tuple | str

# Table 1 of the paper. C is D with the third conv of blocks 3-5 as a 1x1 conv.
CONFIGS: dict[str, list[Layer]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [64, 64, "M", 128, 128, "M", 256, 256, (256, 1), "M",
          512, 512, (512, 1), "M", 512, 512, (512, 1), "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
          512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}

# The names torchvision (and most people) use for the configurations.
ALIASES = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E", "vgg16_c": "C"}
DEPTH = {"A": 11, "B": 13, "C": 16, "D": 16, "E": 19}


def config_key(config: str) -> str:
    """``"vgg16"``, ``"vgg16_bn"``, ``"D"`` or ``"d"`` -> ``"D"``."""
    key = config.strip()
    key = key[:-3] if key.lower().endswith("_bn") else key
    key = ALIASES.get(key.lower(), key.upper())
    if key not in CONFIGS:
        raise ValueError(f"unknown VGG configuration {config!r}. Use one of A, B, C, D, E or {', '.join(ALIASES)}.")
    return key


def scale_config(cfg: list[Layer], width: float) -> list[Layer]:
    """Multiply every channel count by ``width`` (at least 1 channel): 0.25 turns 64 into 16."""
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")

    def scaled(item: Layer) -> Layer:
        if item == "M":
            return item
        if isinstance(item, tuple):
            return (max(1, int(item[0] * width)), item[1])
        return max(1, int(item * width))

    return [scaled(item) for item in cfg]


def conv_block(in_channels: int, out_channels: int, kernel_size: int = 3, batch_norm: bool = False) -> list[nn.Module]:
    """One VGG layer: a size-keeping convolution, (batch norm,) ReLU."""
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_channels))
    layers.append(nn.ReLU(inplace=True))
    return layers


def make_features(cfg: list, batch_norm: bool = False) -> nn.Sequential:
    """The convolutional part: a conv block for each number, a max-pool for each ``"M"``."""
    layers, in_channels = [], 3
    for item in cfg:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            out_channels, kernel_size = item if isinstance(item, tuple) else (item, 3)
            layers += conv_block(in_channels, out_channels, kernel_size, batch_norm)
            in_channels = out_channels
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """features -> adaptive average pool -> classifier, exactly as torchvision lays it out."""

    def __init__(
        self,
        features: nn.Sequential,
        num_classes: int = 1000,
        hidden: int = 4096,
        pool_size: int = 7,
        dropout: float = 0.5,
        init_weights: bool = True,
    ) -> None:
        super().__init__()
        last_channels = [m for m in features if isinstance(m, nn.Conv2d)][-1].out_channels
        self.features = features
        # At 224x224 input the features are already 7x7, so this pool does nothing;
        # it lets the same network accept other input sizes.
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        self.classifier = nn.Sequential(
            nn.Linear(last_channels * pool_size * pool_size, hidden),  # fc6
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),  # fc7
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),  # fc8
        )
        if init_weights:
            init_vgg_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def init_vgg_weights(model: nn.Module) -> None:
    """torchvision's initialisation: He (Kaiming) normal for convs, normal with std 0.01 for FC layers.

    The paper (Sec. 3.1) trained A from a normal start with variance 10^-2 (std 0.1) and copied A's
    layers into the deeper
    nets, then noted that Glorot-style init works without that trick. He init is the
    modern answer for ReLU networks: it keeps the activations' variance steady with depth.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)


def build_vgg(
    config: str,
    *,
    batch_norm: bool = False,
    num_classes: int = 1000,
    width: float = 1.0,
    hidden: int | None = None,
    pool_size: int = 7,
    dropout: float = 0.5,
    init_weights: bool = True,
) -> VGG:
    """Build VGG configuration ``config`` ("A".."E" or "vgg11".."vgg19").

    ``width`` scales every channel count (0.25 gives a 16-32-64-128-128 net for small
    experiments), ``hidden`` is the FC width (4096 x width by default), ``pool_size``
    the adaptive pool's output side (7 as in the paper; 1 for tiny inputs).
    """
    cfg = scale_config(CONFIGS[config_key(config)], width)
    hidden = hidden if hidden is not None else max(1, int(4096 * width))
    return VGG(make_features(cfg, batch_norm), num_classes, hidden, pool_size, dropout, init_weights)
