"""An all-zero heat map must stay all zero, never NaN: in the library, and in the notebooks' own code.

A map is all zero whenever no position has positive evidence (a dead layer, a class the
image has nothing of). Dividing it by its maximum gives 0 / 0 = NaN, which then poisons an
overlay, a metric or a correlation. ``gradcam.scale_maps`` handles it; this file pins that
every path the Grad-CAM notebooks use does, and that their code cells do not divide by a
map's maximum by hand. It also pins that no notebook changes the thread count outside
``course_utils.device.cpu_threads`` (a change that outlives its cell leaks into the kernel).
"""

import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from course_utils.gradcam import GradCAM, GradCAMPlusPlus, scale_maps, upsample
from course_utils.gradcam.metrics import energy_in_mask, pointing_game
from course_utils.gradcam.sanity import spearman

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.fixture(scope="module")
def dead_net() -> nn.Sequential:
    """A net whose explained layer outputs exactly 0 everywhere (a large negative bias before the ReLU)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(4, 3)).eval()
    with torch.no_grad():
        net[0].weight.mul_(0.01)
        net[0].bias.fill_(-10.0)
    return net


@pytest.mark.parametrize("method", [GradCAM, GradCAMPlusPlus])
def test_cam_of_an_all_zero_layer_is_zero_not_nan(dead_net, method):
    x = torch.rand(2, 3, 8, 12)
    result = method(dead_net, dead_net[1]).explain(x, [0, 2])
    assert torch.equal(result.activation, torch.zeros_like(result.activation))
    assert torch.isfinite(result.maps).all() and torch.equal(result.maps, torch.zeros(2, 8, 12))


def test_scaling_and_scores_of_an_all_zero_map():
    zero = torch.zeros(2, 6, 6)
    assert torch.equal(scale_maps(zero), zero) and torch.equal(scale_maps(zero, subtract_min=True), zero)
    assert torch.equal(scale_maps(upsample(zero, (12, 12))), torch.zeros(2, 12, 12))
    mask = torch.zeros(2, 6, 6)
    mask[:, :2, :2] = 1                                   # the peak of a zero map (index 0) lies on this mask
    assert torch.equal(energy_in_mask(zero, mask), torch.zeros(2))
    assert not pointing_game(zero, mask).any()            # no positive value: no peak, a miss
    assert spearman(zero[0], torch.rand(6, 6)) == 0.0


def _code_lines(path: Path):
    for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        if cell["cell_type"] == "code":
            for line in "".join(cell["source"]).splitlines():
                yield i, line


GRADCAM_NOTEBOOKS = sorted(p for p in NOTEBOOKS.glob("*.ipynb") if "grad_cam" in p.stem or "explanation" in p.stem)


@pytest.mark.parametrize("path", GRADCAM_NOTEBOOKS, ids=lambda p: p.stem)
def test_gradcam_notebooks_never_divide_by_a_maximum_by_hand(path):
    bare = re.compile(r"/\s*[\w.\[\]()\"':, ]*\.(max|amax)\([^)]*\)(?!\.clamp)")
    found = [f"cell {i}: {line.strip()}" for i, line in _code_lines(path) if bare.search(line)]
    assert not found, f"{path.name} divides by a map's maximum (NaN on an all-zero map); use scale_maps: {found}"


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_scope_thread_changes(path):
    found = [f"cell {i}: {line.strip()}" for i, line in _code_lines(path) if "set_num_threads" in line]
    assert not found, (f"{path.name} sets the thread count directly; use `with cpu_threads(n):` from "
                       f"course_utils.device so the change cannot outlive the cell: {found}")
