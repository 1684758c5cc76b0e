"""Draw a heat map on top of a photo with an OpenCV colour map.

A note on ``cv2.resize``, because a Grad-CAM snippet this course quotes gets it wrong::

    heatmap = cv2.resize(heatmap, (image.size(2), image.size(3)))   # the snippet

For a (B, C, H, W) tensor, ``size(2)`` is H and ``size(3)`` is W, so this passes
``(H, W)``. But ``cv2.resize`` takes ``dsize=(width, height)`` -- the other way
round from NumPy's ``(rows, cols)`` shapes -- and returns an array of shape
``(height, width)``. Passing ``(H, W)`` gives an array of shape ``(W, H)``. At
224 x 224 the two are the same and nobody notices; for a 96 x 128 image the map
comes back 128 x 96 and either fails to blend or, if forced into shape, lands
transposed and stretched. ``resize_map`` below passes ``(W, H)``.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from PIL import Image

# The default colour map: viridis was designed (van der Walt and Smith, for matplotlib 2.0,
# bids.github.io/colormap) to be perceptually uniform, equal steps in value looking like equal
# steps in colour, and readable with the most common form of colour blindness. The Grad-CAM
# papers draw with jet, a rainbow that is neither: its bright bands can look like edges that are
# not in the map. Jet stays one argument away: overlay(..., colormap="jet").
DEFAULT_COLORMAP = "viridis"

# A few OpenCV colour maps by name, so a widget can offer them.
COLORMAPS = {
    "jet": cv2.COLORMAP_JET,
    "inferno": cv2.COLORMAP_INFERNO,
    "viridis": cv2.COLORMAP_VIRIDIS,
    "turbo": cv2.COLORMAP_TURBO,
    "hot": cv2.COLORMAP_HOT,
}


def as_float_image(image) -> np.ndarray:
    """PIL image, (H, W, 3) uint8/float array or (3, H, W) tensor in [0, 1] -> (H, W, 3) float32 in [0, 1]."""
    if isinstance(image, Image.Image):
        arr = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    elif isinstance(image, torch.Tensor):
        t = image.detach().cpu().float()
        if t.dim() != 3 or t.shape[0] not in (1, 3):
            raise ValueError(f"expected a (3, H, W) image tensor, got {tuple(t.shape)}. Pass one image, not a batch.")
        arr = t.expand(3, -1, -1).permute(1, 2, 0).numpy()
        if arr.min() < -1e-3 or arr.max() > 1 + 1e-3:
            raise ValueError("this image tensor is not in [0, 1]; if it is ImageNet-normalised, call "
                             "denormalize(x) first.")
    else:
        arr = np.asarray(image)
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) image, got shape {arr.shape}.")
        arr = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float32)
    return np.clip(arr, 0.0, 1.0)


def resize_map(heatmap, height: int, width: int) -> np.ndarray:
    """Resize an (h, w) map to (height, width). Note cv2's ``dsize=(width, height)`` order."""
    if isinstance(heatmap, torch.Tensor):
        hm = heatmap.detach().cpu().float().numpy()
    else:
        hm = np.asarray(heatmap, np.float32)
    if hm.ndim != 2:
        raise ValueError(f"expected one (h, w) heat map, got shape {hm.shape}. Pass maps[i], not the whole batch.")
    if hm.shape == (height, width):
        return hm
    return cv2.resize(hm, (width, height), interpolation=cv2.INTER_LINEAR)


def colorize(heatmap: np.ndarray, colormap: int | str = DEFAULT_COLORMAP) -> np.ndarray:
    """(H, W) values in [0, 1] -> (H, W, 3) RGB float colours (OpenCV returns BGR; we flip it)."""
    cmap = COLORMAPS[colormap] if isinstance(colormap, str) else colormap
    levels = np.uint8(np.clip(heatmap, 0, 1) * 255)
    bgr = cv2.applyColorMap(levels, cmap)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def overlay(image, heatmap, alpha: float = 0.4, colormap: int | str = DEFAULT_COLORMAP) -> np.ndarray:
    """Blend a colour-mapped ``heatmap`` (values in [0, 1]) over ``image``.

    Returns an (H, W, 3) float array in [0, 1] ready for ``plt.imshow``:
    ``(1 - alpha) * image + alpha * colours``. The map is resized to the image
    first, whatever its size (a 14 x 14 layer map works too).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha is the heat map's opacity and must be in [0, 1], got {alpha}.")
    if isinstance(colormap, str) and colormap not in COLORMAPS:
        raise ValueError(f"unknown colormap {colormap!r}; use one of {', '.join(COLORMAPS)} or a cv2.COLORMAP_* "
                         "constant.")
    img = as_float_image(image)
    hm = resize_map(heatmap, img.shape[0], img.shape[1])
    return (1 - alpha) * img + alpha * colorize(hm, colormap)
