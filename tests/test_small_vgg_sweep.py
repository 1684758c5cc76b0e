"""The stored learning-rate sweep behind notebook 06's fair comparisons, and its loader."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from course_utils.small_vgg import RECIPE, SMALL_VGG_SWEEP_PATH, load_small_vgg_sweep

ROOT = Path(__file__).resolve().parent.parent


def _history(val_acc: list[float]) -> dict:
    n = len(val_acc)
    return dict(train_loss=[1.0] * n, train_acc=[0.5] * n, val_loss=[1.0] * n, val_acc=val_acc,
                lr=[0.1] * n, seconds=list(range(1, n + 1)))


def _write(tmp_path: Path, runs: list[dict]) -> Path:
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(dict(budget={"epochs": 2}, variants={}, runs=runs, versions={"torch": "x"})))
    return path


def test_best_is_the_rate_with_the_highest_validation_accuracy_and_skips_diverged_runs(tmp_path):
    sweep = load_small_vgg_sweep(_write(tmp_path, [
        dict(variant="A-bn", lr=0.01, history=_history([0.3, 0.5])),
        dict(variant="A-bn", lr=0.1, history=_history([0.7, 0.6])),   # best epoch 0.7, not the last one
        dict(variant="A-bn", lr=0.05, history=_history([0.4, 0.65])),
        dict(variant="A-bn", lr=1.0, history=None, diverged="loss became nan"),
        dict(variant="A-plain", lr=0.01, history=_history([0.9, 0.9])),  # another variant: ignored
    ]))
    lr, history = sweep.best("A-bn")
    assert lr == 0.1 and history.val_acc == [0.7, 0.6]
    assert sweep.rates("A-bn") == [0.01, 0.05, 0.1, 1.0]
    assert sweep.runs[("A-bn", 1.0)] is None


def test_best_of_a_variant_that_never_finished_names_the_known_variants(tmp_path):
    sweep = load_small_vgg_sweep(_write(tmp_path, [dict(variant="A-plain", lr=1.0, history=None, diverged="nan"),
                                                   dict(variant="A-bn", lr=0.1, history=_history([0.5]))]))
    with pytest.raises(KeyError, match="A-bn"):
        sweep.best("A-plain")


def test_a_missing_sweep_file_says_how_to_rebuild_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="scripts/sweep_small_vgg.py"):
        load_small_vgg_sweep(tmp_path / "nope.json")


def _script_budget() -> dict:
    spec = importlib.util.spec_from_file_location("sweep_script", ROOT / "scripts" / "sweep_small_vgg.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BUDGET, module.LRS


def test_the_shipped_sweep_is_complete_and_matches_its_script():
    sweep = load_small_vgg_sweep()
    budget, grid = _script_budget()
    assert sweep.budget == budget, f"{SMALL_VGG_SWEEP_PATH} was made with another budget: rerun the script"
    for variant, rates in grid.items():
        assert sweep.rates(variant) == sorted(rates)
        for lr in rates:
            history = sweep.runs[(variant, lr)]
            assert history is None or history.epochs == budget["epochs"]
    # notebook 06 reruns A with batch norm at the course's rate, and compares both variants there
    assert RECIPE["lr"] in sweep.rates("A-bn") and RECIPE["lr"] in sweep.rates("A-plain")
    assert sweep.runs[("A-bn", RECIPE["lr"])] is not None
