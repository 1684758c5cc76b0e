"""Fixtures several test files share: one CPU thread, seeded random-weight VGGs, a toy problem.

(The hermetic set-up every test and notebook needs, stand-in weights included, is in
the repository's top-level ``conftest.py``.)

torch is imported inside the fixtures, not at the top: with two workers (``course.py test``)
pytest's controller loads this file too, runs no test, and would spend seconds importing torch
before it starts the workers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from torch import nn
    from torch.utils.data import TensorDataset


@pytest.fixture(scope="module")
def one_thread():
    """Small tensors: one thread is as fast, and much faster when other jobs share the CPU.

    Use it for a whole file with ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    from course_utils.device import cpu_threads

    with cpu_threads(1):
        yield


@pytest.fixture(scope="module")
def vgg16() -> nn.Module:
    """torchvision's VGG16 with seeded random weights, in eval mode: the real layout, no download."""
    import torch
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.vgg16(weights=None).eval()


@pytest.fixture(scope="session")
def tiny_vgg() -> Callable[..., nn.Module]:
    """Build VGG-A at width 1/8: VGG11's layout and layer names at a fraction of the cost.

    A function, so that a file can ask for the head it needs: ``tiny_vgg()`` (10 classes),
    ``tiny_vgg(num_classes=5, hidden=32)``, ``batch_norm=True``. Seeded, in eval mode, pooled
    to 1x1 so that 32x32 inputs work.
    """
    import torch

    from course_utils.architecture import build_vgg

    def build(num_classes: int = 10, hidden: int = 64, batch_norm: bool = False) -> nn.Module:
        torch.manual_seed(0)
        return build_vgg("A", width=0.125, num_classes=num_classes, hidden=hidden, pool_size=1,
                         batch_norm=batch_norm).eval()

    return build


@pytest.fixture(scope="session")
def blobs() -> Callable[..., TensorDataset]:
    """``blobs(n=200, seed=0)``: two well-separated Gaussian clouds in 8 dimensions, labels 0 and 1.

    Any model should get them right, in a fraction of a second: for tests of training and
    evaluation that are about the loop, not the model.
    """
    import torch
    from torch.utils.data import TensorDataset

    def make(n: int = 200, seed: int = 0) -> TensorDataset:
        g = torch.Generator().manual_seed(seed)
        labels = torch.arange(n) % 2
        x = torch.randn(n, 8, generator=g) * 0.5 + (labels[:, None] * 2 - 1).float() * 2
        return TensorDataset(x, labels)

    return make


@pytest.fixture(scope="session")
def mlp() -> Callable[[], nn.Module]:
    """``mlp()``: a fresh two-layer network for ``blobs``, with dropout so that train and eval modes differ."""
    from torch import nn

    return lambda: nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))
