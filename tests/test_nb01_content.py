"""Notebook 01 (PyTorch essentials): what nbval alone cannot pin.

* The hand-written ``conv3x3`` of section 2 equals ``F.conv2d`` on shapes the notebook does not try
  (one image, one channel, non-square maps), so the lesson's claim holds in general.
* The training loop keeps the five lines in the order the lesson teaches, and ``torch.load`` is
  called with ``weights_only=True``.
* Each exercise check recognises the common wrong answers and says what is wrong (the messages a
  learner sees before reaching for the solution).
"""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from course_notebooks import cells, notebook, source
from torch import nn

from course_utils.exercises import nb01

NOTEBOOK = notebook("01")
WRONG = "❌ Not yet"


def _cells(kind: str) -> list[str]:
    return [source(c) for c in cells(NOTEBOOK, kind)]


def _code_defining(name: str) -> str:
    hits = [src for src in _cells("code") if re.search(rf"^def {name}\(", src, re.M)]
    assert len(hits) == 1, f"expected one cell defining {name}() in {NOTEBOOK.name}, found {len(hits)}"
    return hits[0]


@pytest.mark.parametrize("shape, c_out", [((1, 1, 5, 5), 1), ((3, 2, 7, 4), 5), ((2, 4, 1, 9), 3)])
def test_hand_written_conv3x3_equals_f_conv2d(shape, c_out):
    scope = {"torch": torch, "F": F}
    exec(_code_defining("conv3x3"), scope)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, generator=g)
    weight, bias = torch.randn(c_out, shape[1], 3, 3, generator=g), torch.randn(c_out, generator=g)
    ours = scope["conv3x3"](x, weight, bias)
    assert ours.shape == (shape[0], c_out, *shape[2:])
    assert torch.allclose(ours, F.conv2d(x, weight, bias, padding=1), atol=1e-5)


def test_the_loop_has_the_five_lines_in_order():
    loop = next(src for src in _cells("code") if "optimizer.step()" in src and "for step in" in src)
    order = ["logits = model(x)", "F.cross_entropy(logits, y)", "optimizer.zero_grad()",
             "loss.backward()", "optimizer.step()"]
    positions = [loop.find(line) for line in order]
    assert -1 not in positions and positions == sorted(positions), positions


def test_checkpoints_are_loaded_with_weights_only():
    code = "\n".join(_cells("code"))
    loads = re.findall(r"torch\.load\([^)]*\)", code)
    assert loads and all("weights_only=True" in call for call in loads), loads
    assert "https://pytorch.org/tutorials/beginner/basics/intro.html" in "\n".join(_cells("markdown"))


# --- wrong answers and what each check says about them ------------------------------------------

def _blocks(*modules: nn.Module) -> nn.Sequential:
    return nn.Sequential(*modules)


def _conv(c_in: int, c_out: int, **kwargs) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel_size=3, **{"padding": 1, **kwargs})


class _TwoBlocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = _blocks(_conv(3, 16), nn.ReLU(), _conv(16, 32), nn.ReLU())

    def forward(self, x):
        return self.body(x)


def _step_without_zero_grad(model, optimizer, x, y):
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_zero_grad_last(model, optimizer, x, y):
    """The order of PyTorch's own "Learn the Basics": backward, step, zero_grad. Right."""
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()


def _step_zero_grad_between(model, optimizer, x, y):
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()


def _step_no_step(model, optimizer, x, y):
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    return loss.item()


def _step_returns_tensor(model, optimizer, x, y):
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss


def _step_own_optimizer(model, optimizer, x, y):
    own = torch.optim.SGD(model.parameters(), lr=0.01)
    loss = F.cross_entropy(model(x), y)
    own.zero_grad()
    loss.backward()
    own.step()
    return loss.item()


def _step_loss_after(model, optimizer, x, y):
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return F.cross_entropy(model(x), y).item()


WRONG_ANSWERS = [
    (nb01.check_conv_output, lambda: 73_856, "pair"),
    (nb01.check_conv_output, lambda: ((8, 128, 112, 112), 73_728), "bias"),
    (nb01.check_conv_output, lambda: ((8, 112, 112, 128), 73_856), "channels second"),
    (nb01.check_conv_output, lambda: ((8, 128, 110, 110), 73_856), "padding"),
    (nb01.check_conv_output, lambda: ((128, 112, 112), 73_856), "four whole numbers"),
    (nb01.check_conv_output, lambda: ((8, 64, 112, 112), 73_856), "out_channels"),
    (nb01.check_conv_output, lambda: ((1, 128, 112, 112), 73_856), "batch size"),
    (nb01.check_conv_output, lambda: ((8, 128, 112, 112), "73856"), "whole number"),
    (nb01.check_conv_output, lambda: (73_856, (8, 128, 112, 112)), "wrong way round"),
    (nb01.check_two_blocks, lambda: _blocks(_conv(3, 16), nn.ReLU(), _conv(16, 32)), "second convolution too"),
    (nb01.check_two_blocks, lambda: _blocks(_conv(3, 16), _conv(16, 32), nn.ReLU()), "between"),
    (nb01.check_two_blocks, lambda: _blocks(_conv(3, 32), nn.ReLU(), _conv(32, 32), nn.ReLU()), "3->16"),
    (nb01.check_two_blocks, lambda: _blocks(_conv(3, 16, padding=0), nn.ReLU(), _conv(16, 32, padding=0),
                                            nn.ReLU()), "padding=1"),
    (nb01.check_two_blocks, lambda: _blocks(_conv(3, 16, bias=False), nn.ReLU(), _conv(16, 32), nn.ReLU()), "bias"),
    (nb01.check_two_blocks, lambda: _blocks(nn.ReLU(), _conv(3, 16), nn.ReLU(), _conv(16, 32)), "order"),
    (nb01.check_two_blocks, lambda: _blocks(_conv(3, 16), nn.ReLU()), "two nn.Conv2d"),
    (nb01.check_two_blocks, lambda: _TwoBlocks, "answer = _TwoBlocks()"),
    (nb01.check_two_blocks, lambda: [_conv(3, 16), nn.ReLU(), _conv(16, 32), nn.ReLU()], "nn.Sequential(*"),
    (nb01.check_train_step, lambda: _step_without_zero_grad, "zero_grad() before loss.backward()"),
    (nb01.check_train_step, lambda: _step_zero_grad_between, "did not change"),
    (nb01.check_train_step, lambda: _step_no_step, "did not change"),
    (nb01.check_train_step, lambda: _step_returns_tensor, "loss.item()"),
    (nb01.check_train_step, lambda: _step_own_optimizer, "optimizer you were given"),
    (nb01.check_train_step, lambda: _step_loss_after, "before the step"),
]


@pytest.mark.parametrize("check, make_answer, says", WRONG_ANSWERS,
                         ids=[f"{c.__name__}-{says}" for c, _, says in WRONG_ANSWERS])
def test_a_wrong_answer_is_told_what_is_wrong(check, make_answer, says, capsys):
    assert check(make_answer()) is False
    out = capsys.readouterr().out
    assert WRONG in out and says in out, out


def test_right_answers_in_other_forms_pass(capsys):
    assert nb01.check_conv_output([torch.Size([8, 128, 112, 112]), torch.tensor(73_856)]) is True
    assert nb01.check_two_blocks(_TwoBlocks()) is True
    assert nb01.check_train_step(_step_zero_grad_last) is True
