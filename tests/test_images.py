"""load_image: every kind of awkward photo becomes upright 8-bit RGB, or a clear ValueError."""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from course_utils import images
from course_utils.images import load_image


def _save(img: Image.Image, path: Path, **kw) -> Path:
    img.save(path, **kw)
    return path


def test_shipped_photos_load_as_rgb():
    shipped = images.shipped_images()
    assert {"cat", "coffee", "rocket", "astronaut"} <= set(shipped)
    for path in shipped.values():
        img = load_image(path)
        assert img.mode == "RGB" and min(img.size) >= 224


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(ValueError, match="nope.jpg: no such file"):
        load_image(tmp_path / "nope.jpg")


def test_text_file_is_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a photo")
    with pytest.raises(ValueError, match="notes.jpg: not an image"):
        load_image(path)


def test_truncated_jpeg(tmp_path):
    full = _save(Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)),
                 tmp_path / "full.jpg", quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(ValueError, match="cut.jpg: the file is damaged or truncated"):
        load_image(cut)


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width x height: opening reads only the header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunks)
    return path


def test_enormous_image_is_refused_before_decoding(tmp_path):
    path = _png_header_only(tmp_path / "huge.png", 30_000, 20_000)  # 600 megapixels
    with pytest.raises(ValueError, match=r"huge.png: .*(over the limit|too large)"):
        load_image(path)


def test_our_limit_speaks_before_pils_decompression_bomb_warning(tmp_path):
    path = _png_header_only(tmp_path / "big.png", 10_000, 10_000)  # 100 MP: PIL warns from 89 MP, refuses from 179 MP
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would escape as an exception here
        with pytest.raises(ValueError, match="big.png: 10000x10000 = 100,000,000 pixels is over the limit"):
            load_image(path)


def test_pixel_limit_is_a_parameter(tmp_path):
    path = _save(Image.new("RGB", (100, 100)), tmp_path / "small.png")
    assert load_image(path).size == (100, 100)
    with pytest.raises(ValueError, match="10,000 pixels is over the limit of 5,000"):
        load_image(path, max_pixels=5_000)


@pytest.mark.parametrize("mode", ["L", "1", "RGB"])
def test_plain_modes_become_rgb(tmp_path, mode):
    img = Image.new(mode, (40, 30), 1 if mode == "1" else (200 if mode == "L" else (10, 20, 30)))
    out = load_image(_save(img, tmp_path / f"{mode}.png"))
    assert out.mode == "RGB" and out.size == (40, 30)


def test_grayscale_keeps_its_value(tmp_path):
    out = load_image(_save(Image.new("L", (8, 8), 77), tmp_path / "g.png"))
    assert out.getpixel((3, 3)) == (77, 77, 77)


def test_transparency_becomes_white(tmp_path):
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))  # fully transparent red
    rgba.putpixel((0, 0), (255, 0, 0, 255))  # one opaque red pixel
    out = load_image(_save(rgba, tmp_path / "a.png"))
    assert out.getpixel((5, 5)) == (255, 255, 255)
    assert out.getpixel((0, 0)) == (255, 0, 0)
    la = Image.new("LA", (4, 4), (0, 0))
    assert load_image(_save(la, tmp_path / "la.png")).getpixel((1, 1)) == (255, 255, 255)


def test_palette_with_and_without_transparency(tmp_path):
    p = Image.new("P", (6, 6), 1)
    p.putpalette([0, 0, 0, 0, 128, 255] + [0] * 762)
    assert load_image(_save(p, tmp_path / "p.png")).getpixel((2, 2)) == (0, 128, 255)
    p.info["transparency"] = 1
    assert load_image(_save(p, tmp_path / "pt.png", transparency=1)).getpixel((2, 2)) == (255, 255, 255)


def test_cmyk_jpeg(tmp_path):
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    out = load_image(_save(cmyk, tmp_path / "c.jpg", quality=100))
    r, g, b = out.getpixel((8, 8))
    assert out.mode == "RGB" and r > 200 and g < 60 and b < 60


def test_16_bit_png_is_scaled_to_8_bit(tmp_path):
    arr = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    img = Image.fromarray(arr)
    assert img.mode.startswith("I;16")
    out = np.asarray(load_image(_save(img, tmp_path / "deep.png")))
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255
    assert out[0, 0, 0] < out[-1, -1, 0]


def test_exif_rotation_is_applied(tmp_path):
    img = Image.new("RGB", (60, 20), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 10, 20))  # a red stripe on the left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    out = load_image(_save(img, tmp_path / "phone.jpg", exif=exif.tobytes(), quality=100))
    assert out.size == (20, 60)  # upright: portrait
    r, g, b = out.getpixel((10, 2))  # the left stripe is now along the top
    assert r > 200 and b < 60


def test_transforms_and_denormalize_round_trip():
    img = load_image(images.shipped_images()["cat"])
    x = images.stretch_transform(224)(img)
    assert x.shape == (3, 224, 224)
    back = images.to_numpy_image(x)
    assert back.shape == (224, 224, 3) and 0 <= back.min() and back.max() <= 1
    plain = np.asarray(img.resize((224, 224), Image.BILINEAR), dtype=np.float32) / 255
    assert np.abs(back - plain).mean() < 0.02
    batch = torch.stack([x, x])
    assert images.denormalize(batch).shape == batch.shape


def test_to_numpy_image_rejects_a_batch():
    with pytest.raises(ValueError, match=r"expected one image of shape \(3, H, W\), got \(2, 3, 8, 8\)"):
        images.to_numpy_image(torch.zeros(2, 3, 8, 8))
