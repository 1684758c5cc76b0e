"""Load any photo safely as RGB, and the preprocessing the course compares.

Real photos are messy: phones store them sideways with an EXIF "rotate me" tag,
scanners save CMYK, PNGs carry transparency or 16-bit channels, downloads get cut
off. ``load_image`` turns all of these into the one thing a VGG wants, an 8-bit
RGB image the right way up, or raises a ``ValueError`` that names the file and
says what is wrong.
"""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision import transforms as T

# ImageNet statistics: the mean and std every torchvision classifier was trained with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# 40 megapixels: bigger than any phone photo, small enough to decode on a laptop.
MAX_PIXELS = 40_000_000

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
IMAGES_DIR = DATA_DIR / "images"

# What PIL's format plugins raise on a damaged file. OSError covers a cut-off file and
# every decoder error; the others come from parsers that read past the end of the data
# or meet nonsense values (seen in tests/test_images_fuzz.py, or named by PIL itself).
DAMAGED_FILE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, ZeroDivisionError)


def load_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open ``path`` as an upright 8-bit RGB PIL image, or raise a clear ``ValueError``."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file. Check the path (shipped photos are in {IMAGES_DIR}).")
    try:
        with warnings.catch_warnings():
            # PIL warns from 89 megapixels; our own, lower limit below gives the clearer message.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except UnidentifiedImageError:
        raise ValueError(f"{path}: not an image file PIL can read (JPEG, PNG, BMP, TIFF, WebP, ...).") from None
    except Image.DecompressionBombError:
        raise ValueError(f"{path}: image too large to open safely. Resize it below {max_pixels:,} pixels.") from None
    except PermissionError:
        raise ValueError(f"{path}: no permission to read this file. Copy it somewhere you own.") from None
    except DAMAGED_FILE_ERRORS as err:  # a header cut short or scrambled
        raise _damaged(path, err) from None
    with img:  # closes the file, also when decoding fails
        width, height = img.size
        if width * height > max_pixels:
            raise ValueError(
                f"{path}: {width}x{height} = {width * height:,} pixels is over the limit of {max_pixels:,}. "
                "Resize it first (any photo editor, or PIL's Image.thumbnail)."
            )
        try:
            img.load()  # Image.open only read the header: decode the pixels now
            upright = ImageOps.exif_transpose(img)
        except DAMAGED_FILE_ERRORS as err:
            raise _damaged(path, err) from None
        return to_rgb(upright)


def _damaged(path: Path, err: BaseException) -> ValueError:
    """The one message for a file PIL recognised but could not decode, with PIL's reason."""
    detail = f"{type(err).__name__}: {err}"[:150]
    return ValueError(f"{path}: the file is damaged or truncated ({detail}). Download or copy it again.")


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
