"""The procedural shapes dataset: shapes and types, determinism, masks, the two-shape variant."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from course_utils.data import CLASSES, ShapesDataset, TwoShapesDataset, cifar10

REPO = Path(__file__).resolve().parent.parent


def _digest(items) -> str:
    h = hashlib.sha256()
    for item in items:
        for part in item:
            h.update(torch.as_tensor(part).numpy().tobytes())
    return h.hexdigest()


def test_classes_are_named_and_distinct():
    assert isinstance(CLASSES, tuple) and len(CLASSES) >= 5
    assert len(set(CLASSES)) == len(CLASSES)
    assert {"circle", "square", "triangle", "star", "cross"} <= set(CLASSES)


def test_item_types_shapes_and_ranges():
    ds = ShapesDataset(10, seed=3)
    assert len(ds) == 10
    for i in range(10):
        image, label, mask = ds[i]
        assert image.dtype == torch.float32 and image.shape == (3, 64, 64)
        assert 0.0 <= image.min() and image.max() <= 1.0
        assert isinstance(label, int) and 0 <= label < len(CLASSES)
        assert mask.dtype == torch.float32 and mask.shape == (64, 64)
        assert set(mask.unique().tolist()) == {0.0, 1.0}
        assert 0.02 < mask.mean() < 0.6, "the object should cover part of the image, not none or all of it"


def test_other_sizes_and_negative_indices():
    ds = ShapesDataset(4, seed=0, size=96)
    image, _, mask = ds[-1]
    assert image.shape == (3, 96, 96) and mask.shape == (96, 96)
    assert torch.equal(ds[-1][0], ds[3][0])


def test_labels_cycle_through_the_classes_so_splits_are_balanced():
    ds = ShapesDataset(10 * len(CLASSES), seed=0)
    labels = [ds[i][1] for i in range(len(ds))]
    assert np.bincount(labels).tolist() == [10] * len(CLASSES)


def test_item_is_the_same_from_a_fresh_dataset_in_any_order_and_any_global_seed():
    first = ShapesDataset(20, seed=7)
    a = [first[i] for i in (5, 3, 17)]
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    np.random.rand(1000)  # move the global generators along
    second = ShapesDataset(20, seed=7)
    b = [second[i] for i in (17, 3, 5)][::-1]
    for (x1, y1, m1), (x2, y2, m2) in zip(a, b):
        assert torch.equal(x1, x2) and y1 == y2 and torch.equal(m1, m2)


def test_seed_and_index_change_the_image():
    assert not torch.equal(ShapesDataset(5, seed=0)[0][0], ShapesDataset(5, seed=1)[0][0])
    ds = ShapesDataset(10, seed=0)
    assert not torch.equal(ds[0][0], ds[5][0])  # same class, different image


def test_same_items_in_a_fresh_process():
    """A new interpreter (new hash seed, nothing shared) draws exactly the same bytes."""
    code = (
        "import hashlib, torch\n"
        "from course_utils.data import ShapesDataset, TwoShapesDataset\n"
        "h = hashlib.sha256()\n"
        "for ds in (ShapesDataset(6, seed=11), TwoShapesDataset(3, seed=11)):\n"
        "    for i in range(len(ds)):\n"
        "        for part in ds[i]:\n"
        "            h.update(torch.as_tensor(part).numpy().tobytes())\n"
        "print(h.hexdigest())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "PYTHONHASHSEED": "999"}, check=True).stdout.strip()
    here = ShapesDataset(6, seed=11), TwoShapesDataset(3, seed=11)
    assert out == _digest([ds[i] for ds in here for i in range(len(ds))])


def test_cache_returns_exactly_what_drawing_returns():
    plain, cached = ShapesDataset(6, seed=2), ShapesDataset(6, seed=2, cache=True)
    for _ in range(2):  # the second pass reads the cache
        for i in range(6):
            assert all(torch.equal(torch.as_tensor(p), torch.as_tensor(c)) for p, c in zip(plain[i], cached[i]))
    two, two_cached = TwoShapesDataset(3, seed=2), TwoShapesDataset(3, seed=2, cache=True)
    two_cached[1]
    assert all(torch.equal(p, c) for p, c in zip(two[1], two_cached[1]))


def _ring_around(mask: np.ndarray, width: int = 3) -> np.ndarray:
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((2 * width + 1, 2 * width + 1), np.uint8))
    return grown.astype(bool) & ~mask.astype(bool)


def test_mask_marks_the_painted_object():
    """Inside the mask the image is clearly brighter or darker than just outside it."""
    luma = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
    ds = ShapesDataset(30, seed=4)
    for i in range(len(ds)):
        image, _, mask = ds[i]
        brightness = (image * luma).sum(0).numpy()
        inside = mask.numpy().astype(bool)
        eroded = cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        contrast = abs(brightness[eroded].mean() - brightness[_ring_around(inside)].mean())
        assert contrast > 0.15, f"item {i}: the mask does not sit on a distinct object (contrast {contrast:.2f})"


def _solidity(mask: torch.Tensor) -> float:
    """Area / convex-hull area: 1 for convex shapes, well below for stars and crosses."""
    m = mask.numpy().astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    return cv2.contourArea(contour) / cv2.contourArea(cv2.convexHull(contour))


def test_the_label_matches_the_drawn_shape():
    ds = ShapesDataset(40, seed=5, size=128)
    solidity = {name: [] for name in CLASSES}
    for i in range(len(ds)):
        _, label, mask = ds[i]
        solidity[CLASSES[label]].append(_solidity(mask))
    for name in ("circle", "square", "triangle"):
        assert min(solidity[name]) > 0.93, (name, solidity[name])
    for name in ("star", "cross"):
        assert max(solidity[name]) < 0.85, (name, solidity[name])


def test_two_shapes_have_different_classes_and_separate_masks():
    ds = TwoShapesDataset(60, seed=0)
    seen = set()
    for i in range(len(ds)):
        image, labels, masks = ds[i]
        assert image.shape == (3, 64, 64) and image.dtype == torch.float32
        assert labels.dtype == torch.long and labels.shape == (2,) and labels[0] != labels[1]
        assert masks.dtype == torch.float32 and masks.shape == (2, 64, 64)
        assert (masks[0] * masks[1]).sum() == 0, f"item {i}: the two masks overlap"
        assert masks[0].sum() > 20 and masks[1].sum() > 20, f"item {i}: a shape is (almost) invisible"
        seen.update(labels.tolist())
    assert seen == set(range(len(CLASSES)))


def test_transform_changes_the_image_only():
    flip = ShapesDataset(3, seed=0, transform=lambda x: x.flip(-1))
    plain = ShapesDataset(3, seed=0)
    image, label, mask = flip[1]
    assert torch.equal(image, plain[1][0].flip(-1))
    assert label == plain[1][1] and torch.equal(mask, plain[1][2])


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=0), "at least 1"),
    (dict(n=5, size=8), "at least"),
    (dict(n=5, seed=-1), "non-negative"),
])
def test_bad_arguments_say_what_to_do(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ShapesDataset(**kwargs)


def test_index_out_of_range():
    with pytest.raises(IndexError, match="out of range"):
        ShapesDataset(3)[3]
    with pytest.raises(IndexError):
        TwoShapesDataset(3)[-4]


def test_real_data_helper_never_downloads_unless_asked(tmp_path):
    with pytest.raises(RuntimeError, match="download=True"):
        cifar10(tmp_path)  # nothing there, and download defaults to False
    assert list(tmp_path.iterdir()) == []
