"""course_utils.widgets: every explorer, tested through its plain view function, without a browser."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch
import torchvision

from course_utils import widgets
from course_utils.features import capture
from course_utils.widgets import (
    GRADCAM_METHODS,
    architecture_view,
    feature_map_explorer,
    feature_map_view,
    gradcam_explorer,
    gradcam_view,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("config,batch_norm,name",
                         [("D", False, "vgg16"), ("A", True, "vgg11_bn"), ("vgg19", False, "vgg19")])
def test_view_matches_torchvision_at_224(config, batch_norm, name):
    meta = torchvision.models.get_model_weights(name).DEFAULT.meta
    view = architecture_view(config, batch_norm, 224)
    assert view.table.params == meta["num_params"]
    assert round(view.table.gmacs, 3) == pytest.approx(meta["_ops"])
    assert f"{meta['num_params']:,} parameters" in view.summary
    assert f"{meta['_ops']:.2f} G multiply-adds" in view.summary


def test_view_plots_one_bar_per_weight_layer():
    view = architecture_view("E", False, 224)
    axes = view.figure.axes
    assert len(axes) == 3
    assert all(len(ax.patches) == 19 for ax in axes)  # 16 convs + 3 FC
    fc6_params = axes[0].patches[16].get_width()
    assert fc6_params == pytest.approx(25088 * 4096 / 1e6 + 4096 / 1e6)


def test_input_size_changes_the_work_not_the_weights():
    small, large = architecture_view("D", False, 224), architecture_view("D", False, 448)
    assert small.table.params == large.table.params
    split_small, split_large = small.table.split(), large.table.split()
    assert split_large["conv"]["macs"] == 4 * split_small["conv"]["macs"]
    assert split_large["fc"]["macs"] == split_small["fc"]["macs"]
    assert "448x448" in large.summary


def test_configuration_c_and_bad_configurations():
    view = architecture_view("c", False, 224)
    assert view.config == "C" and any(r.kind == "conv1x1" for r in view.table)
    with pytest.raises(ValueError, match="A, B, C, D, E"):
        architecture_view("Z")
    with pytest.raises(ValueError, match="at least 32x32"):
        architecture_view("A", False, 16)


def test_explorer_redraws_when_a_control_changes(monkeypatch):
    calls = []
    real = widgets.architecture_view

    def spy(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(widgets, "architecture_view", spy)
    ui = widgets.architecture_explorer("D")
    config_box, bn_box, size_box = ui.children[0].children
    size_box.value = 64
    bn_box.value = True
    config_box.value = "B"
    assert calls == [("D", False, 224), ("D", False, 64), ("D", True, 64), ("B", True, 64)]


# --- Notebooks 09 and 10 widgets: the view functions, tested without a browser. ---------------

@pytest.fixture(scope="module")
def model(tiny_vgg):
    return tiny_vgg(num_classes=5, hidden=32)


@pytest.fixture(scope="module")
def maps(model):
    return capture(model, torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)), ["relu1_1", "relu3_2"])


@pytest.fixture(scope="module")
def images():
    x = torch.rand(3, 32, 48, generator=torch.Generator().manual_seed(1))  # non-square
    return {"noise": (x, x.permute(1, 2, 0).numpy())}


def test_feature_map_view_draws_the_chosen_channel(maps):
    fig = feature_map_view(maps, "relu3_2", 3)
    ax_map, ax_bar = fig.axes[0], fig.axes[1]  # fig.axes[2] is the colour bar
    shown = ax_map.get_images()[0].get_array()
    assert shown.shape == tuple(maps["relu3_2"].shape[2:])
    torch.testing.assert_close(torch.as_tensor(shown.data), maps["relu3_2"][0, 3])
    assert "channel 3" in ax_map.get_title()
    assert len(ax_bar.patches) == maps["relu3_2"].shape[1] + 1  # every channel, plus the highlighted one
    plt.close(fig)


def test_feature_map_view_errors(maps):
    with pytest.raises(ValueError, match="relu1_1"):
        feature_map_view(maps, "relu9_9", 0)
    with pytest.raises(ValueError, match="0 to 7"):
        feature_map_view(maps, "relu1_1", 8)


def test_feature_map_explorer_updates_without_error(maps):
    ui = feature_map_explorer(maps, layer="relu1_1")
    layer_box, channel_box = ui.children[0].children
    layer_box.value = "relu3_2"
    assert channel_box.max == maps["relu3_2"].shape[1] - 1
    channel_box.value = 5
    plt.close("all")


@pytest.mark.parametrize("method", GRADCAM_METHODS)
def test_gradcam_view_every_method(model, images, method):
    fig, info = gradcam_view(model, images, "noise", "relu5_2", None, method, categories=list("abcde"))
    with torch.no_grad():
        top = model(images["noise"][0][None]).argmax().item()
    assert info["target"] == top and info["name"] == "abcde"[top]
    assert info["map"].shape == (32, 48) and 0 <= info["map"].min() and info["map"].max() <= 1
    assert fig.axes[1].get_images()[0].get_array().shape[:2] == (32, 48)
    assert method in fig.axes[1].get_title()
    plt.close(fig)


def test_gradcam_view_explicit_class_and_errors(model, images):
    fig, info = gradcam_view(model, images, "noise", "relu4_2", 2, "Grad-CAM")
    assert info["target"] == 2 and info["layer"] == "relu4_2" and info["name"] == "class 2"
    plt.close(fig)
    with pytest.raises(ValueError, match="noise"):
        gradcam_view(model, images, "cat", "relu5_2", None)
    with pytest.raises(ValueError, match="Grad-CAM"):
        gradcam_view(model, images, "noise", "relu5_2", None, "LIME")
    with pytest.raises(ValueError, match="out of range"):
        gradcam_view(model, images, "noise", "relu5_2", 7)


def test_gradcam_explorer_builds_and_redraws(model, images):
    ui = gradcam_explorer(model, images, ["relu5_2", "relu4_2"], classes={"class 1": 1})
    (_image_box, layer_box), (class_box, method_box) = ui.children[0].children, ui.children[1].children
    layer_box.value = "relu4_2"
    class_box.value = "class 1"
    method_box.value = "Guided Grad-CAM"
    plt.close("all")
