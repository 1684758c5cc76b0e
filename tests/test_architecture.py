"""course_utils.architecture: the configurations, the names, and every count.

Expected values come from torchvision's metadata, from the paper, or from arithmetic
written out here independently of the code under test.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from course_utils import counting
from course_utils.architecture import CONFIGS, build_vgg
from course_utils.counting import configurations_table, count_parameters, cross_check_flops, layer_table
from course_utils.layer_names import (
    LayerNameError,
    get_layer,
    last_conv_relu,
    module_names,
    paper_names,
    resolve_layer,
    to_module_name,
)
from course_utils.receptive_field import (
    gradient_footprint,
    measure_receptive_field,
    receptive_fields,
    stacked_receptive_field,
)

TORCHVISION_VGGS = ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]


def meta_vgg(config: str, batch_norm: bool = False, **kwargs) -> nn.Module:
    """A full-size VGG with shapes only: free to build and to count."""
    with torch.device("meta"):
        return build_vgg(config, batch_norm=batch_norm, init_weights=False, **kwargs)


def meta_torchvision(name: str) -> nn.Module:
    with torch.device("meta"):
        return torchvision.models.get_model(name, weights=None, init_weights=False)


# --- Counts pinned against torchvision's metadata -----------------------------------------

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


@pytest.mark.parametrize("name", TORCHVISION_VGGS)
def test_state_dict_names_and_shapes_match_torchvision(name):
    ours = meta_vgg(name, batch_norm=name.endswith("_bn")).state_dict()
    theirs = meta_torchvision(name).state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == theirs[k].shape for k in theirs)


@pytest.mark.parametrize("name", TORCHVISION_VGGS)
def test_hand_built_gives_torchvision_logits(name):
    """torchvision's (random) weights loaded into build_vgg's model give identical logits."""
    torch.manual_seed(0)
    # PyTorch's default layer init is random enough here and skips VGG's slower one.
    reference = torchvision.models.get_model(name, weights=None, init_weights=False)
    for m in reference.modules():  # make batch norm do something in eval mode
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    # Built on the meta device, then handed torchvision's tensors (strict: every name and shape must match).
    ours = meta_vgg(name, batch_norm=name.endswith("_bn"))
    ours.load_state_dict(reference.state_dict(), strict=True, assign=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = reference.eval()(x)
        got = ours.eval()(x)
    assert expected.std() > 0 and not torch.equal(expected[0], expected[1])  # not a trivial output
    assert torch.equal(got, expected)


def test_params_equal_counting_the_model_itself():
    for key in CONFIGS:
        model = meta_vgg(key)
        assert layer_table(model).params == count_parameters(model) == sum(p.numel() for p in model.parameters())


# --- The paper's configurations -------------------------------------------------------------

def test_every_config_has_the_papers_weight_layer_count():
    for key, depth in {"A": 11, "B": 13, "C": 16, "D": 16, "E": 19}.items():
        model = meta_vgg(key)
        weight_layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        assert len(weight_layers) == depth


def test_config_c_has_1x1_convs_and_the_papers_parameter_count():
    c = meta_vgg("C")
    names, modules = paper_names(c), dict(c.named_modules())
    for layer in ("conv3_3", "conv4_3", "conv5_3"):
        conv = modules[names[layer]]
        assert conv.kernel_size == (1, 1) and conv.padding == (0, 0)
    assert sum(1 for m in c.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)) == 3
    # C is D with three 3x3 convs made 1x1: each loses (9 - 1) * C_in * C_out weights.
    d_params = torchvision.models.get_model_weights("vgg16").DEFAULT.meta["num_params"]
    expected = d_params - 8 * (256 * 256 + 512 * 512 + 512 * 512)
    assert count_parameters(c) == expected == 133_638_952
    assert round(count_parameters(c) / 1e6) == 134  # Table 2 of the paper: 134M


def test_parameter_counts_round_to_the_papers_table_2():
    paper_millions = {"A": 133, "B": 133, "C": 134, "D": 138, "E": 144}  # Table 2, Simonyan & Zisserman
    for key, millions in paper_millions.items():
        assert round(count_parameters(meta_vgg(key)) / 1e6) == millions


def test_configurations_table_is_built_from_configs():
    table = configurations_table()
    assert len(table.headers) == 1 + len(CONFIGS)
    block3 = table.rows[2]
    assert "conv1-256" in block3[3] and all("conv1-256" not in cell for i, cell in enumerate(block3[1:]) if i != 2)
    assert block3[5].count("conv3-256") == 4  # E has four 3x3 convs in block 3
    params_row = table.rows[-1]
    assert params_row[4] == f"{count_parameters(meta_vgg('D')):,}"
    assert "<table>" in table._repr_html_() and "conv3-64" in str(table)


def test_width_scales_channels_and_config_names_are_checked():
    small = meta_vgg("A", width=0.25)
    assert [m.out_channels for m in small.features if isinstance(m, nn.Conv2d)][:3] == [16, 32, 64]
    with pytest.raises(ValueError, match="A, B, C, D, E"):
        build_vgg("vgg17")


# --- Layer names, both ways ------------------------------------------------------------------

@pytest.mark.parametrize("name,paper,module", [
    ("vgg16", "conv5_3", "features.28"),
    ("vgg16", "relu5_3", "features.29"),
    ("vgg16", "pool5", "features.30"),
    ("vgg16", "conv1_1", "features.0"),
    ("vgg16", "fc6", "classifier.0"),
    ("vgg16", "fc8", "classifier.6"),
    ("vgg11", "conv5_2", "features.18"),
    ("vgg11", "relu5_2", "features.19"),
    ("vgg11", "pool5", "features.20"),
    ("vgg16_bn", "conv5_3", "features.40"),
    ("vgg16_bn", "bn5_3", "features.41"),
    ("vgg16_bn", "relu5_3", "features.42"),
    ("vgg19", "relu5_4", "features.35"),
])
def test_paper_names_map_both_ways_on_torchvision_models(name, paper, module):
    model = meta_torchvision(name)
    assert to_module_name(model, paper) == module
    assert module_names(model)[module] == paper


@pytest.mark.parametrize("key", list(CONFIGS))
@pytest.mark.parametrize("batch_norm", [False, True])
def test_every_name_round_trips(key, batch_norm):
    model = meta_vgg(key, batch_norm)
    names = paper_names(model)
    modules = dict(model.named_modules())
    for paper, module in names.items():
        assert module_names(model)[to_module_name(model, paper)] == paper
        assert get_layer(model, paper) is modules[module] is get_layer(model, module)
    leaves = {n for n, m in model.named_modules() if n and not list(m.children())}
    assert set(names.values()) == leaves - {"avgpool"}  # every layer has a paper name


def test_vgg11_has_no_conv5_3_and_the_error_lists_its_layers():
    vgg11 = meta_vgg("vgg11")
    with pytest.raises(LayerNameError) as err:
        to_module_name(vgg11, "conv5_3")
    message = str(err.value)
    assert "conv5_3" in message and "conv5_2" in message and "relu5_2" in message and "fc8" in message
    with pytest.raises(LayerNameError, match="conv5_2"):
        get_layer(vgg11, "conv5_3")
    assert last_conv_relu(vgg11) == "relu5_2"
    assert last_conv_relu(meta_vgg("vgg16")) == "relu5_3"
    # what Grad-CAM hooks by default, and any layer given by either name or as the module
    assert resolve_layer(vgg11) == (vgg11.features[19], "relu5_2")  # VGG11: conv5_2 is features.18
    assert resolve_layer(vgg11, "features.2") == resolve_layer(vgg11, vgg11.features[2]) == (vgg11.features[2], "pool1")


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


# --- Receptive fields -------------------------------------------------------------------------

def test_stacked_3x3_receptive_fields():
    assert [stacked_receptive_field(n) for n in (1, 2, 3)] == [3, 5, 7]
    assert stacked_receptive_field(1, kernel_size=7) == 7


def test_gradient_footprint_of_two_3x3_convs_is_5x5():
    fp = gradient_footprint([nn.Conv2d(8, 8, 3, padding=1)] * 2, size=11)
    rows = torch.nonzero(fp.sum(1)).flatten()
    cols = torch.nonzero(fp.sum(0)).flatten()
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (5, 5)
    assert fp[5, 5] == fp.max() == 9  # the centre pixel is reached along 3 x 3 paths


def test_vgg16_receptive_fields_by_formula():
    rf = receptive_fields(meta_vgg("D"))
    # Worked by hand: each 3x3 conv adds 2 x jump; each pool adds 1 x jump and doubles jump.
    expected = {"conv1_1": 3, "conv1_2": 5, "pool1": 6, "conv2_2": 14, "pool2": 16, "conv3_3": 40,
                "pool3": 44, "conv4_3": 92, "pool4": 100, "conv5_1": 132, "relu5_3": 196, "pool5": 212}
    assert {k: rf[k] for k in expected} == expected


@pytest.mark.parametrize("config,layer", [("D", "conv1_2"), ("D", "pool1"), ("D", "conv3_3"), ("D", "relu5_3"),
                                          ("D", "pool5"), ("E", "pool5"), ("C", "conv3_3"), ("A", "conv5_2")])
def test_measured_receptive_field_equals_the_formula(config, layer):
    model = meta_vgg(config)
    assert measure_receptive_field(model, layer) == receptive_fields(model)[layer]


def test_1x1_conv_adds_nothing_to_the_receptive_field():
    rf = receptive_fields(meta_vgg("C"))
    assert rf["conv3_3"] == rf["conv3_2"] and rf["conv5_3"] == rf["conv5_2"]


def test_receptive_field_column_of_the_table():
    model = meta_vgg("D")
    table = layer_table(model, 448)
    by_name = {r.paper_name: r for r in table}
    assert all(by_name[k].receptive_field == v for k, v in receptive_fields(model).items())
    # At 448 the features are 14x14 and the adaptive pool averages 2x2 bins, 32 input pixels apart.
    assert by_name["avgpool"].receptive_field == 212 + 32
    assert by_name["fc6"].receptive_field is None
    assert {r.paper_name: r.receptive_field for r in layer_table(model)}["avgpool"] == 212  # 7 -> 7: no change


def test_measure_receptive_field_rejects_fc_layers():
    with pytest.raises(LayerNameError, match="whole image"):
        measure_receptive_field(meta_vgg("A"), "fc6")
