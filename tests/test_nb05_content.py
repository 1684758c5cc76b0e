"""Notebook 05's teaching content that nbval alone cannot pin.

* The inference_mode demonstration must make its point on every device. Run under nbval it
  only ever sees the CPU, where ``.cpu()`` is a no-op, so an earlier version that copied the
  outputs to the CPU before using them in autograd "worked" here and showed nothing on a GPU
  (the copy is an ordinary tensor). This test runs the notebook's own cell on the CPU, on the
  ``meta`` device (a non-CPU device every machine has) and on any accelerator present.
* The notebook stands on its own: it loads what it uses instead of relying on notebook 04's
  variables, and its pointers to other notebooks say what those notebooks do.
"""

import re

import pytest
import torch
from course_notebooks import cells, notebook, prose, source
from torch import nn

NOTEBOOK = notebook("05")
DEMO_MARKER = "# demo: inference_mode on any device"




def _demo_source() -> str:
    hits = [source(c) for c in cells(NOTEBOOK) if c["cell_type"] == "code" and DEMO_MARKER in source(c)]
    assert len(hits) == 1, f"expected one cell marked {DEMO_MARKER!r} in {NOTEBOOK.name}, found {len(hits)}"
    return hits[0]


def _devices() -> list[str]:
    devices = ["cpu", "meta"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        devices.append("mps")
    return devices


@pytest.mark.parametrize("device", _devices())
def test_inference_mode_demo_refuses_inference_tensors_on_every_device(device):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 10)).to(device).eval()  # a tiny stand-in for VGG11
    one = torch.randn(1, 3, 4, 4, device=device)
    namespace = {"torch": torch, "model": model, "one": one, "print": lambda *a: None}
    exec(compile(_demo_source(), "notebook 05 inference_mode demo", "exec"), namespace)  # the cell asserts too
    refused = namespace["refused"]
    assert refused["no_grad"] is None
    assert "Inference tensors" in refused["inference_mode"]
    assert namespace["out_inference"].device.type == device  # the demo kept the output on the device


def test_sections_are_numbered_from_one():
    numbers = [int(m) for m in re.findall(r"^## (\d+)\.", prose(NOTEBOOK), re.M)]
    assert numbers == list(range(1, len(numbers) + 1)), numbers


def test_loads_its_own_model_and_photos_before_using_them():
    """Notebook 05 was cut from the old notebook 03: it must define what its sections use."""
    code = [source(c) for c in cells(NOTEBOOK) if c["cell_type"] == "code"]
    first_use = next(i for i, src in enumerate(code) if "model.train()" in src)
    setup = "\n".join(code[:first_use])
    for name in ("model = load_pretrained(", "crop_batch =", "categories", "transform", "photos ="):
        assert name in setup, f"notebook 05 uses {name!r} before defining it"


def test_points_to_notebook_02_for_the_tables_rather_than_saying_it_lists_them():
    text = prose(NOTEBOOK)
    assert "lists its Tables" not in text
    assert "Tables 3 to 5" not in text or "points to" in text


def test_quotes_code_instead_of_pointing_to_an_unseen_text():
    everything = "\n".join(source(c) for c in cells(NOTEBOOK)).lower()
    for unseen in (r"seed text", r"\bthe seed\b", r"the text this course started from", r"started from"):
        assert not re.search(unseen, everything), f"notebook 05 points to {unseen!r}, which a learner never sees"


def test_linear_to_conv_check_explains_copying_into_a_parameter_outside_no_grad():
    import contextlib
    import io

    from course_utils.exercises import nb05

    def copy_while_recording(linear, in_channels, k):
        conv = nn.Conv2d(in_channels, linear.out_features, k)
        conv.weight.copy_(linear.weight.view(linear.out_features, in_channels, k, k))  # raises: autograd records
        return conv

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert nb05.check_linear_to_conv(copy_while_recording) is False
    assert "torch.no_grad()" in out.getvalue() and "Hint 2" in out.getvalue()
