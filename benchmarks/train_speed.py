"""How long does the small VGG take to reach 95% validation accuracy on a CPU?

The course's target: at least 95% validation accuracy within 2 minutes of training on
a 2-core CPU. This script trains ``small_vgg()`` with the shipped checkpoint's recipe
(``course_utils.small_vgg.RECIPE``: 8000 shapes at 64x64, SGD momentum 0.9, weight decay
5e-4, dropout 0.5, learning rate 0.05 divided by 10 on a plateau of the validation
accuracy) and stops at the first epoch whose validation accuracy reaches the target.

It prints the seconds spent drawing the images (once, before training) apart from the
seconds of training (train and validation passes, wall clock), the load average, and
the throughput, so a slow result on a busy machine can be told from a slow recipe.

    python benchmarks/train_speed.py                # 2 threads, as on a 2-core CPU
    python benchmarks/train_speed.py --threads 1    # one core
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_utils.data import ShapesDataset  # noqa: E402
from course_utils.device import seed_everything  # noqa: E402
from course_utils.small_vgg import RECIPE, SMALL_VGG_INPUT, small_vgg  # noqa: E402
from course_utils.training import make_optimizer, make_scheduler, train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--max-epochs", type=int, default=RECIPE["epochs"])
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    seed_everything(0)
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    train_set = ShapesDataset(RECIPE["n_train"], seed=RECIPE["train_seed"], size=SMALL_VGG_INPUT, cache=True)
    val_set = ShapesDataset(RECIPE["n_val"], seed=RECIPE["val_seed"], size=SMALL_VGG_INPUT, cache=True)
    for ds in (train_set, val_set):
        for i in range(len(ds)):
            ds[i]
    drawing = time.perf_counter() - t0

    model = small_vgg()
    optimizer = make_optimizer(model, lr=RECIPE["lr"])
    scheduler = make_scheduler(optimizer, patience=RECIPE["patience"])
    history = train(model, DataLoader(train_set, batch_size=RECIPE["batch_size"], shuffle=True),
                    DataLoader(val_set, batch_size=256), args.max_epochs, optimizer=optimizer,
                    scheduler=scheduler, device="cpu", stop_at=args.target, progress=False)
    load_after = os.getloadavg()[0]

    print(f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} CPUs visible")
    print(f"load average (1 min) before {load_before:.2f}, after {load_after:.2f}")
    if max(load_before, load_after) > os.cpu_count() - 0.5:
        print("  the CPU is shared with other work: times are inflated (try --threads 1, or rerun when idle)")
    print(f"drawing {len(train_set) + len(val_set)} images: {drawing:.1f} s (once, not counted below)")
    for e in range(history.epochs):
        print(f"  epoch {e + 1}: {history.seconds[e]:6.1f} s  train acc {history.train_acc[e]:.3f}  "
              f"val acc {history.val_acc[e]:.3f}")
    seen = history.epochs * len(train_set)
    print(f"training throughput: {seen / history.seconds[-1]:.0f} images/s (validation passes included)")
    reached = history.time_to(args.target)
    if reached is None:
        print(f"RESULT: did not reach {args.target:.0%} in {history.epochs} epochs "
              f"(best {history.best_val_acc():.3f}, {history.seconds[-1]:.1f} s)")
    else:
        verdict = "within" if reached <= 120 else "OVER"
        print(f"RESULT: {args.target:.0%} validation accuracy after {reached:.1f} s of training "
              f"({verdict} the 2-minute target)")


if __name__ == "__main__":
    main()
