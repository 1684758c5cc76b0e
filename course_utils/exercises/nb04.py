"""Exercises for notebook 04 (pretrained inference): preprocessing by hand, and OpenCV input.

The reference preprocessing is torchvision's own ``weights.transforms()`` applied to
the photo as PIL decodes it; the solutions write it by hand or start from OpenCV.
"""

from __future__ import annotations

import cv2
import torch

from course_utils.exercises import call_safely, callable_check, report
from course_utils.images import load_image, shipped_images
from course_utils.weights import get_weights

HINTS = {
    "transform": (
        "Print `weights.transforms()` (section 1 calls it `transform`): it names its steps and their sizes, "
        "and `transform.mean` and `transform.std` hold the numbers to normalise with.",
        "`T.Compose([...])` of four steps, in this order: `T.Resize` with one number (256: the short side, "
        "proportions kept), `T.CenterCrop(224)`, `T.ToTensor()`, then `T.Normalize(mean, std)`.",
    ),
    "bgr_to_tensor": (
        "The array is already (H, W, 3) like a PIL image, only its last axis runs B, G, R. Reverse that axis "
        "and it is the photo PIL would have given you; from there the weights' own transforms do the rest.",
        "`rgb = bgr[:, :, ::-1]` (or `cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)`), then `Image.fromarray(rgb)` from "
        "PIL (`from PIL import Image`), then the weights' transforms on that image: `transform(...)` in this "
        "notebook, or `get_weights(\"vgg11\").transforms()`.",
    ),
}


def _cat_path():
    return shipped_images()["cat"]


def _reference_tensor() -> torch.Tensor:
    """The cat photo through torchvision's own VGG11 preprocessing."""
    return get_weights("vgg11").transforms()(load_image(_cat_path()))


# --- Exercise 1: write weights.transforms() by hand ---------------------------------------

@callable_check("a transform you can call on a PIL image")
def check_transform(answer) -> bool:
    """``answer``: a torchvision transform (PIL image -> tensor) equal to VGG11's own preprocessing."""
    if isinstance(answer, type(get_weights("vgg11").transforms())):  # torchvision's ImageClassification
        return report(False, "that is torchvision's own `weights.transforms()`; the exercise is to build the same "
                             "steps yourself with `T.Compose([...])`.", hint=2)
    out, err = call_safely(answer, load_image(_cat_path()))
    if err and "Tensor Image" in err:  # Normalize (a tensor step) placed before ToTensor, on the PIL image
        return report(False, err + ". Normalize works on tensors: put it after ToTensor().", hint=2)
    if err:
        return report(False, err)
    if not isinstance(out, torch.Tensor):
        return report(False, f"the transform must return a tensor, it returned {type(out).__name__}. "
                             "Did you forget ToTensor()?", hint=2)
    expected = _reference_tensor()
    if out.shape != expected.shape:
        return report(False, f"the output has shape {tuple(out.shape)}, expected {tuple(expected.shape)}: "
                             "resize the short side to 256, then centre-crop 224.", hint=2)
    if out.min() >= 0 and out.max() <= 1:
        return report(False, "the values are all in [0, 1]: add Normalize with the ImageNet mean and std.", hint=1)
    diff = (out - expected).abs().max().item()
    if not diff <= 1e-3:  # written so that NaN fails too
        return report(False, f"the output differs from weights.transforms() by up to {diff:.3f}. "
                             "Check the steps and their order: Resize(256) with one number (a pair such as "
                             "(256, 256) stretches the photo), CenterCrop(224), ToTensor(), Normalize.", hint=2)
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

@callable_check("a function taking a NumPy array")
def check_bgr_to_tensor(answer) -> bool:
    """``answer``: a function from a ``cv2.imread`` array (H, W, 3 uint8, BGR) to the model's input tensor."""
    bgr = cv2.imread(str(_cat_path()))
    out, err = call_safely(answer, bgr.copy())
    if err and "ndarray" in err:  # a NumPy array handed to a transform that takes PIL images or tensors
        return report(False, err + ". The weights' transforms take a PIL image: make one with "
                                   "Image.fromarray(rgb) first.", hint=2)
    if err:
        return report(False, err)
    expected = _reference_tensor()
    if isinstance(out, torch.Tensor) and out.dim() == 3 and out.shape[0] == 3 and out.shape != expected.shape:
        return report(False, f"expected a tensor of shape {tuple(expected.shape)}, got {tuple(out.shape)}: resize "
                             "the short side to 256 and centre-crop 224 (the weights' transforms do both).", hint=2)
    if not isinstance(out, torch.Tensor) or out.shape != expected.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return report(False, f"expected a tensor of shape {tuple(expected.shape)}, got {got}.")
    error = (out - expected).abs().mean().item()
    swapped = (out.flip(0) - expected).abs().mean().item()
    if swapped < error:
        return report(False, "the red and blue channels are swapped: OpenCV gives B, G, R; the model wants R, G, B.",
                      hint=1)
    if not error <= 0.02:  # written so that NaN fails too
        return report(False, f"the tensor differs from the reference by {error:.3f} on average. "
                             "Resize 256, crop 224, and normalise with the ImageNet mean and std.", hint=2)
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
