"""Where does the time go when ``python -m course_utils.explain`` explains one 12-megapixel photo on the CPU?

Makes a 4000 x 3000 JPEG (a shipped photo, enlarged) in a temporary folder and runs the command's
own stages on it, each timed:

* load       ``load_image``: decode the JPEG, EXIF rotation, RGB
* resize     the weights' ``transforms()``: resize the short side to 256, crop 224, normalise, batch
* Grad-CAM   one forward pass (it is also the prediction) and the short backward to relu5_3
* top-5      softmax, sort, names
* PNG        photo, map and overlay drawn with matplotlib and written

and, for comparison, a plain forward pass under ``torch.inference_mode()``. The issue asks that
loading and resizing cost less than that forward pass: a photo straight off a phone must not make
the explanation wait on its pixels. Each round runs the whole pipeline once (one warm-up round
first); medians are printed. The weights' values do not change the cost: stand-ins or random
weights are fine. Run:  python benchmarks/explain_speed.py
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image

from course_utils.explain import explain_batch, figure_for, load_photos
from course_utils.images import load_image, shipped_images, to_numpy_image
from course_utils.inference import predict, preprocess_batch, topk
from course_utils.weights import get_weights, load_pretrained, weights_status


def make_photo(folder: Path, width: int = 4000, height: int = 3000) -> Path:
    """A ``width`` x ``height`` JPEG made from the shipped cat photo, at a phone camera's quality.

    An enlarged photo is smooth and compresses far better than a real one; a little sensor-like
    noise brings the file to a phone photo's few MB, which is what the decoder has to read.
    """
    path = folder / f"cat_{width}x{height}.jpg"
    big = np.asarray(load_image(shipped_images()["cat"]).resize((width, height), Image.BICUBIC), dtype=np.int16)
    noise = np.random.default_rng(0).normal(0, 6, size=big.shape).astype(np.int16)
    Image.fromarray(np.clip(big + noise, 0, 255).astype(np.uint8)).save(path, quality=90)
    return path


def cpu_model(arch: str) -> tuple[torch.nn.Module, str]:
    """The pretrained model on the CPU if its file is cached, else the same architecture with random weights.

    Never downloads: the values do not change the cost, and a benchmark should not fetch 528 MiB.
    """
    if weights_status(arch).state != "missing":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = load_pretrained(arch, device="cpu", progress=False)
        return model, "verified weights" if model.weights_status.verified else "stand-in weights"
    torch.manual_seed(0)
    return torchvision.models.get_model(arch, weights=None).eval(), "random weights (none cached)"


def one_round(path: Path, model: torch.nn.Module, arch: str, layer: str,
              out: Path) -> tuple[dict[str, float], torch.Tensor]:
    """The command's stages once, in order: each one's seconds, and the batch (for the forward pass)."""
    weights = get_weights(arch)
    times: dict[str, float] = {}

    def timed(stage: str, fn):
        start = time.perf_counter()
        value = fn()
        times[stage] = time.perf_counter() - start
        return value

    images = timed("load", lambda: load_photos([path]))
    x = timed("resize", lambda: preprocess_batch(images, weights.transforms()))
    result = timed("Grad-CAM", lambda: explain_batch(model, x, layer, "gradcam", None))
    rows = timed("top-5", lambda: topk(result.probs[0], weights.meta["categories"], 5))
    title = f"{path.name}: Grad-CAM for '{rows[0].name}'"
    timed("PNG", lambda: figure_for(to_numpy_image(x[0]), result.maps[0], title).savefig(out / "cat.png", dpi=100))
    return times, x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--layer", default="relu5_3")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds after one warm-up round")
    parser.add_argument("--size", type=int, nargs=2, default=[4000, 3000], metavar=("W", "H"))
    args = parser.parse_args()

    model, which = cpu_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = make_photo(folder, *args.size)
        print(f"{path.name}: {args.size[0] * args.size[1] / 1e6:.0f} megapixels, {path.stat().st_size / 2**20:.1f} "
              f"MiB JPEG. {args.model} ({which}) on the CPU, {torch.get_num_threads()} threads, torch "
              f"{torch.__version__}. Medians of {args.rounds} rounds after 1 warm-up; a shared machine is noisy.")
        rounds, forward = [], []
        for i in range(args.rounds + 1):
            times, x = one_round(path, model, args.model, args.layer, folder)
            start = time.perf_counter()
            predict(model, x)
            if i:  # round 0 is the warm-up
                rounds.append(times)
                forward.append(time.perf_counter() - start)
    median = {stage: statistics.median(r[stage] for r in rounds) for stage in rounds[0]}
    total = sum(median.values())
    print(f"\n  {'stage':10s} {'median ms':>10s} {'share':>7s}")
    for stage, seconds in median.items():
        print(f"  {stage:10s} {seconds * 1e3:10.1f} {seconds / total:7.1%}")
    print(f"  {'total':10s} {total * 1e3:10.1f} {1:7.1%}")
    fwd = statistics.median(forward)
    print(f"\n  for comparison, a forward pass alone (inference mode): {fwd * 1e3:.1f} ms")
    io = median["load"] + median["resize"]
    verdict = "less than" if io < fwd else "MORE than (the issue requires less)"
    print(f"  -> load + resize = {io * 1e3:.1f} ms: {io / fwd:.2f} x the forward pass, {verdict} the forward pass")


if __name__ == "__main__":
    main()
