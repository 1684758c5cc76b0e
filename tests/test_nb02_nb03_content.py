"""Notebooks 02 and 03: the mechanics they show by hand, and the claims nbval alone cannot pin.

* 02 computes one conv layer's multiply-adds as H x W x C_in x k² x C_out and walks the
  receptive-field recurrence by hand before trusting ``layer_table`` and ``receptive_fields``.
  Here the same first-principles formulas are checked against the helpers on every layer of
  VGG16 and VGG19, so a helper that drifts from the formula the notebook teaches fails.
* The batch-norm count is pinned to torchvision's own metadata (a different code path).
* 02's relu5_3 coverage (a 196-pixel window clipped to the image: 77% at best, 22% at a corner,
  47% on average) is recomputed here from gradients of every cell of one row, and 02 gives the
  Grad-CAM paper's own reason for the layer, not the receptive field.
* The paper's protocol (02) and initialisation story (03) stay stated, both name notebook 01 for
  the PyTorch they use, and 03 warns about the 528 MiB download, checked against ``weights.meta``.
"""

from __future__ import annotations

import json
import re

import pytest
import torch
import torchvision
from course_notebooks import notebook
from torch import nn

from course_utils.architecture import CONFIGS, build_vgg
from course_utils.counting import count_parameters, layer_table
from course_utils.receptive_field import gradient_footprint, receptive_fields


def _text(prefix: str, kind: str | None = None) -> str:
    cells = json.loads(notebook(prefix).read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if kind is None or c["cell_type"] == kind)


def _meta_vgg(name: str, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return build_vgg(name, init_weights=False, **kwargs)


@pytest.mark.parametrize("name", ["vgg16", "vgg19"])
def test_conv_multiply_adds_follow_the_formula_taught_in_02(name: str) -> None:
    model = _meta_vgg(name)
    table = layer_table(model, (3, 224, 224))
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    rows = [r for r in table if r.kind.startswith("conv")]
    assert len(rows) == len(convs)
    for conv, row in zip(convs, rows):
        h, w = row.output_shape[-2:]
        k = conv.kernel_size[0]
        assert row.macs == h * w * conv.in_channels * k * k * conv.out_channels, row.paper_name


@pytest.mark.parametrize("name", ["vgg11", "vgg16", "vgg19"])
def test_receptive_field_recurrence_taught_in_02(name: str) -> None:
    model = _meta_vgg(name)
    rf, jump, by_hand = 1, 1, []
    for layer in model.features:
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
            k = layer.kernel_size if isinstance(layer.kernel_size, int) else layer.kernel_size[0]
            s = layer.stride if isinstance(layer.stride, int) else layer.stride[0]
            rf += (k - 1) * jump
            jump *= s
            by_hand.append(rf)
    helper = receptive_fields(model)
    from_helper = [v for key, v in helper.items() if key.startswith(("conv", "pool"))]
    assert by_hand == from_helper


def test_batch_norm_parameter_count_matches_torchvision_metadata() -> None:
    extra = count_parameters(_meta_vgg("vgg16", batch_norm=True)) - count_parameters(_meta_vgg("vgg16"))
    meta = {n: torchvision.models.get_model_weights(n).DEFAULT.meta["num_params"] for n in ("vgg16", "vgg16_bn")}
    assert extra == meta["vgg16_bn"] - meta["vgg16"] == 2 * sum(c for c in CONFIGS["D"] if c != "M")


def test_02_describes_the_papers_protocol_and_times_through_time_it() -> None:
    prose = _text("02", "markdown")
    for needle in ("scale jittering", "[256, 512]", "multi-scale testing", "multi-crop", "Dense", "A-LRN",
                   "Table 3", "Table 5", "Notebook 05"):
        assert needle in prose, f"notebook 02 should mention {needle!r} (the paper's protocol, Sec. 3-4)"
    code = _text("02", "code")
    assert "perf_counter" not in code, "time with course_utils.benchmark.time_it: it synchronises a GPU"
    assert "time_it(" in code


def test_03_says_how_the_paper_really_initialised() -> None:
    prose = _text("03", "markdown")
    for needle in ("configuration A", "Glorot & Bengio (2010)", "10⁻² variance", "not** how the paper trained D",
                   "the intermediate layers were initialised randomly", "Krizhevsky et al. 2012, Sec. 5"):
        assert needle in prose, f"notebook 03's initialisation section should say {needle!r} (paper, Sec. 3.1)"


def test_03_warns_about_the_vgg16_download_in_mib_and_mb() -> None:
    """torchvision's ``_file_size`` is in MiB (527.8 for VGG16, = 553 MB): say which unit."""
    mib = torchvision.models.get_model_weights("vgg16").DEFAULT.meta["_file_size"]
    size = rf"\*\*{round(mib)} MiB\*\* \({round(mib * 2**20 / 1e6)} MB\)"
    header = _text("03", "markdown").split("## 1.")[0]
    assert re.search(rf"\*\*Downloads:\*\*[^\n]*{size}", header), "03's header must warn of the download"
    section_8 = _text("03", "markdown").split("## 8.")[1]
    assert re.search(size, section_8.split("##")[0]), "warn right before the cell that downloads VGG16"


@pytest.mark.parametrize("prefix, needles", [
    ("02", ("notebook 01", "`meta` device", "autograd")),
    ("03", ("notebook 01", "`state_dict`", "Learn the Basics")),
])
def test_the_header_names_notebook_01_for_the_pytorch(prefix: str, needles: tuple[str, ...]) -> None:
    prerequisites = _text(prefix, "markdown").split("**Prerequisites:**")[1].split("**Time:**")[0]
    for needle in needles:
        assert needle in prerequisites, f"notebook {prefix}'s Prerequisites should name {needle!r}"


def test_02_explains_flop_counter_mode_before_using_it() -> None:
    cells = json.loads(notebook("02").read_text())["cells"]
    first = next(i for i, c in enumerate(cells)
                 if c["cell_type"] == "code" and "FlopCounterMode(" in "".join(c["source"]))
    before = "\n".join("".join(c["source"]) for c in cells[:first] if c["cell_type"] == "markdown")
    assert "`torch.utils.flop_counter.FlopCounterMode`" in before and "**two**" in before


def test_relu5_3_coverage_measured_cell_by_cell() -> None:
    """Every cell of one row of relu5_3, by gradient: the 2D shares 02 prints are products of these rows."""
    layers = list(_meta_vgg("vgg16").features[:30])  # up to relu5_3
    side = 224
    rows = [int((gradient_footprint(layers, size=side, cell=(0, j)) != 0).any(dim=0).sum()) for j in range(14)]
    assert rows[6] == rows[7] == receptive_fields(_meta_vgg("vgg16"))["relu5_3"] == 196
    share = torch.tensor(rows, dtype=torch.float64)
    share = share[:, None] * share[None, :] / side**2
    assert (round(share.max().item(), 2), round(share[0, 0].item(), 2), round(share.mean().item(), 2)) == (
        0.77, 0.22, 0.47)


def test_gradient_footprint_refuses_a_cell_outside_the_map() -> None:
    with pytest.raises(ValueError, match="outside the 14x14 output map"):
        gradient_footprint(list(_meta_vgg("vgg16").features[:30]), size=224, cell=(14, 0))


def test_02_gives_the_grad_cam_papers_reason_for_the_last_conv_layer() -> None:
    prose = _text("02", "markdown")
    assert "arXiv:1610.02391" in prose
    assert ("best compromise between high-level semantics and detailed spatial information" in prose)
    assert "sees nearly the whole" not in _text("02")


def _vgg13_pool3(init: bool) -> nn.Module:
    """VGG13 on the CPU whose pool1 is MaxPool2d(3, 2, padding=1): the same weights fit, the function differs."""
    model = build_vgg("B", init_weights=init)
    model.features[4] = nn.MaxPool2d(3, 2, padding=1)
    return model


@pytest.mark.parametrize("init", [True, False])
def test_03_logits_check_follows_the_logits_scale(init: bool, capsys) -> None:
    """With PyTorch's default init the logits are small; a fixed atol of 1e-5 nearly passed this wrong pool."""
    from course_utils.exercises import nb03

    assert not nb03.check_vgg13(_vgg13_pool3(init))
    assert "different logits" in capsys.readouterr().out


@pytest.mark.parametrize("config, counts", [("A", "8 convolutions, the reference has 10"),
                                            ("D", "13 convolutions, the reference has 10")])
def test_03_a_wrong_configuration_is_told_to_count_convolutions(config: str, counts: str, capsys) -> None:
    from course_utils.exercises import nb03

    assert not nb03.check_vgg13(_meta_vgg(config))
    out = capsys.readouterr().out
    assert counts in out and "Hint 1" in out


def test_02_checks_name_the_convolutions_share_and_flops(capsys) -> None:
    from course_utils.exercises import nb02

    assert not nb02.check_fc_share(1 - nb02.solution_fc_share())
    assert "convolutions' share" in capsys.readouterr().out
    assert not nb02.check_gmacs_at_112(2 * nb02.solution_gmacs_at_112())
    assert "FLOPs" in capsys.readouterr().out


def test_02_fc6_is_counted_as_parameters_not_weights() -> None:
    """fc6's 102,764,544 include 4096 biases: 02 must not call them weights."""
    code = _text("02", "code")
    assert "params:,} parameters: " in code and "plus 4096 biases" in code
