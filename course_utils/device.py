"""Pick a device, seed every random generator, scope the CPU thread count, and describe the environment.

Small jobs that every notebook starts with. Keeping them here means each
notebook's first cell is one line, and a workshop helper reading
``environment_report()`` sees the same facts on every learner's machine.
"""

from __future__ import annotations

import ctypes
import gc
import importlib.metadata
import os
import platform
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


def get_device(prefer: str | None = None) -> torch.device:
    """Return the best available device: CUDA, then Apple's MPS, then the CPU.

    ``prefer`` forces one ("cpu", "cuda", "mps"); the environment variable
    ``COURSE_DEVICE`` does the same without editing a notebook.
    """
    prefer = prefer or os.environ.get("COURSE_DEVICE")
    if prefer:
        if prefer.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {prefer!r} was asked for, but torch sees no CUDA GPU. Use 'cpu'.")
        if prefer == "mps" and not _mps_available():
            raise ValueError("device 'mps' was asked for, but this torch has no Apple MPS support. Use 'cpu'.")
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and every GPU) so that runs repeat."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def model_device(model: torch.nn.Module) -> torch.device:
    """Where the model's parameters live (the CPU for a model without any)."""
    return next(model.parameters(), torch.empty(0)).device


def free_memory() -> None:
    """Hand memory nothing refers to any more back to the system: after ``del``, before the next big model.

    ``gc.collect()`` frees objects caught in reference cycles. On a GPU, PyTorch keeps freed memory
    cached for reuse; ``torch.cuda.empty_cache()`` returns it to the driver. On Linux, the C library's
    allocator (glibc) does the same with CPU memory, often 100 MiB or more after training a model;
    ``malloc_trim(0)`` returns it, so the next model does not stack on top of it.
    """
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (Alpine's musl has no malloc_trim): nothing to do
            pass


@contextmanager
def cpu_threads(n: int) -> Iterator[int]:
    """Use ``n`` CPU threads inside the ``with`` block, and put the old count back on the way out.

    A small model may run faster on one thread than on several, when the threads' overhead
    outweighs the work, or slower: measure it (notebook 11 does). Scoping the change means a
    re-run cell, a skipped section or an exception can never leave the kernel single-threaded.
    Yields the old count.
    """
    if n < 1:
        raise ValueError(f"the thread count must be at least 1, got {n}.")
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield previous
    finally:
        torch.set_num_threads(previous)


def environment_report(device: torch.device | None = None) -> dict[str, str]:
    """The facts a helper asks for first: versions, device and CPU threads."""
    device = device or get_device()
    report = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        # Read from the installed package, not imported: importing torchvision takes ~3 s (it
        # loads torch's compiler), which every torchrun worker would pay for one version string.
        "torchvision": importlib.metadata.version("torchvision"),
        "numpy": np.__version__,
        "device": str(device),
        "cpu threads (torch)": str(torch.get_num_threads()),
        "cuda available": str(torch.cuda.is_available()),
    }
    if device.type == "cuda":
        report["gpu"] = torch.cuda.get_device_name(device)
    return report
