"""Exercises for notebook 07 (Grad-CAM): the map from A and dA, the layer, the pointing game.

The checks do not reuse the solutions' code: the reference map is the paper's sum
written as a matrix product, the layer is found by walking torchvision's VGG16 layer
by layer, and the pointing-game cases have their peaks planted where the answer is known.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from course_utils.exercises import call_safely, not_attempted, report

# --- Exercise 1: Grad-CAM from A and dy/dA ------------------------------------------------

def _reference_map(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Selvaraju et al. (2017), eqs. 1-2, as one matrix product: (C,) weights @ (C, h*w) maps, then ReLU."""
    c, h, w = a.shape
    alpha = g.reshape(c, h * w).sum(dim=1) / (h * w)
    return (alpha @ a.reshape(c, h * w)).reshape(h, w).clamp(min=0)


def check_gradcam_map(answer) -> bool:
    """``answer``: a function ``gradcam_map(A, dA) -> (h, w)`` for one image's (C, h, w) activation and gradient."""
    if answer is None:
        return not_attempted()
    if not callable(answer):
        return report(False, f"your answer should be a function gradcam_map(A, dA), got {type(answer).__name__}.")
    gen = torch.Generator().manual_seed(7)
    a = torch.rand(16, 5, 7, generator=gen)  # non-square on purpose
    g = torch.randn(16, 5, 7, generator=gen) * 0.1
    # Channel 0 argues against the class on the left: the raw map goes negative there.
    g[0], a[0, :, :3], a[0, :, 3:] = -1.0, 5.0, 0.0
    got, err = call_safely(answer, a.clone(), g.clone())
    if err:
        return report(False, err)
    expected = _reference_map(a, g)
    if not isinstance(got, torch.Tensor):
        return report(False, f"return a tensor, got {type(got).__name__}.")
    got = got.detach().float().squeeze()
    if got.shape != expected.shape:
        return report(False, f"expected a map of shape {tuple(expected.shape)} (h, w), got {tuple(got.shape)}: "
                             "weight the channels, then sum over the channel dimension.")
    if (got < 0).any():
        return report(False, "your map has negative values: Grad-CAM keeps only the positive evidence (a ReLU).")
    if torch.allclose(got, expected, atol=1e-6):
        return report(True, "that is Grad-CAM: channel weights = mean gradient, weighted sum, ReLU.")
    if torch.allclose(got, expected * a.shape[1] * a.shape[2], rtol=1e-4, atol=1e-6):
        return report(False, "off by a factor h*w: the channel weight is the *mean* of the gradient, not its sum.")
    if got.max() > 0 and torch.allclose(got / got.max(), expected / expected.max(), atol=1e-5):
        return report(False, "right shape of map, but scaled: return the map before dividing by its maximum.")
    return report(False, "the values differ from Grad-CAM's. Steps: alpha = dA.mean over (h, w); "
                         "map = sum_k alpha_k * A_k; then ReLU.")


def solution_gradcam_map():
    """The two lines of Grad-CAM."""
    import torch

    def gradcam_map(A, dA):
        alpha = dA.mean(dim=(1, 2))                                # (C,): one weight per channel
        return torch.relu((alpha[:, None, None] * A).sum(dim=0))  # (h, w)

    return gradcam_map


# --- Exercise 2: pick the layer for a finer map --------------------------------------------

def _last_relu_at(side: int, size: int = 224) -> tuple[str, str]:
    """(paper name, module name) of VGG16's last ReLU whose map is side x side for a size x size image.

    Worked out by walking torchvision's layer list: a 3x3 conv with padding 1 keeps the side,
    each max-pool halves it and starts the next block.
    """
    with torch.device("meta"):
        features = torchvision.models.vgg16(weights=None).features
    block, conv, found = 1, 0, ("", "")
    for index, module in enumerate(features):
        if isinstance(module, nn.Conv2d):
            conv += 1
        elif isinstance(module, nn.ReLU) and size == side:
            found = (f"relu{block}_{conv}", f"features.{index}")
        elif isinstance(module, nn.MaxPool2d):
            size, block, conv = size // 2, block + 1, 0
    return found


def check_layer_for_28(answer) -> bool:
    """``answer``: the name of VGG16's last conv ReLU whose Grad-CAM map is 28 x 28 at 224 x 224."""
    if answer is None:
        return not_attempted()
    if not isinstance(answer, str):
        return report(False, f"give the layer's name as a string, e.g. 'relu5_3', got {answer!r}.")
    name, module = _last_relu_at(28)
    if answer.strip() in (name, module):
        return report(True, f"{name} ({module}): block 4's last ReLU, before pool4 halves 28 to 14.")
    if answer.strip().startswith("pool"):
        return report(False, "a pool halves the map: pick the ReLU just *before* a pool.")
    if answer.strip().startswith("relu5"):
        return report(False, "block 5 runs at 14 x 14; 28 x 28 is one block earlier.")
    return report(False, f"not {answer!r}. Which block runs at 28 x 28 (224 / 8)? Take its last ReLU.")


def solution_layer_for_28():
    """Measure every stage's size on the meta device, keep the last ReLU at 28 x 28."""
    import torch
    import torchvision

    from course_utils.features import capture, conv_stages

    with torch.device("meta"):
        model = torchvision.models.vgg16(weights=None)
    maps = capture(model, torch.zeros(1, 3, 224, 224, device="meta"), conv_stages(model))
    return [name for name, m in maps.items() if name.startswith("relu") and m.shape[-1] == 28][-1]


# --- Exercise 3: the pointing game by hand -------------------------------------------------

def check_pointing(answer) -> bool:
    """``answer``: a function ``hit(heatmap, mask) -> bool``: is the heat map's peak on the object?"""
    if answer is None:
        return not_attempted()
    if not callable(answer):
        return report(False, f"your answer should be a function hit(heatmap, mask), got {type(answer).__name__}.")
    mask = torch.zeros(6, 10)
    mask[1:3, 6:9] = 1
    for r, c in [(2, 7), (4, 7), (2, 2), (1, 8), (5, 9)]:
        m = 0.01 * torch.rand(6, 10, generator=torch.Generator().manual_seed(r * 10 + c))
        m[r, c] = 1.0  # the peak, planted: the answer is whether (r, c) is on the object
        expected = bool(mask[r, c] > 0.5)
        got, err = call_safely(answer, m.clone(), mask.clone())
        if not err:
            got, err = call_safely(bool, got, doing=f"bool() of your answer {got!r:.40}")
        if err:
            return report(False, err)
        if got != expected:
            peak = divmod(int(m.argmax()), m.shape[1])
            return report(False, f"for a map peaking at (row, col) = {peak} you said {got}, expected {expected}. "
                                 "A flat index i is row i // width, column i % width (width = number of columns).")
    return report(True, "your pointing game finds the peak and looks it up in the mask right in every case.")


def solution_pointing():
    """Find the flat index of the maximum, turn it into (row, column), look it up in the mask."""
    def hit(heatmap, mask):
        index = int(heatmap.argmax())
        row, col = divmod(index, heatmap.shape[1])
        return bool(mask[row, col] > 0.5)

    return hit
