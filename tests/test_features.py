"""course_utils.features: hooks capture the right tensors, clone past in-place ReLUs, clean up."""

import pytest
import torch

from course_utils.architecture import build_vgg
from course_utils.features import (
    block_ends,
    capture,
    conv_stages,
    filters_as_images,
    recording,
    shape_table,
    top_channels,
)
from course_utils.layer_names import LayerNameError

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def hooks(model):
    return sum(len(m._forward_hooks) for m in model.modules())


def test_block_ends_and_stages(vgg16):
    assert block_ends(vgg16) == ["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"]
    stages = conv_stages(vgg16)
    assert stages[0] == "relu1_1" and stages[-1] == "pool5" and len(stages) == 13 + 5
    assert block_ends(build_vgg("A", width=0.125)) == ["relu1_1", "relu2_1", "relu3_2", "relu4_2", "relu5_2"]


def test_capture_matches_slicing_the_network(vgg16):
    x = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    maps = capture(vgg16, x, ["relu2_2", "pool5"])
    assert list(maps) == ["relu2_2", "pool5"]
    with torch.no_grad():
        torch.testing.assert_close(maps["relu2_2"], vgg16.features[:9](x))
        torch.testing.assert_close(maps["pool5"], vgg16.features(x))
    assert hooks(vgg16) == 0


def test_conv_output_is_cloned_before_the_inplace_relu(vgg16):
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    maps = capture(vgg16, x, ["conv1_1", "relu1_1"])
    assert (maps["conv1_1"] < 0).any(), "conv1_1 was overwritten by its in-place ReLU"
    torch.testing.assert_close(maps["relu1_1"], maps["conv1_1"].clamp(min=0))


def test_resolution_falls_and_channels_rise(vgg16):
    maps = capture(vgg16, torch.zeros(1, 3, 224, 224), block_ends(vgg16))
    rows = shape_table(maps)
    assert [(r.channels, r.height) for r in rows] == [(64, 224), (128, 112), (256, 56), (512, 28), (512, 14)]
    assert rows[-1].values == 512 * 14 * 14


def test_hooks_removed_when_forward_raises(vgg16):
    def boom(module, inputs, output):
        raise RuntimeError("boom")

    bomb = vgg16.features[5].register_forward_hook(boom)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            capture(vgg16, torch.zeros(1, 3, 32, 32), ["relu1_1", "relu3_1"])
    finally:
        bomb.remove()
    assert hooks(vgg16) == 0


def test_recording_and_bad_layer(vgg16):
    with pytest.raises(LayerNameError, match="relu5_3"):
        capture(vgg16, torch.zeros(1, 3, 32, 32), ["relu9_1"])
    with recording(vgg16, [vgg16.features[1]]) as maps:
        with torch.no_grad():
            vgg16(torch.zeros(1, 3, 32, 32))
    assert list(maps) == ["relu1_1"]  # a module is named by its paper name
    assert hooks(vgg16) == 0


def test_top_channels_and_filters():
    fm = torch.zeros(1, 5, 4, 4)
    fm[0, 3] = 2.0
    fm[0, 1] = 1.0
    assert top_channels(fm, 2) == [3, 1]
    with pytest.raises(ValueError):
        top_channels(torch.zeros(4, 4), 1)
    with pytest.raises(ValueError, match="RGB"):
        filters_as_images(torch.randn(8, 16, 3, 3))


def test_filters_are_drawn_with_zero_as_grey():
    """Notebook 09 says grey means "does not care": a zero weight must land on 0.5, per filter, NaN-free."""
    w = torch.zeros(3, 3, 2, 2)               # (filters, RGB, k, k)
    w[0, 0, 0, 0], w[0, 2, 1, 1] = 2.0, -1.0  # filter 0: largest |w| is 2 -> 1.0; -1 -> 0.25; zeros -> 0.5
    w[1, 1, 0, 1] = -4.0                      # filter 1: its only weight is negative -> 0.0
    # filter 2 stays all zero: all grey, not NaN
    patches = filters_as_images(w)            # (filters, k, k, RGB)
    assert patches.shape == (3, 2, 2, 3) and not patches.isnan().any()
    assert patches[0, 0, 0, 0] == 1.0 and patches[0, 1, 1, 2] == 0.25
    assert patches[1, 0, 1, 1] == 0.0
    zero = w.permute(0, 2, 3, 1) == 0
    assert torch.equal(patches[zero], torch.full((int(zero.sum()),), 0.5))
    assert torch.equal(patches[2], torch.full((2, 2, 3), 0.5))
    assert 0 <= patches.min() and patches.max() <= 1
