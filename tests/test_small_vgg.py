"""The trained small VGG shipped in data/: small, safe to load, and as accurate as measured.

Measured when it was made (scripts/train_small_vgg.py, see data/README.md): 99.8% on the
script's own test split (seed 2), 99.2% on 1000 fresh images with seed 12345 below.
The threshold leaves room for other CPUs' floating-point differences, not for a worse model.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from course_utils.checkpoints import load_checkpoint
from course_utils.data import CLASSES, ShapesDataset
from course_utils.evaluation import confusion_matrix, predicted_labels
from course_utils.layer_names import get_layer, last_conv_relu, paper_names
from course_utils.small_vgg import (
    RECIPE,
    SMALL_VGG_INPUT,
    SMALL_VGG_PATH,
    SMALL_VGG_SWEEP_PATH,
    load_small_vgg,
    load_small_vgg_history,
    load_small_vgg_sweep,
    small_vgg,
)

FRESH_SEED = 12345  # never used in training, validation or the script's test split
THRESHOLD = 0.97


def test_the_checkpoint_is_small_and_plain_data():
    assert SMALL_VGG_PATH.is_file(), "data/small_vgg.pt is missing: run scripts/train_small_vgg.py"
    assert SMALL_VGG_PATH.stat().st_size < 3 * 2**20
    state = load_checkpoint(SMALL_VGG_PATH)  # weights_only=True: plain tensors and containers
    assert tuple(state["classes"]) == CLASSES
    # The contract in course_utils/small_vgg.py's docstring: A at width 1/8, FC 256, batch norm, no pool5.
    assert state["settings"] == {"config": "A", "width": 0.125, "hidden": 256, "batch_norm": True, "drop_pool5": True}
    assert FRESH_SEED not in (state["recipe"]["train_seed"], state["recipe"]["val_seed"], state["recipe"]["test_seed"])


def test_loads_in_eval_mode_with_the_documented_input():
    model = load_small_vgg(device="cpu")
    assert not model.training
    assert isinstance(model.features[1], nn.BatchNorm2d)
    out = model(torch.rand(1, 3, SMALL_VGG_INPUT, SMALL_VGG_INPUT))
    assert out.shape == (1, len(CLASSES))


def test_accuracy_on_freshly_generated_test_data():
    model = load_small_vgg(device="cpu")
    data = ShapesDataset(1000, seed=FRESH_SEED, size=SMALL_VGG_INPUT)
    preds, labels = predicted_labels(model, DataLoader(data, batch_size=250))
    accuracy = (preds == labels).float().mean().item()
    assert accuracy >= THRESHOLD, f"shipped model scores {accuracy:.3f} on fresh data, expected >= {THRESHOLD}"
    per_class = confusion_matrix(preds, labels, len(CLASSES)).diag() / torch.bincount(labels, minlength=len(CLASSES))
    assert per_class.min() >= 0.9, f"some class is badly recognised: {per_class.tolist()}"


def test_the_stored_history_reaches_the_target():
    history = load_small_vgg_history()
    assert history.epochs == RECIPE["epochs"]
    assert history.best_val_acc() >= 0.95
    assert history.time_to(0.95) is not None


# --- The stored learning-rate sweep behind notebook 06's fair comparisons, and its loader. ----

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


# --- the small VGG's contract (notebooks 09 and 10 rely on it) ---------------------------

def test_small_vgg_contract():
    model = small_vgg().eval()
    x = torch.rand(2, 3, SMALL_VGG_INPUT, SMALL_VGG_INPUT)
    assert model(x).shape == (2, len(CLASSES))
    names = paper_names(model)
    assert "pool5" not in names and "pool4" in names
    assert last_conv_relu(model) == "relu5_2" and names["relu5_2"] == "features.27"
    seen = {}

    def hook(module, inputs, output):
        seen["shape"] = output.shape

    handle = get_layer(model, "relu5_2").register_forward_hook(hook)
    model(x)
    handle.remove()
    assert seen["shape"][-2:] == (4, 4), "the last conv map should be 4x4 at 64x64 input (pool5 removed)"
    assert sum(p.numel() for p in model.parameters()) < 500_000


def test_small_vgg_variants_for_the_comparisons():
    no_bn = small_vgg(batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in no_bn.modules())
    deep = small_vgg(config="D")
    convs = lambda m: sum(isinstance(x, nn.Conv2d) for x in m.modules())  # noqa: E731
    assert convs(deep) == 13 and convs(small_vgg()) == 8
    assert small_vgg(dropout=0.0).classifier[2].p == 0.0


def test_load_small_vgg_says_how_to_rebuild_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_small_vgg"):
        load_small_vgg(tmp_path / "nope.pt")


def test_recipe_is_the_papers_scaled_down():
    assert RECIPE["lr"] > 0 and RECIPE["n_train"] >= 1000 and RECIPE["epochs"] >= 1
    assert RECIPE["train_seed"] != RECIPE["val_seed"] != RECIPE["test_seed"]
