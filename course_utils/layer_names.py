"""The paper's layer names (``relu5_3``) and PyTorch's module names (``features.29``), both ways.

The VGG paper and the Grad-CAM paper name layers by block and position: ``conv5_3``
is the third convolution of block 5. PyTorch names them by position in a
``Sequential``: ``features.28``. This module reads one from the other off the
model itself, so it works for torchvision's VGGs, the ``_bn`` variants and the
course's narrow ``build_vgg`` models alike. A wrong name gets an error that lists
the valid ones.
"""

from __future__ import annotations

from torch import nn


class LayerNameError(ValueError):
    """A layer name that the model does not have."""


def paper_names(model: nn.Module) -> dict[str, str]:
    """Map the paper's names to module names, read off ``model.features`` and ``model.classifier``.

    Block b, layer i gives ``conv{b}_{i}``, ``bn{b}_{i}`` (with batch norm) and
    ``relu{b}_{i}``; each max-pool is ``pool{b}``; the classifier is ``fc6``, ``relu6``,
    ``drop6``, ``fc7``, ``relu7``, ``drop7``, ``fc8``.
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


def module_names(model: nn.Module) -> dict[str, str]:
    """``paper_names`` the other way round: ``{"features.29": "relu5_3", ...}`` for VGG16."""
    return {module: paper for paper, module in paper_names(model).items()}


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


def name_of(model: nn.Module, module: nn.Module) -> str:
    """The readable name of one of ``model``'s modules: its paper name if it has one, else its dotted name."""
    dotted = next((n for n, m in model.named_modules() if m is module), None)
    if dotted is None:
        raise LayerNameError("that module is not part of this model.")
    try:
        inverse = module_names(model)
    except LayerNameError:
        inverse = {}
    return inverse.get(dotted, dotted)


def resolve_layer(model: nn.Module, layer: str | nn.Module | None = None) -> tuple[nn.Module, str]:
    """The module to hook and its readable name: ``layer`` as ``get_layer`` takes it, or None for
    the last ReLU after a convolution (where Grad-CAM looks by default)."""
    module = get_layer(model, layer if layer is not None else last_conv_relu(model))
    return module, name_of(model, module)


def last_conv_relu(model: nn.Module) -> str:
    """The paper name of the last ReLU after a convolution (``relu5_3`` for VGG16).

    This is where Grad-CAM looks by default: the last layer with a spatial map.
    """
    try:
        relus = [n for n in paper_names(model) if n.startswith("relu") and "_" in n]
    except LayerNameError:
        relus = []
    if not relus:
        raise LayerNameError(
            "cannot find a ReLU after a convolution in `model.features` (the model is not VGG-shaped). "
            "Pass the layer explicitly, e.g. layer='features.29' or the module itself."
        )
    return relus[-1]
