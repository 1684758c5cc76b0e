"""course_utils.gradcam: shapes, ranges, targets, layers, errors, and a hand-made check.

Small random-weight VGGs (seeded) keep this fast; the maps mean nothing, so the
tests check properties and agreement with an independent computation, never content.
"""

from __future__ import annotations

import gc
import warnings

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.features import capture
from course_utils.gradcam import (
    GradCAM,
    GradCAMPlusPlus,
    GuidedBackprop,
    LayerCapture,
    guided_gradcam,
    guided_relus,
    overlay,
    resize_map,
    scale_maps,
    to_image,
    upsample,
)
from course_utils.gradcam.metrics import energy_in_mask, pointing_game
from course_utils.gradcam.sanity import spearman
from course_utils.layer_names import LayerNameError, last_conv_relu, to_module_name
from course_utils.running import as_batch, input_channels

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


def test_resize_map_uses_width_height_order():
    heat = np.random.default_rng(0).random((6, 8)).astype(np.float32)
    assert resize_map(heat, 96, 128).shape == (96, 128)
    # The slip it avoids: cv2's dsize is (width, height), so passing (height, width) transposes the
    # map, and on a square image nothing shows it.
    assert cv2.resize(heat, (96, 128)).shape == (128, 96)
    assert cv2.resize(heat, (64, 64)).shape == (64, 64)


def test_a_gradient_becomes_a_picture_like_every_other():
    """to_image gives an (H, W, 3) float array in [0, 1], as to_numpy_image and overlay do."""
    picture = to_image(torch.randn(3, 20, 30) * 50)
    assert isinstance(picture, np.ndarray) and picture.shape == (20, 30, 3)
    assert picture.min() >= 0 and picture.max() <= 1 and abs(float(np.median(picture)) - 0.5) < 0.05


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


# --- Grad-CAM generalises CAM (Zhou et al., 2016): on a GAP + one-linear-layer head, Grad-CAM = CAM / (h * w). ---



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


# --- Grad-CAM on any image model: the channel count comes from the model's first convolution, not from 3. ---

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


# --- Hook hygiene: Grad-CAM and Guided Backprop leave the model exactly as they found it. -----



@pytest.fixture()
def model(tiny_vgg):
    return tiny_vgg()


def hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


class Boom(RuntimeError):
    pass


def explode_in_classifier(model):
    """Make the forward pass raise *after* the target layer has run (its hook already fired)."""
    def hook(module, inputs, output):
        raise Boom("raised inside the forward pass")
    return model.classifier[0].register_forward_hook(hook)


@pytest.mark.parametrize("method", [GradCAM, GradCAMPlusPlus])
def test_hooks_and_state_restored_when_forward_raises(model, method):
    model.train()
    model.features[0].weight.requires_grad_(False)  # a mixed set of flags must come back as it was
    flags = [p.requires_grad for p in model.parameters()]
    bomb = explode_in_classifier(model)
    with pytest.raises(Boom):
        method(model)(x_batch())
    bomb.remove()
    assert hook_count(model) == 0
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(m.training for m in model.modules())  # train mode restored everywhere


def test_guided_backprop_restored_when_forward_raises(model):
    bomb = explode_in_classifier(model)
    with pytest.raises(Boom):
        GuidedBackprop(model)(x_batch())
    bomb.remove()
    assert hook_count(model) == 0


def test_layer_capture_context_removes_hooks_on_error(model):
    with pytest.raises(Boom):
        with LayerCapture(model, "relu5_2"):
            assert hook_count(model) == 1
            raise Boom()
    assert hook_count(model) == 0


def test_layer_capture_tensor_hook_sees_the_gradient(model):
    with LayerCapture(model, "relu5_2") as cap:
        score = model(x_batch(1))[0, 3]
        (grad,) = torch.autograd.grad(score, cap.activation)
    assert cap.gradient is not None
    torch.testing.assert_close(cap.gradient, grad)


def test_no_parameter_gradients_computed_or_left(model):
    x = x_batch()
    GradCAM(model)(x)
    GradCAMPlusPlus(model)(x)
    GuidedBackprop(model)(x)
    assert all(p.grad is None for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())


def test_backward_stops_at_the_target_layer(model):
    """Nothing below the layer is recorded: the activation is a leaf of the graph."""
    result = GradCAM(model, "relu5_2").explain(x_batch())
    assert result.activation.grad_fn is None and not result.activation.requires_grad
    assert result.maps.grad_fn is None and result.raw.grad_fn is None


def test_hundred_calls_leave_no_hooks_and_no_growing_memory(model):
    x = x_batch(1, 32, 32)
    cam = GradCAM(model)

    def live_tensors() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if issubclass(type(o), torch.Tensor))

    for _ in range(5):
        cam(x)
    before = live_tensors()
    for _ in range(100):
        cam(x)
    after = live_tensors()
    assert hook_count(model) == 0
    assert after <= before, f"{after - before} more live tensors after 100 calls"


def test_guided_backprop_keeps_the_same_inplace_relus(model):
    relus = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.ReLU)]
    assert relus and all(m.inplace for _, m in relus)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    GuidedBackprop(model)(x_batch())
    after = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.ReLU)]
    assert [n for n, _ in after] == [n for n, _ in relus]
    assert all(a is b for (_, a), (_, b) in zip(after, relus)), "a ReLU module was replaced"
    assert all(m.inplace for _, m in after)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    assert hook_count(model) == 0


def test_guided_relus_hooks_every_relu_and_cleans_up(model):
    n_relus = sum(isinstance(m, nn.ReLU) for m in model.modules())
    with guided_relus(model) as n:
        assert n == n_relus and hook_count(model) == n_relus
    assert hook_count(model) == 0


def test_model_output_unchanged_after_gradcam(model):
    x = x_batch()
    with torch.no_grad():
        before = model(x)
    GradCAM(model)(x)
    GuidedBackprop(model)(x)
    with torch.no_grad():
        torch.testing.assert_close(model(x), before, rtol=0, atol=0)


# --- An all-zero heat map must stay all zero, never NaN: in the library, and in the notebooks' own code. ---

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
