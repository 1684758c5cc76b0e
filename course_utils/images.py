"""Load any photo safely as RGB, and the preprocessing the course compares.

Real photos are messy: phones store them sideways with an EXIF "rotate me" tag, iPhones
save HEIC, a 48-megapixel photo is far bigger than a VGG needs, panoramas are strips,
scanners save CMYK, PNGs carry transparency or 16-bit channels, downloads get cut off or
turn out to be a web page or a PDF. ``load_image`` turns all of these into the one thing
a VGG wants, an 8-bit RGB image the right way up and of a sensible size, or raises a
``ValueError`` that names the file and says what to do.

The steps, each a short function below: open the file (path, bytes or file object) and
look at its first bytes; let PIL read the header; refuse what no camera makes; decode a
big JPEG at a fraction of its size (draft mode); decode; keep at most a 4:1 middle part
and shrink to the working size in one resize; turn it upright; make it RGB.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision import transforms as T

# ImageNet statistics: the mean and std every torchvision classifier was trained with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# The working size: a photo comes back with its long side at most 2048 pixels. The course's
# transforms resize the short side to 256 (dense evaluation: 384), and with the 4:1 limit below
# the short side is then at least 512, so nothing the model sees is lost; a 2048 x 1536 RGB
# image is 9 MB, where a 48-megapixel photo decoded whole is 144 MB.
MAX_SIDE = 2048

# Panoramas and strips: at most this long side : short side. The transforms scale the short
# side to 256, so a 4000 x 20 strip would become 51200 x 256 (over a gigabyte to process, and a
# smear to the model); the model itself looks at a square from the middle.
MAX_ASPECT = 4

# A side under 8 pixels is no photo (an icon is 16): there is nothing for the model to see.
MIN_SIDE = 8

# The most pixels decoded at full size, i.e. the memory bound for formats PIL cannot decode
# reduced (PNG, WebP, GIF, BMP, TIFF, HEIC): 50 megapixels holds the iPhone's 48 MP HEIC and
# costs under 300 MB (400 MB for a HEIC) while decoding; load_image's docstring has the
# figures. A JPEG is decoded reduced, so it never gets near.
MAX_PIXELS = 50_000_000

# The most pixels a header may claim: more than any phone (200 MP) or camera (150 MP) makes.
# Anything bigger is damaged or a "decompression bomb", a small file that claims a huge picture.
MAX_PHOTO_PIXELS = 250_000_000

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
IMAGES_DIR = DATA_DIR / "images"

FORMATS = "JPEG, PNG, HEIC, WebP, GIF, BMP or TIFF"

# What PIL's format plugins raise on a damaged file. OSError covers a cut-off file and
# every decoder error; the others come from parsers that read past the end of the data
# or meet nonsense values (seen in the fuzz tests in tests/test_images.py, or named by PIL itself).
DAMAGED_FILE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, ZeroDivisionError)

# HEIC/HEIF files are ISO media files: bytes 4-8 say "ftyp", bytes 8-12 name the brand.
HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
HEAD_BYTES = 512  # how much of the file we look at to tell what it is

PhotoSource = str | Path | bytes | bytearray | memoryview | BinaryIO


class PhotoAdjustedWarning(UserWarning):
    """``load_image`` changed what the photo shows, not just its size; the message says what and why."""


def _register_heif_opener() -> bool:
    """Teach PIL to open HEIC/HEIF through pillow-heif; False where pillow-heif is not installed."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


HEIF_SUPPORT = _register_heif_opener()


def load_image(
    source: PhotoSource, max_pixels: int = MAX_PIXELS, *, name: str | None = None, max_side: int = MAX_SIDE
) -> Image.Image:
    """Open a photo as an upright 8-bit RGB PIL image, long side at most ``max_side``, or raise a clear ``ValueError``.

    ``source`` is a path, the file's bytes (an upload) or a binary file object; ``name`` is what
    messages call a bytes or file-object source (default: the file object's own name, or "the photo").
    A photo with a long side over ``max_side`` is shrunk on load; one longer than ``MAX_ASPECT``:1
    keeps its middle part, with a ``PhotoAdjustedWarning`` saying so.

    Memory, on top of what the process already holds (MB = 10**6 bytes; tests/test_images.py checks
    the first two bounds):

    * a JPEG of any size a phone or camera makes (up to ``MAX_PHOTO_PIXELS``) is decoded at 1/2, 1/4
      or 1/8 scale, to less than twice the working size each way: under 150 MB (measured: 87 MB for
      an 8000 x 6000 photo, 75 MB for a 200-megapixel 16320 x 12240 one);
    * other formats are decoded whole, so at most ``max_pixels`` of them, and cost under 6 bytes a
      pixel (PIL keeps RGB as 4 bytes a pixel, then the shrink's intermediate): under 300 MB at the
      default 50 megapixels (measured: 253 MB for an 8000 x 6000 PNG);
    * HEIC costs about 8 bytes a pixel (pillow-heif's decoded copy too): under 400 MB at the default
      (measured: 357 MB for an 8064 x 6048 one, the iPhone's 48-megapixel size).
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        with _open_path(path) as fp:
            rgb, adjusted = _load(fp, name or str(path), max_pixels, max_side)
    else:
        label = _label(source, name)
        rgb, adjusted = _load(_as_binary_file(source, label), label, max_pixels, max_side)
    if adjusted:
        warnings.warn(adjusted, PhotoAdjustedWarning, stacklevel=2)
    return rgb


def _open_path(path: Path) -> BinaryIO:
    """The file at ``path`` opened for reading, or a ``ValueError`` that says why it cannot be."""
    if path.is_dir():
        raise ValueError(f"{path}: this is a folder, not a photo. Choose one of the photos inside it.")
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file. Check the path (shipped photos are in {IMAGES_DIR}).") from None
    except PermissionError:
        raise ValueError(f"{path}: no permission to read this file. Copy it somewhere you own.") from None
    except OSError as err:
        raise ValueError(f"{path}: cannot open this file ({err.strerror}).") from None


def _label(source: object, name: str | None) -> str:
    """What messages call a bytes or file-object source: ``name``, else the file's own name."""
    own_name = getattr(source, "name", None)
    return name or (own_name if isinstance(own_name, str) else "the photo")


def _as_binary_file(source: object, label: str) -> BinaryIO:
    """Bytes or a file object as a seekable binary file (PIL reads the header, then seeks back)."""
    if isinstance(source, (bytes, bytearray, memoryview)):  # ipywidgets' FileUpload gives a memoryview
        return io.BytesIO(source)
    if isinstance(source, io.TextIOBase):
        raise ValueError(f"{label}: the file was opened as text. Open it in binary mode: open(path, 'rb').")
    if not hasattr(source, "read"):
        raise ValueError(
            f"{label}: load_image takes a path, the file's bytes or a binary file object, "
            f"not a {type(source).__name__} (from a FileUpload: load_image(item.content, name=item.name))."
        )
    try:
        source.seek(0, io.SEEK_CUR)
    except (AttributeError, OSError):  # a stream that cannot seek back: read it whole
        return io.BytesIO(source.read())
    return source


def _load(fp: BinaryIO, label: str, max_pixels: int, max_side: int) -> tuple[Image.Image, str | None]:
    """The photo in ``fp`` as upright RGB of working size, and the warning's text when it was cropped."""
    fp.seek(0)  # PIL reads from the start of the file, whatever the position: so do we
    head = fp.read(HEAD_BYTES)
    fp.seek(0)
    _refuse_before_opening(head, label)
    with _pil_bomb_limit(MAX_PHOTO_PIXELS):
        img = _open(fp, head, label)
        with img:  # closes the file, also when decoding fails
            original_size = img.size
            _refuse_impossible_size(original_size, label)
            box, target = _plan(img.size, max_side)
            _draft(img, box, target)
            _refuse_too_many_pixels(img.size, label, max_pixels)
            _decode(img, label)
            box, target = _plan(img.size, max_side)  # the same plan, in the decoded image's pixels
            small = _crop_and_shrink(img, box, target)
            try:
                upright = ImageOps.exif_transpose(small)
            except DAMAGED_FILE_ERRORS as err:  # a scrambled EXIF block
                raise _damaged(label, err) from None
    adjusted = None if box == (0, 0, *img.size) else _cropped_message(label, original_size)
    return to_rgb(upright), adjusted


def _refuse_before_opening(head: bytes, label: str) -> None:
    """Refuse an empty file, and a HEIC photo where pillow-heif is missing (PIL alone cannot read it)."""
    if not head:
        raise ValueError(f"{label}: the file is empty (0 bytes). The download or copy did not finish: get it again.")
    if _is_heif(head) and not HEIF_SUPPORT:
        raise ValueError(
            f"{label}: this is a HEIC/HEIF photo (the iPhone's default format), and reading it needs the "
            "pillow-heif package, which is not installed here. Install it (`pip install pillow-heif`; in a "
            "notebook `%pip install pillow-heif`, then restart the kernel), or export the photo as JPEG "
            "(on an iPhone: Settings > Camera > Formats > Most Compatible)."
        )


def _is_heif(head: bytes) -> bool:
    """True when the first bytes are a HEIC/HEIF file's: an ``ftyp`` box naming a HEIF brand."""
    return head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS


@contextmanager
def _pil_bomb_limit(pixels: int) -> Iterator[None]:
    """Let PIL open images up to ``pixels``, its warning silenced: our own checks speak more clearly.

    PIL warns above ``Image.MAX_IMAGE_PIXELS`` (89 MP) and refuses above twice that, which would
    refuse a 200 MP phone photo. Here it refuses above twice ``pixels``, and the setting is restored after.
    """
    before = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = before


def _open(fp: BinaryIO, head: bytes, label: str) -> Image.Image:
    """PIL's ``Image.open``: it reads only the header. Every failure becomes a ``ValueError``."""
    try:
        return Image.open(fp)
    except UnidentifiedImageError:
        raise _not_an_image(label, head) from None
    except Image.DecompressionBombError:
        raise ValueError(
            f"{label}: image too large to open safely (over {2 * MAX_PHOTO_PIXELS:,} pixels): it is damaged "
            "or a 'decompression bomb'. If it is a real picture, shrink it first."
        ) from None
    except DAMAGED_FILE_ERRORS as err:  # a header cut short or scrambled
        raise _damaged(label, err) from None


def _not_an_image(label: str, head: bytes) -> ValueError:
    """The message for a file PIL does not recognise, naming what it is where its first bytes tell."""
    start = head.lstrip()[:100].lower()
    if head.startswith(b"%PDF"):
        return ValueError(f"{label}: this is a PDF, not a photo. Export the page, or the picture in it, as JPEG.")
    if start.startswith((b"<!doctype html", b"<html")):
        return ValueError(
            f"{label}: this is a web page (HTML), not a photo: the browser saved the page around the picture. "
            "Open the picture on its own (right-click, 'Open image in new tab') and save that."
        )
    if b"<svg" in start:
        return ValueError(f"{label}: this is an SVG drawing, not a photo. Export it as PNG.")
    if _is_text(head):
        snippet = head[:40].decode("utf-8", errors="replace").strip()
        return ValueError(f"{label}: not an image but text (it begins {snippet!r}). Choose a photo: {FORMATS}.")
    return ValueError(f"{label}: not an image file PIL can read. Choose a photo: {FORMATS}.")


def _is_text(head: bytes) -> bool:
    """True when the first bytes read as text: no NUL byte, and nearly every character printable."""
    if b"\x00" in head:
        return False
    text = head.decode("utf-8", errors="replace")
    readable = sum(ch.isprintable() or ch.isspace() for ch in text)
    return readable >= 0.95 * len(text)


def _refuse_impossible_size(size: tuple[int, int], label: str) -> None:
    """Refuse, from the header alone, a size no camera makes: a bomb, or too small to be a photo."""
    width, height = size
    if width * height > MAX_PHOTO_PIXELS:
        raise ValueError(
            f"{label}: its header claims {width}x{height} = {width * height:,} pixels, over the limit of "
            f"{MAX_PHOTO_PIXELS:,} (more than any phone or camera makes). The file is damaged or a "
            "'decompression bomb'; if it is a real picture, shrink it first."
        )
    if min(width, height) < MIN_SIDE:
        raise ValueError(
            f"{label}: {width}x{height} pixels is too small to be a photo (a side under {MIN_SIDE} pixels). "
            "Choose a bigger picture."
        )


def _plan(size: tuple[int, int], max_side: int) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """Which part of an image of ``size`` to keep (a box), and the size it becomes.

    The box is the middle part with long side at most ``MAX_ASPECT`` times the short side (the
    whole image for any ordinary photo); the size is that box shrunk, never enlarged, to a long
    side of at most ``max_side``.
    """
    width, height = size
    keep_w, keep_h = min(width, MAX_ASPECT * height), min(height, MAX_ASPECT * width)
    left, top = (width - keep_w) // 2, (height - keep_h) // 2
    box = (left, top, left + keep_w, top + keep_h)
    scale = min(1.0, max_side / max(keep_w, keep_h))
    return box, (max(1, round(keep_w * scale)), max(1, round(keep_h * scale)))


def _draft(img: Image.Image, box: tuple[int, int, int, int], target: tuple[int, int]) -> None:
    """Ask a JPEG to decode at 1/2, 1/4 or 1/8 scale, still at least as big as ``target`` needs.

    A JPEG stores its picture as 8 x 8 blocks of frequencies; libjpeg can decode each block straight
    to 4, 2 or 1 pixels, skipping most of the work and memory. PIL picks the smallest scale that is
    not below the size asked for. Other formats ignore the request (pillow-heif: unless the file
    holds a big enough thumbnail).
    """
    scale = target[0] / (box[2] - box[0])
    if scale < 1:
        img.draft("RGB", (math.ceil(img.width * scale), math.ceil(img.height * scale)))


def _refuse_too_many_pixels(size: tuple[int, int], label: str, max_pixels: int) -> None:
    """Refuse to decode more than ``max_pixels`` at once: the memory bound for a PNG, WebP, TIFF, HEIC, ..."""
    width, height = size
    if width * height > max_pixels:
        raise ValueError(
            f"{label}: {width}x{height} = {width * height:,} pixels is over the limit of {max_pixels:,} "
            "that a non-JPEG photo may have (to bound memory while decoding). Shrink it first "
            "(any photo editor, or PIL's Image.thumbnail), or save it as JPEG, which loads at any size."
        )


def _decode(img: Image.Image, label: str) -> None:
    """Decode the pixels (``Image.open`` read only the header), or say the file is damaged."""
    try:
        img.load()
    except Image.DecompressionBombError:  # a GIF frame bigger than its header said
        raise ValueError(f"{label}: a frame is too large to decode safely: the file is damaged.") from None
    except DAMAGED_FILE_ERRORS as err:
        raise _damaged(label, err) from None


def _crop_and_shrink(img: Image.Image, box: tuple[int, int, int, int], size: tuple[int, int]) -> Image.Image:
    """The ``box`` part of ``img`` resized to ``size``, in one step (the whole image when nothing changes).

    ``reducing_gap=3`` first shrinks by a whole factor with ``Image.reduce`` (averaging blocks of pixels:
    fast), then resamples the last step with Lanczos (sharp). Palette and 1-bit images are made
    RGB(A) or greyscale first: resizing palette indices would pick pixels instead of blending them.
    """
    if box == (0, 0, *img.size) and size == img.size:
        return img
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif img.mode == "1":
        img = img.convert("L")
    return img.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


def _cropped_message(label: str, size: tuple[int, int]) -> str:
    """What the aspect-ratio limit did to a strip of ``size``, and why (shown by the chooser and the CLI)."""
    long, short = max(size), min(size)
    return (
        f"{label}: kept the middle {MAX_ASPECT}:1 part of this photo: its long side ({long} pixels) is "
        f"{long / short:.0f} times its short side ({short}). The course's transforms scale the short side to "
        f"256 pixels, which would make the whole strip {round(256 * long / short)} x 256: huge, and a smear "
        "to the model, which looks at a square from the middle anyway. Crop it yourself to keep another part."
    )


def _damaged(label: str, err: BaseException) -> ValueError:
    """The one message for a file PIL recognised but could not decode, with PIL's reason."""
    detail = f"{type(err).__name__}: {err}"[:150]
    return ValueError(f"{label}: the file is damaged or truncated ({detail}). Download or copy it again.")


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB; transparent areas become white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit or float greyscale: stretch its own range to 0-255.
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(arr)
        img = Image.fromarray(arr.round().astype(np.uint8), mode="L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return img.convert("RGB")


def shipped_images() -> dict[str, Path]:
    """The course's photos in ``data/images``, by name (file stem)."""
    exts = {".jpg", ".jpeg", ".png"}
    return {p.stem: p for p in sorted(IMAGES_DIR.iterdir()) if p.suffix.lower() in exts}


def stretch_transform(size: int = 224) -> T.Compose:
    """The squash `Resize((size, size))`: the whole photo to ``size`` x ``size``, proportions lost."""
    return T.Compose([T.Resize((size, size)), T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def denormalize(x: torch.Tensor) -> torch.Tensor:
    """Undo the ImageNet normalisation: (C, H, W) or (B, C, H, W) back to [0, 1]."""
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(-1, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(-1, 1, 1)
    return (x * std + mean).clamp(0, 1)


def to_numpy_image(x: torch.Tensor) -> np.ndarray:
    """A normalised (3, H, W) tensor as an (H, W, 3) float array in [0, 1] for plt.imshow."""
    if x.dim() != 3 or x.shape[0] != 3:
        raise ValueError(f"expected one image of shape (3, H, W), got {tuple(x.shape)}")
    return denormalize(x.detach().cpu()).permute(1, 2, 0).numpy()
