"""Exercises for notebook 01 (PyTorch essentials): a conv's shape and size, two conv blocks, one training step.

Each check works its expected answer out another way than the solution does:

* ``check_conv_output``: the output side from the formula (H + 2·padding − kernel) / stride + 1 and
  the parameter count from 3·3·C_in·C_out + C_out; the solution asks PyTorch, on the meta device.
* ``check_two_blocks``: the output recomputed from the learner's own weights with ``F.conv2d`` and
  ``relu``, and the parameter count from the formula; the solution builds ``nn.Sequential``.
* ``check_train_step``: the gradient from ``torch.autograd.grad`` on a functional copy of the model
  and the SGD update p − lr·grad by hand; the solution runs the five-line loop's step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.exercises import as_number, call_safely, callable_check, not_attempted, report

HINTS = {
    "conv_output": (
        "The shape: PyTorch orders it (batch, channels, height, width). A 3x3 convolution with "
        "padding=1 keeps the height and width (section 2), and its out_channels sets the channels.",
        "The count: each of the out_channels filters holds a 3x3 grid of weights for every input channel, "
        "plus one bias of its own: section 2's 3·3·C_in·C_out + C_out, with this layer's C_in and C_out. "
        "To let PyTorch confirm both, build the layer "
        "and an empty input inside `with torch.device(\"meta\"):` (section 1) and read `out.shape` and "
        "each parameter's `numel()`.",
    ),
    "two_blocks": (
        "`nn.Sequential(a, b, c, d)` runs its modules in the order given. One conv block is "
        "`nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)` followed by `nn.ReLU()`.",
        "Four modules: a conv from 3 to 16 channels, a ReLU, a conv from 16 to 32 channels, a ReLU. The "
        "second convolution takes as many input channels as the first gives out, and a ReLU comes after "
        "each convolution, the last one included.",
    ),
    "train_step": (
        "The five lines of section 7, inside a function: forward, loss with `F.cross_entropy(logits, y)`, "
        "`optimizer.zero_grad()`, `loss.backward()`, `optimizer.step()`; then return the loss as a number.",
        "Every `.backward()` ADDS into `.grad` (section 3): without `optimizer.zero_grad()` before "
        "`loss.backward()` (or after `optimizer.step()`), the second step uses its own gradient plus the "
        "first one's. And a tensor is not a Python number: return `loss.item()`.",
    ),
}


# --- Exercise 1: the output shape and parameter count of a conv -----------------------------------

_BATCH, _C_IN, _C_OUT, _SIDE, _KERNEL, _PADDING = 8, 64, 128, 112, 3, 1


def _as_shape(value) -> tuple[int, ...] | None:
    """A shape given as a tuple, list or torch.Size of whole numbers, as a tuple of ints; else None."""
    if not isinstance(value, (tuple, list, torch.Size)):
        return None
    sides = [as_number(v, whole=True) for v in value]
    return None if any(s is None for s in sides) else tuple(sides)


def check_conv_output(answer) -> bool:
    """``answer``: (output shape, parameter count) of ``nn.Conv2d(64, 128, 3, padding=1)`` on (8, 64, 112, 112)."""
    if answer is None:
        return not_attempted()
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        return report(False, "give a pair: (output shape, parameter count), e.g. ((1, 2, 3, 4), 5).")
    shape, count = _as_shape(answer[0]), as_number(answer[1], whole=True)
    if shape is None and count is None and _as_shape(answer[1]) is not None and as_number(answer[0]) is not None:
        return report(False, "the pair is the wrong way round: the shape first, then the parameter count.")
    if shape is None or len(shape) != 4:
        return report(False, f"the shape should be four whole numbers (batch, channels, height, width), "
                             f"got {answer[0]!r:.60}.", hint=1)
    if count is None:
        return report(False, f"the parameter count should be a whole number, got {answer[1]!r:.60}.", hint=2)
    # Worked out from the formulas, not by running a layer.
    side = (_SIDE + 2 * _PADDING - _KERNEL) // 1 + 1
    expected_shape = (_BATCH, _C_OUT, side, side)
    weights = _KERNEL * _KERNEL * _C_IN * _C_OUT
    if shape != expected_shape:
        if shape == (_BATCH, side, side, _C_OUT):
            return report(False, "PyTorch puts the channels second: (batch, channels, height, width).", hint=1)
        if shape[:2] == (_BATCH, _C_OUT) and shape[2:] == (_SIDE - _KERNEL + 1,) * 2:
            return report(False, "that is the side without padding; padding=1 adds a border of zeros, "
                                 "which keeps 112 x 112.", hint=1)
        if shape[0] != _BATCH:
            return report(False, "a convolution keeps the batch size: 8 images in, 8 out.", hint=1)
        if shape[1] != _C_OUT:
            return report(False, "the output has as many channels as the layer has filters (out_channels).", hint=1)
        return report(False, f"the shape {shape} is not it.", hint=1)
    if count != weights + _C_OUT:
        if count == weights:
            return report(False, "the shape is right, and that count is the weights alone: "
                                 "each filter also has a bias.", hint=2)
        return report(False, f"the shape is right; {count:,} parameters is not it.", hint=2)
    return report(True, f"{expected_shape} and {count:,} parameters: 3*3*{_C_IN}*{_C_OUT} weights + "
                        f"{_C_OUT} biases. This is VGG16's conv2_1, the first layer of block 2.")


def solution_conv_output():
    """Ask PyTorch itself, on the meta device: shapes without numbers, so no memory and no arithmetic."""
    import torch
    from torch import nn

    with torch.device("meta"):
        conv = nn.Conv2d(64, 128, kernel_size=3, padding=1)
        out = conv(torch.empty(8, 64, 112, 112))
    n_parameters = sum(p.numel() for p in conv.parameters())  # 3*3*64*128 + 128
    answer = (tuple(out.shape), n_parameters)
    return answer


# --- Exercise 2: two conv blocks in an nn.Sequential ----------------------------------------------

_CHANNELS = (3, 16, 32)
_PROBE = (2, 3, 12, 12)


def _two_block_outputs(x: torch.Tensor, convs: list[nn.Conv2d]) -> dict[str, torch.Tensor]:
    """conv-ReLU-conv-ReLU recomputed with F.conv2d from the answer's own weights, and two slips."""
    first, second = convs
    a = F.conv2d(x, first.weight, first.bias, padding=1)
    b = F.conv2d(a.relu(), second.weight, second.bias, padding=1)
    return {"right": b.relu(), "no last ReLU": b,
            "no ReLU between": F.conv2d(a, second.weight, second.bias, padding=1).relu()}


def check_two_blocks(answer) -> bool:
    """``answer``: a module: conv 3->16, ReLU, conv 16->32, ReLU (3x3, padding 1)."""
    if answer is None:
        return not_attempted()
    if isinstance(answer, type) and issubclass(answer, nn.Module):
        return report(False, f"that is the class {answer.__name__}; give a module built from it: "
                             f"answer = {answer.__name__}().")
    if isinstance(answer, (list, tuple)) and answer and all(isinstance(m, nn.Module) for m in answer):
        return report(False, "that is a list of modules; nn.Sequential(...) makes them one module that runs "
                             "them in order: nn.Sequential(*your_list).", hint=1)
    if not isinstance(answer, nn.Module):
        return report(False, f"your answer should be a module (an nn.Sequential), got {type(answer).__name__}.",
                      hint=1)
    convs = [m for m in answer.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != 2:
        return report(False, f"expected two nn.Conv2d layers, found {len(convs)}.", hint=1)
    for conv in convs:
        if conv.kernel_size != (3, 3) or conv.stride != (1, 1) or conv.padding not in ((1, 1), "same"):
            return report(False, f"each convolution should be 3x3 with padding=1 (stride 1); one has "
                                 f"kernel_size={conv.kernel_size}, padding={conv.padding}, stride={conv.stride}.",
                          hint=1)
    got = [(c.in_channels, c.out_channels) for c in convs]
    if got != [(_CHANNELS[0], _CHANNELS[1]), (_CHANNELS[1], _CHANNELS[2])]:
        return report(False, f"the convolutions go {got[0][0]}->{got[0][1]} and {got[1][0]}->{got[1][1]} "
                             "channels; the exercise asks for 3->16, then 16->32.", hint=2)
    if any(p.is_meta for p in answer.parameters()):
        return report(False, "your module is on the meta device (shapes only); build it on the CPU to run it.")
    # 3*3*C_in*C_out weights + C_out biases per convolution, worked out from the channel counts.
    expected_count = sum(9 * c_in * c_out + c_out for c_in, c_out in zip(_CHANNELS[:-1], _CHANNELS[1:]))
    count = sum(p.numel() for p in answer.parameters())
    if count != expected_count:
        if any(c.bias is None for c in convs):
            return report(False, "a convolution has no bias (bias=False); VGG's convolutions keep theirs.")
        return report(False, f"{count:,} parameters, expected {expected_count:,}: is there an extra layer?")
    weight = convs[0].weight
    x = torch.randn(*_PROBE, generator=torch.Generator().manual_seed(0)).to(weight.device, weight.dtype)
    with torch.no_grad():
        out, err = call_safely(answer, x.clone(), doing=f"running your module on a {'x'.join(map(str, _PROBE))} tensor")
        if err:
            return report(False, err)
        if not isinstance(out, torch.Tensor):
            return report(False, f"your module returns a {type(out).__name__}; it should return one tensor.")
        if tuple(out.shape) != (_PROBE[0], _CHANNELS[2], *_PROBE[2:]):
            return report(False, f"the output has shape {tuple(out.shape)}, expected "
                                 f"{(_PROBE[0], _CHANNELS[2], *_PROBE[2:])}.", hint=1)
        outputs = _two_block_outputs(x, convs)
    close = {name: torch.allclose(out.float(), ref.float(), rtol=1e-4, atol=1e-5) for name, ref in outputs.items()}
    if close["no last ReLU"] and not close["right"]:
        return report(False, "the output has negative values: a ReLU should follow the second convolution too.",
                      hint=2)
    if close["no ReLU between"] and not close["right"]:
        return report(False, "there is no ReLU between the two convolutions: each conv needs its own.", hint=2)
    if not close["right"]:
        return report(False, "with your own weights, the output differs from conv, ReLU, conv, ReLU computed "
                             "with F.conv2d (zero padding). Check the order of the four modules.", hint=2)
    return report(True, f"conv-ReLU-conv-ReLU, output {tuple(out.shape)}, {count:,} parameters "
                        "(3*3*3*16 + 16 and 3*3*16*32 + 32). VGG16's block 1 is this with 64 channels, "
                        "and a max-pool after it.")


def solution_two_blocks():
    """Two of VGG's conv blocks in a row; inplace=True as in torchvision's VGG."""
    from torch import nn

    answer = nn.Sequential(
        nn.Conv2d(3, 16, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(inplace=True),
    )
    return answer


# --- Exercise 3: one training step ----------------------------------------------------------------

_LR = 0.1


def _problem(seed: int = 0) -> tuple[nn.Linear, torch.Tensor, torch.Tensor]:
    """A small linear classifier (6 inputs, 3 classes) and a batch of 20, all from one seed."""
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # leave the learner's random numbers as they were
        model = nn.Linear(6, 3)
    with torch.no_grad():
        model.weight.copy_(0.5 * torch.randn(3, 6, generator=g))
        model.bias.copy_(0.1 * torch.randn(3, generator=g))
    x = torch.randn(20, 6, generator=g)
    y = torch.randint(0, 3, (20,), generator=g)
    return model, x, y


def _loss_and_grads(weight: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, y: torch.Tensor):
    """Cross-entropy of x @ weight.T + bias and its gradients, by torch.autograd.grad on copies."""
    w, b = weight.detach().clone().requires_grad_(), bias.detach().clone().requires_grad_()
    loss = F.cross_entropy(x @ w.T + b, y)
    gw, gb = torch.autograd.grad(loss, (w, b))
    return loss.item(), gw, gb


def _sgd_step_matches(model: nn.Linear, w: torch.Tensor, b: torch.Tensor, gw: torch.Tensor, gb: torch.Tensor) -> bool:
    """Whether the model's weights are now (w, b) moved by one plain SGD step on the gradients (gw, gb)."""
    return (torch.allclose(model.weight.detach(), w - _LR * gw, atol=1e-6)
            and torch.allclose(model.bias.detach(), b - _LR * gb, atol=1e-6))


@callable_check("a function train_step(model, optimizer, x, y)", hint=1)
def check_train_step(answer) -> bool:
    """``answer``: ``train_step(model, optimizer, x, y)`` doing one SGD step on F.cross_entropy; returns the loss.

    Called twice: a step that forgets ``zero_grad`` is right the first time (the gradients start
    empty) and wrong the second, when it adds the new gradient to the first one.
    """
    model, x, y = _problem()
    optimizer = torch.optim.SGD(model.parameters(), lr=_LR)
    losses, history = [], []
    for step in range(2):
        w, b = model.weight.detach().clone(), model.bias.detach().clone()
        loss, gw, gb = _loss_and_grads(w, b, x, y)
        history.append((gw, gb))
        returned, err = call_safely(answer, model, optimizer, x, y, doing="train_step(model, optimizer, x, y)")
        if err:
            return report(False, err)
        if torch.equal(model.weight.detach(), w) and torch.equal(model.bias.detach(), b):
            return report(False, "the weights did not change. train_step should call loss.backward() and then "
                                 "optimizer.step(); zero_grad() comes before backward(), not between it and "
                                 "step().", hint=1)
        if step == 1 and _sgd_step_matches(model, w, b, gw + history[0][0], gb + history[0][1]):
            return report(False, "the second step used this batch's gradient plus the first step's: gradients "
                                 "add up in .grad. Call optimizer.zero_grad() before loss.backward().", hint=2)
        if not _sgd_step_matches(model, w, b, gw, gb):
            return report(False, "the weights moved, but not by one step of the optimizer you were given on the "
                                 "gradient of F.cross_entropy(model(x), y). Use that loss, and call "
                                 "optimizer.step() once.", hint=1)
        if isinstance(returned, torch.Tensor):
            return report(False, "the step is right; return loss.item(), a Python number, not the tensor: a loss "
                                 "tensor keeps its whole autograd record (and its memory) alive.", hint=2)
        value = as_number(returned)
        if value is None:
            return report(False, "the step is right; now return the loss as a Python number (loss.item()), "
                                 f"not {type(returned).__name__}.", hint=2)
        if abs(value - loss) > 1e-4 * max(1.0, abs(loss)):
            return report(False, f"the step is right, but it returned {value!r:.12}; the batch's loss before "
                                 "the step is what train_step should return.", hint=1)
        losses.append(value)
    for _ in range(20):
        returned, err = call_safely(answer, model, optimizer, x, y, doing="train_step, called again")
        if err:
            return report(False, err)
        losses.append(as_number(returned))
    if any(v is None for v in losses) or not losses[-1] < losses[0]:
        return report(False, f"over 20 more steps the returned loss did not fall ({losses[0]:.3f} -> "
                             f"{losses[-1]}).", hint=2)
    return report(True, f"one SGD step with fresh gradients each time: over {len(losses)} steps on one batch "
                        f"the loss fell from {losses[0]:.3f} to {losses[-1]:.3f}.")


def solution_train_step():
    """Forward and loss, clear the old gradients, backward, step; return the loss as a number."""
    import torch.nn.functional as F

    def train_step(model, optimizer, x, y):
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    answer = train_step
    return answer
