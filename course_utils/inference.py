"""Turn images into class probabilities and readable top-k tables.

A classifier's raw output is 1000 *logits*, one score per ImageNet class. To read
them we need three steps, each of which is easy to get subtly wrong:

1. preprocess with the weights' own inference transforms (``weights.transforms()``) and
   stack the images into one ``(B, 3, H, W)`` batch;
2. run the model in ``eval()`` mode without autograd, then apply softmax to get
   probabilities that sum to one;
3. sort, and look the indices up in ``weights.meta["categories"]``.

Bad input (an image tensor of the wrong shape, a class index out of range) gets
a ``ValueError`` that says what was expected, not a stack trace from inside torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import cv2
import numpy as np
import torch
from PIL import Image
from torch import nn

from course_utils.running import as_batch, eval_mode


class Prediction(NamedTuple):
    """One row of a top-k table."""

    rank: int
    index: int
    name: str
    probability: float


def preprocess_batch(images: Sequence[Image.Image], transform: Callable) -> torch.Tensor:
    """Apply ``transform`` to each PIL image and stack the results into one batch."""
    if len(images) == 0:
        raise ValueError("preprocess_batch got no images.")
    tensors = [transform(img) for img in images]
    for i, t in enumerate(tensors):
        if not isinstance(t, torch.Tensor) or t.dim() != 3 or t.shape[0] != 3:
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"the transform turned image {i} into {shape}; it must give a (3, H, W) tensor.")
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        raise ValueError(
            f"the transform gave images of different sizes {sorted(shapes)}; a batch needs one size. "
            "End the transform with a fixed-size step such as CenterCrop(224)."
        )
    return torch.stack(tensors)


def logits(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """Raw class scores ``(B, num_classes)`` on the CPU for an image or a batch.

    The model is switched to ``eval()`` (dropout off) for the call and put back in
    the mode it was in, and the forward runs under ``torch.inference_mode()``.
    """
    x = as_batch(batch, model)
    with eval_mode(model), torch.inference_mode():
        out = model(x)
    return out.float().cpu()


def predict(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """Softmax probabilities ``(B, num_classes)`` on the CPU for an image or a batch (see ``logits``)."""
    return logits(model, batch).softmax(dim=1)


def class_name(index: int, categories: Sequence[str]) -> str:
    """The name of class ``index``, or a ``ValueError`` that gives the valid range."""
    n = len(categories)
    if isinstance(index, torch.Tensor):
        index = index.item()
    if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
        raise ValueError(f"a class index must be an integer, got {index!r}")
    if not 0 <= index < n:
        raise ValueError(f"class index {index} is out of range: there are {n} classes, so valid indices are 0 "
                         f"to {n - 1}.")
    return categories[int(index)]


def class_indices(word: str, categories: Sequence[str]) -> list[int]:
    """Indices of every class whose name contains ``word`` (case-insensitive)."""
    word = word.lower()
    return [i for i, name in enumerate(categories) if word in name.lower()]


def topk(probs: torch.Tensor, categories: Sequence[str], k: int = 5) -> list[Prediction]:
    """The ``k`` most probable classes of ONE image as rows (rank, index, name, probability)."""
    if probs.dim() == 2 and probs.shape[0] == 1:
        probs = probs[0]
    if probs.dim() != 1:
        raise ValueError(
            f"topk takes the probabilities of one image, shape (num_classes,), got {tuple(probs.shape)}. "
            "For a batch, call it per image: topk(probs[i], categories)."
        )
    if probs.shape[0] != len(categories):
        raise ValueError(f"got {probs.shape[0]} probabilities but {len(categories)} category names; they must match.")
    if not 1 <= k <= len(categories):
        raise ValueError(f"k must be between 1 and {len(categories)}, got {k}")
    values, indices = probs.topk(k)
    return [
        Prediction(rank, int(i), class_name(int(i), categories), float(p))
        for rank, (p, i) in enumerate(zip(values, indices), start=1)
    ]


def topk_markdown(rows: Sequence[Prediction]) -> str:
    """A Markdown table of top-k rows, for ``display(Markdown(...))``."""
    lines = ["| rank | class | name | probability |", "|---:|---:|---|---:|"]
    lines += [f"| {r.rank} | {r.index} | {r.name} | {r.probability:.2%} |" for r in rows]
    return "\n".join(lines)


def compare_predictions(probs_a: torch.Tensor, probs_b: torch.Tensor, k: int = 5) -> dict[str, float]:
    """How far two probability vectors of one image are apart.

    * ``top1_same``: 1.0 when both pick the same class, else 0.0;
    * ``topk_overlap``: how many of the top-k classes they share (0 to k);
    * ``total_variation``: half the L1 distance, 0 (identical) to 1 (disjoint).
    """
    a, b = probs_a.reshape(-1).float(), probs_b.reshape(-1).float()
    if a.shape != b.shape:
        raise ValueError(f"cannot compare probabilities of shapes {tuple(probs_a.shape)} and {tuple(probs_b.shape)}")
    top_a, top_b = set(a.topk(k).indices.tolist()), set(b.topk(k).indices.tolist())
    return {
        "top1_same": float(a.argmax() == b.argmax()),
        "topk_overlap": float(len(top_a & top_b)),
        "total_variation": float((a - b).abs().sum() / 2),
    }


def preprocessing_variants(path, weights) -> dict[str, torch.Tensor]:
    """One photo preprocessed right and in the three common wrong ways, each ``(3, H, W)``.

    * ``"correct"``: PIL RGB image through ``weights.transforms()``;
    * ``"no normalisation"``: resized and cropped, values in [0, 1], mean/std never subtracted;
    * ``"BGR (cv2.imread)"``: OpenCV loads blue-green-red; fed as if it were RGB;
    * ``"0-255 values"``: the ``/ 255`` forgotten, then normalised as if in [0, 1].
    """
    from torchvision.transforms import functional as F

    from course_utils.images import load_image

    transform = weights.transforms()
    rgb = load_image(path)
    bgr = cv2.imread(str(path))  # (H, W, 3) uint8, channels in B, G, R order
    if bgr is None:
        raise ValueError(f"{path}: OpenCV could not read this file as an image.")

    def resize_crop(img: Image.Image) -> Image.Image:
        img = F.resize(img, transform.resize_size, interpolation=transform.interpolation)
        return F.center_crop(img, transform.crop_size)

    as_0_255 = F.pil_to_tensor(resize_crop(rgb)).float()  # uint8 values kept as 0..255
    return {
        "correct": transform(rgb),
        "no normalisation": F.to_tensor(resize_crop(rgb)),
        "BGR (cv2.imread)": transform(Image.fromarray(bgr)),
        "0-255 values": F.normalize(as_0_255, transform.mean, transform.std),
    }
