"""Grad-CAM on any image model: the channel count comes from the model's first convolution, not from 3.

captum's own Grad-CAM test runs a one-channel 4x4 input through a small conv net; an MNIST network
takes one channel, a photo-with-depth network four. Each must work, agree with captum's
LayerGradCam, and a mismatch must name both counts.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from course_utils.gradcam import GradCAM, GuidedBackprop
from course_utils.running import as_batch, input_channels

captum_attr = pytest.importorskip("captum.attr")


def _net(channels: int) -> nn.Module:
    torch.manual_seed(channels)
    return nn.Sequential(nn.Conv2d(channels, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 5)).eval()


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_gradcam_runs_on_any_channel_count_and_agrees_with_captum(channels):
    model, x = _net(channels), torch.rand(2, channels, 4, 4)
    ours = GradCAM(model, model[3]).explain(x, targets=[1, 4])
    assert ours.maps.shape == (2, 4, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = captum_attr.LayerGradCam(model, model[3]).attribute(x, target=[1, 4])
    assert torch.allclose(ours.raw, theirs[:, 0], atol=1e-6)
    assert GuidedBackprop(model)(x, targets=[1, 4]).shape == x.shape


def test_one_image_of_any_channel_count_becomes_a_batch():
    assert as_batch(torch.rand(1, 4, 4), _net(1)).shape == (1, 1, 4, 4)
    assert input_channels(_net(4)) == 4 and input_channels(nn.Linear(2, 2)) is None


def test_a_channel_mismatch_names_both_counts():
    with pytest.raises(ValueError, match=r"first convolution takes 1 channel\(s\); this input has 3"):
        GradCAM(_net(1), "3")(torch.rand(2, 3, 4, 4))


def test_channels_last_still_gets_its_hint_for_any_count():
    with pytest.raises(ValueError, match=r"channels-last \(H, W, 4\).*permute"):
        GradCAM(_net(4), "3")(torch.rand(1, 5, 6, 4))  # (B, H, W, C), as NumPy stores a batch
