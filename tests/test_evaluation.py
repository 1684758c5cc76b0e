"""evaluation: accuracy and predictions against a hand count, the confusion matrix, cached features, mode kept."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_utils.evaluation import confusion_matrix, evaluate, extract_features, predicted_labels


def test_evaluate_and_predict_agree_with_a_hand_count():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([0, 1, 1, 1])
    model = nn.Identity()
    model.register_parameter("dummy", nn.Parameter(torch.zeros(1)))  # gives the model a device
    loss, acc = evaluate(model, DataLoader(TensorDataset(x, y), 3))
    assert acc == 0.75
    assert loss == pytest.approx(nn.functional.cross_entropy(x, y).item())
    preds, labels = predicted_labels(model, DataLoader(TensorDataset(x, y), 3))
    assert preds.tolist() == [0, 1, 0, 1] and labels.tolist() == [0, 1, 1, 1]


def test_confusion_matrix_rows_are_true_classes():
    m = confusion_matrix(torch.tensor([0, 1, 0, 2]), torch.tensor([0, 1, 1, 2]), num_classes=3)
    assert m.tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    assert m.sum() == 4
    # a class that no image has and the model never predicts still gets its row and column
    assert confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 1]), num_classes=3).shape == (3, 3)
    # too few classes is an error that says so, never a count in the wrong cell
    with pytest.raises(ValueError, match="a prediction of 7 does not fit 5 classes"):
        confusion_matrix(torch.tensor([7]), torch.tensor([0]), num_classes=5)
    with pytest.raises(ValueError, match="a label of 5 does not fit 5 classes"):
        confusion_matrix(torch.tensor([0]), torch.tensor([5]), num_classes=5)


def test_extract_features_caches_a_frozen_modules_outputs(blobs):
    torch.manual_seed(0)
    body = nn.Sequential(nn.Linear(8, 4), nn.ReLU())
    ds = blobs(20)
    cached = extract_features(body, DataLoader(ds, 6))
    assert len(cached) == 20
    feats, labels = cached.tensors
    assert feats.shape == (20, 4) and not feats.requires_grad
    assert torch.allclose(feats, body(ds.tensors[0]))
    assert torch.equal(labels, ds.tensors[1])


@pytest.mark.parametrize("helper", ["evaluate", "predicted_labels", "extract_features"])
def test_the_evaluation_helpers_run_in_eval_mode_and_give_the_mode_back(helper, blobs, mlp):
    """Dropout is off while they run (two passes agree), and a model in training stays in training."""
    torch.manual_seed(0)
    model = mlp().train()
    loader = DataLoader(blobs(40), 16)
    run = {"evaluate": evaluate, "predicted_labels": predicted_labels, "extract_features": extract_features}[helper]
    first, second = run(model, loader), run(model, loader)
    if helper == "extract_features":
        first, second = first.tensors, second.tensors
    assert all(torch.equal(torch.as_tensor(a), torch.as_tensor(b)) for a, b in zip(first, second)), "dropout was on"
    assert model.training and all(m.training for m in model.modules()), f"{helper} left the model in eval mode"
