"""Grad-CAM generalises CAM (Zhou et al., 2016): on a GAP + one-linear-layer head, Grad-CAM = CAM / (h * w).

Notebook 10 shows it on one image; this pins it for a batch with different targets on a
non-square map. The expected map is CAM itself, computed from the linear layer's weights
and the activation read by a plain forward hook (``features.capture``), a different road
from Grad-CAM's gradients.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.features import capture
from course_utils.gradcam import GradCAM, scale_maps, upsample

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def gap_net() -> nn.Sequential:
    """Conv layers, then global average pooling and one linear layer: CAM's architecture."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),   # index 3: the layer we explain
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(16, 4),
    ).eval()


def test_gradcam_is_cam_divided_by_h_times_w(gap_net):
    x = torch.rand(3, 3, 18, 30, generator=torch.Generator().manual_seed(1))
    targets = [0, 3, 1]
    result = GradCAM(gap_net, gap_net[3]).explain(x, targets)
    a = capture(gap_net, x, [gap_net[3]])["3"]                # (3, 16, 9, 15) via a plain forward hook
    h, w = a.shape[-2:]
    assert (h, w) == (9, 15)
    cam = torch.stack([torch.einsum("k,khw->hw", gap_net[6].weight[t].detach(), a[i]) for i, t in enumerate(targets)])
    assert (cam < 0).any() and (cam > 0).any()                 # a real test of the ReLU and the sign
    torch.testing.assert_close(result.raw, cam / (h * w), rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(result.weights, gap_net[6].weight[targets].detach() / (h * w))
    # The drawn maps: after the ReLU and the scaling, the constant is gone.
    torch.testing.assert_close(result.maps, scale_maps(upsample(F.relu(cam), (18, 30))), rtol=1e-5, atol=1e-6)


def test_the_gradient_is_constant_inside_each_channel_on_a_gap_head(gap_net):
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    g = GradCAM(gap_net, gap_net[3]).explain(x, [2]).gradient[0]     # (16, 8, 8)
    expected = (gap_net[6].weight[2].detach() / 64)[:, None, None].expand_as(g)
    torch.testing.assert_close(g, expected)
