"""The trained small VGG shipped in data/: small, safe to load, and as accurate as measured.

Measured when it was made (scripts/train_small_vgg.py, see data/README.md): 99.8% on the
script's own test split (seed 2), 99.2% on 1000 fresh images with seed 12345 below.
The threshold leaves room for other CPUs' floating-point differences, not for a worse model.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader

from course_utils.checkpoints import load_checkpoint
from course_utils.data import CLASSES, ShapesDataset
from course_utils.evaluation import confusion_matrix, predicted_labels
from course_utils.small_vgg import RECIPE, SMALL_VGG_INPUT, SMALL_VGG_PATH, load_small_vgg, load_small_vgg_history

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
