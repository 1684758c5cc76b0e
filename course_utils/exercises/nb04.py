"""Exercises for notebook 04 (pretrained inference): preprocessing, OpenCV input, eval mode.

The reference preprocessing is torchvision's own ``weights.transforms()`` applied to
the photo as PIL decodes it; the solutions write it by hand or start from OpenCV.
"""

from __future__ import annotations

import cv2
import torch
from torch import nn

from course_utils.exercises import call_safely, not_attempted, report
from course_utils.images import load_image, shipped_images
from course_utils.weights import get_weights


def _cat_path():
    return shipped_images()["cat"]


def _reference_tensor() -> torch.Tensor:
    """The cat photo through torchvision's own VGG11 preprocessing."""
    return get_weights("vgg11").transforms()(load_image(_cat_path()))


# --- Exercise 1: write weights.transforms() by hand ---------------------------------------

def check_transform(answer) -> bool:
    """``answer``: a torchvision transform (PIL image -> tensor) equal to VGG11's own preprocessing."""
    if answer is None:
        return not_attempted()
    if not callable(answer):
        return report(False, "your answer should be a transform you can call on a PIL image, "
                             f"got {type(answer).__name__}.")
    out, err = call_safely(answer, load_image(_cat_path()))
    if err:
        return report(False, err)
    if not isinstance(out, torch.Tensor):
        return report(False, f"the transform must return a tensor, it returned {type(out).__name__}. "
                             "Did you forget ToTensor()?")
    expected = _reference_tensor()
    if out.shape != expected.shape:
        return report(False, f"the output has shape {tuple(out.shape)}, expected {tuple(expected.shape)}: "
                             "resize the short side to 256, then centre-crop 224.")
    if out.min() >= 0 and out.max() <= 1:
        return report(False, "the values are all in [0, 1]: add Normalize with the ImageNet mean and std.")
    diff = (out - expected).abs().max().item()
    if not diff <= 1e-3:  # written so that NaN fails too
        return report(False, f"the output differs from weights.transforms() by up to {diff:.3f}. "
                             "Check the order: Resize(256), CenterCrop(224), ToTensor(), Normalize.")
    return report(True, f"your transform matches weights.transforms() (largest difference {diff:.1e}).")


def solution_transform():
    """Resize the short side, crop the centre, scale to [0, 1], normalise."""
    from torchvision import transforms as T

    from course_utils.images import IMAGENET_MEAN, IMAGENET_STD

    answer = T.Compose([
        T.Resize(256),           # short side to 256, aspect ratio kept
        T.CenterCrop(224),       # the central 224 x 224
        T.ToTensor(),            # (3, H, W) floats in [0, 1]
        T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])
    return answer


# --- Exercise 2: feed an OpenCV image correctly ---------------------------------------------

def check_bgr_to_tensor(answer) -> bool:
    """``answer``: a function from a ``cv2.imread`` array (H, W, 3 uint8, BGR) to the model's input tensor."""
    if answer is None:
        return not_attempted()
    if not callable(answer):
        return report(False, f"your answer should be a function taking a NumPy array, got {type(answer).__name__}.")
    bgr = cv2.imread(str(_cat_path()))
    out, err = call_safely(answer, bgr.copy())
    if err:
        return report(False, err)
    expected = _reference_tensor()
    if not isinstance(out, torch.Tensor) or out.shape != expected.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return report(False, f"expected a tensor of shape {tuple(expected.shape)}, got {got}.")
    error = (out - expected).abs().mean().item()
    swapped = (out.flip(0) - expected).abs().mean().item()
    if swapped < error:
        return report(False, "the red and blue channels are swapped: OpenCV gives B, G, R; the model wants R, G, B.")
    if not error <= 0.02:  # written so that NaN fails too
        return report(False, f"the tensor differs from the reference by {error:.3f} on average. "
                             "Resize 256, crop 224, and normalise with the ImageNet mean and std.")
    return report(True, f"channel order and preprocessing are right (mean difference {error:.4f}).")


def solution_bgr_to_tensor():
    """Swap BGR to RGB, make a PIL image, then use the weights' own transforms."""
    import cv2
    from PIL import Image

    from course_utils.weights import get_weights

    def answer(bgr):
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)   # or bgr[:, :, ::-1]
        return get_weights("vgg11").transforms()(Image.fromarray(rgb))
    return answer


# --- Exercise 3: a prediction function that cannot be fooled by train mode -------------------

def _dropout_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 4))


def check_safe_predict(answer) -> bool:
    """``answer``: ``f(model, x) -> probabilities``, deterministic even if the model was left in train mode."""
    if answer is None:
        return not_attempted()
    if not callable(answer):
        return report(False, f"your answer should be a function f(model, x), got {type(answer).__name__}.")
    model = _dropout_model().train()
    x = torch.randn(3, 8)
    first, err = call_safely(answer, model, x)
    if err:
        return report(False, err)
    second, _ = call_safely(answer, model, x)
    if not isinstance(first, torch.Tensor) or first.shape != (3, 4):
        got = tuple(first.shape) if isinstance(first, torch.Tensor) else type(first).__name__
        return report(False, f"expected probabilities of shape (3, 4), got {got}.")
    if not torch.allclose(first.sum(dim=1), torch.ones(3), atol=1e-5):
        return report(False, "each row should sum to 1: apply softmax over the classes (dim=1).")
    if second is None or not torch.equal(first, second):
        return report(False, "two calls gave different outputs: dropout is still on. Call model.eval() first.")
    if first.requires_grad:
        return report(False, "the output still tracks gradients: "
                             "wrap the forward in torch.inference_mode() or torch.no_grad().")
    if not model.training:
        return report(False, "the model is left in eval mode: "
                             "put it back the way you found it (model.train(was_training)).")
    return report(True, "deterministic, no autograd, probabilities sum to 1, and the model's mode is restored.")


def solution_safe_predict():
    """eval() for the call, inference_mode, softmax, then restore the mode."""
    import torch

    def answer(model, x):
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                return model(x).softmax(dim=1)
        finally:
            model.train(was_training)
    return answer


# --- Exercise 4: a Linear layer as a convolution (dense evaluation) -------------------------

def _windows_through(linear: nn.Linear, x: torch.Tensor, k: int) -> torch.Tensor:
    """The expected score map, the slow way: ``linear`` applied to every k x k window of ``x``, flattened."""
    rows, cols = x.shape[-2] - k + 1, x.shape[-1] - k + 1
    out = torch.empty(x.shape[0], linear.out_features, rows, cols)
    for i in range(rows):
        for j in range(cols):
            out[:, :, i, j] = linear(x[:, :, i:i + k, j:j + k].flatten(1))
    return out


def check_linear_to_conv(answer) -> bool:
    """``answer``: ``f(linear, in_channels, kernel_size)`` -> a convolution computing ``linear`` at every position."""
    if answer is None:
        return not_attempted()
    if not callable(answer):
        return report(False, f"your answer should be a function f(linear, in_channels, kernel_size), "
                             f"got {type(answer).__name__}.")
    torch.manual_seed(0)
    linear, x = nn.Linear(4 * 3 * 3, 6), torch.randn(2, 4, 5, 7)  # reads a flattened 4 x 3 x 3 block
    conv, err = call_safely(answer, linear, 4, 3)
    if err:
        return report(False, err)
    if not isinstance(conv, nn.Module):
        return report(False, f"your function should return a module such as nn.Conv2d, got {type(conv).__name__}.")
    with torch.no_grad():
        out, err = call_safely(conv, x, doing="running your convolution on a (2, 4, 5, 7) input")
        expected = _windows_through(linear, x, 3)
    if err:
        return report(False, err)
    if not isinstance(out, torch.Tensor) or out.shape != expected.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return report(False, f"on a (2, 4, 5, 7) input the convolution should give {tuple(expected.shape)} "
                             f"(a 3x3 window, no padding), got {got}.")
    gap = (out - expected).abs().max().item()
    if not gap <= 1e-5:  # written so that NaN fails too
        return report(False, f"the scores differ from the Linear layer's by up to {gap:.3f}. Reshape the weight in "
                             "flatten's order, (out, channels, rows, columns), and keep the bias.")
    return report(True, f"every position of your convolution equals the Linear layer on that window (gap {gap:.1e}).")


def solution_linear_to_conv():
    """Reshape the weight matrix into filters in flatten's order (channel, row, column); the bias stays."""
    import torch
    from torch import nn

    def answer(linear, in_channels, kernel_size):
        conv = nn.Conv2d(in_channels, linear.out_features, kernel_size)
        with torch.no_grad():
            conv.weight.copy_(linear.weight.view(linear.out_features, in_channels, kernel_size, kernel_size))
            conv.bias.copy_(linear.bias)
        return conv
    return answer
