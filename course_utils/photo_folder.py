"""Your own photos as a dataset: a folder with one sub-folder per class, split for training.

torchvision's ``ImageFolder`` reads the layout most photo datasets use::

    my-classes/
        cat/   1.jpg  2.heic  ...
        dog/   7.png  8.jpg   ...

The sub-folder names, sorted, are the classes; every image below one is an example of it.
``load_photo_folder`` wraps ``ImageFolder`` with what a real folder needs: each file is opened
once up front with ``course_utils.images.load_image`` (so a stray ``notes.txt`` or a cut-off
download is skipped and counted now, not a crash in epoch 3), a seeded train/validation split
that keeps every class's share, and one clear ``ValueError`` for each layout that cannot work.
``write_example_folder`` writes a small folder of shapes in that layout, for the tests and for
a notebook run without anyone's photos.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Subset
from torchvision.datasets import ImageFolder

from course_utils.data import CLASSES, ShapesDataset
from course_utils.images import load_image

LAYOUT = "put each class's photos in its own sub-folder: root/cat/1.jpg, root/dog/2.jpg"


@dataclass
class PhotoFolder:
    """The classes, the two splits (``Subset``s of one ``ImageFolder``) and what was skipped."""

    root: Path
    classes: list[str]
    train: Subset
    val: Subset
    skipped: list[tuple[str, str]]  # (path relative to root, why it was skipped)

    def counts(self) -> dict[str, tuple[int, int]]:
        """Images per class: (training, validation)."""
        targets = self.train.dataset.targets
        n_train = [sum(targets[i] == c for i in self.train.indices) for c in range(len(self.classes))]
        n_val = [sum(targets[i] == c for i in self.val.indices) for c in range(len(self.classes))]
        return dict(zip(self.classes, zip(n_train, n_val)))

    def report(self) -> str:
        """A few lines for a person: classes, counts per split, and each skipped file with the reason."""
        lines = [f"{self.root}: {len(self.classes)} classes, {len(self.train) + len(self.val)} images "
                 f"({len(self.train)} training, {len(self.val)} validation)"]
        width = max(len(name) for name in self.classes)
        for name, (t, v) in self.counts().items():
            note = "  (too few photos to validate: add some)" if v == 0 else ""
            lines.append(f"  {name:<{width}}  {t:4d} training  {v:4d} validation{note}")
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} file(s):")
            lines += [f"  {path}: {why}" for path, why in self.skipped]
        return "\n".join(lines)


def _hidden(name: str) -> bool:
    """Whether a file or folder is hidden: .ipynb_checkpoints, .DS_Store, .git are never a class or a photo."""
    return name.startswith(".")


def class_folders(root: str | Path) -> list[str]:
    """The class names ``ImageFolder`` finds in ``root`` (sorted sub-folder names), hidden ones left out."""
    try:
        entries = list(os.scandir(root))
    except PermissionError:
        raise ValueError(f"{root}: no permission to read this folder. Copy it somewhere you own (on macOS, or "
                         "allow your terminal or Jupyter to read it in System Settings > Privacy).") from None
    return sorted(entry.name for entry in entries if entry.is_dir() and not _hidden(entry.name))


class _PhotoImageFolder(ImageFolder):
    """``ImageFolder``, except that a hidden folder such as ``.ipynb_checkpoints`` is not a class."""

    def find_classes(self, directory: str | Path) -> tuple[list[str], dict[str, int]]:
        classes = class_folders(directory)
        return classes, {name: i for i, name in enumerate(classes)}


def load_photo_folder(root: str | Path, transform: Callable | None = None, val_fraction: float = 0.25,
                      seed: int = 0, batch_size: int | None = None) -> PhotoFolder:
    """Load ``root`` (one sub-folder per class) as training and validation sets.

    ``transform`` turns each RGB PIL image into what the model takes (resize, tensor, normalise).
    Each class keeps its share in both splits: about ``val_fraction`` of its images go to
    validation (at least one, when it has two or more), chosen at random with ``seed``.
    With ``batch_size``, a training split smaller than one batch gets a warning: it trains, but each
    epoch is then a single SGD step. Hidden files (``.DS_Store``) are ignored; other files that are
    not photos are skipped and listed in ``skipped``.
    Every file is decoded once here to check it, so loading a large folder takes a moment.
    """
    root = Path(root).expanduser()
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1 (e.g. 0.25), got {val_fraction}")
    if not root.exists():
        raise ValueError(f"{root}: no such folder (looked for {root.resolve()}). Give the folder that holds one "
                         "sub-folder per class; on Windows write the path as r\"C:\\...\" or with forward slashes.")
    if not root.is_dir():
        raise ValueError(f"{root} is a file, not a folder. Give the folder that holds one sub-folder per class "
                         f"({LAYOUT}).")
    classes = class_folders(root)
    if not classes:
        loose = sorted(p.name for p in root.iterdir() if p.is_file() and not _hidden(p.name))
        found = f"it holds {len(loose)} file(s) directly, such as {loose[0]!r}" if loose else "it is empty"
        raise ValueError(f"{root}: no class folders ({found}). One sub-folder per class is expected: {LAYOUT}.")
    splits = {"train", "val", "valid", "validation", "test"}
    if set(classes) <= splits and any(class_folders(root / name) for name in classes):
        raise ValueError(f"{root}: its folders {', '.join(classes)} look like a dataset already split, each with "
                         "class folders inside. Give one of them (e.g. its train folder) or merge them: "
                         f"{LAYOUT}.")
    if len(classes) == 1:
        raise ValueError(f"{root}: only one class folder, {classes[0]!r}. A classifier needs at least two classes: "
                         f"add a sub-folder of photos for each other class ({LAYOUT}).")

    skipped = [(p.name, "not in a class folder") for p in sorted(root.iterdir()) if p.is_file() and not _hidden(p.name)]

    def is_valid_file(path: str) -> bool:
        """ImageFolder asks this of every file: a photo load_image can read? If not, note why."""
        relative = Path(path).relative_to(root)
        if any(_hidden(part) for part in relative.parts):
            return False  # .DS_Store and the like: not worth a line in the report
        try:
            load_image(path)
        except ValueError as err:
            skipped.append((str(relative), str(err).removeprefix(f"{Path(path)}: ")))
            return False
        return True

    dataset = _PhotoImageFolder(str(root), transform=transform, loader=load_image, is_valid_file=is_valid_file,
                                allow_empty=True)
    per_class = [[i for i, t in enumerate(dataset.targets) if t == c] for c in range(len(classes))]
    empty = [name for name, indices in zip(classes, per_class) if not indices]
    if empty:
        why = [f"{path}: {reason}" for path, reason in skipped if Path(path).parts[0] in empty]
        detail = f" (skipped: {'; '.join(why[:3])}{'; ...' if len(why) > 3 else ''})" if why else ""
        raise ValueError(f"{root}: class folder(s) {', '.join(map(repr, empty))} hold no image that can be "
                         f"read{detail}. Add photos to each, or remove the folder.")

    generator = torch.Generator().manual_seed(seed)
    train_idx, val_idx = [], []
    for indices in per_class:
        order = [indices[k] for k in torch.randperm(len(indices), generator=generator).tolist()]
        n_val = min(max(1, round(len(order) * val_fraction)), len(order) - 1)
        val_idx += order[:n_val]
        train_idx += order[n_val:]
    if not val_idx:
        raise ValueError(f"{root}: {len(dataset)} images, one per class, leave none for validation. "
                         "Add photos: at least two per class, better ten or more.")
    if batch_size is not None and len(train_idx) < batch_size:
        warnings.warn(f"{root}: {len(train_idx)} training images (of {len(dataset)}, after setting {len(val_idx)} "
                      f"aside for validation), fewer than one batch of {batch_size}: each epoch is a single SGD "
                      f"step. Add photos, or use a smaller batch size (at most {len(train_idx)}).", stacklevel=2)
    return PhotoFolder(root, classes, Subset(dataset, sorted(train_idx)), Subset(dataset, sorted(val_idx)), skipped)


def write_example_folder(root: str | Path, n_per_class: int = 12, classes: Sequence[str] = CLASSES,
                         seed: int = 0, size: int = 64) -> Path:
    """Save ``n_per_class`` shapes per class in the ``ImageFolder`` layout, alternately PNG and JPEG.

    A stand-in for a folder of your photos: the same files on every machine, so a notebook that
    trains on it runs the same under the tests. Returns ``root``.
    """
    unknown = [name for name in classes if name not in CLASSES]
    if unknown or len(classes) < 2 or n_per_class < 1:
        raise ValueError(f"need two or more of {', '.join(CLASSES)} and n_per_class >= 1; got {list(classes)}, "
                         f"{n_per_class}")
    root = Path(root)
    shapes = ShapesDataset(n_per_class * len(CLASSES), seed=seed, size=size)
    for i in range(len(shapes)):
        name = CLASSES[i % len(CLASSES)]
        if name not in classes:
            continue
        image, _, _ = shapes[i]
        pixels = (image * 255).round().byte().permute(1, 2, 0).numpy()
        k = i // len(CLASSES)
        path = root / name / f"{name}_{k:03d}.{'png' if k % 2 == 0 else 'jpg'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path, quality=95, subsampling=0)  # JPEG settings that keep the colours
    return root
