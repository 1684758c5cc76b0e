"""Exercises for notebook 10 (Grad-CAM): the map from A and dA, the layer, CAM on a GAP head.

The checks do not reuse the solutions' code: the reference map is the paper's sum
written as a matrix product, the layer is found by walking torchvision's VGG16 layer
by layer, and CAM is read off the GAP head itself, one position at a time.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from course_utils.exercises import call_safely, callable_check, not_attempted, report

HINTS = {
    "gradcam_map": (
        "Section 1's two formulas, in order: each channel's weight alpha_k is the *mean* of dA over that "
        "channel's h x w positions (one number per channel); the map is the alpha-weighted sum of the channels "
        "A_k, and then a ReLU keeps only the positive evidence.",
        "`alpha = dA.mean(dim=(1, 2))` has shape (C,). Make it (C, 1, 1) with `alpha[:, None, None]` so that it "
        "broadcasts over A's (C, h, w), multiply, add the channels up with `.sum(dim=0)`, and finish with "
        "`torch.relu(...)`. Return that (h, w) map as it is: no upsampling, no division by its maximum.",
    ),
    "layer_for_28": (
        "Each max-pool halves the side, 224 -> 112 -> 56 -> 28 -> 14, so a block's maps are 224 / 2**(block - 1) "
        "wide. Find the block that runs at 28 x 28, then take the last ReLU inside it, just before the pool "
        "that ends the block.",
        "Block 4 runs at 28 x 28 (three pools come before it), and VGG16's blocks 3, 4 and 5 have three "
        "convolutions each. The paper names the ReLU after conv<block>_<n> relu<block>_<n>, so give block 4's "
        "last one as a string, written the way \"relu5_3\" is written for block 5.",
    ),
    "cam_map": (
        "On a GAP + linear head every channel k has exactly one weight for class c: the entry fc_weight[c, k] "
        "of the linear layer's (classes, K) weight, section 2's w^c_k. CAM is the channels added up with those "
        "weights, before any pooling.",
        "Take the row `fc_weight[c]` (shape (K,)), make it (K, 1, 1) so it broadcasts over A's (K, h, w), "
        "multiply and `.sum(dim=0)` over the channels. No ReLU and no division by h*w: those belong to Grad-CAM.",
    ),
}

# --- Exercise 1: Grad-CAM from A and dy/dA ------------------------------------------------

def _reference_map(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Selvaraju et al. (2017), eqs. 1-2, as one matrix product: (C,) weights @ (C, h*w) maps, then ReLU."""
    c, h, w = a.shape
    alpha = g.reshape(c, h * w).sum(dim=1) / (h * w)
    return (alpha @ a.reshape(c, h * w)).reshape(h, w).clamp(min=0)


@callable_check("a function gradcam_map(A, dA)")
def check_gradcam_map(answer) -> bool:
    """``answer``: a function ``gradcam_map(A, dA) -> (h, w)`` for one image's (C, h, w) activation and gradient."""
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
    if got.dim() == 2 and got.shape[0] > expected.shape[0] and got.shape[1] > expected.shape[1]:
        return report(False, f"expected the (h, w) = {tuple(expected.shape)} map itself, got {tuple(got.shape)}: "
                             "leave the upsampling to the image size out.", hint=2)
    if got.shape != expected.shape:
        return report(False, f"expected a map of shape {tuple(expected.shape)} (h, w), got {tuple(got.shape)}: "
                             "weight the channels, then sum over the channel dimension.", hint=2)
    if (got < 0).any():
        return report(False, "your map has negative values: Grad-CAM keeps only the positive evidence (a ReLU).",
                      hint=1)
    if torch.allclose(got, expected, atol=1e-6):
        return report(True, "that is Grad-CAM: channel weights = mean gradient, weighted sum, ReLU.")
    if torch.allclose(got, expected * a.shape[1] * a.shape[2], rtol=1e-4, atol=1e-6):
        return report(False, "off by a factor h*w: the channel weight is the *mean* of the gradient, not its sum.",
                      hint=1)
    if torch.allclose(got, expected / a.shape[0], rtol=1e-4, atol=1e-7):
        return report(False, f"off by a factor C = {a.shape[0]}: you averaged the weighted channels; add them up "
                             "(`.sum(dim=0)`, eq. 2's sum over k).", hint=2)
    if got.max() > 0 and torch.allclose(got / got.max(), expected / expected.max(), atol=1e-5):
        return report(False, "right shape of map, but scaled: return the map before dividing by its maximum.",
                      hint=2)
    return report(False, "the values differ from Grad-CAM's. Steps: alpha = dA.mean over (h, w); "
                         "map = sum_k alpha_k * A_k; then ReLU.", hint=2)


def solution_gradcam_map():
    """The two lines of Grad-CAM."""
    import torch

    def gradcam_map(A, dA):
        alpha = dA.mean(dim=(1, 2))                                # (C,): one weight per channel
        return torch.relu((alpha[:, None, None] * A).sum(dim=0))  # (h, w)

    return gradcam_map


# --- Exercise 2: pick the layer for a finer map --------------------------------------------

def _relu_sides(size: int = 224) -> dict[str, tuple[str, int]]:
    """{paper name: (module name, side)} for every ReLU of VGG16 on a size x size image.

    Worked out by walking torchvision's layer list: a 3x3 conv with padding 1 keeps the side,
    each max-pool halves it and starts the next block.
    """
    with torch.device("meta"):
        features = torchvision.models.vgg16(weights=None).features
    block, conv, found = 1, 0, {}
    for index, module in enumerate(features):
        if isinstance(module, nn.Conv2d):
            conv += 1
        elif isinstance(module, nn.ReLU):
            found[f"relu{block}_{conv}"] = (f"features.{index}", size)
        elif isinstance(module, nn.MaxPool2d):
            size, block, conv = size // 2, block + 1, 0
    return found


def _last_relu_at(side: int, size: int = 224) -> tuple[str, str]:
    """(paper name, module name) of VGG16's last ReLU whose map is side x side for a size x size image."""
    found = [(name, module) for name, (module, s) in _relu_sides(size).items() if s == side]
    return found[-1] if found else ("", "")


def check_layer_for_28(answer) -> bool:
    """``answer``: the name of VGG16's last conv ReLU whose Grad-CAM map is 28 x 28 at 224 x 224."""
    if answer is None:
        return not_attempted()
    if not isinstance(answer, str):
        return report(False, f"give the layer's name as a string, e.g. 'relu5_3', got {answer!r}.")
    name, module = _last_relu_at(28)
    given = answer.strip().lower().removeprefix("model.")
    given = given.replace("[", ".").rstrip("]")           # "features[22]" names the module too
    sides = _relu_sides()
    if given in (name, module):
        return report(True, f"{name} ({module}): block 4's last ReLU, before pool4 halves 28 to 14.")
    if given.startswith("pool"):
        return report(False, "a pool halves the map: pick the ReLU just *before* a pool.", hint=2)
    if given.startswith("conv") and given.replace("conv", "relu", 1) in sides:
        return report(False, f"{given} is a convolution; Grad-CAM explains the output of the ReLU after a "
                             "convolution (the paper's relu5_3 comes after conv5_3). Name a ReLU.", hint=2)
    if given.startswith("relu5"):
        return report(False, "block 5 runs at 14 x 14; 28 x 28 is one block earlier.", hint=1)
    if given in sides:
        side = sides[given][1]
        if side == 28:
            return report(False, f"{given} is 28 x 28, but not the *last* ReLU at that size: another comes after "
                                 "it in the same block.", hint=2)
        return report(False, f"{given} is {side} x {side} for a 224 x 224 image, not 28 x 28.", hint=1)
    return report(False, f"not {answer!r}: give a paper name such as 'relu5_3'. Which block runs at 28 x 28 "
                         "(224 / 8)? Take its last ReLU.", hint=1)


def solution_layer_for_28():
    """Measure every stage's size on the meta device, keep the last ReLU at 28 x 28."""
    import torch
    import torchvision

    from course_utils.features import capture, conv_stages

    with torch.device("meta"):
        model = torchvision.models.vgg16(weights=None)
    maps = capture(model, torch.zeros(1, 3, 224, 224, device="meta"), conv_stages(model))
    return [name for name, m in maps.items() if name.startswith("relu") and m.shape[-1] == 28][-1]


# --- Exercise 3: CAM on a global-average-pooling head ----------------------------------------

def _cam_by_occlusion(a: torch.Tensor, head: nn.Linear, c: int) -> torch.Tensor:
    """CAM read off the GAP head itself, one position at a time (a different road from sum_k w_k A^k).

    Keep only position (i, j) of every channel, run average pool + linear layer, drop the bias: the
    logit left is CAM(i, j) / (h w), because the head is linear and pools by averaging.
    """
    k, h, w = a.shape
    keep = torch.eye(h * w).reshape(h * w, 1, h, w)                # one single-position mask per row
    pooled = nn.AdaptiveAvgPool2d(1)(a.unsqueeze(0) * keep).flatten(1)   # (h*w, K)
    with torch.no_grad():
        scores = head(pooled)[:, c] - head.bias[c]
    return (scores * h * w).reshape(h, w)


@callable_check("a function cam_map(A, fc_weight, c)")
def check_cam_map(answer) -> bool:
    """``answer``: a function ``cam_map(A, fc_weight, c) -> (h, w)``: Zhou et al.'s CAM for class ``c``."""
    gen = torch.Generator().manual_seed(3)
    a = torch.rand(6, 4, 5, generator=gen)  # K=6 channels, a non-square 4 x 5 map
    head = nn.Linear(6, 3)
    with torch.no_grad():
        head.weight.copy_(torch.randn(3, 6, generator=gen))
        head.bias.copy_(torch.randn(3, generator=gen))
        head.weight[1] = head.weight[1].abs()
        head.weight[1, 0] = -5.0  # channel 0 argues against class 1 ...
    a[0, :, :2] = 1.0             # ... on the two left columns, so CAM is negative there
    c = 1
    got, err = call_safely(answer, a.clone(), head.weight.detach().clone(), c)
    if err:
        return report(False, err)
    if not isinstance(got, torch.Tensor):
        return report(False, f"return a tensor, got {type(got).__name__}.")
    got = got.detach().float().squeeze()
    expected = _cam_by_occlusion(a, head, c)
    if got.shape != expected.shape:
        return report(False, f"expected a map of shape {tuple(expected.shape)} (h, w), got {tuple(got.shape)}: "
                             "weight each channel by fc_weight[c, k], then sum over the channels.", hint=2)
    if torch.allclose(got, expected, atol=1e-5):
        return report(True, "that is CAM: the class's linear weights applied to the maps before pooling.")
    if torch.allclose(got, expected / (4 * 5), atol=1e-6):
        return report(False, "that is Grad-CAM's map on this head, CAM / (h*w): CAM itself has no 1/(h*w).",
                      hint=2)
    if torch.allclose(got, expected.clamp(min=0), atol=1e-5):
        return report(False, "no ReLU: CAM keeps the negative values (Grad-CAM adds the ReLU).", hint=2)
    if expected.max() > 0 and torch.allclose(got, expected / expected.max(), atol=1e-5):
        return report(False, "return the map before scaling it by its maximum.")
    return report(False, "the values differ from CAM. Use the row fc_weight[c] (one weight per channel): "
                         "sum_k fc_weight[c, k] * A[k].", hint=1)


def solution_cam_map():
    """One weight per channel, read from the linear layer, and a weighted sum of the channels."""
    def cam_map(A, fc_weight, c):
        return (fc_weight[c][:, None, None] * A).sum(dim=0)   # (h, w)

    return cam_map
