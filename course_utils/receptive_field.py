"""Receptive fields: how much of the image one cell of a feature map can see.

Two stacked 3x3 convolutions see a 5x5 window, three see 7x7: the paper's argument
for small kernels (Section 2.3). This module computes the receptive field of every
layer with one recurrence (``step``), and measures it independently by
backpropagating from one output cell through a linearised copy of the layers
(``gradient_footprint``), so the formula is checked, not trusted.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from course_utils.layer_names import LayerNameError, module_names, to_module_name


def stacked_receptive_field(n_layers: int, kernel_size: int = 3) -> int:
    """Receptive field of ``n_layers`` stacked stride-1 convolutions: each adds ``kernel_size - 1``."""
    return 1 + n_layers * (kernel_size - 1)


def _side(value) -> int:
    """Kernel sizes and strides may be ints or (h, w) pairs; VGG's are square, so use one side."""
    return value[0] if isinstance(value, tuple) else value


def step(rf: float, jump: float, module: nn.Module, in_side: int = 0, out_side: int = 0) -> tuple[float, float]:
    """One layer's effect on (receptive field, jump); layers that do not look around change nothing.

    ``jump`` is the distance, in input pixels, between two neighbouring cells of the
    current map. A k x k window spans ``k - 1`` such steps, so it widens the receptive
    field by ``(k - 1) * jump``; a stride s multiplies the jump by s.
    ``AdaptiveAvgPool2d`` averages bins of up to ceil(n_in / n_out) cells (``in_side``
    and ``out_side`` are the map's sides); at VGG's 7 -> 7 it changes nothing.
    """
    if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        kernel = _side(module.kernel_size)
        stride = _side(module.stride) if module.stride is not None else kernel
        dilation = _side(getattr(module, "dilation", 1))
        return rf + dilation * (kernel - 1) * jump, jump * stride
    if isinstance(module, nn.AdaptiveAvgPool2d) and out_side:
        widest = max(math.ceil((i + 1) * in_side / out_side) - math.floor(i * in_side / out_side)
                     for i in range(out_side))
        return rf + (widest - 1) * jump, jump * in_side / out_side
    return rf, jump


def receptive_fields(model: nn.Module) -> dict[str, int]:
    """Receptive field (side, in input pixels) after every layer of ``model.features``.

    Keys are the paper's names (``conv1_1``, ``relu1_1``, ``pool1``, ...); VGG16 gives 5
    after conv1_2, 196 at relu5_3, 212 at pool5. It can be bigger than the image: then
    the zero padding fills the rest.
    """
    names = module_names(model)
    rf, jump, out = 1.0, 1.0, {}
    for i, module in enumerate(model.features):
        rf, jump = step(rf, jump, module)
        out[names.get(f"features.{i}", f"features.{i}")] = int(rf)
    return out


def _linearised(layers: list[nn.Module]) -> nn.Sequential:
    """A one-channel copy of a conv/pool stack: same geometry, all-ones kernels, no ReLU.

    With positive weights and average (not max) pooling nothing cancels and nothing is
    switched off, so the gradient reaches every input pixel the geometry allows.
    """
    out: list[nn.Module] = []
    for m in layers:
        if isinstance(m, nn.Conv2d):
            conv = nn.Conv2d(1, 1, m.kernel_size, m.stride, m.padding, m.dilation, bias=False)
            nn.init.ones_(conv.weight)
            out.append(conv)
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            out.append(nn.AvgPool2d(m.kernel_size, m.stride, m.padding))
    return nn.Sequential(*out).double()


def gradient_footprint(layers, size: int = 64, cell: tuple[int, int] | None = None) -> torch.Tensor:
    """Which input pixels reach one cell of ``layers``' output: a (size, size) map.

    The value is d(cell) / d(input) through a linearised copy of the stack, so its
    non-zero area is exactly the part of the receptive field inside the image, and its
    shape (peaked in the middle) shows that central pixels reach the cell along many
    more paths. ``cell`` is (row, column) in the output map; the default is its centre.
    """
    net = _linearised(list(layers))
    x = torch.ones(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    y = net(x)
    rows, cols = y.shape[-2:]
    if rows < 1 or cols < 1:
        raise ValueError(f"an input of {size}x{size} is too small for these layers; use a bigger size.")
    row, col = cell if cell is not None else (rows // 2, cols // 2)
    if not (0 <= row < rows and 0 <= col < cols):
        raise ValueError(f"cell {cell} is outside the {rows}x{cols} output map; rows and columns count from 0.")
    y[0, 0, row, col].backward()
    return x.grad[0, 0].detach()


def measure_receptive_field(model: nn.Module, layer: str, size: int = 512) -> int:
    """Receptive field of ``layer`` (a paper name in ``model.features``), measured, not computed.

    Backpropagates from the centre cell of that layer through a linearised copy of the
    features and counts the rows of input pixels the gradient reaches. ``size`` must be
    large enough that the window does not hit the border (512 suits every VGG).
    """
    module_name = to_module_name(model, layer)
    if not module_name.startswith("features."):
        raise LayerNameError(f"{layer!r} is not in model.features; the fully connected layers see the whole image.")
    index = int(module_name.split(".")[1])
    footprint = gradient_footprint(list(model.features)[: index + 1], size)
    rows = torch.nonzero(footprint.abs().sum(dim=1)).flatten()
    return int(rows.max() - rows.min() + 1)
