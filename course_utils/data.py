"""A procedural image dataset: coloured shapes on cluttered backgrounds, made in code.

Why generate images instead of downloading them? Because a course that runs on a
laptop with bad Wi-Fi, and in CI with no network at all, still needs a dataset
that a VGG has to *learn*. Every image here is drawn with OpenCV in well under a
millisecond, and each comes with the exact mask of its object, which lets the
Grad-CAM notebook *measure* whether a heatmap points at the right place.

Contract (other modules and notebooks rely on it):

* ``CLASSES``: the class names, index = label.
* ``ShapesDataset(n, seed=0, size=64)``: item ``i`` is ``(image, label, mask)``:
  ``image`` float32 ``(3, size, size)`` in [0, 1] (not normalised), ``label`` an
  int, ``mask`` float32 ``(size, size)`` holding 1 on the object and 0 elsewhere.
* ``TwoShapesDataset(n, seed=0, size=64)``: item ``i`` is ``(image, labels, masks)``
  with two shapes of *different* classes that do not overlap: ``labels`` a
  LongTensor of 2, ``masks`` float32 ``(2, size, size)``.
* Item ``i`` of a dataset with a given ``seed`` is the same on every machine and in
  every order of access: it is drawn from its own random generator, seeded from
  ``(seed, i)`` alone, never from global random state. (Same NumPy and OpenCV
  versions assumed: NumPy does not promise identical streams across releases.)

Labels cycle through the classes (``label = i % len(CLASSES)``), so every split is
balanced and accuracy is easy to read.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross")


# Each shape is a polygon around (0, 0) with radius about 1 (a circle is a 64-gon).
def _regular(n: int, phase: float = -np.pi / 2) -> np.ndarray:
    a = phase + 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(a), np.sin(a)], axis=1)


def _star(points: int = 5, inner: float = 0.45) -> np.ndarray:
    outer = _regular(2 * points)
    radius = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return outer * radius[:, None]


def _cross(arm: float = 0.36) -> np.ndarray:
    a = arm
    return np.array([[-a, -1], [a, -1], [a, -a], [1, -a], [1, a], [a, a],
                     [a, 1], [-a, 1], [-a, a], [-1, a], [-1, -a], [-a, -a]], dtype=float)


SHAPES: dict[str, np.ndarray] = {
    "circle": _regular(64),
    "square": _regular(4, np.pi / 4),  # vertices at radius 1: side 1.41
    "triangle": _regular(3),
    "star": _star(),
    "cross": _cross(),
}


def item_rng(seed: int, index: int, stream: int = 0) -> np.random.Generator:
    """An independent generator for one item, from ``(seed, stream, index)`` only."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream, index])))


@lru_cache(maxsize=8)
def _ramp(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates in [-0.5, 0.5], computed once per image size."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1) - 0.5
    return xx, yy


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random colour gradient with clutter: thin lines and small dots."""
    c0, c1 = rng.uniform(0, 1, (2, 3)).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    xx, yy = _ramp(size)
    t = (np.float32(np.cos(angle)) * xx + np.float32(np.sin(angle)) * yy + np.float32(0.5))[..., None]
    img = c0 + (c1 - c0) * t
    n_lines, n_dots = rng.integers(3, 8), rng.integers(2, 6)
    ends = rng.integers(0, size, (n_lines + n_dots, 4)).tolist()
    colours = rng.uniform(0, 1, (n_lines + n_dots, 3)).tolist()
    widths = rng.integers(1, 3, n_lines + n_dots).tolist()
    for k in range(n_lines):  # thin line segments
        cv2.line(img, tuple(ends[k][:2]), tuple(ends[k][2:]), colours[k], widths[k], cv2.LINE_AA)
    for k in range(n_lines, n_lines + n_dots):  # small dots, far smaller than any shape
        cv2.circle(img, tuple(ends[k][:2]), widths[k], colours[k], -1, cv2.LINE_AA)
    return img


_LUMA = np.array([0.299, 0.587, 0.114])  # how bright each of R, G, B looks to us (ITU-R BT.601)


def _contrasting_colour(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    """A random colour clearly brighter or darker than the mean colour under the shape.

    Brightness contrast, not just any colour difference: it is what edges in real
    photos mostly carry, and it lets a small network find the outline sooner.
    """
    background = float(under.reshape(-1, 3).mean(axis=0) @ _LUMA)
    for _ in range(50):
        colour = rng.uniform(0, 1, 3)
        if abs(float(colour @ _LUMA) - background) > 0.3:
            return colour
    return np.full(3, 0.0 if background > 0.5 else 1.0)  # black on light, white on dark


def _shape_alpha(name: str, centre: np.ndarray, radius: float, angle: float, size: int) -> np.ndarray:
    """Anti-aliased coverage (0..1) of one shape, drawn with cv2 at 1/16 pixel precision."""
    c, s = np.cos(angle), np.sin(angle)
    pts = SHAPES[name] @ np.array([[c, s], [-s, c]]) * radius + centre
    alpha = np.zeros((size, size), np.uint8)
    cv2.fillPoly(alpha, [np.round(pts * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    return alpha.astype(np.float32) / 255


def _paint(img: np.ndarray, alpha: np.ndarray, rng: np.random.Generator) -> None:
    """Paint a contrasting colour (with a little shading) into ``img`` where ``alpha`` is set."""
    inside = alpha > 0.5
    colour = _contrasting_colour(rng, img[inside] if inside.any() else img)
    shade = np.linspace(-1, 1, img.shape[0], dtype=np.float32)[:, None, None] * np.float32(rng.uniform(-0.15, 0.15))
    paint = np.clip(colour.astype(np.float32) * (1 + shade), 0, 1)  # (H, 1, 3): a vertical shading
    a = alpha[..., None]
    img += a * (paint - img)


def _finish(img: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
    """Add pixel noise and store as 8 bits like a photo: a (3, H, W) uint8 tensor."""
    noise = rng.standard_normal(img.shape, dtype=np.float32)
    noise *= np.float32(rng.uniform(0.02, 0.08) * 255)
    img *= 255
    img += noise
    np.clip(img + 0.5, 0, 255, out=img)
    return torch.from_numpy(img.astype(np.uint8).transpose(2, 0, 1).copy())


def _draw_one(rng: np.random.Generator, name: str, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One shape on a cluttered background: a uint8 (3, H, W) image and a bool mask."""
    img = _background(rng, size)
    radius = rng.uniform(0.16, 0.34) * size
    centre = rng.uniform(radius + 1, size - radius - 1, 2)
    alpha = _shape_alpha(name, centre, radius, rng.uniform(0, 2 * np.pi), size)
    _paint(img, alpha, rng)
    return _finish(img, rng), torch.from_numpy(alpha >= 0.5)


class _Generated(Dataset):
    """What both datasets share: a length, a seed, a size, and an optional cache.

    With ``cache=True`` each item is kept after it is first drawn, as 8-bit
    pixels and a boolean mask (16 KB at 64x64), so later epochs cost nothing to
    load. The cached item is exactly the one that would be drawn again.
    """

    min_size = 24

    def __init__(self, n: int, seed: int, size: int, cache: bool) -> None:
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        if size < self.min_size:
            raise ValueError(f"size must be at least {self.min_size} pixels, got {size}")
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.n, self.seed, self.size = n, seed, size
        self.classes = CLASSES
        self._cache: dict[int, tuple] | None = {} if cache else None

    def __len__(self) -> int:
        return self.n

    def _index(self, i: int) -> int:
        if not -self.n <= i < self.n:
            raise IndexError(f"index {i} out of range for a dataset of {self.n} images")
        return int(i) % self.n

    def _raw(self, i: int) -> tuple:
        if self._cache is None:
            return self._draw(i)
        if i not in self._cache:
            self._cache[i] = self._draw(i)
        return self._cache[i]

    def _draw(self, i: int) -> tuple:
        raise NotImplementedError


class ShapesDataset(_Generated):
    """``n`` images of one shape each: ``(image, label, mask)``; see the module docstring.

    ``transform`` (optional) is applied to the image only, e.g. augmentation for
    training; the mask is left as drawn. ``cache=True`` keeps drawn items in memory.
    """

    def __init__(self, n: int, seed: int = 0, size: int = 64, transform: Callable | None = None,
                 cache: bool = False) -> None:
        super().__init__(n, seed, size, cache)
        self.transform = transform

    def _draw(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return _draw_one(item_rng(self.seed, i, stream=1), CLASSES[i % len(CLASSES)], self.size)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, torch.Tensor]:
        i = self._index(i)
        pixels, mask = self._raw(i)
        image = pixels.float() / 255
        if self.transform is not None:
            image = self.transform(image)
        return image, i % len(CLASSES), mask.float()


class TwoShapesDataset(_Generated):
    """``n`` images of two shapes of different classes each: ``(image, labels, masks)``.

    The two shapes are smaller than in ``ShapesDataset`` and placed apart so that
    their masks do not overlap: each pixel belongs to at most one object, which is
    what a test of class-discriminative heatmaps needs.
    """

    min_size = 32

    def __init__(self, n: int, seed: int = 0, size: int = 64, cache: bool = False) -> None:
        super().__init__(n, seed, size, cache)

    def _draw(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rng = item_rng(self.seed, i, stream=2)
        size = self.size
        labels = rng.choice(len(CLASSES), size=2, replace=False)
        img = _background(rng, size)
        radii = rng.uniform(0.12, 0.2, 2) * size
        centres = self._place(rng, radii, size)
        masks = []
        for label, centre, radius in zip(labels, centres, radii):
            alpha = _shape_alpha(CLASSES[label], centre, radius, rng.uniform(0, 2 * np.pi), size)
            _paint(img, alpha, rng)
            masks.append(alpha >= 0.5)
        return _finish(img, rng), torch.as_tensor(labels, dtype=torch.long), torch.from_numpy(np.stack(masks))

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pixels, labels, masks = self._raw(self._index(i))
        return pixels.float() / 255, labels.clone(), masks.float()

    @staticmethod
    def _place(rng: np.random.Generator, radii: np.ndarray, size: int) -> list[np.ndarray]:
        """Two centres whose circles (plus a 2-pixel gap) do not touch."""
        for _ in range(100):
            centres = [rng.uniform(r + 1, size - r - 1, 2) for r in radii]
            if np.linalg.norm(centres[0] - centres[1]) > radii.sum() + 2:
                return centres
        # Rarely reached: put them in opposite corners, which always fits.
        r0, r1 = radii
        return [np.array([r0 + 1, r0 + 1]), np.array([size - r1 - 1, size - r1 - 1])]


# ----------------------------------------------------------------------------------
# Real data, for learners with a network (never used by the tests)
# ----------------------------------------------------------------------------------

def cifar10(root: str | Path, train: bool = True, download: bool = False, size: int = 64) -> Dataset:
    """CIFAR-10 through torchvision, resized to ``size`` and in [0, 1] like the shapes.

    ``download=False`` by default: the course never fetches data unless you ask.
    Items are ``(image, label)``; there are no masks for real photos.
    """
    from torchvision import datasets
    from torchvision import transforms as T

    try:
        return datasets.CIFAR10(root, train=train, download=download,
                                transform=T.Compose([T.Resize(size), T.ToTensor()]))
    except RuntimeError as err:
        raise RuntimeError(f"CIFAR-10 is not in {root}. Pass download=True (needs a network, about 170 MB). "
                           f"({err})") from None
