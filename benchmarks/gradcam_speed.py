"""How much does a Grad-CAM cost, compared with the forward pass it explains?

Prints, for VGG16 at 224x224 with batch 1 and batch 8, the median time of

* a plain forward pass with autograd on (the yardstick),
* our ``course_utils.gradcam.GradCAM`` (one forward, backward stops at relu5_3),
* captum's ``LayerGradCam`` (backward to the layer, but autograd records the
  whole forward because the parameters require grad),
* pytorch-grad-cam's ``GradCAM`` (a full ``loss.backward()``, weight gradients included),

and each one's ratio to the yardstick (our target: at most 1.1).

The methods take turns, one call each per round, so a burst of load from
something else on the machine hits them all alike. Random weights are enough:
the cost does not depend on the values. Run:  python benchmarks/gradcam_speed.py
"""

from __future__ import annotations

import argparse
import warnings

import torch
import torchvision

from course_utils.benchmark import Timing, time_it
from course_utils.gradcam import GradCAM


def build_methods(model: torch.nn.Module, layer: torch.nn.Module, x: torch.Tensor, targets: list[int]) -> dict:
    """Zero-argument callables, one per method, all explaining the same targets."""
    from captum.attr import LayerGradCam
    from pytorch_grad_cam import GradCAM as PGCGradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    ours = GradCAM(model, layer)
    captum = LayerGradCam(model, layer)
    pgc = PGCGradCAM(model, [layer])
    pgc_targets = [ClassifierOutputTarget(t) for t in targets]
    return {
        "forward (autograd on)": lambda: model(x),
        "ours: GradCAM": lambda: ours(x, targets),
        "captum: LayerGradCam": lambda: captum.attribute(x, target=targets),
        "pytorch-grad-cam: GradCAM": lambda: pgc(x, pgc_targets),
    }


def measure(methods: dict, rounds: int) -> dict[str, Timing]:
    """One warm-up call each, then ``rounds`` rounds of one timed call per method."""
    times: dict[str, list[float]] = {name: [] for name in methods}
    for fn in methods.values():
        time_it(fn, warmup=0, repeats=1, inference_mode=False)
    for _ in range(rounds):
        for name, fn in methods.items():
            times[name].extend(time_it(fn, warmup=0, repeats=1, inference_mode=False).times_s)
    return {name: Timing(tuple(t), warmup=1) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--rounds", type=int, nargs="+", default=[5, 3], help="timed rounds per batch size")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # captum's and pytorch-grad-cam's chatter

    torch.manual_seed(0)
    device = torch.device(args.device)
    model = torchvision.models.vgg16(weights=None).eval().to(device)
    layer = model.features[29]  # relu5_3, the Grad-CAM paper's layer
    print(f"VGG16 (random weights), {args.size}x{args.size}, device {device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads. Medians; timings on a shared machine are noisy.")
    rounds = dict(zip(args.batches, args.rounds + [args.rounds[-1]] * len(args.batches)))
    for batch in args.batches:
        x = torch.randn(batch, 3, args.size, args.size, device=device)
        targets = [(17 * i) % 1000 for i in range(batch)]
        timings = measure(build_methods(model, layer, x, targets), rounds[batch])
        base = timings["forward (autograd on)"].median_s
        print(f"\nbatch {batch} ({rounds[batch]} rounds)")
        print(f"  {'method':28s} {'median ms':>10s} {'range ms':>17s} {'/ forward':>10s}")
        for name, t in timings.items():
            spread = f"{t.min_s * 1e3:8.1f}-{t.max_s * 1e3:<8.1f}"
            print(f"  {name:28s} {t.median_ms:10.1f} {spread} {t.median_s / base:10.2f}")
        ours = timings["ours: GradCAM"].median_s / base
        print(f"  -> ours / forward = {ours:.2f} (target <= 1.1)")


if __name__ == "__main__":
    main()
