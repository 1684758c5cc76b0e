"""course_utils.running: eval mode that gives the model back as it was, and one image or a batch."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from course_utils.running import as_batch, eval_mode


def test_as_batch_accepts_one_image_or_a_batch():
    assert as_batch(torch.zeros(3, 8, 8)).shape == (1, 3, 8, 8)
    assert as_batch(torch.zeros(2, 3, 8, 8)).shape == (2, 3, 8, 8)


@pytest.mark.parametrize("shape", [(8, 8), (1, 8, 8), (4, 8, 8), (2, 1, 8, 8), (1, 2, 3, 8, 8)])
def test_wrong_image_shapes_name_the_expected_shape(shape):
    expected = r"\(3, H, W\) or a batch \(B, 3, H, W\), got " + re.escape(str(shape))
    with pytest.raises(ValueError, match=expected):
        as_batch(torch.zeros(shape))


def test_eval_mode_restores_each_modules_own_mode_even_after_an_error():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5), nn.BatchNorm1d(2))
    model.train()
    model[2].eval()  # a frozen batch norm inside a model that trains: a mode of its own
    with pytest.raises(RuntimeError), eval_mode(model):
        assert not any(m.training for m in model.modules())
        raise RuntimeError("a failing cell")
    assert [m.training for m in model.modules()] == [True, True, True, False]
