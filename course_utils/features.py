"""Look inside a VGG: capture the feature maps of chosen layers with forward hooks.

A forward hook is a function PyTorch calls right after a module's ``forward``,
with the module's input and output. Registering one on ``relu3_3`` lets us keep
that layer's output without changing the model or its code.

One trap, specific to torchvision's VGG: every ReLU is ``inplace=True``. A
convolution's output tensor is overwritten by the ReLU that follows it, so a hook
that stores the conv's output *by reference* ends up holding the ReLU's output.
The hooks here store a ``clone()``: a copy taken at the moment the layer ran.

``recording`` is the context manager behind ``capture``: it removes its hooks in a
``finally``, so they go even if the forward pass raises. Notebook 01 teaches the
pattern (hook, clone, remove in ``finally``); notebook 09 uses it on VGG16.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from course_utils.layer_names import get_layer, name_of, paper_names


def block_ends(model: nn.Module) -> list[str]:
    """The last ReLU of every conv block (``relu1_2`` ... ``relu5_3`` for VGG16): one per resolution."""
    ends: dict[str, str] = {}
    for name in paper_names(model):
        if name.startswith("relu") and "_" in name:
            ends[name.split("_")[0]] = name  # later layers of the block overwrite earlier ones
    return list(ends.values())


def conv_stages(model: nn.Module) -> list[str]:
    """Every conv ReLU and every pool, in order: the stages where the shape can change."""
    return [n for n in paper_names(model) if (n.startswith("relu") and "_" in n) or n.startswith("pool")]


@contextmanager
def recording(model: nn.Module, layers: Sequence[str | nn.Module]) -> Iterator[dict[str, torch.Tensor]]:
    """Inside the ``with``, every forward pass fills the dict with a copy of each layer's output.

    >>> with recording(model, ["relu1_2", "relu5_3"]) as maps:
    ...     model(x)
    >>> maps["relu5_3"].shape   # (B, 512, 14, 14) at 224x224
    """
    maps: dict[str, torch.Tensor] = {}
    handles = []

    def hook_for(name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            maps[name] = output.detach().clone()  # clone: an in-place ReLU would overwrite it
        return hook

    try:
        for layer in layers:
            module = get_layer(model, layer)  # a wrong name lists the valid ones
            name = layer if isinstance(layer, str) else name_of(model, module)
            handles.append(module.register_forward_hook(hook_for(name)))
        yield maps
    finally:
        for handle in handles:
            handle.remove()


def capture(model: nn.Module, x: torch.Tensor,
            layers: Sequence[str | nn.Module] | None = None) -> dict[str, torch.Tensor]:
    """Run ``model`` once on ``x`` (no gradients) and return ``{layer: output}`` in layer order.

    ``layers`` defaults to every conv ReLU and pool (see ``conv_stages``).
    """
    layers = list(layers) if layers is not None else conv_stages(model)
    x = x.unsqueeze(0) if x.dim() == 3 else x
    with recording(model, layers) as maps, torch.no_grad():
        model(x)
    names = [layer if isinstance(layer, str) else name_of(model, layer) for layer in layers]
    missing = [n for n in names if n not in maps]
    if missing:
        raise RuntimeError(f"these layers never ran in the forward pass: {', '.join(missing)}")
    return {n: maps[n] for n in names}


@dataclass
class StageShape:
    """One row of the resolution/channels table."""

    layer: str
    channels: int
    height: int
    width: int

    @property
    def positions(self) -> int:
        return self.height * self.width

    @property
    def values(self) -> int:
        """Numbers in the map: channels x height x width."""
        return self.channels * self.positions


def shape_table(maps: dict[str, torch.Tensor]) -> list[StageShape]:
    """The (channels, height, width) of each captured (B, C, H, W) map, in order."""
    return [StageShape(name, *(int(s) for s in m.shape[1:4])) for name, m in maps.items() if m.dim() == 4]


def top_channels(feature_map: torch.Tensor, k: int = 8) -> list[int]:
    """Indices of the ``k`` channels with the highest mean activation in a (C, H, W) or (1, C, H, W) map."""
    fm = feature_map[0] if feature_map.dim() == 4 else feature_map
    if fm.dim() != 3:
        raise ValueError(f"expected a (C, H, W) feature map, got {tuple(feature_map.shape)}")
    k = min(k, fm.shape[0])
    return fm.mean(dim=(1, 2)).topk(k).indices.tolist()


def filters_as_images(weight: torch.Tensor) -> torch.Tensor:
    """First-layer filters (C_out, 3, k, k) -> (C_out, k, k, 3) colour patches in [0, 1], zero drawn grey.

    Each filter is scaled on its own and *symmetrically* around zero, ``w / (2 max|w|) + 0.5``:
    a weight of 0 lands on 0.5 (mid grey), positive weights move a channel towards full
    colour and negative ones towards none. So grey really means "does not care", and the
    largest weight of the filter, whatever its sign, reaches 0 or 1. (A min-max stretch
    would send each filter's most negative weight to 0 and put 0 wherever it falls.)
    An all-zero filter is all grey, not NaN.
    """
    if weight.dim() != 4 or weight.shape[1] != 3:
        raise ValueError(f"only a first conv layer has RGB filters (C_out, 3, k, k); got {tuple(weight.shape)}")
    w = weight.detach().float().cpu()
    reach = w.abs().amax(dim=(1, 2, 3), keepdim=True)
    w = w / (2 * torch.where(reach > 0, reach, torch.ones_like(reach))) + 0.5
    return w.permute(0, 2, 3, 1)
