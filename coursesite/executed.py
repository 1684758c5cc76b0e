"""Executed notebooks, kept so that one execution serves both the tests and the site.

``make test`` runs every notebook cell by cell under nbval; the plugin in
``tests/nbval_capture.py`` hands the outputs it saw to :func:`write_executed`, which
stores the executed notebook in ``.cache/executed/``. ``make site`` then reuses a copy
when it is *fresh*: made from a notebook with the same SHA-256, with the same kind of
weights (genuine or stand-in) that the site build would use. Only stale notebooks are
executed again, so CI does not pay for every notebook twice.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import nbformat

from coursesite import REPO

EXECUTED_DIR = REPO / ".cache" / "executed"
META_KEY = "course_site"  # notebook metadata key for what this module records
GENUINE, STAND_IN = "genuine", "stand-in"


def source_sha256(path: Path) -> str:
    """SHA-256 of a notebook file's bytes: a copy made from other bytes is stale."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def weights_kind() -> str:
    """``"genuine"`` when every course weights file in ``$TORCH_HOME`` passes its hash check, else ``"stand-in"``."""
    from course_utils.weights import course_weights_status

    return GENUINE if all(s.verified for s in course_weights_status()) else STAND_IN


def executed_path(source: Path, folder: Path = EXECUTED_DIR) -> Path:
    """Where the executed copy of ``notebooks/NN_x.ipynb`` lives."""
    return folder / Path(source).name


def write_executed(nb: nbformat.NotebookNode, source: Path, *, weights: str, executed_by: str,
                   seconds: float, extra: dict | None = None, folder: Path = EXECUTED_DIR) -> Path:
    """Store ``nb`` (with outputs) as the executed copy of ``source``, atomically.

    ``extra`` holds what the run cost (peak memory, load average), for ``make measure``.
    """
    if weights not in (GENUINE, STAND_IN):
        raise ValueError(f"weights must be {GENUINE!r} or {STAND_IN!r}, got {weights!r}")
    nb = nbformat.from_dict(nb)
    nb.metadata[META_KEY] = {
        "source_sha256": source_sha256(source),
        "weights": weights,
        "executed_by": executed_by,
        "seconds": round(seconds, 1),
        **(extra or {}),
    }
    nbformat.validate(nb)
    path = executed_path(source, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    nbformat.write(nb, str(tmp))
    os.replace(tmp, path)  # a reader never sees half a file
    return path


def read_fresh(source: Path, weights: str, folder: Path = EXECUTED_DIR) -> nbformat.NotebookNode | None:
    """The executed copy of ``source`` if it is fresh for ``weights``; None if missing or stale."""
    path = executed_path(source, folder)
    if not path.is_file():
        return None
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:  # noqa: BLE001 - a damaged cache file is simply stale
        return None
    meta = nb.metadata.get(META_KEY, {})
    if meta.get("source_sha256") != source_sha256(source) or meta.get("weights") != weights:
        return None
    return nb
