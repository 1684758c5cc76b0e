"""course_utils.counting: parameters and multiply-adds against torchvision, the tables, the FLOP cross-check.

Expected values come from torchvision's metadata, from the paper, or from arithmetic
written out here independently of the code under test.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from meta_models import TORCHVISION_VGGS, meta_torchvision, meta_vgg
from torch import nn

from course_utils import counting
from course_utils.architecture import CONFIGS, build_vgg
from course_utils.counting import configurations_table, count_parameters, cross_check_flops, layer_table

# --- Counts pinned against torchvision's metadata and the configurations table ---------------

@pytest.mark.parametrize("name", TORCHVISION_VGGS)
def test_params_and_gflops_match_torchvision_meta(name):
    meta = torchvision.models.get_model_weights(name).DEFAULT.meta
    table = layer_table(meta_vgg(name, batch_norm=name.endswith("_bn")))
    assert table.params == meta["num_params"]
    assert abs(table.gmacs - meta["_ops"]) / meta["_ops"] < 0.005
    # Tighter: torchvision rounds to three decimals, and so do we agree.
    assert round(table.gmacs, 3) == pytest.approx(meta["_ops"], abs=1e-9)


def test_layer_table_counts_torchvision_models_too():
    table = layer_table(meta_torchvision("vgg16_bn"))
    assert table.params == torchvision.models.get_model_weights("vgg16_bn").DEFAULT.meta["num_params"]
    assert {r.paper_name for r in table} >= {"conv5_3", "bn5_3", "relu5_3", "pool5", "fc8"}


def test_params_equal_counting_the_model_itself():
    for key in CONFIGS:
        model = meta_vgg(key)
        assert layer_table(model).params == count_parameters(model) == sum(p.numel() for p in model.parameters())


def test_configurations_table_is_built_from_configs():
    table = configurations_table()
    assert len(table.headers) == 1 + len(CONFIGS)
    block3 = table.rows[2]
    assert "conv1-256" in block3[3] and all("conv1-256" not in cell for i, cell in enumerate(block3[1:]) if i != 2)
    assert block3[5].count("conv3-256") == 4  # E has four 3x3 convs in block 3
    params_row = table.rows[-1]
    assert params_row[4] == f"{count_parameters(meta_vgg('D')):,}"
    assert "<table>" in table._repr_html_() and "conv3-64" in str(table)


# --- layer_table: shapes, MACs, memory ------------------------------------------------------

def test_layer_table_shapes_and_names_for_vgg16():
    rows = {r.paper_name: r for r in layer_table(meta_vgg("D"))}
    assert rows["conv1_1"].output_shape == (64, 224, 224)
    assert rows["relu5_3"].output_shape == (512, 14, 14)
    assert rows["pool5"].output_shape == (512, 7, 7)
    assert rows["avgpool"].output_shape == (512, 7, 7)
    assert rows["fc6"].output_shape == (4096,) and rows["fc8"].output_shape == (1000,)
    assert rows["relu5_3"].module_name == "features.29"


def test_layer_table_at_32_pixels_shows_the_adaptive_pool_at_work():
    rows = {r.paper_name: r for r in layer_table(meta_vgg("D"), 32)}
    assert rows["pool5"].output_shape == (512, 1, 1)
    assert rows["avgpool"].output_shape == (512, 7, 7)  # copied up to 7x7 for fc6
    assert rows["fc6"].macs == 512 * 7 * 7 * 4096  # so fc6 costs the same at any size


def test_macs_per_layer_by_hand():
    rows = {r.paper_name: r for r in layer_table(meta_vgg("D"))}
    assert rows["conv1_1"].macs == 224 * 224 * 64 * (3 * 3 * 3)
    assert rows["conv5_3"].macs == 14 * 14 * 512 * (512 * 3 * 3)
    assert rows["fc6"].macs == 25088 * 4096
    assert rows["relu1_1"].macs == rows["pool1"].macs == 0
    assert rows["conv1_1"].params == 3 * 3 * 3 * 64 + 64


def test_activation_memory_counts_each_new_output_once():
    table = layer_table(meta_vgg("D"))
    # Outputs that need new memory: every conv, pool, the avgpool and the FCs
    # (in-place ReLUs and eval-mode dropout hand back their input).
    floats = (2 * 64 * 224**2 + 64 * 112**2 + 2 * 128 * 112**2 + 128 * 56**2 + 3 * 256 * 56**2 + 256 * 28**2
              + 3 * 512 * 28**2 + 512 * 14**2 + 3 * 512 * 14**2 + 512 * 7**2 + 512 * 7**2 + 2 * 4096 + 1000)
    assert table.activation_bytes == 4 * floats
    rows = {r.paper_name: r for r in table}
    assert rows["relu1_1"].shares_input and rows["drop6"].shares_input
    assert not rows["conv1_1"].shares_input and rows["conv1_1"].activation_bytes == 4 * 64 * 224 * 224


def test_split_puts_the_parameters_in_fc_and_the_macs_in_conv():
    table = layer_table(meta_vgg("D"))
    split = table.split()
    fc_params = (25088 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
    assert split["fc"]["params"] == fc_params
    assert split["conv"]["params"] + split["fc"]["params"] == table.params
    assert split["conv"]["macs"] + split["fc"]["macs"] == table.macs
    assert split["fc"]["params"] / table.params > 0.89
    assert split["conv"]["macs"] / table.macs > 0.99


def test_layer_table_leaves_the_model_alone():
    model = build_vgg("A", width=0.125, num_classes=10).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    layer_table(model, 64)
    assert model.training
    assert all(torch.equal(before[k], v) and v.device.type == "cpu" for k, v in model.state_dict().items())
    assert all(not m._forward_hooks for m in model.modules())


def test_layer_table_rejects_bad_input_sizes_clearly():
    model = meta_vgg("A")
    with pytest.raises(ValueError, match="at least 32x32"):
        layer_table(model, 16)
    with pytest.raises(ValueError, match="3-channel"):
        layer_table(model, (1, 224, 224))
    with pytest.raises(ValueError, match="channels, height, width"):
        layer_table(model, (224, 224))


def test_table_renders_as_text_and_html():
    table = layer_table(meta_vgg("D"))
    text = str(table)
    assert "conv5_3" in text and "138,357,544" in text and "whole image" in text
    html = table._repr_html_()
    assert html.count("<tr>") == len(table) + 2  # header, rows, total


# --- The FLOP cross-check ---------------------------------------------------------------------

@pytest.mark.parametrize("config,batch_norm,size,width", [
    ("D", False, 224, 1.0), ("E", True, 224, 1.0), ("C", False, 224, 1.0),
    ("A", False, 100, 1.0), ("B", True, 448, 0.25),
])
def test_flop_counter_agrees_layer_by_layer(config, batch_norm, size, width):
    check = cross_check_flops(meta_vgg(config, batch_norm, width=width), (3, size, size))
    assert check.ok, str(check)
    assert check.counter_flops == 2 * check.table_macs
    assert check.per_layer["features.0"][0] > 0


def test_cross_check_catches_a_wrong_formula(monkeypatch):
    real = counting.layer_macs
    def off_by_one(m, shape):
        return real(m, shape) + (1 if isinstance(m, nn.Linear) else 0)

    monkeypatch.setattr(counting, "layer_macs", off_by_one)
    check = cross_check_flops(meta_vgg("A"))
    assert not check.ok and "DISAGREE" in str(check)


def test_meta_count_equals_a_real_forward_count():
    from torch.utils.flop_counter import FlopCounterMode

    model = build_vgg("B", width=0.125, num_classes=10).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 3, 64, 64))
    assert counter.get_total_flops() == 2 * layer_table(model, 64).macs
