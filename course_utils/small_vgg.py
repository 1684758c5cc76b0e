"""The course's small VGG: the contract of the model notebooks 06, 07 and 11 train or load (13 trains it with DDP).

* ``small_vgg()``: configuration A (VGG11) at width 1/8 (channels 8-16-32-64-64),
  batch norm, FC width 256, dropout 0.5, ``len(CLASSES)`` outputs, and **no
  pool5**: at the 64x64 input the last conv ReLU (``relu5_2``, ``features.27``)
  gives a 4x4 map instead of 2x2, twice as fine for Grad-CAM. The adaptive
  average pool (``pool_size=1``) turns it into 64 numbers for the classifier.
* What it changes from notebook 03's initialisation: the convolutions keep He
  init, but the FC layers use PyTorch's default Linear init instead of N(0, 0.01)
  (see ``small_vgg`` for why).
* Input: ``SMALL_VGG_INPUT`` = 64, i.e. ``(B, 3, 64, 64)`` float images in [0, 1]
  exactly as ``course_utils.data.ShapesDataset`` returns them: **no
  normalisation** (the batch norm after the first conv does that job).
* Classes: ``course_utils.data.CLASSES``, in that order.
* ``load_small_vgg()`` returns it trained, in eval mode, from ``data/small_vgg.pt``;
  the file also holds its training ``History`` (``load_small_vgg_history``) and the
  ``RECIPE`` it was trained with (``scripts/train_small_vgg.py``).
* Layer names: ``course_utils.layer_names.paper_names(model)``; ``conv1_1`` ..
  ``relu5_2``, ``fc6`` .. ``fc8``.
* ``load_small_vgg_sweep()``: the stored learning-rate sweep behind notebook 06's fair
  comparisons (batch norm on/off, configuration A/D), written by ``scripts/sweep_small_vgg.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from course_utils.architecture import VGG, build_vgg
from course_utils.checkpoints import CheckpointError, file_sha256, load_checkpoint
from course_utils.data import CLASSES
from course_utils.device import get_device
from course_utils.training import History

SMALL_VGG_INPUT = 64
# The shipped files, in the course's data/ folder.
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SMALL_VGG_PATH = DATA_DIR / "small_vgg.pt"
SMALL_VGG_SWEEP_PATH = DATA_DIR / "small_vgg_sweep.json"
# The shipped file's SHA-256, in `sha256sum` format; scripts/train_small_vgg.py rewrites it.
SMALL_VGG_HASH_PATH = DATA_DIR / "small_vgg.pt.sha256"
# How data/small_vgg.pt was trained (scripts/train_small_vgg.py) and what the benchmark times.
# Batch 64 instead of the paper's 256 suits 8,000 small images; with batch norm, LR 0.05
# (5x the paper's 0.01) trains in a few epochs without diverging.
RECIPE = dict(n_train=8000, n_val=1000, n_test=1000, train_seed=0, val_seed=1, test_seed=2,
              batch_size=64, lr=0.05, patience=1, epochs=8)


def small_vgg(num_classes: int = len(CLASSES), *, config: str = "A", width: float = 0.125, hidden: int = 256,
              batch_norm: bool = True, dropout: float = 0.5, drop_pool5: bool = True) -> VGG:
    """The course's small VGG (see the module docstring); arguments change one thing at a time.

    ``drop_pool5=True`` removes the last max-pool, so the last conv map is 4x4
    rather than 2x2 at 64x64 input. The layer names stay the paper's.
    """
    model = build_vgg(config, batch_norm=batch_norm, num_classes=num_classes, width=width,
                      hidden=hidden, pool_size=1, dropout=dropout)
    if drop_pool5:
        model.features = model.features[:-1]
    # torchvision starts the FC layers at N(0, 0.01). With 256-wide layers that scales the
    # signal by about 0.01 * sqrt(256) = 0.16 per layer, and our first attempt sat at chance
    # for four epochs. PyTorch's default Linear init (uniform, scaled by 1/sqrt(fan_in))
    # keeps the scale, and learning starts in the first epoch.
    for m in model.classifier:
        if isinstance(m, nn.Linear):
            m.reset_parameters()
    return model


RECREATE = ("Restore the course's copy (`git checkout data/small_vgg.pt`, or fetch the course again), or recreate "
            "it with `python scripts/train_small_vgg.py`.")


def shipped_hash() -> str:
    """The SHA-256 the course ships for data/small_vgg.pt (the first field of its .sha256 file)."""
    return SMALL_VGG_HASH_PATH.read_text(encoding="utf-8").split()[0]


def _load_small_vgg_file(path: str | Path) -> dict:
    """The checkpoint at ``path``; the shipped file must also match the hash the course ships for it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the trained small VGG is missing. {RECREATE}")
    if path.resolve() == SMALL_VGG_PATH.resolve() and SMALL_VGG_HASH_PATH.is_file():
        found = file_sha256(path)
        if found != shipped_hash():
            raise CheckpointError(f"{path}: its SHA-256 ({found[:12]}...) is not the one the course ships "
                                  f"({shipped_hash()[:12]}..., in {SMALL_VGG_HASH_PATH.name}): the file is damaged "
                                  f"or was replaced. {RECREATE}")
    return load_checkpoint(path)


def load_small_vgg(path: str | Path = SMALL_VGG_PATH, device: torch.device | str | None = None) -> VGG:
    """The shipped, trained small VGG in eval mode (see the module docstring for its contract)."""
    state = _load_small_vgg_file(path)
    model = small_vgg(len(state.get("classes", CLASSES)), **state.get("settings", {}))
    model.load_state_dict(state["model"])
    return model.eval().to(device if device is not None else get_device())


def load_small_vgg_history(path: str | Path = SMALL_VGG_PATH) -> History:
    """The training history stored with the shipped small VGG."""
    state = _load_small_vgg_file(path)
    if not isinstance(state.get("history"), dict):
        raise CheckpointError(f"{path}: holds no training history (not a checkpoint written by train). {RECREATE}")
    try:
        return History.from_dict(state["history"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: its training history is not in the expected form ({err}). {RECREATE}") from None


@dataclass(frozen=True)
class Sweep:
    """Training runs of small-VGG variants at several learning rates, all on one ``budget``.

    ``runs[(variant, lr)]`` is the run's ``History``, or None where the loss diverged.
    """

    budget: dict
    variants: dict[str, dict]
    runs: dict[tuple[str, float], History | None]
    versions: dict[str, str]

    def rates(self, variant: str) -> list[float]:
        """The learning rates ``variant`` was trained at, smallest first."""
        return sorted(lr for v, lr in self.runs if v == variant)

    def best(self, variant: str) -> tuple[float, History]:
        """(learning rate, history) of ``variant``'s run with the highest best validation accuracy."""
        finished = {lr: h for (v, lr), h in self.runs.items() if v == variant and h is not None}
        if not finished:
            known = sorted({v for v, _ in self.runs})
            raise KeyError(f"no finished run of {variant!r} in the sweep; its variants are {known}.")
        lr = max(finished, key=lambda r: finished[r].best_val_acc())
        return lr, finished[lr]


def load_small_vgg_sweep(path: str | Path = SMALL_VGG_SWEEP_PATH) -> Sweep:
    """The stored sweep (plain JSON: no code can run on load). Rebuild with ``scripts/sweep_small_vgg.py``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the stored sweep is missing. Recreate it with "
                                "`python scripts/sweep_small_vgg.py` (about 15 minutes on one CPU thread).")
    redo = "Restore the course's copy (`git checkout data/small_vgg_sweep.json`) or recreate it with " \
           "`python scripts/sweep_small_vgg.py`."
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable sweep file (not JSON text: {type(err).__name__}). {redo}") from None
    try:
        runs = {(r["variant"], float(r["lr"])): None if r["history"] is None else History.from_dict(r["history"])
                for r in data["runs"]}
        return Sweep(data["budget"], data["variants"], runs, data.get("versions", {}))
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ValueError(f"{path}: JSON, but not in the sweep's form ({type(err).__name__}: {err}). {redo}") from None
