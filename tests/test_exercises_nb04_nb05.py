"""Notebooks 04 and 05: every solution passes its check; wrong and missing answers fail politely."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from course_utils.exercises import nb04, nb05, solution_source

EXERCISES = [
    (nb04.check_bn_parameters, nb04.solution_bn_parameters),
    (nb04.check_flip_augment, nb04.solution_flip_augment),
    (nb04.check_most_confused, nb04.solution_most_confused),
    (nb05.check_frozen_with_new_head, nb05.solution_frozen_with_new_head),
    (nb05.check_block5_parameters, nb05.solution_block5_parameters),
    (nb05.check_param_groups, nb05.solution_param_groups),
]
IDS = [check.__name__ for check, _ in EXERCISES]


@pytest.mark.parametrize("check, solution", EXERCISES, ids=IDS)
def test_solution_passes_its_check(check, solution, capsys):
    assert check(solution()) is True
    assert "✅ Correct!" in capsys.readouterr().out


@pytest.mark.parametrize("check, solution", EXERCISES, ids=IDS)
def test_revealed_solution_runs_as_notebook_code(check, solution, capsys):
    scope: dict = {}
    exec(solution_source(solution), scope)
    assert check(scope["answer"]) is True


@pytest.mark.parametrize("check", [c for c, _ in EXERCISES], ids=IDS)
def test_unattempted_exercise_does_not_raise(check, capsys):
    assert check(None) is False
    assert "Not attempted yet" in capsys.readouterr().out


def _expect_hint(capsys, check, answer, hint):
    assert check(answer) is False
    out = capsys.readouterr().out
    assert "❌ Not yet" in out and hint in out, out


def test_nb04_bn_parameters_wrong_answers(capsys):
    _, layers, channels = nb04._bn_parameters()
    _expect_hint(capsys, nb04.check_bn_parameters, "many", "a number")
    _expect_hint(capsys, nb04.check_bn_parameters, layers, "number of batch-norm layers")
    _expect_hint(capsys, nb04.check_bn_parameters, channels, "two learnable")
    _expect_hint(capsys, nb04.check_bn_parameters, 4 * channels, "buffers")
    _expect_hint(capsys, nb04.check_bn_parameters, 7, "is not it")


def test_nb04_flip_augment_wrong_answers(capsys):
    _expect_hint(capsys, nb04.check_flip_augment, 3, "function")
    _expect_hint(capsys, nb04.check_flip_augment, lambda x: x.flip(-1), "every image")
    _expect_hint(capsys, nb04.check_flip_augment, lambda x: x.clone(), "no image")
    _expect_hint(capsys, nb04.check_flip_augment, lambda x: x.flip(-2), "top-bottom")
    _expect_hint(capsys, nb04.check_flip_augment, lambda x: x + 1, "neither")
    _expect_hint(capsys, nb04.check_flip_augment, lambda x: x[:3], "shape")

    def in_place(x):
        x[0] = x[0].flip(-1)
        return x

    _expect_hint(capsys, nb04.check_flip_augment, in_place, "in place")


def test_nb04_most_confused_wrong_answers(capsys):
    right = nb04.solution_most_confused()
    _expect_hint(capsys, nb04.check_most_confused, "circle", "pair of class names")
    _expect_hint(capsys, nb04.check_most_confused, ("circle", "hexagon"), "not in the classes")
    _expect_hint(capsys, nb04.check_most_confused, ("star", "star"), "diagonal")
    mistakes = nb04._confusion()
    mistakes.fill_diagonal_(0)
    from course_utils.data import CLASSES

    true, pred = CLASSES.index(right[0]), CLASSES.index(right[1])
    if mistakes[pred, true] != mistakes[true, pred]:  # not a tie: the reversed pair is a mix-up of rows and columns
        _expect_hint(capsys, nb04.check_most_confused, tuple(right[::-1]), "swap")
    rare = min(((i, j) for i in range(len(CLASSES)) for j in range(len(CLASSES)) if i != j), key=lambda ij: mistakes[ij])
    if mistakes[rare] < mistakes.max() and mistakes[rare[::-1]] < mistakes.max():
        _expect_hint(capsys, nb04.check_most_confused, (CLASSES[rare[0]], CLASSES[rare[1]]), "most common mistake")


def test_nb05_frozen_head_wrong_answers(capsys):
    model = torchvision.models.vgg11()
    _expect_hint(capsys, nb05.check_frozen_with_new_head, "vgg", "model itself")
    _expect_hint(capsys, nb05.check_frozen_with_new_head, model, "outputs")  # still 1000 classes
    model.classifier[6] = nn.Linear(4096, 5)
    _expect_hint(capsys, nb05.check_frozen_with_new_head, model, "requires_grad_(False)")
    model.requires_grad_(False)
    _expect_hint(capsys, nb05.check_frozen_with_new_head, model, "nothing is trainable")


def test_nb05_block5_wrong_answers(capsys):
    _expect_hint(capsys, nb05.check_block5_parameters, "lots", "a number")
    _expect_hint(capsys, nb05.check_block5_parameters, 132_863_336, "blocks 1-4 stay frozen")
    _expect_hint(capsys, nb05.check_block5_parameters, 1000, "is not it")
    assert nb05.check_block5_parameters(torch.tensor(nb05._block5_count())) is True


def test_nb05_param_groups_wrong_answers(capsys):
    _expect_hint(capsys, nb05.check_param_groups, 0.01, "function")
    _expect_hint(capsys, nb05.check_param_groups, lambda m: torch.optim.Adam(m.parameters()), "SGD")
    _expect_hint(capsys, nb05.check_param_groups, lambda m: torch.optim.SGD(m.parameters(), lr=0.01), "1 parameter group")
    swapped = lambda m: torch.optim.SGD([{"params": m.features[16:].parameters(), "lr": 0.01},  # noqa: E731
                                         {"params": m.classifier.parameters(), "lr": 0.001}], lr=0.01, momentum=0.9)
    _expect_hint(capsys, nb05.check_param_groups, swapped, "expected model.features[16:] at 0.001")
    no_momentum = lambda m: torch.optim.SGD([{"params": m.features[16:].parameters(), "lr": 0.001},  # noqa: E731
                                             {"params": m.classifier.parameters(), "lr": 0.01}], lr=0.01)
    _expect_hint(capsys, nb05.check_param_groups, no_momentum, "momentum")
    _expect_hint(capsys, nb05.check_param_groups, lambda m: 1 / 0, "ZeroDivisionError")
