"""course_utils.architecture: the configurations, the parameters, torchvision's own models.

Expected values come from torchvision's metadata, from the paper, or from arithmetic
written out here independently of the code under test.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from meta_models import TORCHVISION_VGGS, meta_torchvision, meta_vgg
from torch import nn

from course_utils.architecture import build_vgg
from course_utils.counting import count_parameters
from course_utils.layer_names import paper_names

# --- torchvision's own VGGs, layer for layer ----------------------------------------------------

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


def test_width_scales_channels_and_config_names_are_checked():
    small = meta_vgg("A", width=0.25)
    assert [m.out_channels for m in small.features if isinstance(m, nn.Conv2d)][:3] == [16, 32, 64]
    with pytest.raises(ValueError, match="A, B, C, D, E"):
        build_vgg("vgg17")
