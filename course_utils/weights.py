"""Pretrained weights through torchvision's own API, honest about what is on disk.

The lesson is the real API: ``torchvision.models.get_model(name, weights=...)``
with a weights enum such as ``VGG16_Weights.IMAGENET1K_V1``. This module adds the
three things a course needs around it:

* it checks the cached file against the SHA-256 prefix in its official file name
  (torch does *not* re-check a file that is already in the cache), and warns loudly
  when the file is a stand-in or corrupted, because then every prediction is noise;
* with no network and no cached file it says which file is missing, how big it is,
  where it goes, and how to fetch it, instead of a ``URLError`` from deep in torch;
* it knows which files the whole course uses, so ``make prefetch`` can fetch them
  the day before a workshop;
* it loads the weights once: the model is built on the meta device (no memory),
  and the loaded tensors become the model's (``load_state_dict(assign=True)``).
  Files in torch's zip format are also memory-mapped (``mmap=True``); torchvision's
  2017 VGG files are the older format, which is read into memory, still once. ``get_model(name, weights=...)``
  instead fills a random model and then copies a loaded state dict into it, so
  for a moment it holds the weights twice (VGG16: 1,056 MiB instead of 528 MiB),
  which is the difference between fitting Binder's 2 GB and not.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError

import torch
import torchvision
from torch import nn
from torchvision.models import WeightsEnum

from course_utils.device import get_device

# The weights files the notebooks load. `make prefetch` downloads exactly these.
COURSE_WEIGHTS: dict[str, str] = {
    "vgg11": "VGG11_Weights.IMAGENET1K_V1",
    "vgg16": "VGG16_Weights.IMAGENET1K_V1",
}

_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,})\.")


class WeightsUnavailableError(RuntimeError):
    """No cached weights file and no way to download it."""


class CorruptWeightsError(RuntimeError):
    """The cached weights file cannot even be read as a checkpoint."""


class StandInWeightsWarning(UserWarning):
    """The cached weights file does not match its official hash."""


warnings.simplefilter("always", StandInWeightsWarning)


@dataclass(frozen=True)
class WeightsStatus:
    """What is known about one weights file in the cache."""

    arch: str
    weights: str  # e.g. "VGG16_Weights.IMAGENET1K_V1"
    file_name: str
    path: Path
    state: str  # "verified", "mismatch" (stand-in or corrupted) or "missing"
    approx_mb: float

    @property
    def verified(self) -> bool:
        return self.state == "verified"


def get_weights(arch: str, weights: str | WeightsEnum = "DEFAULT") -> WeightsEnum:
    """Turn ``("vgg16", "DEFAULT")`` or ``"VGG16_Weights.IMAGENET1K_V1"`` into the enum member."""
    if isinstance(weights, WeightsEnum):
        return weights
    try:
        enum = torchvision.models.get_model_weights(arch)
    except (ValueError, KeyError):
        known = ", ".join(sorted(m for m in torchvision.models.list_models(torchvision.models)))
        raise ValueError(f"unknown architecture {arch!r}. torchvision knows: {known}") from None
    name = weights.split(".")[-1]
    try:
        return enum[name]
    except KeyError:
        valid = ", ".join(["DEFAULT"] + [m.name for m in enum])
        raise ValueError(f"{arch} has no weights {weights!r}. Valid choices: {valid}") from None


def cache_dir() -> Path:
    """The folder torch keeps downloaded weights in: ``$TORCH_HOME/hub/checkpoints``."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def file_name(weights: WeightsEnum) -> str:
    """The official file name, e.g. ``vgg16-397923af.pth``."""
    return weights.url.rsplit("/", 1)[-1]


def approx_size_mb(weights: WeightsEnum) -> float:
    """Download size in MiB: four bytes (float32) per parameter."""
    return weights.meta["num_params"] * 4 / 2**20


_sha_cache: dict[tuple[str, int, int], str] = {}


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime) so a notebook pays once."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _sha_cache:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                digest.update(block)
        _sha_cache[key] = digest.hexdigest()
    return _sha_cache[key]


def weights_status(arch: str, weights: str | WeightsEnum = "DEFAULT") -> WeightsStatus:
    """Is this weights file present, and does it match the hash in its name?"""
    w = get_weights(arch, weights)
    name = file_name(w)
    path = cache_dir() / name
    if not path.is_file():
        state = "missing"
    else:
        match = _HASH_IN_NAME.search(name)
        state = "verified" if match and sha256_of(path).startswith(match.group(1)) else "mismatch"
    return WeightsStatus(arch, f"{type(w).__name__}.{w.name}", name, path, state, approx_size_mb(w))


def _offline_message(status: WeightsStatus, reason: str) -> str:
    return (
        f"Cannot load the pretrained {status.arch} weights: {reason}.\n"
        f"  file:   {status.file_name} (about {status.approx_mb:.0f} MiB)\n"
        f"  goes in: {status.path.parent}\n"
        "Fix: with a network, run `python course.py prefetch` in the course folder once\n"
        "(or `python -m course_utils.prefetch` in any Python that has the course);\n"
        "or copy the file from a machine that has it into that folder (set TORCH_HOME to move it)."
    )


def _stand_in_message(status: WeightsStatus) -> str:
    return (
        f"\n{'!' * 72}\n"
        f"STAND-IN OR CORRUPTED WEIGHTS: {status.path}\n"
        f"does not match the SHA-256 prefix in its official name {status.file_name}.\n"
        "The model runs, but its predictions MEAN NOTHING.\n"
        "(Under `make test` this is expected: the tests use seeded random stand-ins.)\n"
        f"To get the real file: delete it and run `python course.py prefetch` with a network.\n"
        f"{'!' * 72}"
    )


def load_pretrained(
    arch: str,
    weights: str | WeightsEnum = "DEFAULT",
    device: torch.device | str | None = None,
    progress: bool = True,
) -> nn.Module:
    """Return torchvision's ``arch`` with its pretrained weights, in eval mode, on ``device``.

    Downloads into the hub cache the first time (unless ``COURSE_OFFLINE=1``), then
    checks the file's hash. The returned model carries ``model.weights_status``.
    """
    w = get_weights(arch, weights)
    status = weights_status(arch, w)
    if status.state == "missing":
        if os.environ.get("COURSE_OFFLINE") == "1":
            raise WeightsUnavailableError(_offline_message(status, "COURSE_OFFLINE=1 and it is not cached"))
        try:
            torch.hub.load_state_dict_from_url(w.url, progress=progress, check_hash=True, weights_only=True)
        except (URLError, ConnectionError, TimeoutError, OSError) as err:
            raise WeightsUnavailableError(_offline_message(status, "no cached file and the download failed "
                                                                   f"({err})")) from None
        status = weights_status(arch, w)
    if status.state == "mismatch":
        warnings.warn(_stand_in_message(status), StandInWeightsWarning, stacklevel=2)
    try:
        model = _load_once(arch, w, status.path)
    except Exception as err:  # noqa: BLE001 - torch raises many types for a damaged file
        # Its own messages are long and say nothing of what to do; ours does.
        raise CorruptWeightsError(
            f"{status.path} is not a readable {arch} checkpoint ({type(err).__name__}: {str(err)[:200]}).\n"
            "Delete it and run `python course.py prefetch` with a network to download it again."
        ) from None
    model.weights_status = status
    return model.eval().to(device if device is not None else get_device())


def _load_once(arch: str, w: WeightsEnum, path: Path) -> nn.Module:
    """torchvision's ``arch`` holding the file's tensors themselves: no random init, no copy."""
    with torch.device("meta"):  # shapes only, no memory (notebook 01)
        model = torchvision.models.get_model(arch, weights=None, num_classes=len(w.meta["categories"]))
    # mmap needs torch's zip format (torch >= 1.6); torchvision's older files are the legacy format.
    state = torch.load(str(path), map_location="cpu", mmap=zipfile.is_zipfile(path), weights_only=True)
    model.load_state_dict(state, assign=True)  # strict: every name and shape must match
    return model


def course_weights_status() -> list[WeightsStatus]:
    """The status of every weights file the course uses (for notebook 00)."""
    return [weights_status(arch, w) for arch, w in COURSE_WEIGHTS.items()]
