"""Small plotting helpers shared by the notebooks (matplotlib only).

Each function draws one kind of figure and returns the matplotlib Figure, so a
notebook cell stays one line and a test can check what was drawn.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def image_grid(n: int, ncols: int, size: float | tuple[float, float] = 3.0,
               title_space: float = 0.0) -> tuple[Figure, list[Axes]]:
    """A figure of ``n`` image cells, ``ncols`` per row, axes off; returns (figure, the first ``n`` axes).

    ``size`` is one cell's side in inches, or (width, height). Every grid of pictures
    in the course starts here, so they all look alike.
    """
    if n < 1:
        raise ValueError("there is nothing to draw: the grid needs at least one image.")
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    width, height = (size, size) if np.isscalar(size) else size
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows + title_space), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, list(axes.flat)[:n]


def _as_array(img) -> np.ndarray:
    return img.detach().cpu().numpy() if isinstance(img, torch.Tensor) else np.asarray(img)


# --- Images and predictions ----------------------------------------------------------


def plot_images(images: list, titles: list[str] | None = None, ncols: int = 4, size: float = 3.0) -> Figure:
    """Draw PIL images, (H, W, 3) arrays or (H, W) arrays in a grid with optional titles."""
    fig, axes = image_grid(len(images), ncols, size)
    for i, (ax, img) in enumerate(zip(axes, images)):
        img = _as_array(img)
        ax.imshow(img, cmap="gray" if np.ndim(img) == 2 else None)
        if titles:
            ax.set_title(titles[i], fontsize=10)
    fig.tight_layout()
    return fig


def plot_samples(dataset, n: int = 16, ncols: int = 8, show_masks: bool = False) -> Figure:
    """The first ``n`` items of a shapes dataset in a grid, titled with their class names.

    Items are ``(image, label(s), mask(s), ...)`` with images in [0, 1], as in ``course_utils.data``;
    the names come from ``dataset.classes`` (``ShapesDataset`` and ``TwoShapesDataset`` have it; a
    ``Subset`` does not: pass its ``.dataset``'s first items instead). With ``show_masks=True`` each
    object's mask is outlined in white.
    """
    fig, axes = image_grid(min(n, len(dataset)), ncols, (1.6, 1.8))
    for i, ax in enumerate(axes):
        image, label, mask = dataset[i][:3]
        ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
        labels = label.tolist() if torch.is_tensor(label) else [label]
        ax.set_title(" + ".join(dataset.classes[k] for k in labels), fontsize=8)
        if show_masks:
            for m in (mask if mask.dim() == 3 else mask[None]):
                ax.contour(m.numpy(), levels=[0.5], colors="white", linewidths=0.8)
    fig.tight_layout()
    return fig


def plot_topk(images: list, predictions: list, titles: list[str] | None = None, size: float = 2.6) -> Figure:
    """One row per image: the image, then a horizontal bar chart of its top-k classes.

    ``predictions[i]`` is a list of rows with ``.name`` and ``.probability``
    (e.g. from ``course_utils.inference.topk``), most probable first.
    """
    if len(images) == 0 or len(images) != len(predictions):
        raise ValueError(f"plot_topk needs one prediction list per image, got {len(images)} images and "
                         f"{len(predictions)} lists.")
    fig, axes = plt.subplots(len(images), 2, figsize=(3.6 * size, size * len(images)),
                             squeeze=False, gridspec_kw={"width_ratios": [1, 1.8]})
    for i, (img, rows) in enumerate(zip(images, predictions)):
        ax_img, ax_bar = axes[i]
        ax_img.imshow(_as_array(img))
        ax_img.axis("off")
        if titles:
            ax_img.set_title(titles[i], fontsize=10)
        names = [r.name for r in rows][::-1]
        probs = [r.probability for r in rows][::-1]
        ax_bar.barh(range(len(rows)), probs, color="tab:blue")
        ax_bar.set_yticks(range(len(rows)), names, fontsize=9)
        ax_bar.set_xlim(0, max(max(probs) * 1.15, 1e-3))
        ax_bar.set_xlabel("softmax probability")
        for y, p in enumerate(probs):
            ax_bar.text(p, y, f" {p:.1%}" if p >= 0.01 else f" {p:.2%}", va="center", fontsize=8)
    fig.tight_layout()
    return fig


# --- Where parameters, multiply-adds and memory live ----------------------------------

def plot_layer_costs(table, title: str = "") -> Figure:
    """Three bar charts, one bar per weight layer: parameters, multiply-adds, output memory.

    ``table`` is a ``course_utils.counting.layer_table`` result. Side by side they
    show VGG's lopsidedness: the parameters sit in fc6-fc8, the multiply-adds in the
    convolutions, and the activation memory in the first, full-resolution blocks.
    """
    rows = [r for r in table if r.kind.startswith("conv") or r.kind == "fc"]
    names = [r.paper_name for r in rows]
    colours = ["tab:orange" if r.kind == "fc" else "tab:blue" for r in rows]
    values = [
        ([r.params / 1e6 for r in rows], "parameters (millions)"),
        ([r.macs / 1e9 for r in rows], "multiply-adds (billions)"),
        ([r.activation_bytes / 2**20 for r in rows], "output memory (MiB, float32)"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(13, 0.22 * len(rows) + 1.5), sharey=True)
    y = np.arange(len(rows))
    for ax, (vals, label) in zip(axes, values):
        ax.barh(y, vals, color=colours)
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, names, fontsize=8)
    axes[0].invert_yaxis()
    c, h, w = table.input_size
    fig.suptitle(title or f"Per layer, one {h}x{w} image (blue: convolutions, orange: fully connected)")
    fig.tight_layout()
    return fig


def plot_conv_fc_split(table, title: str = "") -> Figure:
    """Two 100% bars: the share of parameters and of multiply-adds in conv vs FC layers."""
    split = table.split()
    fig, ax = plt.subplots(figsize=(8, 2.2))
    for y, key in enumerate(["params", "macs"]):
        total = split["conv"][key] + split["fc"][key]
        left = 0.0
        for part, colour in [("conv", "tab:blue"), ("fc", "tab:orange")]:
            share = split[part][key] / total
            ax.barh(y, share, left=left, color=colour, label=part if y == 0 else None)
            if share > 0.04:
                ax.text(left + share / 2, y, f"{part} {share:.1%}", ha="center", va="center", color="white", fontsize=9)
            left += share
    ax.set_yticks([0, 1], ["parameters", "multiply-adds"])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the whole network")
    ax.legend(loc="upper right", bbox_to_anchor=(1.0, 1.35), ncol=2, fontsize=8)
    ax.set_title(title or "Convolutions (conv) vs fully connected layers (fc)", loc="left")
    fig.tight_layout()
    return fig


def plot_footprints(footprints: list, titles: list[str]) -> Figure:
    """Heat maps of ``receptive_field.gradient_footprint`` results: what one output cell sees."""
    fig, axes = image_grid(len(footprints), len(footprints), 3.0)
    for ax, fp, t in zip(axes, footprints, titles):
        fp = _as_array(fp)
        ax.axis("on")
        ax.imshow(fp, cmap="viridis")
        ax.set_title(t, fontsize=10)
        ax.set_xticks(range(0, fp.shape[1], 2))
        ax.set_yticks(range(0, fp.shape[0], 2))
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


# --- Filters, feature maps and heat maps ------------------------------------------------

def plot_filters(patches: torch.Tensor, ncols: int = 16, size: float = 0.7, title: str = "") -> Figure:
    """First-layer filters as colour patches: ``patches`` is (N, k, k, 3) in [0, 1] (see features.filters_as_images)."""
    fig, axes = image_grid(len(patches), ncols, size)
    for ax, patch in zip(axes, patches):
        ax.imshow(_as_array(patch), interpolation="nearest")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_feature_maps(feature_map: torch.Tensor, channels: list[int], ncols: int = 8, size: float = 1.4,
                      title: str = "", cmap: str = "viridis") -> Figure:
    """Chosen channels of one (C, H, W) or (1, C, H, W) feature map, one small image each."""
    fm = feature_map[0] if feature_map.dim() == 4 else feature_map
    fig, axes = image_grid(len(channels), ncols, size, title_space=0.4 if title else 0.0)
    for ax, c in zip(axes, channels):
        ax.imshow(_as_array(fm[c]), cmap=cmap)
        ax.set_title(f"ch {c}", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_blocks(maps: dict, channels_per_block: dict, size: float = 1.3, cmap: str = "viridis") -> Figure:
    """One row per layer of ``maps`` ({name: (1, C, H, W)}), showing that layer's chosen channels."""
    names = list(maps)
    ncols = max(len(channels_per_block[n]) for n in names)
    fig, axes = image_grid(len(names) * ncols, ncols, size)
    for r, name in enumerate(names):
        fm = maps[name][0]
        for c, ch in enumerate(channels_per_block[name]):
            axes[r * ncols + c].imshow(_as_array(fm[ch]), cmap=cmap)
        axes[r * ncols].set_title(f"{name}  {tuple(fm.shape)}", fontsize=8, loc="left")
    fig.tight_layout()
    return fig


def plot_heatmaps(images: list, titles: list[str] | None = None, ncols: int = 4, size: float = 3.0) -> Figure:
    """Overlays (H, W, 3) or plain (H, W) maps side by side; maps are drawn with a colour bar scale 0-1."""
    fig, axes = image_grid(len(images), ncols, size)
    for i, (ax, img) in enumerate(zip(axes, images)):
        img = _as_array(img)
        ax.imshow(img, cmap="viridis" if img.ndim == 2 else None, vmin=0, vmax=1)
        if titles:
            ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    return fig


def plot_sanity(steps: list[str], curves: dict, title: str = "") -> Figure:
    """Rank correlation with the original map (y) as layers are randomised from the top (x), one line per method."""
    fig, ax = plt.subplots(figsize=(8, 3.4))
    for label, values in curves.items():
        ax.plot(range(len(steps)), values, marker="o", label=label)
    ax.set_xticks(range(len(steps)), steps, rotation=60, fontsize=8)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylim(-0.3, 1.05)
    ax.set_ylabel("Spearman rank correlation\nwith the original map")
    ax.set_xlabel("randomised from the top down to ...")
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


# --- Learning curves and confusion matrices --------------------------------------------

def plot_history(histories, x: str = "epoch", title: str | None = None) -> Figure:
    """Loss and accuracy curves for one ``History`` or a ``{name: History}`` dict.

    Training is dashed, validation solid, one colour per run. ``x="seconds"`` puts
    wall time on the horizontal axis: the fair axis when runs cost different amounts.
    """
    if not isinstance(histories, dict):
        histories = {"": histories}
    if x not in ("epoch", "seconds"):
        raise ValueError(f"x must be 'epoch' or 'seconds', got {x!r}")
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 3.8))
    for k, (name, h) in enumerate(histories.items()):
        xs = list(range(1, h.epochs + 1)) if x == "epoch" else h.seconds
        colour = f"C{k}"
        label = f"{name} " if name else ""
        ax_loss.plot(xs, h.train_loss, "--", color=colour, label=f"{label}train")
        ax_loss.plot(xs, h.val_loss, "-o", color=colour, ms=3, label=f"{label}val")
        ax_acc.plot(xs, h.train_acc, "--", color=colour, label=f"{label}train")
        ax_acc.plot(xs, h.val_acc, "-o", color=colour, ms=3, label=f"{label}val")
    for ax, name in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        ax.set_xlabel("epoch" if x == "epoch" else "seconds of training")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    ax_acc.set_ylim(0, 1.02)
    ax_acc.legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(matrix, classes: list[str] | tuple[str, ...], title: str = "") -> Figure:
    """A confusion matrix (rows: true class, columns: predicted), counts written in each cell."""
    matrix = np.asarray(matrix)
    if matrix.shape != (len(classes), len(classes)):
        raise ValueError(f"matrix shape {matrix.shape} does not match {len(classes)} classes")
    fig, ax = plt.subplots(figsize=(1 + 0.8 * len(classes), 0.8 + 0.8 * len(classes)))
    ax.imshow(matrix, cmap="Blues")
    for i in range(len(classes)):
        for j in range(len(classes)):
            colour = "white" if matrix[i, j] > matrix.max() / 2 else "black"
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", color=colour, fontsize=9)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    return fig
