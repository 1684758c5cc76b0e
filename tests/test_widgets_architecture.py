"""The architecture explorer of notebook 02, tested through its plain view function."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torchvision

from course_utils import widgets
from course_utils.widgets import architecture_view


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
