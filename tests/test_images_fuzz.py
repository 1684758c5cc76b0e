"""Fuzz load_image: a damaged photo gives a correct RGB image or a ValueError naming the file, nothing else.

A small copy of a shipped photo is saved as JPEG, PNG, GIF, WebP and TIFF (with an EXIF
"rotate me" tag where the format carries one), then cut short at many points (every
byte of the header, then spread over the rest) and given random bit flips (seeded).
The expected picture of an intact file comes from PIL plus a numpy rotation, not from
load_image.
"""

from __future__ import annotations

import gc
import io
import random
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_utils.images import IMAGES_DIR, load_image

FORMATS = {  # extension: PIL save options
    "jpg": {"format": "JPEG", "quality": 85},
    "png": {"format": "PNG"},
    "gif": {"format": "GIF"},
    "webp": {"format": "WEBP"},
    "tif": {"format": "TIFF", "compression": "tiff_deflate"},
}
ROTATE_90_CW = 6  # EXIF orientation: the camera was turned, show the picture turned 90 degrees clockwise
HEADER_BYTES = 64  # cut after every one of the first 64 bytes: headers are where a raw OSError used to escape
SPREAD_CUTS = 60
BIT_FLIPS = 200


def _photo_bytes(ext: str) -> bytes:
    photo = Image.open(IMAGES_DIR / "rocket.jpg").convert("RGB")
    photo.thumbnail((48, 48))
    exif = Image.Exif()
    exif[0x0112] = ROTATE_90_CW
    buf = io.BytesIO()
    options = dict(FORMATS[ext])
    if ext != "gif":
        options["exif"] = exif.tobytes()
    photo.save(buf, **options)
    return buf.getvalue()


def _expected_rgb(data: bytes, ext: str) -> np.ndarray:
    """The intact file's pixels, upright: PIL's plain decode, then numpy's own rotation.

    GIF carries no EXIF, and PIL's TIFF reader applies the orientation tag itself.
    """
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    return pixels if ext in ("gif", "tif") else np.rot90(pixels, k=-1)


def _variants(data: bytes, seed: int) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    cuts = set(range(min(HEADER_BYTES, len(data)))) | {rng.randrange(len(data)) for _ in range(SPREAD_CUTS)}
    out = [(f"cut at byte {n}", data[:n]) for n in sorted(cuts)]
    for _ in range(BIT_FLIPS):
        damaged = bytearray(data)
        where = [rng.randrange(len(data)) for _ in range(rng.randint(1, 4))]
        for i in where:
            damaged[i] ^= 1 << rng.randrange(8)
        out.append((f"bits flipped at bytes {where}", bytes(damaged)))
    return out


def _outcome(path: Path, kind: str, expected: np.ndarray) -> str | None:
    """None if load_image behaved, else what went wrong."""
    try:
        img = load_image(path)
    except ValueError as err:
        return None if str(path) in str(err) else f"ValueError without the file name: {err}"
    except Exception as err:  # noqa: BLE001 - the point: anything else is a failure, reported by type
        return f"{type(err).__name__}: {err}"
    if img.mode != "RGB" or min(img.size) < 1 or len(img.tobytes()) != img.width * img.height * 3:
        return f"not a whole RGB image: mode {img.mode}, size {img.size}"
    if kind.startswith("cut") and not np.array_equal(np.asarray(img), expected):
        return "accepted a cut-off file but returned a different picture"
    return None


@pytest.mark.parametrize("ext", list(FORMATS))
def test_damaged_files_give_an_image_or_a_value_error_naming_the_file(ext, tmp_path):
    data = _photo_bytes(ext)
    expected = _expected_rgb(data, ext)
    path = tmp_path / f"photo.{ext}"
    path.write_bytes(data)
    assert np.array_equal(np.asarray(load_image(path)), expected), "the intact file must load upright"

    failures = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PIL warns about corrupt EXIF; warnings are not the outcome tested here
        for kind, damaged in _variants(data, seed=sorted(FORMATS).index(ext)):
            path.write_bytes(damaged)
            problem = _outcome(path, kind, expected)
            if problem:
                failures.append(f"{kind}: {problem}")
    assert not failures, f"{len(failures)} damaged .{ext} files escaped, e.g.:\n" + "\n".join(failures[:5])


def test_a_damaged_file_is_closed_after_the_error(tmp_path):
    """An open handle keeps a file locked on Windows and warns (ResourceWarning) everywhere."""
    path = tmp_path / "cut.png"
    data = _photo_bytes("png")
    path.write_bytes(data[: len(data) * 3 // 4])  # the header is whole: the error comes while decoding pixels
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="cut.png: the file is damaged or truncated"):
            load_image(path)
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, f"load_image left the file open: {leaks}"
