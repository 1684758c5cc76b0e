"""Data parallelism as a picture: one global batch, N replicas, one gradient all-reduce.

Notebook 13 draws it before launching anything, because the whole idea fits in one
figure: the batch is dealt out, every replica computes a gradient on its own slice,
the all-reduce averages them, and every replica takes the same step.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch


def draw_data_parallel(replicas: int = 2, per_replica: int = 4) -> Figure:
    """Global batch -> ``replicas`` model copies -> all-reduce (average) -> the same update everywhere."""
    if not 1 <= replicas <= 8 or not 1 <= per_replica <= 8:
        raise ValueError(f"draw 1 to 8 replicas of 1 to 8 images each, got {replicas} and {per_replica}")
    n = replicas * per_replica
    width = max(8.0, 2.4 * replicas)
    fig, ax = plt.subplots(figsize=(width, 4.8))
    ax.set_xlim(0, width)
    ax.set_ylim(0, 5.2)
    ax.axis("off")
    colours = [plt.get_cmap("tab10")(r) for r in range(replicas)]
    cell = min(0.45, (width - 1) / n)
    x0 = (width - n * cell) / 2
    for i in range(n):  # the global batch, dealt out like cards: image i goes to replica i % replicas
        ax.add_patch(plt.Rectangle((x0 + i * cell, 4.5), cell * 0.9, 0.4, color=colours[i % replicas]))
    ax.text(width / 2, 5.05, f"global batch = {per_replica} per replica x {replicas} replicas = {n} images",
            ha="center", fontsize=10)
    centres = [(r + 0.5) * width / replicas for r in range(replicas)]
    box_w = min(2.0, 0.8 * width / replicas)

    def box(x: float, y: float, w: float, text: str, colour) -> None:
        ax.add_patch(FancyBboxPatch((x - w / 2, y), w, 0.7, boxstyle="round,pad=0.05", fc=colour, ec="black"))
        ax.text(x, y + 0.35, text, ha="center", va="center", fontsize=9)

    def arrow(start: tuple[float, float], end: tuple[float, float]) -> None:
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color="0.3"))

    for r, x in enumerate(centres):
        arrow((x, 4.45), (x, 3.85))
        box(x, 3.1, box_w, f"rank {r}: VGG copy\nforward + backward", (*colours[r][:3], 0.35))
        arrow((x, 3.05), (x, 2.25))
        ax.text(x + 0.08, 2.6, f"gradient g{r}", fontsize=8)
    box(width / 2, 1.5, width - 1.0, "all-reduce: every rank receives  g = (" + " + ".join(
        f"g{r}" for r in range(replicas)) + f") / {replicas}", "0.9")
    for x in centres:
        arrow((x, 1.45), (x, 0.75))
    ax.text(width / 2, 0.35, "every rank takes the same step  w <- w - lr * g : the replicas stay identical",
            ha="center", fontsize=10)
    fig.tight_layout()
    return fig
