"""Notebook 04's teaching content that nbval alone cannot pin.

* The inference_mode demonstration must make its point on every device. Run under nbval it
  only ever sees the CPU, where ``.cpu()`` is a no-op, so an earlier version that copied the
  outputs to the CPU before using them in autograd "worked" here and showed nothing on a GPU
  (the copy is an ordinary tensor). This test runs the notebook's own cell on the CPU, on the
  ``meta`` device (a non-CPU device every machine has) and on any accelerator present.
* The corrected claims about ``weights.transforms()`` stay corrected.
"""

import json
from pathlib import Path

import pytest
import torch
from torch import nn

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "04_pretrained_inference.ipynb"
DEMO_MARKER = "# demo: inference_mode on any device"


def _cells() -> list[dict]:
    return json.loads(NOTEBOOK.read_text())["cells"]


def _demo_source() -> str:
    hits = ["".join(c["source"]) for c in _cells() if c["cell_type"] == "code" and DEMO_MARKER in "".join(c["source"])]
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
    exec(compile(_demo_source(), "notebook 04 inference_mode demo", "exec"), namespace)  # the cell asserts too
    refused = namespace["refused"]
    assert refused["no_grad"] is None
    assert "Inference tensors" in refused["inference_mode"]
    assert namespace["out_inference"].device.type == device  # the demo kept the output on the device


def test_inference_transforms_are_not_called_the_training_preprocessing():
    text = "\n".join("".join(c["source"]) for c in _cells() if c["cell_type"] == "markdown")
    assert "inference transforms" in text
    assert "RandomResizedCrop" in text
    for wrong in ("the preprocessing the weights were trained with", "rarely saw", "exact preprocessing the weights"):
        assert wrong not in text, f"notebook 04 still says {wrong!r}"
