"""How well a trained model does: accuracy, its predictions, the confusion matrix, cached features.

Notebook 07 measures a trained VGG with ``evaluate`` and reads its mistakes with
``predicted_labels`` and ``confusion_matrix``; notebook 08 does the same for its fine-tuned models
and trains a new head on features that ``extract_features`` computes once. Each helper that runs a
model runs it in eval mode (no dropout, batch norm's running statistics) and without gradients,
and gives it back in the mode it was in (``running.eval_mode``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_utils.device import model_device
from course_utils.running import eval_mode
from course_utils.training import run_epoch


def evaluate(model: nn.Module, loader: DataLoader, device: torch.device | None = None) -> tuple[float, float]:
    """(mean loss, accuracy) of ``model`` on ``loader``, in eval mode, without gradients.

    The model is given back in the mode it was in: evaluating in the middle of training does not
    turn its dropout off for the next epoch.
    """
    device = device or model_device(model)
    with eval_mode(model):
        return run_epoch(model, loader, device, desc="evaluate", progress=False)


@torch.no_grad()
def predicted_labels(model: nn.Module, loader: DataLoader,
                     device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted labels, true labels) over a loader, in eval mode, for a confusion matrix (mode restored)."""
    device = device or model_device(model)
    preds, labels = [], []
    with eval_mode(model):
        for batch in loader:
            preds.append(model(batch[0].to(device)).argmax(1).cpu())
            labels.append(torch.as_tensor(batch[1]))
    return torch.cat(preds), torch.cat(labels)


def confusion_matrix(preds: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts: row = true class, column = predicted class, ``num_classes`` of each.

    The number of classes is given, not guessed from the labels: a class that no image of the
    test set has, or that the model never predicts, still gets its row and column.
    """
    preds, labels = torch.as_tensor(preds).long(), torch.as_tensor(labels).long()
    for what, values in (("label", labels), ("prediction", preds)):
        outside = values[(values < 0) | (values >= num_classes)]
        if outside.numel():
            raise ValueError(f"a {what} of {outside[0].item()} does not fit {num_classes} classes (0 to "
                             f"{num_classes - 1}): pass the number of classes the model has, num_classes=len(classes).")
    index = labels * num_classes + preds
    return torch.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


@torch.no_grad()
def extract_features(module: nn.Module, loader: DataLoader, device: torch.device | None = None) -> TensorDataset:
    """Run a frozen ``module`` over ``loader`` once and keep its outputs with the labels.

    Transfer learning with frozen layers computes the same features every epoch;
    computing them once turns each later epoch into a pass over small tensors.
    """
    device = device or model_device(module)
    outputs, labels = [], []
    with eval_mode(module):  # no dropout in the features; the module's mode is given back after
        for batch in loader:
            outputs.append(module(batch[0].to(device)).cpu())
            labels.append(torch.as_tensor(batch[1]))
    return TensorDataset(torch.cat(outputs), torch.cat(labels))
