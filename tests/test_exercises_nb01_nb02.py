"""Notebooks 01 and 02: every check passes its own solution, fails wrong answers, never raises."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_utils.architecture import build_vgg, layer_table
from course_utils.exercises import nb01, nb02, solution_source


def _verdicts(capsys) -> tuple[int, int, int]:
    out = capsys.readouterr().out
    return out.count("✅ Correct!"), out.count("❌ Not yet"), out.count("Not attempted yet")


# --- notebook 01 -------------------------------------------------------------------------------

def test_nb01_solutions_pass(capsys):
    assert nb01.solution_layers_for_11x11() == 5
    assert nb01.check_layers_for_11x11(nb01.solution_layers_for_11x11()) is True
    assert nb01.check_fc_share(nb01.solution_fc_share()) is True
    assert nb01.check_gmacs_at_112(nb01.solution_gmacs_at_112()) is True
    assert _verdicts(capsys) == (3, 0, 0)


def test_nb01_expected_values_by_hand():
    # 112x112: the convolutions do a quarter of their 224x224 work; fc6-fc8 the same as ever.
    with torch.device("meta"):
        full = layer_table(build_vgg("D", init_weights=False))
    split = full.split()
    assert nb01.solution_gmacs_at_112() == pytest.approx((split["conv"]["macs"] / 4 + split["fc"]["macs"]) / 1e9)
    assert 0.89 < nb01.solution_fc_share() < 0.90


def test_nb01_wrong_answers_fail(capsys):
    assert nb01.check_layers_for_11x11(4) is False
    assert nb01.check_layers_for_11x11(6) is False
    assert nb01.check_layers_for_11x11(2.5) is False
    assert nb01.check_layers_for_11x11("five") is False
    assert nb01.check_fc_share(89.4) is False  # a percentage, not a fraction
    assert nb01.check_fc_share(0.743) is False  # fc6 alone
    assert nb01.check_fc_share([0.9]) is False
    with torch.device("meta"):
        full = layer_table(build_vgg("D", init_weights=False))
    assert nb01.check_gmacs_at_112(full.gmacs / 4) is False  # forgot that the FC layers do not shrink
    assert nb01.check_gmacs_at_112(full.gmacs) is False
    assert _verdicts(capsys) == (0, 9, 0)


def test_nb01_hints_say_what_is_wrong(capsys):
    nb01.check_fc_share(89.4)
    nb01.check_fc_share(0.743)
    out = capsys.readouterr().out
    assert "percentage" in out and "fc6 alone" in out


def test_nb01_unattempted(capsys):
    for check in (nb01.check_layers_for_11x11, nb01.check_fc_share, nb01.check_gmacs_at_112):
        assert check(None) is False
    assert _verdicts(capsys) == (0, 0, 3)


# --- notebook 02 -------------------------------------------------------------------------------

def test_nb02_solutions_pass(capsys):
    assert nb02.check_vgg13(nb02.solution_vgg13()) is True
    assert nb02.check_config_c(nb02.solution_config_c()) is True
    assert _verdicts(capsys) == (2, 0, 0)


def test_nb02_solution_source_is_notebook_code():
    src = solution_source(nb02.solution_config_c)
    assert "(256, 1)" in src and src.splitlines()[-1] == "answer = VGG(make_features(cfg_c))"
    scope = {"VGG": lambda features: features, "make_features": lambda cfg: cfg}  # stand-ins for the notebook's own
    exec(src, scope)
    assert scope["answer"].count("M") == 5


def test_nb02_wrong_models_fail(capsys):
    with torch.device("meta"):  # wrong in structure: caught before any weights are needed
        vgg11 = build_vgg("A", init_weights=False)
        vgg13_bn = build_vgg("B", batch_norm=True, init_weights=False)
        vgg16 = build_vgg("D", init_weights=False)
        vgg13_meta = build_vgg("B", init_weights=False)
    assert nb02.check_vgg13(vgg11) is False
    assert nb02.check_vgg13(vgg13_bn) is False
    assert nb02.check_config_c(vgg16) is False  # 3x3 where C has 1x1
    assert nb02.check_vgg13(vgg13_meta) is False  # right shapes, but no weights to run
    assert nb02.check_vgg13("vgg13") is False
    out = capsys.readouterr().out
    assert out.count("❌ Not yet") == 5
    assert "Batch norm" in out and "1x1" in out and "nn.Module" in out and "meta" in out


def test_nb02_same_names_but_wrong_forward_fails(capsys):
    """A 1x1 conv with padding=1 has the right weights but grows the map: the logits tell."""
    model = nb02.solution_config_c()
    conv = model.features[14]
    assert conv.kernel_size == (1, 1)
    conv.padding = (1, 1)
    assert nb02.check_config_c(model) is False
    assert "different logits" in capsys.readouterr().out


def test_nb02_a_forward_that_raises_is_reported(capsys):
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nb02.solution_vgg13()
            self.features, self.avgpool, self.classifier = self.inner.features, self.inner.avgpool, self.inner.classifier
            del self.inner

        def forward(self, x):  # forgot torch.flatten
            return self.classifier(self.avgpool(self.features(x)))

    assert nb02.check_vgg13(Broken()) is False
    assert "raised" in capsys.readouterr().out


def test_nb02_unattempted(capsys):
    assert nb02.check_vgg13(None) is False
    assert nb02.check_config_c(None) is False
    assert _verdicts(capsys) == (0, 0, 2)
