"""course_utils.receptive_field: by formula, and measured by gradient; the two must agree.

Expected values are worked out here by hand (a 3x3 stack grows by 2 per layer), not by the code.
"""

from __future__ import annotations

import pytest
import torch
from meta_models import meta_vgg
from torch import nn

from course_utils.counting import layer_table
from course_utils.layer_names import LayerNameError
from course_utils.receptive_field import (
    gradient_footprint,
    measure_receptive_field,
    receptive_fields,
    stacked_receptive_field,
)

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
