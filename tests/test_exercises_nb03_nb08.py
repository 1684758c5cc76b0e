"""Notebooks 03 and 08: every solution passes its check; wrong and missing answers fail politely."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torchvision import transforms as T

from course_utils.exercises import nb03, nb08, solution_source
from course_utils.images import IMAGENET_MEAN, IMAGENET_STD

EXERCISES = [
    (nb03.check_transform, nb03.solution_transform),
    (nb03.check_bgr_to_tensor, nb03.solution_bgr_to_tensor),
    (nb03.check_safe_predict, nb03.solution_safe_predict),
    (nb08.check_better_and_cheaper, nb08.solution_better_and_cheaper),
    (nb08.check_flop_ratio, nb08.solution_flop_ratio),
    (nb08.check_residual_block, nb08.solution_residual_block),
]
IDS = [check.__name__ for check, _ in EXERCISES]


@pytest.mark.parametrize("check, solution", EXERCISES, ids=IDS)
def test_solution_passes_its_check(check, solution, capsys):
    assert check(solution()) is True
    assert "✅ Correct!" in capsys.readouterr().out


@pytest.mark.parametrize("check, solution", EXERCISES, ids=IDS)
def test_revealed_solution_runs_as_notebook_code(check, solution, capsys):
    """What the learner sees after 'Show solution' is runnable and defines a correct `answer`."""
    src = solution_source(solution)
    assert "return answer" not in src.splitlines()[-1]
    scope: dict = {}
    exec(src, scope)
    assert check(scope["answer"]) is True


@pytest.mark.parametrize("check", [c for c, _ in EXERCISES], ids=IDS)
def test_unattempted_exercise_does_not_raise(check, capsys):
    assert check(None) is False
    assert "Not attempted yet" in capsys.readouterr().out


def _expect_hint(capsys, check, answer, hint):
    assert check(answer) is False
    out = capsys.readouterr().out
    assert "❌ Not yet" in out and hint in out, out


def test_nb03_transform_wrong_answers(capsys):
    _expect_hint(capsys, nb03.check_transform, 42, "call on a PIL image")
    _expect_hint(capsys, nb03.check_transform, T.Compose([T.Resize((224, 224)), T.ToTensor()]), "Normalize")
    stretch = T.Compose([T.Resize((224, 224)), T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    _expect_hint(capsys, nb03.check_transform, stretch, "differs")
    _expect_hint(capsys, nb03.check_transform, T.Compose([T.Resize(256), T.ToTensor()]), "shape")
    _expect_hint(capsys, nb03.check_transform, T.Resize(256), "must return a tensor")
    _expect_hint(capsys, nb03.check_transform, lambda img: 1 / 0, "ZeroDivisionError")


def test_nb03_bgr_wrong_answers(capsys):
    from PIL import Image

    from course_utils.weights import get_weights

    transform = get_weights("vgg11").transforms()
    _expect_hint(capsys, nb03.check_bgr_to_tensor, lambda bgr: transform(Image.fromarray(bgr)), "swapped")
    _expect_hint(capsys, nb03.check_bgr_to_tensor, lambda bgr: torch.zeros(3, 10, 10), "shape")
    _expect_hint(capsys, nb03.check_bgr_to_tensor, lambda bgr: bgr, "shape")


def test_nb03_safe_predict_wrong_answers(capsys):
    _expect_hint(capsys, nb03.check_safe_predict, lambda m, x: m(x).softmax(1).detach(), "dropout is still on")

    def no_softmax(m, x):
        m.eval()
        with torch.no_grad():
            return m(x)

    _expect_hint(capsys, nb03.check_safe_predict, no_softmax, "softmax")

    def leaves_eval(m, x):
        m.eval()
        with torch.no_grad():
            return m(x).softmax(1)

    _expect_hint(capsys, nb03.check_safe_predict, leaves_eval, "put it back")

    def tracks_grad(m, x):
        was = m.training
        m.eval()
        out = m(x).softmax(1)
        m.train(was)
        return out

    _expect_hint(capsys, nb03.check_safe_predict, tracks_grad, "gradients")


def test_nb08_better_and_cheaper_wrong_answers(capsys):
    _expect_hint(capsys, nb08.check_better_and_cheaper, "resnet50", "set or list")
    _expect_hint(capsys, nb08.check_better_and_cheaper, {"ResNet-50"}, "not zoo keys")
    _expect_hint(capsys, nb08.check_better_and_cheaper, {"resnet50"}, "missing")
    _expect_hint(capsys, nb08.check_better_and_cheaper, {"resnet50", "efficientnet_b0", "convnext_tiny", "inception_v3"},
                 "do not qualify")


def test_nb08_flop_ratio_wrong_answers(capsys):
    _expect_hint(capsys, nb08.check_flop_ratio, 0.5, "upside down")
    _expect_hint(capsys, nb08.check_flop_ratio, 1.0, "is off")
    _expect_hint(capsys, nb08.check_flop_ratio, "two", "expected a number")


def test_nb08_residual_block_wrong_answers(capsys):
    def plain(c):
        return nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1))

    _expect_hint(capsys, nb08.check_residual_block, plain, "skip connection")

    def shrinks(c):
        return nn.Sequential(nn.Conv2d(c, c, 3), nn.Conv2d(c, c, 3))

    _expect_hint(capsys, nb08.check_residual_block, shrinks, "padding=1")
    _expect_hint(capsys, nb08.check_residual_block, lambda c: nn.Identity(), "two 3x3 convolutions")
    _expect_hint(capsys, nb08.check_residual_block, lambda c: 3, "nn.Module")

    class Unused(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.f = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1))

        def forward(self, x):
            return x.relu()

    _expect_hint(capsys, nb08.check_residual_block, Unused, "not used")


def test_nb08_flop_check_expects_a_ratio_of_two():
    """The fact exercise 2 teaches, established independently on the real CPU model."""
    from torch.utils.flop_counter import FlopCounterMode

    model = torchvision.models.resnet18().eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.randn(1, 3, 224, 224))
    meta = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["_ops"]
    assert counter.get_total_flops() / (meta * 1e9) == pytest.approx(2.0, abs=0.01)
