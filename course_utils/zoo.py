"""VGG next to the architectures that came after it, in numbers.

Accuracy, parameter count and compute come from torchvision's ``weights.meta``:
it ships inside torchvision, so reading it needs no download. Latency we
measure ourselves, on the real architectures with random weights
(``weights=None``): how long a forward pass takes does not depend on what the
weights are, so timing needs no download either.

A note on units: torchvision's ``meta["_ops"]`` is labelled GFLOPS but counts
multiply-adds (one multiply plus one add = one operation). Tools that count a
multiply and an add separately, like ``torch.utils.flop_counter``, report about
twice as much. Within one table the unit is the same, so comparisons hold.

A note on fairness: an accuracy in ``weights.meta`` belongs to the weights, not
to the architecture. Each model's ``IMAGENET1K_V1`` weights come from a
different recipe (``meta["recipe"]`` links it, ``meta["_docs"]`` says what it
is): torchvision's simple recipe for VGG and ResNet, ports of other people's
weights for Inception v3 and EfficientNet, a long modern recipe for ConvNeXt.
``ModelCard.provenance`` carries that sentence so tables can show it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
import torchvision
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from torch import nn

from course_utils.benchmark import Timing, time_it
from course_utils.weights import get_weights

# Architecture -> (display name, the year its paper first appeared on arXiv, the idea it introduced).
# The notebooks cite the published versions, a year later for VGG (ICLR 2015), ResNet and Inception v3
# (CVPR 2016).
ZOO: dict[str, tuple[str, int, str]] = {
    "vgg11": ("VGG11", 2014, "stacked 3x3 convolutions"),
    "vgg16": ("VGG16", 2014, "stacked 3x3 convolutions"),
    "vgg19": ("VGG19", 2014, "stacked 3x3 convolutions"),
    "resnet18": ("ResNet-18", 2015, "residual connections"),
    "resnet50": ("ResNet-50", 2015, "residual connections + 1x1 bottlenecks"),
    "inception_v3": ("Inception v3", 2015, "inception modules (parallel, factorised convolutions)"),
    "efficientnet_b0": ("EfficientNet-B0", 2019, "depthwise separable convolutions + compound scaling"),
    "convnext_tiny": ("ConvNeXt-Tiny", 2022, "a ResNet modernised with Transformer-era design choices"),
}

# Every model above has weights of this name. The name does NOT mean one recipe: VGG's and
# ResNet's come from torchvision's simple 90-epoch recipe, Inception v3's and EfficientNet's are
# ports, ConvNeXt's come from a 600-epoch modern recipe (see ModelCard.recipe and .provenance).
DEFAULT_WEIGHTS = "IMAGENET1K_V1"

# Build options that only change how the random weights are initialised, not the network.
_BUILD_KWARGS: dict[str, dict] = {
    # Skips a slow legacy initialisation (and the FutureWarning torchvision prints about it).
    "inception_v3": {"init_weights": False},
    # Keeps PyTorch's default initialisation instead of drawing every weight again: VGG16's second
    # pass over 138 million weights took 1.2 s of a CPU core here, for a network that is only timed.
    **{arch: {"init_weights": False} for arch in ("vgg11", "vgg16", "vgg19")},
}


@dataclass(frozen=True)
class ModelCard:
    """What torchvision's weights metadata says about one pretrained model."""

    arch: str
    name: str
    year: int
    idea: str
    weights: str
    acc1: float  # ImageNet-1K validation top-1 accuracy, percent
    acc5: float  # top-5 accuracy, percent
    params: int
    gflops: float  # giga multiply-adds for one image at input_size (torchvision's "_ops")
    input_size: int  # the crop size the weights expect (224, or 299 for Inception v3)
    recipe: str  # where the weights' training recipe is described (meta["recipe"], a link)
    provenance: str  # how torchvision says the weights were made (meta["_docs"], links stripped)

    @property
    def params_m(self) -> float:
        return self.params / 1e6


def _plain_text(rst: str) -> str:
    """``meta["_docs"]`` as one plain line: reStructuredText links `text <url>`_ become their text."""
    return " ".join(re.sub(r"`([^`<]+?)\s*<[^>]*>`_", r"\1", rst).split())


def _check_arch(arch: str) -> None:
    if arch not in ZOO:
        raise ValueError(f"unknown architecture {arch!r}. The comparison knows: {', '.join(ZOO)}")


def model_card(arch: str, weights: str = DEFAULT_WEIGHTS) -> ModelCard:
    """Read accuracy, parameters, GFLOPS and input size for ``arch`` from ``weights.meta``."""
    _check_arch(arch)
    w = get_weights(arch, weights)
    meta = w.meta
    metrics = meta["_metrics"]["ImageNet-1K"]
    name, year, idea = ZOO[arch]
    return ModelCard(
        arch=arch,
        name=name,
        year=year,
        idea=idea,
        weights=f"{type(w).__name__}.{w.name}",
        acc1=float(metrics["acc@1"]),
        acc5=float(metrics["acc@5"]),
        params=int(meta["num_params"]),
        gflops=float(meta["_ops"]),
        input_size=int(w.transforms().crop_size[0]),
        recipe=str(meta.get("recipe", "")),
        provenance=_plain_text(str(meta.get("_docs", ""))),
    )


def zoo_cards(archs: list[str] | None = None, weights: str = DEFAULT_WEIGHTS) -> list[ModelCard]:
    """Model cards for every architecture in ``archs`` (default: the whole ``ZOO``)."""
    return [model_card(a, weights) for a in (archs or list(ZOO))]


def build_random(arch: str, device: torch.device | str = "cpu") -> nn.Module:
    """The real ``arch`` network with random weights, in eval mode. Nothing is downloaded.

    ``device="meta"`` builds it with shapes but no memory: instant, for counting.
    """
    _check_arch(arch)
    with torch.device(device):
        model = torchvision.models.get_model(arch, weights=None, **_BUILD_KWARGS.get(arch, {}))
    return model.eval()


def measure_latency(
    arch: str,
    batch_size: int = 1,
    warmup: int = 1,
    repeats: int = 3,
    device: torch.device | str = "cpu",
) -> Timing:
    """Time one forward pass of ``arch`` (random weights) on a batch at its own input size."""
    size = model_card(arch).input_size
    model = build_random(arch, device)
    x = torch.randn(batch_size, 3, size, size, device=device)
    return time_it(lambda: model(x), warmup=warmup, repeats=repeats)


def cards_markdown(
    cards: list[ModelCard],
    latency_ms: dict[str, float] | None = None,
    latency_label: str = "latency (ms)",
) -> str:
    """A Markdown table of model cards, with a latency column when ``latency_ms`` is given.

    ``latency_label`` heads that column: say where it was measured (e.g. "cpu latency (ms)").
    """
    head = "| model | year | acc@1 % | acc@5 % | params (M) | GFLOPS | input |"
    rule = "|---|---:|---:|---:|---:|---:|---:|"
    if latency_ms is not None:
        head, rule = head + f" {latency_label} |", rule + "---:|"
    lines = [head, rule]
    for c in cards:
        row = (f"| {c.name} | {c.year} | {c.acc1:.1f} | {c.acc5:.1f} | {c.params_m:.1f} | {c.gflops:.2f} | "
               f"{c.input_size} |")
        if latency_ms is not None:
            row += f" {latency_ms[c.arch]:.0f} |" if c.arch in latency_ms else " - |"
        lines.append(row)
    return "\n".join(lines)


def recipes_markdown(cards: list[ModelCard]) -> str:
    """A Markdown table of where each model's weights come from: torchvision's own words and the recipe link.

    Read it before comparing accuracies: a different recipe can be worth several points on the
    same architecture (ResNet-50's V1 and V2 weights differ only in their recipe).
    """
    lines = ["| model | weights | acc@1 % | how they were made (torchvision's metadata) | recipe |",
             "|---|---|---:|---|---|"]
    for c in cards:
        link = f"[link]({c.recipe})" if c.recipe else "-"
        lines.append(f"| {c.name} | `{c.weights}` | {c.acc1:.1f} | {c.provenance or '-'} | {link} |")
    return "\n".join(lines)


def plot_tradeoff(cards: list[ModelCard], x: str = "gflops", ax: plt.Axes | None = None) -> Figure:
    """Scatter acc@1 against ``x`` ("gflops" or "params") on a log x-axis; return the Figure.

    VGG models are drawn in red so they stand out against the later designs.
    """
    if x not in ("gflops", "params"):
        raise ValueError(f"x must be 'gflops' or 'params', got {x!r}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    fig = ax.figure
    for c in cards:
        value = c.gflops if x == "gflops" else c.params_m
        colour = "tab:red" if c.arch.startswith("vgg") else "tab:blue"
        ax.scatter(value, c.acc1, s=60, color=colour)
        ax.annotate(c.name, (value, c.acc1), textcoords="offset points", xytext=(5, 4), fontsize=9)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 1, 10, 100 rather than 10^0 ...
    by_compute = x == "gflops"
    ax.set_xlabel("GFLOPS per image (multiply-adds, log scale)" if by_compute else "parameters, millions (log scale)")
    ax.set_ylabel("ImageNet top-1 accuracy (%)")
    ax.set_title(f"Accuracy against {'compute' if x == 'gflops' else 'size'}")
    ax.grid(True, which="both", alpha=0.3)
    return fig


def plot_latency(cards: list[ModelCard], latency_ms: dict[str, float], ax: plt.Axes | None = None) -> Figure:
    """Horizontal bars: measured milliseconds per image for each model, VGG in red."""
    missing = [c.arch for c in cards if c.arch not in latency_ms]
    if missing:
        raise ValueError(f"no latency measured for {missing}; measure them first with measure_latency().")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.45 * len(cards) + 1))
    names = [c.name for c in cards][::-1]
    values = [latency_ms[c.arch] for c in cards][::-1]
    colours = ["tab:red" if c.arch.startswith("vgg") else "tab:blue" for c in cards][::-1]
    ax.barh(names, values, color=colours)
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.0f}", va="center", fontsize=8)
    ax.set_xlabel("milliseconds per image (batch 1, median)")
    ax.set_title("Measured latency on this machine")
    ax.figure.tight_layout()
    return ax.figure
