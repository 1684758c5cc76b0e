"""Explain your own photos from the command line: VGG's top-K and a Grad-CAM map for each.

    python -m course_utils.explain photo.jpg
    python -m course_utils.explain a.jpg b.png --model vgg19 --layer relu4_4 --target "tabby" --method gradcam++

The whole of notebooks 03 and 07 in one script, built from the course's own pieces:

1. ``load_image`` opens each photo upright as RGB (or says what is wrong with it);
2. the weights' own ``transforms()`` resize and crop them, and all photos become ONE batch;
3. ``GradCAM`` (or ``GradCAMPlusPlus``) runs the model once: its logits give the top-K table,
   and the short backward to the layer gives the map;
4. ``overlay`` blends the map on the photo, and matplotlib writes one PNG per photo.

Every check of the command line (model, layer, class, photos) runs *before* the weights are
loaded, so a typo costs a second, not a model load. Exit status: 0 done, 2 bad input (one line on
stderr saying what to fix), 3 weights not available (not cached and no network, or a damaged file).
"""

from __future__ import annotations

import argparse
import difflib
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchvision
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image
from torch import nn

from course_utils import launch
from course_utils.gradcam import GradCAM, GradCAMPlusPlus, GuidedBackprop, overlay, to_image
from course_utils.images import load_image, to_numpy_image
from course_utils.inference import Prediction, class_indices, class_name, preprocess_batch, topk
from course_utils.layer_names import paper_names
from course_utils.weights import (
    COURSE_WEIGHTS,
    CorruptWeightsError,
    StandInWeightsWarning,
    WeightsUnavailableError,
    get_weights,
    load_pretrained,
)

BAD_INPUT = 2  # also what argparse itself exits with on a usage error
NO_WEIGHTS = 3

# Every VGG torchvision has ImageNet weights for: vgg11 ... vgg19_bn.
MODELS = [m for m in torchvision.models.list_models(torchvision.models) if m.startswith("vgg")]
METHODS = {
    "gradcam": "Grad-CAM",
    "gradcam++": "Grad-CAM++",
    "guided": "Guided Grad-CAM",
    "guided-backprop": "Guided Backprop",
}

EXAMPLES = """\
examples:
  python -m course_utils.explain photo.jpg
      top-5 and the Grad-CAM of the top class at relu5_3 of VGG16, written to ./explained/
  python -m course_utils.explain cat.jpg dog.jpg --target "tabby" --top 3
      two photos as one batch, both explained for ImageNet's class 'tabby'
  python -m course_utils.explain photo.jpg --model vgg19_bn --layer relu4_4 --method gradcam++ --out maps
  python -m course_utils.explain photo.jpg --target 281
      a class by its index (0 to 999)
  (from the course's folder: .venv/bin/python -m ..., on Windows .venv\\Scripts\\python -m ...)

exit status: 0 done; 2 bad input (a photo, model, layer or class), one line on stderr;
  3 the weights are not available (not cached and no network, or a damaged file).
offline: the weights are downloaded once into torch's cache; `python3 course.py prefetch` fetches
  vgg11's and vgg16's ahead of time, and COURSE_OFFLINE=1 forbids any download.
"""


class BadInput(Exception):
    """Something on the command line that cannot work; its message is the one line the user sees."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is ONE line on stderr (exit status 2), like every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(BAD_INPUT, f"explain: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The command line; ``--help`` shows the examples above."""
    parser = OneLineParser(
        prog="python -m course_utils.explain",
        description="Show what a pretrained VGG sees in your photos: the top-K classes and a Grad-CAM map.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("photos", nargs="+", type=Path, metavar="PHOTO", help="image files (JPEG, PNG, ...)")
    parser.add_argument("--model", default="vgg16", choices=MODELS, metavar="MODEL",
                        help=f"which VGG: {', '.join(MODELS)} (default: vgg16)")
    parser.add_argument("--layer", help="paper name of the layer to explain, e.g. relu4_3 (default: the model's "
                                        "last conv ReLU, relu5_3 on VGG16)")
    parser.add_argument("--target", help="ImageNet class to explain: an index (281) or a name ('tabby'); "
                                         "default: each photo's top class")
    parser.add_argument("--method", default="gradcam", choices=list(METHODS),
                        help="gradcam (default), gradcam++, guided (Guided Grad-CAM) or guided-backprop")
    parser.add_argument("--top", type=int, default=5, metavar="K", help="how many classes to print (default: 5)")
    parser.add_argument("--out", type=Path, default=Path("explained"), metavar="DIR",
                        help="folder for the PNGs, one per photo (default: ./explained)")
    return parser


# --- Checking the command line before anything is loaded -----------------------------------------

def conv_layers(arch: str) -> list[str]:
    """The paper names of ``arch``'s layers with a spatial map (conv1_1 ... pool5), where Grad-CAM can look.

    The model is built on the meta device: its layout, no memory, no weights.
    """
    with torch.device("meta"):
        model = torchvision.models.get_model(arch, weights=None)
    return [name for name, module in paper_names(model).items() if module.startswith("features.")]


def check_layer(arch: str, layer: str | None) -> str:
    """``layer`` if ``arch`` has it; else ``BadInput`` listing the valid ones.

    The default is the last conv ReLU: relu5_3 on VGG16, relu5_4 on VGG19, relu5_2 on VGG11.
    """
    valid = conv_layers(arch)
    if layer is None:
        return [name for name in valid if name.startswith("relu")][-1]
    if layer not in valid:
        raise BadInput(f"{arch} has no layer {layer!r}; its layers are: {', '.join(valid)}")
    return layer


def resolve_target(target: str | None, categories: Sequence[str]) -> int | None:
    """A class index from ``"281"`` or ``"tabby"`` (None: each photo's top class); ``BadInput`` otherwise.

    A name matches exactly (any case) or as the only class containing it ("egyptian" -> 'Egyptian cat').
    """
    if target is None:
        return None
    if target.strip().lstrip("-").isdigit():
        try:
            class_name(int(target), categories)
        except ValueError as err:
            raise BadInput(str(err)) from None
        return int(target)
    lowered = [c.lower() for c in categories]
    if target.lower() in lowered:
        return lowered.index(target.lower())
    containing = class_indices(target, categories)
    if len(containing) == 1:
        return containing[0]
    if containing:
        names = ", ".join(repr(categories[i]) for i in containing[:8])
        raise BadInput(f"class name {target!r} is in {len(containing)} classes: {names}; give one of them in full")
    close = difflib.get_close_matches(target.lower(), lowered, n=5, cutoff=0.5)
    hint = ", ".join(repr(categories[lowered.index(c)]) for c in close) or "none; see weights.meta['categories']"
    raise BadInput(f"unknown class name {target!r}; the closest ImageNet names: {hint}")


def load_photos(paths: Sequence[Path]) -> list[Image.Image]:
    """Every photo as an RGB PIL image; the first one that cannot be read stops everything (``BadInput``).

    What ``load_image`` warns about (a panorama cut to its middle, say) is passed on as one note a photo.
    """
    images = []
    for path in paths:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                images.append(load_image(path))
        except ValueError as err:
            raise BadInput(" ".join(str(err).split())) from None  # its message, on one line
        for w in caught:
            print(f"explain: note: {' '.join(str(w.message).split())}", file=sys.stderr)
    return images


# --- The model and the explanation ----------------------------------------------------------------

def load_model(arch: str) -> tuple[nn.Module, bool]:
    """The pretrained model on the course's device, and whether its weights are the real ones.

    ``load_pretrained`` warns when the cached file is a stand-in; we catch that warning here so the
    caller can say it once, loudly, instead of Python printing it with a file name and line number.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StandInWeightsWarning)
        model = load_pretrained(arch, progress=True)
    return model, model.weights_status.verified


@dataclass
class Explanation:
    """What one batch gave: probabilities, the class explained and the pictures to draw, per photo."""

    probs: torch.Tensor  # (B, 1000)
    targets: list[int]
    maps: torch.Tensor  # (B, 224, 224) in [0, 1]
    guided: list[np.ndarray] | None  # (224, 224, 3) pictures for the guided methods


def explain_batch(model: nn.Module, x: torch.Tensor, layer: str, method: str, target: int | None) -> Explanation:
    """One Grad-CAM call for the whole batch: its forward pass is also the prediction."""
    cam = GradCAMPlusPlus(model, layer) if method == "gradcam++" else GradCAM(model, layer)
    result = cam.explain(x, None if target is None else [target] * x.shape[0])
    guided = None
    if method in ("guided", "guided-backprop"):
        gradients = GuidedBackprop(model)(x, result.targets)  # the same classes as the maps
        if method == "guided":  # Guided Grad-CAM is the product (what guided_gradcam does, without a second CAM)
            gradients = gradients * result.maps.to(gradients.device).unsqueeze(1)
        guided = [to_image(g) for g in gradients]
    return Explanation(result.logits.softmax(dim=1).cpu(), result.targets.tolist(), result.maps.cpu(), guided)


def figure_for(picture: np.ndarray, heatmap: torch.Tensor, title: str, guided: np.ndarray | None = None,
               guided_title: str = "") -> Figure:
    """Photo, map and overlay side by side (and the guided picture, if any), with ``title`` above.

    A ``Figure`` made directly, not through pyplot: no window, no global state, nothing to close.
    """
    panels = [(picture, "photo (as the model sees it)"), (heatmap.numpy(), "map"),
              (overlay(picture, heatmap), "overlay")]
    if guided is not None:
        panels.append((guided, guided_title))
    fig = Figure(figsize=(3.2 * len(panels), 3.6))
    FigureCanvasAgg(fig)
    for ax, (image, label) in zip(fig.subplots(1, len(panels)), panels):
        ax.imshow(image, cmap="viridis" if image.ndim == 2 else None, vmin=0, vmax=1)
        ax.set_title(label, fontsize=9)
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def output_path(out: Path, photo: Path, method: str, taken: set[Path]) -> Path:
    """``out/cat-gradcam.png``; ``cat-gradcam-2.png`` if two photos share a name."""
    path, n = out / f"{photo.stem}-{method}.png", 1
    while path in taken:
        n += 1
        path = out / f"{photo.stem}-{method}-{n}.png"
    taken.add(path)
    return path


def print_table(photo: Path, rows: Sequence[Prediction]) -> None:
    """The top-K of one photo, one class a line."""
    print(f"{photo}")
    for r in rows:
        print(f"  {r.rank:2d}. {r.probability:7.2%}  {r.index:4d} {r.name}")


# --- The command ----------------------------------------------------------------------------------

STAND_IN_BANNER = """\
{bar}
WARNING: STAND-IN WEIGHTS for {arch}: {path}
does not match its official hash, so the classes and maps below MEAN NOTHING.
(Expected under the course's tests.) For the real file: delete it and run
`python3 course.py prefetch` with a network.
{bar}"""


def run(opts: argparse.Namespace) -> int:
    """Check everything, load the model, explain the batch, print and write; return the exit status."""
    weights = get_weights(opts.model)
    categories = weights.meta["categories"]
    layer = check_layer(opts.model, opts.layer)
    target = resolve_target(opts.target, categories)
    if not 1 <= opts.top <= len(categories):
        raise BadInput(f"--top must be between 1 and {len(categories)}, got {opts.top}")
    images = load_photos(opts.photos)
    try:
        opts.out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise BadInput(f"cannot make the output folder {opts.out}: {err.strerror}") from None

    model, real = load_model(opts.model)
    if not real:
        status = model.weights_status
        print(STAND_IN_BANNER.format(bar="!" * 72, arch=opts.model, path=status.path), file=sys.stderr)
    x = preprocess_batch(images, weights.transforms())
    result = explain_batch(model, x, layer, opts.method, target)

    taken: set[Path] = set()
    for i, photo in enumerate(opts.photos):
        print_table(photo, topk(result.probs[i], categories, opts.top))
        t = result.targets[i]
        title = (f"{photo.name}: {METHODS[opts.method]} for '{categories[t]}' ({result.probs[i, t]:.1%}), "
                 f"{opts.model} {layer}" + ("" if real else "\nSTAND-IN WEIGHTS: meaningless"))
        guided = None if result.guided is None else result.guided[i]
        fig = figure_for(to_numpy_image(x[i]), result.maps[i], title, guided, METHODS[opts.method])
        path = output_path(opts.out, photo, opts.method, taken)
        fig.savefig(path, dpi=100)
        print(f"  {METHODS[opts.method]} for {t} '{categories[t]}' at {layer} -> {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: the command line), run, and turn known failures into an exit status."""
    opts = build_parser().parse_args(argv)
    try:
        return run(opts)
    except BadInput as err:
        print(f"explain: error: {err}", file=sys.stderr)
        return BAD_INPUT
    except (WeightsUnavailableError, CorruptWeightsError) as err:
        print(f"explain: {err}", file=sys.stderr)
        if opts.model not in COURSE_WEIGHTS:  # prefetch fetches only the course's own files
            print(f"({opts.model} is not one of the files `course.py prefetch` fetches ({', '.join(COURSE_WEIGHTS)}): "
                  "run this command once with a network to cache it.)", file=sys.stderr)
        return NO_WEIGHTS


if __name__ == "__main__":
    launch.exit_now(main())  # exit without a last garbage collection (~1.5 s)
