"""Notebooks 02 and 03: the mechanics they show by hand, and the claims nbval alone cannot pin.

* 01 computes one conv layer's multiply-adds as H x W x C_in x k² x C_out and walks the
  receptive-field recurrence by hand before trusting ``layer_table`` and ``receptive_fields``.
  Here the same first-principles formulas are checked against the helpers on every layer of
  VGG16 and VGG19, so a helper that drifts from the formula the notebook teaches fails.
* 01's batch-norm count is pinned to torchvision's own metadata (a different code path).
* The paper's protocol (01) and initialisation story (02) stay stated, and 02 warns about the
  528 MB download, a number checked against ``weights.meta`` here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from course_utils.architecture import CONFIGS, build_vgg
from course_utils.counting import count_parameters, layer_table
from course_utils.receptive_field import receptive_fields

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _notebook(prefix: str) -> Path:
    hits = sorted(NOTEBOOKS.glob(f"{prefix}_*.ipynb"))
    assert len(hits) == 1, f"expected one notebook {prefix}_*.ipynb, found {[p.name for p in hits]}"
    return hits[0]


def _text(prefix: str, kind: str | None = None) -> str:
    cells = json.loads(_notebook(prefix).read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if kind is None or c["cell_type"] == kind)


def _meta_vgg(name: str, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return build_vgg(name, init_weights=False, **kwargs)


@pytest.mark.parametrize("name", ["vgg16", "vgg19"])
def test_conv_multiply_adds_follow_the_formula_taught_in_01(name: str) -> None:
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
def test_receptive_field_recurrence_taught_in_01(name: str) -> None:
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


def test_01_describes_the_papers_protocol_and_times_through_time_it() -> None:
    prose = _text("01", "markdown")
    for needle in ("scale jittering", "[256, 512]", "multi-scale testing", "multi-crop", "Dense", "A-LRN",
                   "Table 3", "Table 5", "Notebook 04"):
        assert needle in prose, f"notebook 02 should mention {needle!r} (the paper's protocol, Sec. 3-4)"
    code = _text("01", "code")
    assert "perf_counter" not in code, "time with course_utils.benchmark.time_it: it synchronises a GPU"
    assert "time_it(" in code


def test_02_says_how_the_paper_really_initialised() -> None:
    prose = _text("02", "markdown")
    for needle in ("configuration A", "Glorot & Bengio (2010)", "10⁻² variance", "not** how the paper trained D"):
        assert needle in prose, f"notebook 03's initialisation section should say {needle!r} (paper, Sec. 3.1)"


def test_02_warns_about_the_vgg16_download_with_the_right_size() -> None:
    size_mb = round(torchvision.models.get_model_weights("vgg16").DEFAULT.meta["_file_size"])
    header = _text("02", "markdown").split("## 1.")[0]
    assert re.search(rf"\*\*Downloads:\*\*[^\n]*\*\*{size_mb} MB\*\*", header), "02's header must warn of the download"
    section_8 = _text("02", "markdown").split("## 8.")[1]
    assert f"**{size_mb} MB**" in section_8.split("##")[0], "warn right before the cell that downloads VGG16"
