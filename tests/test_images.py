"""load_image: every kind of awkward photo becomes upright 8-bit RGB, or a clear ValueError."""

from __future__ import annotations

import gc
import io
import json
import random
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageChops
from torchvision import transforms as T

from course_utils import images
from course_utils.images import IMAGES_DIR, load_image


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
    la = Image.new("LA", (8, 8), (0, 0))
    assert load_image(_save(la, tmp_path / "la.png")).getpixel((1, 1)) == (255, 255, 255)


def test_palette_with_and_without_transparency(tmp_path):
    p = Image.new("P", (8, 8), 1)
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


# --- Photos as people have them: every format, phone-sized photos, panoramas, uploads, bad files ---

REPO = Path(__file__).resolve().parent.parent
BIG = (8000, 6000)  # a 48-megapixel phone photo


def _quadrants(size: tuple[int, int] = (64, 48)) -> Image.Image:
    """Red top-left, green top-right, blue bottom-left, white bottom-right: shows a turn or a flip."""
    w, h = size
    img = Image.new("RGB", size, (255, 255, 255))
    img.paste((255, 0, 0), (0, 0, w // 2, h // 2))
    img.paste((0, 255, 0), (w // 2, 0, w, h // 2))
    img.paste((0, 0, 255), (0, h // 2, w // 2, h))
    return img


def _near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour))


def _assert_quadrants(out: Image.Image) -> None:
    w, h = out.size
    assert out.mode == "RGB"
    assert _near(out.getpixel((w // 4, h // 4)), (255, 0, 0)), out.getpixel((w // 4, h // 4))
    assert _near(out.getpixel((3 * w // 4, h // 4)), (0, 255, 0))
    assert _near(out.getpixel((w // 4, 3 * h // 4)), (0, 0, 255))
    assert _near(out.getpixel((3 * w // 4, 3 * h // 4)), (255, 255, 255))


FORMAT_OPTIONS = {  # extension: PIL save options
    "jpg": {"format": "JPEG", "quality": 95},
    "png": {"format": "PNG"},
    "webp": {"format": "WEBP", "quality": 95},
    "gif": {"format": "GIF"},
    "bmp": {"format": "BMP"},
    "tif": {"format": "TIFF"},
    "heic": {"format": "HEIF", "quality": 95},
}


@pytest.mark.parametrize("ext", list(FORMAT_OPTIONS))
def test_every_format_loads_as_rgb(tmp_path, ext):
    assert images.HEIF_SUPPORT, "pillow-heif is a course dependency: pip install -e ."
    path = _save(_quadrants(), tmp_path / f"photo.{ext}", **FORMAT_OPTIONS[ext])
    out = load_image(path)
    assert out.size == (64, 48)
    _assert_quadrants(out)


def test_an_animated_gif_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (32, 32), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(path).n_frames == 2
    assert _near(load_image(path).getpixel((16, 16)), (255, 0, 0))


def _rotated_exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    return exif.tobytes()


@pytest.mark.parametrize("ext", ["jpg", "heic"])
def test_exif_rotation_is_applied_also_for_heic(tmp_path, ext):
    path = _save(_quadrants((64, 48)), tmp_path / f"turned.{ext}", exif=_rotated_exif(), **FORMAT_OPTIONS[ext])
    out = load_image(path)
    assert out.size == (48, 64)  # upright: portrait
    # turned clockwise: the blue bottom-left corner is now the top-left one
    assert _near(out.getpixel((12, 16)), (0, 0, 255)) and _near(out.getpixel((36, 16)), (255, 0, 0))


def test_exif_rotation_survives_the_shrink(tmp_path):
    path = _save(_quadrants((3000, 2000)), tmp_path / "big_turned.jpg", exif=_rotated_exif(), quality=90)
    out = load_image(path)
    assert out.size == (1365, 2048)  # shrunk to the working size, then turned upright
    assert _near(out.getpixel((300, 400)), (0, 0, 255)) and _near(out.getpixel((1000, 400)), (255, 0, 0))


def _big_photo(size: tuple[int, int]) -> Image.Image:
    """A smooth, quick-to-make photo stand-in: two gradients and their difference (compresses well)."""
    across = Image.linear_gradient("L").rotate(90).resize(size)
    down = Image.linear_gradient("L").resize(size)
    return Image.merge("RGB", (across, down, ImageChops.difference(across, down)))


@pytest.fixture(scope="module")
def big_photos(tmp_path_factory) -> dict[str, Path]:
    """An 8000 x 6000 photo as JPEG and as PNG, made once for the tests below."""
    folder = tmp_path_factory.mktemp("big")
    photo = _big_photo(BIG)
    return {
        "jpg": _save(photo, folder / "phone48.jpg", quality=85),
        "png": _save(photo, folder / "phone48.png", compress_level=1),
    }


def test_a_48_megapixel_phone_photo_loads_at_working_size(big_photos):
    for path in big_photos.values():
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a plain shrink is no adjustment worth a warning
            out = load_image(path)
        assert out.size == (images.MAX_SIDE, images.MAX_SIDE * 3 // 4), path.name
        assert min(out.size) > 384  # well above what the transforms and dense evaluation use


def test_the_working_size_is_a_parameter(big_photos):
    assert load_image(big_photos["jpg"], max_side=400).size == (400, 300)


# Runs in a fresh interpreter: VmHWM, the peak resident memory, is then this load's alone, once
# /proc/self/clear_refs has reset it ("5") to the current use. ru_maxrss would not do: a child
# inherits its parent's at fork.
_MEASURE_PEAK = r"""
import json, sys
from course_utils.images import load_image

def status_bytes(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))

growth = {}
for path in sys.argv[1:]:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status_bytes("VmRSS")
    img = load_image(path)
    growth[path] = status_bytes("VmHWM") - before
    del img
print(json.dumps(growth))
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc to measure peak memory")
def test_peak_memory_is_bounded_for_big_photos(big_photos):
    paths = [str(big_photos["jpg"]), str(big_photos["png"])]
    run = subprocess.run([sys.executable, "-c", _MEASURE_PEAK, *paths], capture_output=True, text=True,
                         cwd=REPO, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    growth = json.loads(run.stdout.strip().splitlines()[-1])
    mb = {Path(p).suffix: round(g / 1e6) for p, g in growth.items()}  # MB: 10**6 bytes
    # the bounds load_image's docstring states
    assert mb[".jpg"] < 150, f"peak memory grew by {mb} MB: is the 48 MP JPEG decoded at full size?"
    assert growth[paths[1]] < 6 * BIG[0] * BIG[1], f"peak memory grew by {mb} MB: over 6 bytes a pixel for the PNG"


def test_a_panorama_keeps_its_middle_with_a_warning(tmp_path):
    strip = Image.linear_gradient("L").rotate(90).resize((4000, 20))  # dark on the left, bright on the right
    path = _save(strip, tmp_path / "strip.png")
    with pytest.warns(images.PhotoAdjustedWarning, match=r"strip.png: kept the middle 4:1 part .* 200 times"):
        out = load_image(path)
    assert out.size == (80, 20)
    assert 100 < out.getpixel((40, 10))[0] < 155  # the middle of the gradient, not one end
    resized = T.Resize(256)(out)  # what the course's transforms do first
    assert resized.size == (1024, 256)  # not 51200 x 256
    tall = _save(Image.new("RGB", (30, 900)), tmp_path / "tall.png")
    with pytest.warns(images.PhotoAdjustedWarning, match="tall.png: kept the middle 4:1 part"):
        assert load_image(tall).size == (30, 120)


def test_a_big_jpeg_panorama_is_cropped_and_shrunk(tmp_path):
    path = _save(_big_photo((12000, 1500)), tmp_path / "pano.jpg", quality=85)
    with pytest.warns(images.PhotoAdjustedWarning, match="8 times its short side"):
        out = load_image(path)
    assert out.size == (2048, 512)


def test_a_four_to_one_photo_passes_untouched(tmp_path):
    path = _save(Image.new("RGB", (400, 100)), tmp_path / "wide.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_image(path).size == (400, 100)


def test_a_photo_too_small_to_see_is_refused(tmp_path):
    path = _save(Image.new("RGB", (5, 5)), tmp_path / "dot.png")
    with pytest.raises(ValueError, match=r"dot.png: 5x5 pixels is too small to be a photo"):
        load_image(path)


def test_a_decompression_bomb_is_refused(tmp_path):
    path = _png_header_only(tmp_path / "bomb.png", 100_000, 100_000)
    with pytest.raises(ValueError, match="bomb.png: .*decompression bomb"):
        load_image(path)
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # PIL's own limit is back


def _jpeg_claiming(path: Path, width: int, height: int) -> Path:
    """A small JPEG whose frame header (SOF0) claims width x height."""
    data = bytearray(_save(Image.new("RGB", (16, 16)), path, quality=50).read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5: sof + 9] = struct.pack(">HH", height, width)
    path.write_bytes(bytes(data))
    return path


def test_a_jpeg_bomb_is_refused_from_its_header(tmp_path):
    path = _jpeg_claiming(tmp_path / "bomb.jpg", 20_000, 15_000)  # 300 MP: more than any camera makes
    with pytest.raises(ValueError, match=r"bomb.jpg: its header claims 20000x15000 = 300,000,000 pixels"):
        load_image(path)
    path = _jpeg_claiming(tmp_path / "huge.jpg", 60_000, 60_000)  # 3.6 gigapixels: PIL itself refuses
    with pytest.raises(ValueError, match=r"huge.jpg: .*decompression bomb"):
        load_image(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.jpg: the file is empty \(0 bytes\)"):
        load_image(path)


def test_text_says_it_is_text(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("shopping: milk, eggs\n")
    with pytest.raises(ValueError, match="notes.png: not an image but text .*'shopping: milk, eggs'"):
        load_image(path)


def test_truncated_png(tmp_path):
    full = _save(_quadrants((200, 200)), tmp_path / "full.png")
    cut = tmp_path / "cut.png"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(ValueError, match="cut.png: the file is damaged or truncated"):
        load_image(cut)


def test_a_renamed_pdf(tmp_path):
    path = tmp_path / "scan.jpg"
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
    with pytest.raises(ValueError, match="scan.jpg: this is a PDF, not a photo"):
        load_image(path)


def test_a_saved_web_page(tmp_path):
    path = tmp_path / "cat.jpg"
    path.write_text("<!DOCTYPE html>\n<html><body><img src='cat.jpg'></body></html>")
    with pytest.raises(ValueError, match="cat.jpg: this is a web page"):
        load_image(path)


def test_a_folder_is_not_a_photo(tmp_path):
    with pytest.raises(ValueError, match=f"{tmp_path.name}: this is a folder, not a photo"):
        load_image(tmp_path)


def test_bytes_and_memoryview_with_a_name(tmp_path):
    data = _save(_quadrants(), tmp_path / "up.jpg", quality=95).read_bytes()
    _assert_quadrants(load_image(data, name="IMG_0001.jpg"))
    _assert_quadrants(load_image(memoryview(data), name="IMG_0001.jpg"))  # what ipywidgets' FileUpload gives
    with pytest.raises(ValueError, match=r"IMG_0002.jpg: the file is damaged or truncated"):
        load_image(data[: len(data) // 2], name="IMG_0002.jpg")
    with pytest.raises(ValueError, match="the photo: the file is empty"):
        load_image(b"")


def test_file_objects(tmp_path):
    path = _save(_quadrants(), tmp_path / "photo.png")
    with path.open("rb") as f:
        f.read(10)  # a file object part-read already: the photo is still read from its start
        _assert_quadrants(load_image(f))
    with io.BytesIO(b"not a photo at all") as f:
        with pytest.raises(ValueError, match="upload.png: not an image but text"):
            load_image(f, name="upload.png")
    with (tmp_path / "notes.jpg").open("wb") as f:
        f.write(b"plain words")
    with (tmp_path / "notes.jpg").open("rb") as f:  # the name comes from the file object
        with pytest.raises(ValueError, match="notes.jpg: not an image but text"):
            load_image(f)


class _Stream(io.RawIOBase):
    """A file object that cannot seek, like a pipe or a network stream."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_a_stream_that_cannot_seek(tmp_path):
    data = _save(_quadrants(), tmp_path / "s.png").read_bytes()
    _assert_quadrants(load_image(_Stream(data), name="stream.png"))


def test_wrong_kinds_of_source(tmp_path):
    (tmp_path / "t.jpg").write_bytes(b"x")
    with (tmp_path / "t.jpg").open() as text_file:
        with pytest.raises(ValueError, match="t.jpg: the file was opened as text"):
            load_image(text_file)
    with pytest.raises(ValueError, match="upload: load_image takes a path, the file's bytes or a binary file"):
        load_image({"name": "cat.jpg", "content": b""}, name="upload")


def test_heic_without_pillow_heif_says_how_to_get_it(tmp_path, monkeypatch):
    path = _save(_quadrants(), tmp_path / "IMG_1234.HEIC", **FORMAT_OPTIONS["heic"])
    assert path.read_bytes()[4:12] == b"ftypheic"
    monkeypatch.setattr(images, "HEIF_SUPPORT", False)
    with pytest.raises(ValueError, match=r"IMG_1234.HEIC: this is a HEIC/HEIF photo .*pip install pillow-heif.*JPEG"):
        load_image(path)
    with pytest.raises(ValueError, match="IMG_5678.HEIC: this is a HEIC/HEIF photo"):
        load_image(path.read_bytes(), name="IMG_5678.HEIC")


# --- Fuzz load_image: a damaged photo gives a correct RGB image or a ValueError naming the file, nothing else. ---

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
