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
  containers, so a checkpoint from the internet cannot run code on your machine
  (it narrows what loading can do; it is not a guarantee: keep torch up to date).
* **Prove it is intact.** torch's zip reader does not check the bytes of a stored
  tensor: 64 zero bytes in the middle of a file (a bad copy, a half-synced folder)
  load as if nothing happened, as slightly different weights. So the file stores a
  SHA-256 ``fingerprint`` of everything it holds (every tensor's dtype, shape and
  bytes, every other value), written in the same atomic save, and the load
  recomputes it: a damaged checkpoint is an error, never a model.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

FORMAT = "course-checkpoint-1"  # the wrapper: {"format": FORMAT, "sha256": ..., "state": state}


def fingerprint(state: Any) -> str:
    """SHA-256 of a checkpoint's content: each tensor's dtype, shape and bytes, each other value's repr.

    The walk visits dict keys in sorted order, so the same content always gives the same hex.
    """
    digest = hashlib.sha256()

    def visit(where: str, value: Any) -> None:
        if isinstance(value, torch.Tensor):
            flat = value.detach().cpu().contiguous().reshape(-1)
            digest.update(f"{where}={flat.dtype}{tuple(value.shape)}:".encode())
            digest.update(flat.view(torch.uint8).numpy().tobytes())
        elif isinstance(value, dict):
            for key in sorted(value, key=repr):
                visit(f"{where}[{key!r}]", value[key])
        elif isinstance(value, (list, tuple)):
            digest.update(f"{where}={type(value).__name__}{len(value)};".encode())
            for i, item in enumerate(value):
                visit(f"{where}[{i}]", item)
        else:
            digest.update(f"{where}={value!r};".encode())

    visit("", state)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a whole file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(2**20), b""):
            digest.update(piece)
    return digest.hexdigest()


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
    """Atomically write ``state`` (tensors, numbers, strings, lists, dicts) to ``path``, with its fingerprint.

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
            torch.save({"format": FORMAT, "sha256": fingerprint(state), "state": state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class CheckpointError(ValueError):
    """A checkpoint file that is damaged, or not one at all."""


DAMAGED = ("It is damaged (a bad copy, a full disk, a half-synced folder): recreate it (train again, or run "
           "the script that wrote it), or copy it again from where it came from.")


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by ``save_checkpoint``: never runs pickled code, and refuses a damaged file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint there. Train first, or check the path.")
    try:
        loaded = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for a bad file
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({type(err).__name__}: {str(err)[:200]}). "
            "It may be damaged, or written by something other than save_checkpoint. " + DAMAGED
        ) from None
    if not (isinstance(loaded, dict) and loaded.get("format") == FORMAT):
        warnings.warn(f"{path} has no fingerprint (written by plain torch.save, or before checkpoints carried "
                      "one), so it cannot be checked for damage. Save it again with save_checkpoint.", stacklevel=2)
        return loaded
    if fingerprint(loaded["state"]) != loaded.get("sha256"):
        raise CheckpointError(f"{path}: its content does not match the fingerprint saved with it. " + DAMAGED)
    return loaded["state"]
