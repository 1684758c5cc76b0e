"""course_utils.gradcam: shapes, ranges, targets, layers, errors, and a hand-made check.

Small random-weight VGGs (seeded) keep this fast; the maps mean nothing, so the
tests check properties and agreement with an independent computation, never content.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils.gradcam import (
    GradCAM,
    GradCAMPlusPlus,
    GuidedBackprop,
    guided_gradcam,
    overlay,
    resize_map,
    scale_maps,
)
from course_utils.gradcam.overlay import seed_resize
from course_utils.layer_names import LayerNameError, last_conv_relu, to_module_name

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def small(tiny_vgg):
    return tiny_vgg()


def x_batch(b=2, h=64, w=64, seed=1):
    return torch.randn(b, 3, h, w, generator=torch.Generator().manual_seed(seed))


def by_hand(model, layer_index: int, x, target: int, cut_after_relu=True):
    """Grad-CAM's raw map computed the long way: split the network at the layer, differentiate."""
    activation = model.features[: layer_index + 1](x).detach().requires_grad_(True)
    rest = model.features[layer_index + 1:](activation.clone())
    logits = model.classifier(torch.flatten(model.avgpool(rest), 1))
    (grad,) = torch.autograd.grad(logits[0, target], activation)
    weights = grad.mean(dim=(2, 3))
    return (weights[:, :, None, None] * activation).sum(1).detach()


def test_maps_shape_range_non_square(small):
    x = x_batch(3, 96, 128)
    maps = GradCAM(small)(x)
    assert maps.shape == (3, 96, 128)
    assert maps.min() >= 0 and maps.max() <= 1
    for m in maps:
        assert m.max() == pytest.approx(1.0) or m.max() == 0  # scaled by its own maximum


def test_raw_map_matches_hand_computation(small):
    x = x_batch(1, 64, 64)
    layer = to_module_name(small, last_conv_relu(small))
    index = int(layer.split(".")[1])
    result = GradCAM(small).explain(x, targets=[4])
    expected = by_hand(small, index, x, 4)
    assert result.raw.shape == expected.shape == (1, 4, 4)
    torch.testing.assert_close(result.raw, expected, rtol=1e-5, atol=1e-7)
    # and the drawn map is that, ReLU'd, upsampled and divided by its maximum
    up = F.interpolate(F.relu(expected)[:, None], size=(64, 64), mode="bilinear", align_corners=False)[:, 0]
    torch.testing.assert_close(result.maps, up / up.max(), rtol=1e-5, atol=1e-6)


def test_default_layer_is_last_conv_relu_not_pool5(vgg16):
    cam = GradCAM(vgg16)
    assert cam.layer_name == "relu5_3"
    assert cam.layer is vgg16.features[29]
    raw_relu = cam.explain(x_batch(1, 64, 64)).raw
    raw_pool = GradCAM(vgg16, "pool5").explain(x_batch(1, 64, 64)).raw
    assert raw_relu.shape[-2:] == (4, 4) and raw_pool.shape[-2:] == (2, 2)


def test_layer_given_three_ways_is_the_same(vgg16):
    x = x_batch(1, 64, 64)
    a = GradCAM(vgg16, "relu5_3").explain(x, [1]).raw
    b = GradCAM(vgg16, "features.29").explain(x, [1]).raw
    c = GradCAM(vgg16, vgg16.features[29]).explain(x, [1]).raw
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(a, c, rtol=0, atol=0)


def test_conv_target_keeps_the_value_before_the_inplace_relu(vgg16):
    """conv5_3 is followed by an in-place ReLU; the stored activation must not be overwritten."""
    x = x_batch(1, 64, 64)
    result = GradCAM(vgg16, "conv5_3").explain(x, [2])
    assert (result.activation < 0).any(), "the conv output was overwritten by the in-place ReLU"
    expected = vgg16.features[:29](x)
    torch.testing.assert_close(result.activation, expected, rtol=1e-5, atol=1e-6)


def test_targets_none_means_top_class_and_batch_equals_single(small):
    x = x_batch(3)
    result = GradCAM(small).explain(x)
    assert torch.equal(result.targets, result.logits.argmax(1))
    targets = [1, 5, 9]
    batch = GradCAM(small).explain(x, targets)
    for i, t in enumerate(targets):
        single = GradCAM(small).explain(x[i : i + 1], [t])
        torch.testing.assert_close(batch.raw[i : i + 1], single.raw, rtol=1e-4, atol=1e-7)


def test_different_targets_give_different_maps(small):
    x = x_batch(1).expand(2, -1, -1, -1)
    raw = GradCAM(small).explain(x, [0, 3]).raw
    assert not torch.allclose(raw[0], raw[1])


def test_int_target_applies_to_every_image(small):
    x = x_batch(2)
    torch.testing.assert_close(GradCAM(small).explain(x, 3).raw, GradCAM(small).explain(x, [3, 3]).raw)


def test_counterfactual_flips_the_weights(small):
    x = x_batch(1)
    normal = GradCAM(small).explain(x, [2])
    counter = GradCAM(small).explain(x, [2], counterfactual=True)
    torch.testing.assert_close(counter.weights, -normal.weights)
    torch.testing.assert_close(counter.raw, -normal.raw)


def test_works_inside_no_grad(small):
    x = x_batch(1)
    with torch.no_grad():
        maps = GradCAM(small)(x)
    assert maps.shape == (1, 64, 64) and maps.max() > 0


def test_accepts_a_single_image(small):
    assert GradCAM(small)(x_batch(1)[0]).shape == (1, 64, 64)


def test_wrong_layer_name_lists_valid_ones(small):
    with pytest.raises(LayerNameError, match="relu5_2"):
        GradCAM(small, "relu9_9")


def test_layer_without_spatial_map_is_refused(small):
    with pytest.raises(ValueError, match="convolutional"):
        GradCAM(small, "fc6")(x_batch(1))


@pytest.mark.parametrize("targets, message", [
    ([10, 0], "out of range"),
    ([-1, 0], "out of range"),
    ([1, 2, 3], "3 target"),
    ([1], "1 target"),
    ([0.5, 1.0], "integer"),
])
def test_bad_targets_get_clear_errors(small, targets, message):
    with pytest.raises(ValueError, match=message):
        GradCAM(small)(x_batch(2), targets)


def test_bad_input_shape(small):
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        GradCAM(small)(torch.zeros(64, 64))
    with pytest.raises(ValueError, match="expected an image tensor, got ndarray"):
        GradCAM(small)(np.zeros((1, 3, 64, 64)))


def test_scale_maps_modes():
    maps = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]])
    by_max = scale_maps(maps)
    torch.testing.assert_close(by_max[0], maps[0] / 4)
    assert torch.equal(by_max[1], torch.zeros(2, 2))  # all-zero stays zero, no NaN
    stretched = scale_maps(maps, subtract_min=True)
    torch.testing.assert_close(stretched[0], (maps[0] - 1) / 3)


def test_gradcam_plus_plus_weights(small):
    x = x_batch(2)
    result = GradCAMPlusPlus(small).explain(x, [1, 2])
    assert (result.weights >= 0).all()  # only positive gradients count
    a, g = result.activation, result.gradient
    g2 = g**2
    alpha = g2 / (2 * g2 + a.sum((2, 3), keepdim=True) * g**3)
    alpha = torch.where(g != 0, alpha, torch.zeros_like(alpha))
    torch.testing.assert_close(result.weights, (alpha * g.clamp(min=0)).sum((2, 3)))
    assert result.maps.shape == (2, 64, 64)


def test_guided_gradcam_is_guided_backprop_times_cam(small):
    x = x_batch(2)
    out = guided_gradcam(small, x, [1, 2])
    gb = GuidedBackprop(small)(x, [1, 2])
    maps = GradCAM(small)(x, [1, 2])
    torch.testing.assert_close(out, gb * maps[:, None])


def test_guided_backprop_is_not_the_plain_gradient(small):
    x = x_batch(1).requires_grad_(True)
    gb = GuidedBackprop(small)(x, [3])
    plain = torch.autograd.grad(small(x)[0, 3], x)[0]
    assert gb.shape == x.shape
    assert not torch.allclose(gb, plain)


# ---------------------------------------------------------------- overlay

def test_overlay_non_square_and_blend():
    img = np.random.default_rng(0).random((96, 128, 3)).astype(np.float32)
    heat = torch.rand(6, 8)
    out = overlay(img, heat, alpha=0.5)
    assert out.shape == (96, 128, 3) and out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(overlay(img, heat, alpha=0.0), img, atol=1e-6)


def test_resize_map_uses_width_height_order_and_seed_slip_does_not():
    heat = np.random.default_rng(0).random((6, 8)).astype(np.float32)
    assert resize_map(heat, 96, 128).shape == (96, 128)
    image = torch.zeros(1, 3, 96, 128)
    assert seed_resize(heat, image).shape == (128, 96)  # the seed text's slip: transposed shape
    assert seed_resize(heat, torch.zeros(1, 3, 64, 64)).shape == (64, 64)  # harmless when square


def test_overlay_errors():
    img = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(ValueError, match="alpha"):
        overlay(img, np.zeros((2, 2)), alpha=1.5)
    with pytest.raises(ValueError, match="colormap"):
        overlay(img, np.zeros((2, 2)), colormap="rainbow-unicorn")
    with pytest.raises(ValueError, match="denormalize"):
        overlay(torch.full((3, 8, 8), -2.0), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="one"):
        overlay(img, np.zeros((2, 2, 2)))


def test_the_default_colormap_is_viridis_and_jet_is_one_argument_away():
    from course_utils.gradcam.overlay import DEFAULT_COLORMAP

    img, ramp = np.zeros((4, 4, 3)), np.linspace(0, 1, 16).reshape(4, 4)
    assert DEFAULT_COLORMAP == "viridis"
    assert np.array_equal(overlay(img, ramp), overlay(img, ramp, colormap="viridis"))
    assert not np.allclose(overlay(img, ramp), overlay(img, ramp, colormap="jet"))
