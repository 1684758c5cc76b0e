"""OpenCV: one cv2 installed, and every cv2 call the course makes works.

``opencv-python`` and ``opencv-python-headless`` both install the same ``cv2`` folder;
with both, the last one installed silently overwrites files of the other, and
uninstalling either breaks ``cv2``. The course depends on the headless one only
(grad-cam needs it; the course never opens an OpenCV window). Expected values here
come from first principles, numpy, PIL or matplotlib, not from cv2.
"""

from __future__ import annotations

from importlib import metadata

import cv2
import matplotlib
import numpy as np
import pytest
from PIL import Image

from course_utils.images import IMAGES_DIR

OPENCV_DISTRIBUTIONS = ("opencv-python", "opencv-python-headless", "opencv-contrib-python",
                        "opencv-contrib-python-headless")


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def test_only_one_opencv_distribution_is_installed():
    found = [name for name in OPENCV_DISTRIBUTIONS if _installed(name)]
    assert len(found) <= 1, (
        f"{' and '.join(found)} are installed: each ships cv2 and overwrites the other's files. "
        "Keep the headless one: pip uninstall -y opencv-python && "
        "pip install --force-reinstall --no-deps opencv-python-headless (or rebuild: rm -rf .venv && make test)."
    )


def test_imread_and_bgr_to_rgb_match_pil():
    path = IMAGES_DIR / "cat.jpg"
    bgr = cv2.imread(str(path))
    rgb_pil = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
    assert bgr is not None and bgr.shape == rgb_pil.shape and bgr.dtype == np.uint8
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    assert np.array_equal(rgb, bgr[:, :, ::-1])
    assert np.abs(rgb.astype(np.int16) - rgb_pil).mean() < 2, "two JPEG decoders may differ by rounding only"


def test_resize_takes_width_then_height_with_half_pixel_centres():
    grown = cv2.resize(np.array([[0, 4]], np.float32), (4, 1), interpolation=cv2.INTER_LINEAR)
    # Output pixel x samples the input at (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 (clamped).
    assert grown.tolist() == [[0, 1, 3, 4]]
    assert cv2.resize(np.zeros((7, 14), np.float32), (20, 10), interpolation=cv2.INTER_LINEAR).shape == (10, 20)


@pytest.mark.parametrize("name", ["JET", "INFERNO", "VIRIDIS", "TURBO", "HOT"])
def test_colormaps_match_matplotlibs(name):
    bgr = cv2.applyColorMap(np.array([[0, 255]], np.uint8), getattr(cv2, f"COLORMAP_{name}"))
    reference = matplotlib.colormaps[name.lower()]([0.0, 1.0])[:, :3] * 255
    assert np.abs(bgr[0, :, ::-1] - reference).max() <= 12  # matplotlib's "hot" starts at 4% red, OpenCV's at black


def test_drawing_with_anti_aliasing_and_subpixel_shift():
    canvas = np.zeros((32, 32), np.uint8)
    square = np.array([[4, 4], [20, 4], [20, 12], [4, 12]]) * 16  # shift=4: coordinates in 1/16 pixel
    cv2.fillPoly(canvas, [square.astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    assert canvas[8, 12] == 255 and canvas[20, 26] == 0 and 0 < canvas[4, 12] <= 255
    rgb = np.zeros((16, 16, 3), np.uint8)
    cv2.line(rgb, (2, 2), (13, 2), (255, 0, 0), 1, cv2.LINE_AA)
    cv2.circle(rgb, (8, 10), 3, (0, 255, 0), -1, cv2.LINE_AA)
    assert rgb[2, 8, 0] > 200 and rgb[10, 8, 1] == 255 and not rgb[14, 1].any()


def test_morphology_and_contours_of_a_rectangle():
    dot = np.zeros((9, 9), np.uint8)
    dot[4, 4] = 1
    assert cv2.dilate(dot, np.ones((3, 3), np.uint8)).sum() == 9
    block = np.zeros((9, 9), np.uint8)
    block[3:6, 3:6] = 1
    assert cv2.erode(block, np.ones((3, 3), np.uint8)).sum() == 1
    rect = np.zeros((12, 16), np.uint8)
    rect[3:9, 2:12] = 1  # 10 x 6 pixels: the contour runs through the border pixels' centres, 9 x 5
    contours, _ = cv2.findContours(rect, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    assert len(contours) == 1
    assert cv2.contourArea(contours[0]) == 45 == cv2.contourArea(cv2.convexHull(contours[0]))
