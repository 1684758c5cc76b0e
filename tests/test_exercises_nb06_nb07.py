"""Notebooks 06 and 07: every solution passes its check; wrong and missing answers fail politely."""

from __future__ import annotations

import pytest
import torch

from course_utils.exercises import nb06, nb07, solution_source

EXERCISES = [
    (nb06.check_output_shape, nb06.solution_output_shape),
    (nb06.check_record, nb06.solution_record),
    (nb06.check_shrink_factor, nb06.solution_shrink_factor),
    (nb07.check_gradcam_map, nb07.solution_gradcam_map),
    (nb07.check_layer_for_28, nb07.solution_layer_for_28),
    (nb07.check_pointing, nb07.solution_pointing),
]
IDS = [check.__name__ for check, _ in EXERCISES]


@pytest.mark.parametrize("check, solution", EXERCISES, ids=IDS)
def test_solution_passes_its_check(check, solution, capsys):
    assert check(solution()) is True
    assert "✅ Correct!" in capsys.readouterr().out


@pytest.mark.parametrize("check, solution", EXERCISES, ids=IDS)
def test_revealed_solution_runs_as_notebook_code(check, solution):
    scope: dict = {}
    exec(solution_source(solution), scope)
    assert check(scope["answer"]) is True


@pytest.mark.parametrize("check", [c for c, _ in EXERCISES], ids=IDS)
def test_not_attempted_is_false_without_raising(check, capsys):
    assert check(None) is False
    assert "Not attempted" in capsys.readouterr().out


def _raises(*args):
    raise RuntimeError("learner bug")


def _no_clone_record(model, module, x):
    stored = {}
    handle = module.register_forward_hook(lambda m, i, o: stored.setdefault("out", o))
    with torch.no_grad():
        model(x)
    handle.remove()
    return stored["out"]


def _leaky_record(model, module, x):
    stored = {}
    module.register_forward_hook(lambda m, i, o: stored.setdefault("out", o.clone()))
    with torch.no_grad():
        model(x)
    return stored["out"]


@pytest.mark.parametrize("check, wrong, hint", [
    (nb06.check_output_shape, (20, 20, 512), "order"),
    (nb06.check_output_shape, (1, 512, 20, 20), "batch"),
    (nb06.check_output_shape, (512, 40, 40), "pools"),
    (nb06.check_output_shape, "big", "three integers"),
    (nb06.check_record, _no_clone_record, "clone"),
    (nb06.check_record, _leaky_record, "remove"),
    (nb06.check_record, _raises, "raised"),
    (nb06.check_shrink_factor, 256, "positions"),
    (nb06.check_shrink_factor, 1 / 32, "upside down"),
    (nb07.check_gradcam_map, lambda a, g: (g.mean((1, 2))[:, None, None] * a).sum(0), "negative"),
    (nb07.check_gradcam_map, lambda a, g: (g.sum((1, 2))[:, None, None] * a).sum(0).relu(), "mean"),
    (nb07.check_gradcam_map, lambda a, g: (g.mean((1, 2))[:, None, None] * a).relu(), "shape"),
    (nb07.check_gradcam_map, _raises, "raised"),
    (nb07.check_layer_for_28, "pool4", "pool"),
    (nb07.check_layer_for_28, "relu5_3", "block 5"),
    (nb07.check_layer_for_28, 22, "string"),
    (nb07.check_pointing, lambda h, m: bool(m[int(h.argmax()) // 6, int(h.argmax()) % 6] > 0), "row"),
    (nb07.check_pointing, _raises, "raised"),
])
def test_wrong_answers_get_a_hint(check, wrong, hint, capsys):
    assert check(wrong) is False
    out = capsys.readouterr().out
    assert "Not yet" in out and hint in out
