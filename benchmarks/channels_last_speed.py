"""Does ``train(..., channels_last=True)`` pay on this machine? One training step, both memory layouts.

``course_utils.training.train`` stores the images and the model channel-last (NHWC) by
default: the same numbers and the same maths, laid out so that the convolution kernels
read each pixel's channels side by side. This script times one training step of
``small_vgg()`` (forward, backward, SGD step) on a 64x64 batch in each layout, taking
turns so that a busy machine slows both alike, and prints the ratio. It also checks
that both layouts give the same loss, so the setting is shown to change speed only.

    python benchmarks/channels_last_speed.py               # 1 thread, batch 64
    python benchmarks/channels_last_speed.py --threads 2 --device cuda
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_utils.benchmark import time_it  # noqa: E402
from course_utils.device import cpu_threads, get_device  # noqa: E402
from course_utils.small_vgg import SMALL_VGG_INPUT, small_vgg  # noqa: E402
from course_utils.training import make_optimizer  # noqa: E402

LAYOUTS = {"contiguous (NCHW)": torch.contiguous_format, "channels_last (NHWC)": torch.channels_last}


def step_fn(layout: torch.memory_format, batch: int, device: torch.device):
    """A zero-argument training step on a fresh small VGG kept in ``layout``, and its first loss."""
    torch.manual_seed(0)
    model = small_vgg().to(device, memory_format=layout).eval()  # eval: no dropout, so both layouts agree
    optimizer = make_optimizer(model, lr=0.01)
    images = torch.rand(batch, 3, SMALL_VGG_INPUT, SMALL_VGG_INPUT, device=device).contiguous(memory_format=layout)
    labels = torch.arange(batch, device=device) % 5
    first_loss = nn.functional.cross_entropy(model(images), labels).item()

    def step() -> None:
        loss = nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step, first_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="turns per layout; each turn times 5 steps")
    parser.add_argument("--device", default=None, help="default: course_utils.device.get_device()")
    args = parser.parse_args()
    device = torch.device(args.device) if args.device else get_device()

    with cpu_threads(args.threads):
        steps, losses = {}, {}
        for name, layout in LAYOUTS.items():
            steps[name], losses[name] = step_fn(layout, args.batch, device)
        a, b = losses.values()
        print(f"same maths: first loss {a:.6f} vs {b:.6f} (difference {abs(a - b):.1e})")
        medians: dict[str, list[float]] = {name: [] for name in LAYOUTS}
        for _ in range(args.rounds):  # take turns, so that load on the machine hits both layouts
            for name in LAYOUTS:
                medians[name].append(time_it(steps[name], warmup=1, repeats=5, inference_mode=False).median_s)
    print(f"torch {torch.__version__}, {device}, {args.threads} thread(s), batch {args.batch} at "
          f"{SMALL_VGG_INPUT}x{SMALL_VGG_INPUT}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    best = {name: min(times) for name, times in medians.items()}
    for name, seconds in best.items():
        print(f"  {name:22s} {seconds * 1000:7.1f} ms per training step (best of {args.rounds} medians)")
    contiguous, channels_last = best.values()
    print(f"RESULT: channels_last is {contiguous / channels_last:.2f}x the speed of contiguous here")


if __name__ == "__main__":
    main()
