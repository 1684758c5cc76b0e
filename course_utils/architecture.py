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

The rest of the module computes what notebook 01 teaches, for any VGG-style model:

* ``paper_names`` / ``to_module_name`` / ``to_paper_name``: ``relu5_3`` <-> ``features.29``;
* ``configurations_table``: the paper's Table 1, rebuilt from ``CONFIGS``;
* ``layer_table``: per layer, output shape, parameters, multiply-adds, output memory
  and receptive field, counted on the "meta" device (no data, no time), with totals
  equal to torchvision's ``weights.meta``; ``cross_check_flops`` checks the
  multiply-adds against ``torch.utils.flop_counter.FlopCounterMode``;
* ``receptive_fields`` (by formula) and ``measure_receptive_field`` (by gradient).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Union

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

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


# ----------------------------------------------------------------------------------
# The paper's Table 1, rebuilt from CONFIGS
# ----------------------------------------------------------------------------------

@dataclass
class Table:
    """A small table that shows itself as HTML in Jupyter and as plain text elsewhere.

    The course has no pandas; this is all a notebook needs to show a table. Cells are
    strings; a cell holding several lines (a block of layers) keeps them in a list.
    """

    headers: list[str]
    rows: list[list]
    title: str = ""

    @staticmethod
    def _cell_text(cell) -> str:
        return ", ".join(map(str, cell)) if isinstance(cell, (list, tuple)) else str(cell)

    def __str__(self) -> str:
        text_rows = [list(self.headers)] + [[self._cell_text(c) for c in row] for row in self.rows]
        widths = [max(len(r[i]) for r in text_rows) for i in range(len(self.headers))]
        lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in text_rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(([self.title] if self.title else []) + lines)

    def _repr_html_(self) -> str:
        def cell(c) -> str:
            return "<br>".join(map(html.escape, map(str, c))) if isinstance(c, (list, tuple)) else html.escape(str(c))

        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
        body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in self.rows)
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def layer_label(item: Layer) -> str:
    """The paper's notation for one CONFIGS entry: ``conv3-64``, ``conv1-256`` or ``maxpool``."""
    if item == "M":
        return "maxpool"
    channels, kernel = item if isinstance(item, tuple) else (item, 3)
    return f"conv{kernel}-{channels}"


def count_parameters(model: nn.Module) -> int:
    """Number of numbers the model learns (every parameter tensor's element count)."""
    return sum(p.numel() for p in model.parameters())


def configurations_table(batch_norm: bool = False) -> Table:
    """Table 1 of the paper, one column per configuration, computed from ``CONFIGS``.

    Each row is one block (the layers between two max-pools); the last rows give the
    number of weight layers and the parameter count, counted on a model built on the
    "meta" device (shapes only, no memory, no time).
    """
    keys = list(CONFIGS)
    blocks = {k: _split_blocks(CONFIGS[k]) for k in keys}
    rows: list[list] = []
    for b in range(5):
        rows.append([f"block {b + 1}"] + [[layer_label(x) for x in blocks[k][b]] + ["maxpool"] for k in keys])
    rows.append(["classifier"] + [["FC-4096", "FC-4096", "FC-1000", "soft-max"]] * len(keys))
    rows.append(["weight layers"] + [str(DEPTH[k]) for k in keys])
    counts = []
    for k in keys:
        with torch.device("meta"):
            counts.append(f"{count_parameters(build_vgg(k, batch_norm=batch_norm, init_weights=False)):,}")
    rows.append(["parameters"] + counts)
    headers = [""] + [f"{k} ({DEPTH[k]} layers)" for k in keys]
    return Table(headers, rows, title="ConvNet configurations (Table 1 of Simonyan & Zisserman, 2015)")


def _split_blocks(cfg: list[Layer]) -> list[list[Layer]]:
    """[64, 64, "M", 128, "M"] -> [[64, 64], [128]]: the convolutions between max-pools."""
    blocks, current = [], []
    for item in cfg:
        if item == "M":
            blocks.append(current)
            current = []
        else:
            current.append(item)
    return blocks


# ----------------------------------------------------------------------------------
# Receptive fields: computed by formula, and measured with a gradient
# ----------------------------------------------------------------------------------

def stacked_receptive_field(n_layers: int, kernel_size: int = 3) -> int:
    """Receptive field of ``n_layers`` stacked stride-1 convolutions: each adds ``kernel_size - 1``."""
    return 1 + n_layers * (kernel_size - 1)


def _rf_step(rf: float, jump: float, kernel: int, stride: int, dilation: int = 1) -> tuple[float, float]:
    """One layer's effect on (receptive field, jump).

    ``jump`` is the distance, in input pixels, between two neighbouring cells of the
    current feature map. A k x k window spans ``k - 1`` such steps, so it widens the
    receptive field by ``(k - 1) * jump``; a stride s multiplies the jump by s.
    """
    return rf + (dilation * (kernel - 1)) * jump, jump * stride


def _first(value) -> int:
    """Kernel sizes and strides may be ints or (h, w) pairs; VGG's are square, so use one side."""
    return value[0] if isinstance(value, tuple) else value


def receptive_fields(model: nn.Module) -> dict[str, int]:
    """Receptive field (side, in input pixels) after every layer of ``model.features``.

    Keys are the paper's names (``conv1_1``, ``relu1_1``, ``pool1``, ...). The value is
    the theoretical receptive field: the size of the input window that can influence
    one cell of that layer's output (VGG16: 5 after conv1_2, 196 at relu5_3, 212 at pool5).
    It can be bigger than the image: then the zero padding fills the rest.
    """
    names = {v: k for k, v in paper_names(model).items()}
    rf, jump = 1.0, 1.0
    out: dict[str, int] = {}
    for i, m in enumerate(model.features):
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            stride = _first(m.stride) if m.stride is not None else _first(m.kernel_size)
            rf, jump = _rf_step(rf, jump, _first(m.kernel_size), stride, _first(getattr(m, "dilation", 1)))
        name = names.get(f"features.{i}", f"features.{i}")
        out[name] = int(rf)
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


def gradient_footprint(layers, size: int = 64) -> torch.Tensor:
    """Which input pixels reach the centre cell of ``layers``' output: a (size, size) map.

    The value is d(centre output) / d(input) through a linearised copy of the stack,
    so its non-zero area is exactly the receptive field, and its shape (peaked in the
    middle) shows that central pixels reach the cell along many more paths.
    """
    net = _linearised(list(layers))
    x = torch.ones(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    y = net(x)
    if y.shape[-1] < 1 or y.shape[-2] < 1:
        raise ValueError(f"an input of {size}x{size} is too small for these layers; use a bigger size.")
    y[0, 0, y.shape[-2] // 2, y.shape[-1] // 2].backward()
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


# ----------------------------------------------------------------------------------
# Counting, layer by layer: shapes, parameters, multiply-adds, memory
# ----------------------------------------------------------------------------------

BYTES_PER_FLOAT32 = 4


@dataclass(frozen=True)
class LayerRow:
    """One layer of the network, counted for ONE image.

    * ``macs``: multiply-adds of the layer's weights (see ``layer_table`` for the convention);
    * ``activation_bytes``: size of the layer's output as float32;
    * ``shares_input``: True when the output reuses the input's memory (in-place ReLU,
      dropout in eval mode), so it costs no new memory;
    * ``receptive_field``: side of the input window one output cell sees (None for the
      fully connected layers, which see the whole image); ``jump``: input pixels between
      neighbouring output cells.
    """

    paper_name: str
    module_name: str
    kind: str  # "conv3x3", "conv1x1", "bn", "relu", "maxpool", "avgpool", "fc", "dropout"
    output_shape: tuple[int, ...]
    params: int
    macs: int
    activation_bytes: int
    shares_input: bool
    receptive_field: int | None
    jump: float | None


class LayerTable(list):
    """The rows of ``layer_table``: a plain list of ``LayerRow`` with totals and a display.

    In a notebook, a ``LayerTable`` at the end of a cell shows as an HTML table;
    ``print(table)`` gives the same as text.
    """

    def __init__(self, rows: list[LayerRow], input_size: tuple[int, int, int]) -> None:
        super().__init__(rows)
        self.input_size = input_size

    @property
    def params(self) -> int:
        """Total parameters (equals ``sum(p.numel() for p in model.parameters())``)."""
        return sum(r.params for r in self)

    @property
    def macs(self) -> int:
        """Total multiply-adds for one image."""
        return sum(r.macs for r in self)

    @property
    def gmacs(self) -> float:
        """Total multiply-adds in billions: the number torchvision calls GFLOPS (``_ops``)."""
        return self.macs / 1e9

    @property
    def weight_bytes(self) -> int:
        """Memory for the weights as float32 (the size of the checkpoint file, near enough)."""
        return self.params * BYTES_PER_FLOAT32

    @property
    def activation_bytes(self) -> int:
        """Memory for every layer output of one image, counting shared (in-place) outputs once."""
        return sum(r.activation_bytes for r in self if not r.shares_input)

    def split(self) -> dict[str, dict[str, int]]:
        """Parameters and multiply-adds of the convolutional part vs the fully connected part.

        "conv" holds the convolutions (and batch norms) of ``features``; "fc" the
        ``Linear`` layers of ``classifier``. Other layers have neither.
        """
        parts = {"conv": {"params": 0, "macs": 0}, "fc": {"params": 0, "macs": 0}}
        for r in self:
            part = "fc" if r.kind == "fc" else "conv"
            parts[part]["params"] += r.params
            parts[part]["macs"] += r.macs
        return parts

    def table(self) -> Table:
        """The rows as a ``Table`` (numbers formatted for reading), with a totals row."""
        rows = [
            [
                r.paper_name,
                r.module_name,
                r.kind,
                " x ".join(map(str, r.output_shape)),
                f"{r.params:,}",
                f"{r.macs / 1e6:,.1f}",
                "shared" if r.shares_input else f"{r.activation_bytes / 2**20:,.2f}",
                "whole image" if r.receptive_field is None else str(r.receptive_field),
            ]
            for r in self
        ]
        rows.append(["total", "", "", "", f"{self.params:,}", f"{self.macs / 1e6:,.1f}",
                     f"{self.activation_bytes / 2**20:,.2f}", ""])
        headers = ["layer", "module", "kind", "output (C x H x W)", "params",
                   "MACs (millions)", "activations (MiB)", "receptive field"]
        c, h, w = self.input_size
        return Table(headers, rows, title=f"per image, input {c} x {h} x {w}, float32")

    def __str__(self) -> str:
        return str(self.table())

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()


def _input_size(input_size: int | tuple[int, ...]) -> tuple[int, int, int]:
    if isinstance(input_size, int):
        return (3, input_size, input_size)
    if len(input_size) != 3:
        raise ValueError(f"input_size is (channels, height, width) for one image, e.g. (3, 224, 224); got {input_size}.")
    return tuple(int(v) for v in input_size)  # type: ignore[return-value]


def _check_input_size(model: nn.Module, size: tuple[int, int, int]) -> None:
    """VGG halves the image at every max-pool: below 2**pools pixels a map would vanish."""
    pools = sum(isinstance(m, nn.MaxPool2d) for m in model.modules())
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if convs and size[0] != convs[0].in_channels:
        raise ValueError(f"the model expects {convs[0].in_channels}-channel images, but input_size has {size[0]} channels.")
    smallest = 2**pools
    if min(size[1:]) < smallest:
        raise ValueError(f"input {size[1]}x{size[2]} is too small: this model halves it {pools} times, "
                         f"so use at least {smallest}x{smallest}.")


def trace_shapes(model: nn.Module, input_size: int | tuple[int, ...] = (3, 224, 224)) -> list[tuple[str, nn.Module, torch.Size, torch.Size, bool]]:
    """Run ``model`` once on the "meta" device and record every leaf module it calls.

    Meta tensors have a shape and no data, so even VGG19 at 512x512 "runs" in
    milliseconds and touches no memory; the model's own weights are left alone
    (``torch.func.functional_call`` swaps in meta stand-ins for this one call).
    Returns ``(module name, module, input shape, output shape, output is input)``
    per call, in the order the forward pass made them.
    """
    size = _input_size(input_size)
    _check_input_size(model, size)
    records: list[tuple[str, nn.Module, torch.Size, torch.Size, bool]] = []

    def hook(name: str):
        def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            records.append((name, module, inputs[0].shape, output.shape, output is inputs[0]))
        return record

    leaves = [(n, m) for n, m in model.named_modules() if n and not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook(n)) for n, m in leaves]
    was_training = model.training
    try:
        model.eval()
        meta = {n: torch.empty_like(t, device="meta") for n, t in [*model.named_parameters(), *model.named_buffers()]}
        with torch.no_grad():
            torch.func.functional_call(model, meta, (torch.empty((1, *size), device="meta"),))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return records


def layer_macs(module: nn.Module, output_shape: torch.Size) -> int:
    """Multiply-adds of one layer for the output it produced.

    Conv2d: every output number is a dot product of ``in_channels/groups x kh x kw``
    weights with inputs. Linear: ``in_features`` per output number. Everything else
    (bias, batch norm, ReLU, pooling) counts 0: it is under 1% of VGG's work, and
    torchvision's ``_ops`` leaves it out too (vgg16_bn has the same 15.47 as vgg16).
    """
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return output_shape.numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return output_shape.numel() * module.in_features
    return 0


def _kind(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return f"conv{kh}x{kw}"
    return {nn.BatchNorm2d: "bn", nn.ReLU: "relu", nn.MaxPool2d: "maxpool", nn.AdaptiveAvgPool2d: "avgpool",
            nn.Linear: "fc", nn.Dropout: "dropout"}.get(type(module), type(module).__name__.lower())


def _adaptive_pool_rf(rf: float, jump: float, n_in: int, n_out: int) -> tuple[float, float]:
    """AdaptiveAvgPool2d averages bins from floor(i*n_in/n_out) to ceil((i+1)*n_in/n_out).

    The widest bin sets the receptive field; bins start n_in/n_out cells apart. When
    n_in == n_out (VGG at 224x224: 7 -> 7) the pool does nothing.
    """
    widest = max(math.ceil((i + 1) * n_in / n_out) - math.floor(i * n_in / n_out) for i in range(n_out))
    return rf + (widest - 1) * jump, jump * n_in / n_out


def layer_table(model: nn.Module, input_size: int | tuple[int, ...] = (3, 224, 224)) -> LayerTable:
    """Every layer of a VGG-style model, counted for one image of ``input_size``.

    Per layer: the paper's name, the module name, the output shape, the parameters,
    the multiply-adds (MACs), the float32 output memory and the receptive field.

    FLOP convention: one multiply-add (a*b + c) counts as ONE operation, and only the
    convolutions' and linear layers' weights are counted (no bias, BN, ReLU or pooling).
    This is the convention of torchvision's ``weights.meta["_ops"]`` (labelled GFLOPS):
    for VGG16 at 224x224 the total is 15.47 billion. ``torch.utils.flop_counter``
    counts a multiply-add as TWO FLOPs, so it reports twice as much; see
    ``cross_check_flops``.
    """
    size = _input_size(input_size)
    names = {v: k for k, v in paper_names(model).items()}
    rows: list[LayerRow] = []
    rf, jump = 1.0, 1.0
    seen_classifier = False
    for name, module, in_shape, out_shape, shared in trace_shapes(model, size):
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            stride = _first(module.stride) if module.stride is not None else _first(module.kernel_size)
            rf, jump = _rf_step(rf, jump, _first(module.kernel_size), stride, _first(getattr(module, "dilation", 1)))
        elif isinstance(module, nn.AdaptiveAvgPool2d):
            rf, jump = _adaptive_pool_rf(rf, jump, in_shape[-1], out_shape[-1])
        elif isinstance(module, nn.Linear):
            seen_classifier = True
        rows.append(LayerRow(
            paper_name=names.get(name, name),
            module_name=name,
            kind=_kind(module),
            output_shape=tuple(out_shape[1:]),
            params=sum(p.numel() for p in module.parameters(recurse=False)),
            macs=layer_macs(module, out_shape[1:]),
            activation_bytes=out_shape[1:].numel() * BYTES_PER_FLOAT32,
            shares_input=shared,
            receptive_field=None if seen_classifier else int(rf),
            jump=None if seen_classifier else jump,
        ))
    return LayerTable(rows, size)


@dataclass(frozen=True)
class FlopCheck:
    """``layer_table``'s multiply-adds against PyTorch's own FLOP counter, layer by layer."""

    table_macs: int
    counter_flops: int  # torch.utils.flop_counter: 2 FLOPs per multiply-add
    per_layer: dict[str, tuple[int, int]]  # module name -> (table MACs, counter FLOPs / 2)

    @property
    def counter_macs(self) -> int:
        return self.counter_flops // 2

    @property
    def ok(self) -> bool:
        return self.table_macs == self.counter_macs and all(a == b for a, b in self.per_layer.values())

    def __str__(self) -> str:
        verdict = "agree" if self.ok else "DISAGREE"
        return (f"layer_table: {self.table_macs / 1e9:.3f} G multiply-adds; FlopCounterMode: "
                f"{self.counter_flops / 1e9:.3f} GFLOPs = {self.counter_macs / 1e9:.3f} G multiply-adds -> {verdict}")


def cross_check_flops(model: nn.Module, input_size: int | tuple[int, ...] = (3, 224, 224)) -> FlopCheck:
    """Count with ``torch.utils.flop_counter.FlopCounterMode`` and compare with ``layer_table``.

    The counter looks at the operations PyTorch really runs (``aten.convolution``,
    ``aten.addmm``), so it checks our formulas instead of repeating them. It runs on
    the "meta" device, like ``layer_table``: no time, no memory.
    """
    size = _input_size(input_size)
    table = layer_table(model, size)
    meta = {n: torch.empty_like(t, device="meta") for n, t in [*model.named_parameters(), *model.named_buffers()]}
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            torch.func.functional_call(model, meta, (torch.empty((1, *size), device="meta"),))
    finally:
        model.train(was_training)
    counts = counter.get_flop_counts()
    prefix = type(model).__name__ + "."
    per_layer = {
        r.module_name: (r.macs, sum(counts.get(prefix + r.module_name, {}).values()) // 2)
        for r in table
    }
    return FlopCheck(table.macs, counter.get_total_flops(), per_layer)
