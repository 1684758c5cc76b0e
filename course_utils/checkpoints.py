"""Save and load checkpoints safely.

Two rules, both learned the hard way:

* **Write atomically.** ``torch.save`` straight onto ``model.pt`` leaves a broken file
  if the kernel dies halfway (Ctrl-C, out of memory, laptop lid). We write to a
  temporary file in the same folder, flush it to disk, then ``os.replace`` it over
  the old one. A rename within one folder is atomic: readers see the old file or
  the new one, never half of either. A process killed mid-write (``kill -9``, a
  crashed kernel) cannot clean up, so the next save of the same checkpoint deletes
  the hidden temporary files earlier saves left behind (only those: same folder,
  same checkpoint name, our own naming pattern).
* **Load with ``weights_only=True``.** A checkpoint is a pickle, and unpickling can
  run arbitrary code. ``weights_only=True`` only rebuilds tensors and plain
  containers, so a checkpoint from the internet cannot run code on your machine.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch


def _temp_prefix_suffix(path: Path) -> tuple[str, str]:
    """How our temporary files for ``path`` are named: ``.model.pt.<8 random chars>.tmp``."""
    return f".{path.name}.", ".tmp"


def _stale_temp_files(path: str | Path) -> list[Path]:
    """Temporary files that interrupted saves of ``path`` left behind (nothing else)."""
    path = Path(path)
    prefix, suffix = _temp_prefix_suffix(path)
    # tempfile.mkstemp puts 8 characters from [a-z0-9_] between prefix and suffix.
    pattern = re.compile(re.escape(prefix) + r"[a-z0-9_]{8}" + re.escape(suffix))
    if not path.parent.is_dir():
        return []
    return sorted(p for p in path.parent.iterdir() if pattern.fullmatch(p.name) and p.is_file())


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Atomically write ``state`` (tensors, numbers, strings, lists, dicts) to ``path``.

    Also deletes temporary files that earlier, killed saves of ``path`` left behind.
    Assumes one writer per checkpoint file at a time, as in a training loop.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in _stale_temp_files(path):
        stale.unlink(missing_ok=True)
    prefix, suffix = _temp_prefix_suffix(path)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
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
