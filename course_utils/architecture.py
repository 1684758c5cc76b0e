"""VGG from the paper's Table 1, written the plain way, plus the paper's layer names.

Simonyan & Zisserman (2015), "Very Deep Convolutional Networks for Large-Scale
Image Recognition", Table 1 lists configurations A to E. Every one is the same
recipe: stacks of 3x3 convolutions (stride 1, padding 1, so the size is kept),
each followed by a ReLU, with a 2x2 max-pool (stride 2, size halved) between
stacks, then three fully connected layers. Only the number of convolutions per
stack changes, so a configuration is just a list:

* an ``int`` is a 3x3 convolution with that many output channels;
* ``(channels, 1)`` is a 1x1 convolution (configuration C only);
* ``"M"`` is a 2x2 max-pool.

``build_vgg`` reads such a list and builds the network module by module, in the
same order and with the same names as torchvision's ``models/vgg.py``, so that
torchvision's pretrained ``state_dict`` loads into it unchanged.
"""

from __future__ import annotations

from typing import Union

import torch
from torch import nn

Layer = Union[int, tuple, str]

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


def make_features(cfg: list[Layer], batch_norm: bool = False, width: float = 1.0) -> nn.Sequential:
    """The convolutional part: conv (+BN) + ReLU for each number, max-pool for each "M"."""
    layers: list[nn.Module] = []
    in_channels = 3
    for item in cfg:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        channels, kernel = item if isinstance(item, tuple) else (item, 3)
        channels = max(1, int(channels * width))
        layers.append(nn.Conv2d(in_channels, channels, kernel_size=kernel, padding=kernel // 2))
        if batch_norm:
            layers.append(nn.BatchNorm2d(channels))
        layers.append(nn.ReLU(inplace=True))
        in_channels = channels
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
    """torchvision's initialisation: He (Kaiming) normal for convs, N(0, 0.01) for FC layers.

    The paper trained A from a N(0, 0.01) start and copied A's layers into the deeper
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
    key = config_key(config)
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    hidden = hidden if hidden is not None else max(1, int(4096 * width))
    model = VGG(make_features(CONFIGS[key], batch_norm, width), num_classes, hidden, pool_size, dropout, init_weights)
    model.config = key
    model.batch_norm = batch_norm
    return model


# ----------------------------------------------------------------------------------
# The paper's layer names <-> PyTorch's module names
# ----------------------------------------------------------------------------------

class LayerNameError(ValueError):
    """A layer name that the model does not have."""


def paper_names(model: nn.Module) -> dict[str, str]:
    """Map the paper's names to module names, read off ``model.features`` and ``model.classifier``.

    Block b, layer i gives ``conv{b}_{i}``, ``bn{b}_{i}`` (with batch norm) and
    ``relu{b}_{i}``; each max-pool is ``pool{b}``; the classifier is ``fc6``, ``relu6``,
    ``drop6``, ``fc7``, ``relu7``, ``drop7``, ``fc8``. Works for torchvision's VGGs
    and for ``build_vgg`` models of any width.
    """
    names: dict[str, str] = {}
    block, index = 1, 0
    for i, m in enumerate(getattr(model, "features", [])):
        if isinstance(m, nn.Conv2d):
            index += 1
            names[f"conv{block}_{index}"] = f"features.{i}"
        elif isinstance(m, nn.BatchNorm2d):
            names[f"bn{block}_{index}"] = f"features.{i}"
        elif isinstance(m, nn.ReLU):
            names[f"relu{block}_{index}"] = f"features.{i}"
        elif isinstance(m, nn.MaxPool2d):
            names[f"pool{block}"] = f"features.{i}"
            block, index = block + 1, 0
    fc = 6
    for i, m in enumerate(getattr(model, "classifier", [])):
        kind = {nn.Linear: "fc", nn.ReLU: "relu", nn.Dropout: "drop"}.get(type(m))
        if kind:
            names[f"{kind}{fc}"] = f"classifier.{i}"
        if isinstance(m, nn.Dropout):
            fc += 1
    if not names:
        raise LayerNameError("this model has no VGG-style `features` / `classifier` to name.")
    return names


def to_module_name(model: nn.Module, paper_name: str) -> str:
    """``"relu5_3"`` -> ``"features.29"`` for VGG16; a wrong name lists the valid ones."""
    names = paper_names(model)
    if paper_name not in names:
        raise LayerNameError(f"this model has no layer {paper_name!r}. Its layers are: {', '.join(names)}")
    return names[paper_name]


def to_paper_name(model: nn.Module, module_name: str) -> str:
    """``"features.29"`` -> ``"relu5_3"`` for VGG16; the inverse of ``to_module_name``."""
    inverse = {v: k for k, v in paper_names(model).items()}
    if module_name not in inverse:
        raise LayerNameError(f"this model has no module {module_name!r}. Its modules are: {', '.join(inverse)}")
    return inverse[module_name]


def get_layer(model: nn.Module, layer: str | nn.Module) -> nn.Module:
    """A module given itself, a dotted name (``"features.29"``) or a paper name (``"relu5_3"``)."""
    if isinstance(layer, nn.Module):
        if not any(m is layer for m in model.modules()):
            raise LayerNameError("that module is not part of this model.")
        return layer
    modules = dict(model.named_modules())
    if layer in modules and layer != "":
        return modules[layer]
    try:
        names = paper_names(model)
    except LayerNameError:
        names = {}
    if layer in names:
        return modules[names[layer]]
    valid = list(names) or [n for n in modules if n]
    raise LayerNameError(
        f"no layer {layer!r} in this model. Use a module name such as 'features.0', or one of: {', '.join(valid)}"
    )


def last_conv_relu(model: nn.Module) -> str:
    """The paper name of the last ReLU after a convolution (``relu5_3`` for VGG16)."""
    relus = [n for n in paper_names(model) if n.startswith("relu") and "_" in n]
    return relus[-1]
