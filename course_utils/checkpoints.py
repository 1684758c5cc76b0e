"""Save and load checkpoints safely.

Two rules, both learned the hard way:

* **Write atomically.** ``torch.save`` straight onto ``model.pt`` leaves a broken file
  if the kernel dies halfway (Ctrl-C, out of memory, laptop lid). We write to a
  temporary file in the same folder, flush it to disk, then ``os.replace`` it over
  the old one. A rename within one folder is atomic: readers see the old file or
  the new one, never half of either.
* **Load with ``weights_only=True``.** A checkpoint is a pickle, and unpickling can
  run arbitrary code. ``weights_only=True`` only rebuilds tensors and plain
  containers, so a checkpoint from the internet cannot run code on your machine.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Atomically write ``state`` (tensors, numbers, strings, lists, dicts) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by ``save_checkpoint``; never runs pickled code."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint there. Train first, or check the path.")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for a bad file
        raise ValueError(
            f"{path}: not a readable checkpoint ({type(err).__name__}: {str(err)[:200]}). "
            "It may be damaged, or written by something other than save_checkpoint."
        ) from None
