"""Small plotting helpers shared by the notebooks (matplotlib only).

Each function draws one kind of figure and returns the matplotlib Figure, so a
notebook cell stays one line and a test can check what was drawn.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure


def show_images(images: list, titles: list[str] | None = None, ncols: int = 4, size: float = 3.0) -> Figure:
    """Draw PIL images, (H, W, 3) arrays or (H, W) arrays in a grid with optional titles."""
    n = len(images)
    if n == 0:
        raise ValueError("show_images got no images to draw.")
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, img in enumerate(images):
        ax = axes.flat[i]
        if isinstance(img, torch.Tensor):
            img = img.detach().cpu().numpy()
        ax.imshow(img, cmap="gray" if np.ndim(img) == 2 else None)
        if titles:
            ax.set_title(titles[i], fontsize=10)
    fig.tight_layout()
    return fig
