"""A folder of photos as a dataset: the layouts that cannot work, skipped files, the split, the example folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2 as T

from course_utils.data import CLASSES, ShapesDataset
from course_utils.photo_folder import LAYOUT, PhotoFolder, class_folders, load_photo_folder, write_example_folder


def _photo(path: Path, colour: tuple[int, int, int] = (200, 30, 30), fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 12), colour).save(path, format=fmt)
    return path


@pytest.fixture
def two_classes(tmp_path: Path) -> Path:
    """cat: 8 photos, dog: 4 photos."""
    for k in range(8):
        _photo(tmp_path / "cat" / f"{k}.jpg")
    for k in range(4):
        _photo(tmp_path / "dog" / f"{k}.png", (20, 20, 200))
    return tmp_path


# --- Layouts that cannot work: one clear message each ------------------------------------------

def test_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="no such folder"):
        load_photo_folder(tmp_path / "nowhere")


def test_a_file_is_not_a_folder(tmp_path):
    photo = _photo(tmp_path / "cat.jpg")
    with pytest.raises(ValueError, match=r"is a file, not a folder.*one sub-folder per class"):
        load_photo_folder(photo)


def test_photos_directly_in_the_folder(tmp_path):
    for k in range(3):
        _photo(tmp_path / f"{k}.jpg")
    with pytest.raises(ValueError) as err:
        load_photo_folder(tmp_path)
    message = str(err.value)
    assert "no class folders" in message and "3 file(s) directly" in message
    assert "put each class's photos in its own sub-folder: root/cat/1.jpg, root/dog/2.jpg" in message


def test_an_empty_folder(tmp_path):
    with pytest.raises(ValueError, match=r"no class folders \(it is empty\)"):
        load_photo_folder(tmp_path)


def test_a_single_class(tmp_path):
    for k in range(4):
        _photo(tmp_path / "cat" / f"{k}.jpg")
    with pytest.raises(ValueError, match=r"only one class folder, 'cat'.*at least two classes"):
        load_photo_folder(tmp_path)


def test_an_empty_class_is_named(two_classes):
    (two_classes / "bird").mkdir()
    with pytest.raises(ValueError, match=r"'bird' hold no image that can be read\. Add photos"):
        load_photo_folder(two_classes)


def test_a_class_of_non_images_is_named_with_the_reason(two_classes):
    (two_classes / "bird").mkdir()
    (two_classes / "bird" / "notes.txt").write_text("not a photo")
    with pytest.raises(ValueError) as err:
        load_photo_folder(two_classes)
    message = str(err.value)
    assert "'bird'" in message and "'cat'" not in message
    assert "(skipped: bird/notes.txt: not an image" in message


def test_fewer_images_than_a_batch(two_classes):
    with pytest.warns(UserWarning) as caught:
        load_photo_folder(two_classes, batch_size=32)
    message = str(caught[0].message)
    # 12 images; 2 of cat's 8 and 1 of dog's 4 go to validation: 9 left to train on
    assert "9 training images (of 12, after setting 3 aside for validation)" in message
    assert "fewer than one batch of 32: each epoch is a single SGD step" in message
    assert "smaller batch size (at most 9)" in message
    assert len(load_photo_folder(two_classes, batch_size=9).train) == 9  # exactly one batch is enough


def test_one_image_per_class_leaves_nothing_to_validate(tmp_path):
    _photo(tmp_path / "cat" / "1.jpg")
    _photo(tmp_path / "dog" / "1.jpg")
    with pytest.raises(ValueError, match="leave none for validation.*at least two per class"):
        load_photo_folder(tmp_path)


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_val_fraction_must_be_a_fraction(two_classes, fraction):
    with pytest.raises(ValueError, match="val_fraction must be between 0 and 1"):
        load_photo_folder(two_classes, val_fraction=fraction)


# --- Files that are not photos: skipped and counted -----------------------------------------

def test_non_images_are_skipped_and_counted(two_classes):
    (two_classes / "cat" / "notes.txt").write_text("not a photo")
    (two_classes / "cat" / "paper.jpg").write_bytes(b"%PDF-1.4\n" + b"0" * 200)  # a renamed PDF
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(two_classes / "dog" / "cut.jpg")
    whole = (two_classes / "dog" / "cut.jpg").read_bytes()
    (two_classes / "dog" / "cut.jpg").write_bytes(whole[: len(whole) // 2])  # a download cut short
    (two_classes / "dog" / ".DS_Store").write_bytes(b"\0" * 64)
    (two_classes / "labels.csv").write_text("cat,dog\n")  # beside the class folders, not in one
    photos = load_photo_folder(two_classes)
    assert len(photos.train) + len(photos.val) == 12  # the 12 real photos, nothing else
    reasons = dict(photos.skipped)
    assert set(reasons) == {"cat/notes.txt", "cat/paper.jpg", "dog/cut.jpg", "labels.csv"}  # .DS_Store: ignored
    # the reasons are load_image's own messages, without the path in front
    assert "image" in reasons["cat/notes.txt"] and "truncated" in reasons["dog/cut.jpg"]
    assert not any(why.startswith(str(two_classes)) for why in reasons.values())
    assert reasons["labels.csv"] == "not in a class folder"
    report = photos.report()
    assert "skipped 4 file(s)" in report and f"cat/paper.jpg: {reasons['cat/paper.jpg']}" in report


def test_a_clean_folder_skips_nothing(two_classes):
    photos = load_photo_folder(two_classes)
    assert photos.skipped == [] and "skipped" not in photos.report()


# --- Classes and the split ---------------------------------------------------------------

def test_class_names_are_sorted_as_imagefolder_sorts_them(tmp_path):
    for name in ("dog", "Zebra", "cat", "ant_2", "ant_10"):
        _photo(tmp_path / name / "1.png")
        _photo(tmp_path / name / "2.png")
    photos = load_photo_folder(tmp_path)
    assert photos.classes == ImageFolder(str(tmp_path)).classes == ["Zebra", "ant_10", "ant_2", "cat", "dog"]
    assert photos.train.dataset.class_to_idx == ImageFolder(str(tmp_path)).class_to_idx


def test_a_hidden_folder_is_not_a_class(two_classes):
    _photo(two_classes / ".ipynb_checkpoints" / "1.jpg")  # Jupyter's, beside the classes
    assert ".ipynb_checkpoints" in ImageFolder(str(two_classes)).classes  # torchvision would count it
    assert class_folders(two_classes) == ["cat", "dog"]
    assert load_photo_folder(two_classes).classes == ["cat", "dog"]


def _paths(split) -> set[str]:
    return {split.dataset.samples[i][0] for i in split.indices}


def test_the_split_keeps_each_class_share_and_shares_no_file(two_classes):
    photos = load_photo_folder(two_classes, val_fraction=0.25)
    assert isinstance(photos, PhotoFolder)
    assert photos.counts() == {"cat": (6, 2), "dog": (3, 1)}
    train, val = _paths(photos.train), _paths(photos.val)
    assert len(train) == 9 and len(val) == 3 and not train & val
    everything = {os.path.join(root, f) for root, _, files in os.walk(two_classes) for f in files}
    assert train | val == everything


def test_every_class_is_validated_even_when_small(tmp_path):
    for name, n in (("cat", 20), ("dog", 2)):
        for k in range(n):
            _photo(tmp_path / name / f"{k}.png")
    assert load_photo_folder(tmp_path, val_fraction=0.1).counts() == {"cat": (18, 2), "dog": (1, 1)}


def test_the_split_is_seeded(two_classes):
    first, again = load_photo_folder(two_classes, seed=3), load_photo_folder(two_classes, seed=3)
    assert _paths(first.val) == _paths(again.val)
    others = [_paths(load_photo_folder(two_classes, seed=s).val) for s in range(4, 10)]
    assert any(o != _paths(first.val) for o in others)


def test_transform_feeds_a_dataloader(two_classes):
    transform = T.Compose([T.ToImage(), T.Resize((8, 8)), T.ToDtype(torch.float32, scale=True)])
    photos = load_photo_folder(two_classes, transform=transform)
    images, labels = next(iter(DataLoader(photos.train, batch_size=9)))
    assert images.shape == (9, 3, 8, 8) and images.dtype == torch.float32
    assert sorted(labels.tolist()) == [0] * 6 + [1] * 3


def test_a_path_with_a_tilde_is_expanded(two_classes, monkeypatch):
    monkeypatch.setenv("HOME", str(two_classes.parent))
    assert load_photo_folder(f"~/{two_classes.name}").root == two_classes


# --- The example folder ---------------------------------------------------------------------

def test_the_example_folder_round_trips(tmp_path):
    root = write_example_folder(tmp_path / "shapes", n_per_class=4, classes=("star", "circle"), seed=5)
    photos = load_photo_folder(root)
    assert photos.classes == ["circle", "star"] and photos.skipped == []
    assert photos.counts() == {"circle": (3, 1), "star": (3, 1)}
    shapes = ShapesDataset(4 * len(CLASSES), seed=5)
    for path, label in photos.train.dataset.samples:
        name = photos.classes[label]
        k = int(Path(path).stem.split("_")[1])
        expected = (shapes[k * len(CLASSES) + CLASSES.index(name)][0] * 255).round().permute(1, 2, 0).numpy()
        pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
        if path.endswith(".png"):
            assert np.array_equal(pixels, expected), path  # PNG is lossless
        else:
            assert np.abs(pixels - expected).mean() < 6, path  # JPEG: close, not equal


def test_the_example_folder_is_the_same_every_time(tmp_path):
    a = write_example_folder(tmp_path / "a", n_per_class=2)
    b = write_example_folder(tmp_path / "b", n_per_class=2)
    files = sorted(p.relative_to(a) for p in a.rglob("*.*"))
    assert len(files) == 2 * len(CLASSES) and {p.suffix for p in files} == {".png", ".jpg"}
    assert all((a / p).read_bytes() == (b / p).read_bytes() for p in files)


@pytest.mark.parametrize("kwargs", [{"classes": ("circle",)}, {"classes": ("circle", "cat")}, {"n_per_class": 0}])
def test_the_example_folder_refuses_what_it_cannot_draw(tmp_path, kwargs):
    with pytest.raises(ValueError, match="need two or more of circle"):
        write_example_folder(tmp_path, **kwargs)


def test_layout_hint_is_the_one_in_the_messages():
    assert "root/cat/1.jpg" in LAYOUT


def test_a_folder_already_split_into_train_and_val_is_refused(two_classes, tmp_path):
    import shutil

    split = tmp_path / "kaggle"
    for part in ("train", "val"):
        for name in ("cat", "dog"):
            shutil.copytree(two_classes / name, split / part / name)
    with pytest.raises(ValueError, match="look like a dataset already split.*Give one of them"):
        load_photo_folder(split)
    assert load_photo_folder(split / "train").classes == ["cat", "dog"]


def test_a_class_too_small_to_validate_is_named_in_the_report(two_classes):
    (two_classes / "owl").mkdir()
    _photo(two_classes / "owl" / "1.jpg")
    assert "owl" in load_photo_folder(two_classes).report().split("too few photos to validate")[0].splitlines()[-1]


def test_a_missing_folder_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=f"looked for {tmp_path}/my-classes"):
        load_photo_folder("my-classes")
