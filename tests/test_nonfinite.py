"""NaN and infinity get a clear error, never silent NaN maps, probabilities or curves."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from course_utils.gradcam import GradCAM, GradCAMPlusPlus, GuidedBackprop
from course_utils.inference import predict
from course_utils.training import TrainingDiverged, train


@pytest.fixture(scope="module")
def small(tiny_vgg):
    return tiny_vgg(num_classes=5, hidden=32)


def poisoned(value: float) -> torch.Tensor:
    x = torch.rand(2, 3, 32, 32)
    x[1, 0, 5, 5] = value
    return x


METHODS = {
    "predict": predict,
    "gradcam": lambda m, x: GradCAM(m)(x),
    "gradcampp": lambda m, x: GradCAMPlusPlus(m)(x),
    "guided": lambda m, x: GuidedBackprop(m)(x),
}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("method", METHODS.values(), ids=METHODS.keys())
def test_non_finite_inputs_are_refused(small, method, value):
    with pytest.raises(ValueError, match="NaN or infinite"):
        method(small, poisoned(value))


def test_broken_weights_give_an_error_not_a_nan_map(small, tiny_vgg):
    broken = tiny_vgg(num_classes=5, hidden=32)
    broken.load_state_dict(small.state_dict())
    with torch.no_grad():
        broken.features[0].weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite values"):
        GradCAM(broken)(torch.rand(1, 3, 32, 32))


def _loaders(images: torch.Tensor) -> tuple[DataLoader, DataLoader]:
    labels = torch.arange(len(images)) % 5
    data = TensorDataset(images, labels)
    return DataLoader(data, batch_size=4), DataLoader(data, batch_size=4)


def test_a_diverging_loss_stops_training_and_names_the_step(tiny_vgg):
    model = tiny_vgg(num_classes=5, hidden=32)
    train_loader, val_loader = _loaders(torch.rand(8, 3, 32, 32))
    message = r"epoch 1 train, batch \d+: the loss became (nan|inf).*lower the learning rate"
    with pytest.raises(TrainingDiverged, match=message):
        train(model, train_loader, val_loader, epochs=3, lr=1e12, device="cpu", progress=False)


def test_nan_images_in_the_data_are_named_as_the_cause(tiny_vgg):
    model = tiny_vgg(num_classes=5, hidden=32)
    images = torch.rand(8, 3, 32, 32)
    images[5, 1, 3, 3] = float("nan")
    train_loader, val_loader = _loaders(images)
    with pytest.raises(TrainingDiverged, match=r"epoch 1 train, batch 2: the input images hold NaN"):
        train(model, train_loader, val_loader, epochs=1, device="cpu", progress=False)
