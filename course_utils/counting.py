"""Counting VGG: the paper's Table 1, and per layer its shape, parameters, multiply-adds and memory.

Everything here is counted on the "meta" device: tensors with a shape and no data,
so even VGG19 at 512x512 "runs" in milliseconds and touches no memory.

* ``configurations_table``: the paper's Table 1, rebuilt from ``CONFIGS``;
* ``layer_table``: per layer, output shape, parameters, multiply-adds (MACs), output
  memory and receptive field, with totals equal to torchvision's ``weights.meta``;
* ``cross_check_flops``: the same multiply-adds counted by PyTorch's own
  ``torch.utils.flop_counter.FlopCounterMode``, layer by layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from course_utils.architecture import CONFIGS, DEPTH, Layer, build_vgg
from course_utils.layer_names import module_names
from course_utils.receptive_field import step
from course_utils.running import eval_mode
from course_utils.tables import Table


def count_parameters(model: nn.Module) -> int:
    """Number of numbers the model learns (every parameter tensor's element count)."""
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------------
# The paper's Table 1, rebuilt from CONFIGS
# ----------------------------------------------------------------------------------

def layer_label(item: Layer) -> str:
    """The paper's notation for one CONFIGS entry: ``conv3-64``, ``conv1-256`` or ``maxpool``."""
    if item == "M":
        return "maxpool"
    channels, kernel = item if isinstance(item, tuple) else (item, 3)
    return f"conv{kernel}-{channels}"


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
        raise ValueError("input_size is (channels, height, width) for one image, e.g. (3, 224, 224); got "
                         f"{input_size}.")
    return tuple(int(v) for v in input_size)  # type: ignore[return-value]


def _check_input_size(model: nn.Module, size: tuple[int, int, int]) -> None:
    """VGG halves the image at every max-pool: below 2**pools pixels a map would vanish."""
    pools = sum(isinstance(m, nn.MaxPool2d) for m in model.modules())
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if convs and size[0] != convs[0].in_channels:
        raise ValueError(f"the model expects {convs[0].in_channels}-channel images, but input_size has "
                         f"{size[0]} channels.")
    smallest = 2**pools
    if min(size[1:]) < smallest:
        raise ValueError(f"input {size[1]}x{size[2]} is too small: this model halves it {pools} times, "
                         f"so use at least {smallest}x{smallest}.")


def run_on_meta(model: nn.Module, size: tuple[int, int, int]) -> torch.Tensor:
    """One eval-mode forward pass of one image on the "meta" device: shapes only, no data, no time.

    The model's own weights are left alone: ``torch.func.functional_call`` swaps in
    meta stand-ins for this one call.
    """
    _check_input_size(model, size)
    meta = {n: torch.empty_like(t, device="meta") for n, t in [*model.named_parameters(), *model.named_buffers()]}
    with eval_mode(model), torch.no_grad():
        return torch.func.functional_call(model, meta, (torch.empty((1, *size), device="meta"),))


def trace_shapes(model: nn.Module, input_size: int | tuple[int, ...] = (3, 224, 224)) -> list[tuple]:
    """Every leaf module the forward pass calls, in order, from one ``run_on_meta``.

    Returns ``(module name, module, input shape, output shape, output is input)`` per call.
    """
    records: list[tuple] = []

    def hook(name: str):
        def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            records.append((name, module, inputs[0].shape, output.shape, output is inputs[0]))
        return record

    leaves = [(n, m) for n, m in model.named_modules() if n and not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook(n)) for n, m in leaves]
    try:
        run_on_meta(model, _input_size(input_size))
    finally:
        for h in handles:
            h.remove()
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
    names = module_names(model)
    rows: list[LayerRow] = []
    rf, jump = 1.0, 1.0
    seen_classifier = False
    for name, module, in_shape, out_shape, shared in trace_shapes(model, size):
        rf, jump = step(rf, jump, module, in_shape[-1], out_shape[-1])
        seen_classifier = seen_classifier or isinstance(module, nn.Linear)
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
    ``aten.addmm``), so it checks our formulas instead of repeating them.
    """
    size = _input_size(input_size)
    table = layer_table(model, size)
    with FlopCounterMode(display=False) as counter:
        run_on_meta(model, size)
    counts = counter.get_flop_counts()
    prefix = type(model).__name__ + "."
    per_layer = {
        r.module_name: (r.macs, sum(counts.get(prefix + r.module_name, {}).values()) // 2)
        for r in table
    }
    return FlopCheck(table.macs, counter.get_total_flops(), per_layer)
