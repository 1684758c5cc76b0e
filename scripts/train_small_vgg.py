"""Train the course's small VGG on the shapes data and save it to data/small_vgg.pt.

    python scripts/train_small_vgg.py            # the shipped checkpoint (deterministic)
    python scripts/train_small_vgg.py --out /tmp/my_vgg.pt --epochs 5

Deterministic: every image is drawn from its own seeded generator, torch is seeded,
runs on the CPU with one thread and ``torch.use_deterministic_algorithms(True)``,
so the same command on the same versions writes the same weights.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_utils.checkpoints import file_sha256  # noqa: E402
from course_utils.data import CLASSES, ShapesDataset  # noqa: E402
from course_utils.device import seed_everything  # noqa: E402
from course_utils.evaluation import evaluate  # noqa: E402
from course_utils.small_vgg import RECIPE, SMALL_VGG_HASH_PATH, SMALL_VGG_INPUT, SMALL_VGG_PATH, small_vgg  # noqa: E402
from course_utils.training import make_optimizer, make_scheduler, save_training_checkpoint, train  # noqa: E402


def built_with(factory) -> dict:
    """The keyword settings ``factory()`` uses by default: stored so the file says what it holds."""
    return {k: p.default for k, p in inspect.signature(factory).parameters.items() if p.kind is p.KEYWORD_ONLY}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=SMALL_VGG_PATH)
    parser.add_argument("--epochs", type=int, default=RECIPE["epochs"])
    parser.add_argument("--threads", type=int, default=1, help="1 keeps the result bit-for-bit reproducible")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    seed_everything(0)
    t0 = time.perf_counter()
    train_set = ShapesDataset(RECIPE["n_train"], seed=RECIPE["train_seed"], size=SMALL_VGG_INPUT, cache=True)
    val_set = ShapesDataset(RECIPE["n_val"], seed=RECIPE["val_seed"], size=SMALL_VGG_INPUT, cache=True)
    for ds in (train_set, val_set):  # draw every image once, up front
        for i in range(len(ds)):
            ds[i]
    print(f"drew {len(train_set) + len(val_set)} images in {time.perf_counter() - t0:.1f} s")

    model = small_vgg()
    optimizer = make_optimizer(model, lr=RECIPE["lr"])
    scheduler = make_scheduler(optimizer, patience=RECIPE["patience"])
    train_loader = DataLoader(train_set, batch_size=RECIPE["batch_size"], shuffle=True)
    val_loader = DataLoader(val_set, batch_size=256)
    history = train(model, train_loader, val_loader, args.epochs, optimizer=optimizer,
                    scheduler=scheduler, device="cpu")
    for e in range(history.epochs):
        print(f"epoch {e + 1:2d}  {history.seconds[e]:6.1f} s  train {history.train_acc[e]:.3f}  "
              f"val {history.val_acc[e]:.3f}  lr {history.lr[e]:.4f}")

    test_set = ShapesDataset(RECIPE["n_test"], seed=RECIPE["test_seed"], size=SMALL_VGG_INPUT)
    _, test_acc = evaluate(model, DataLoader(test_set, batch_size=256))
    print(f"test accuracy on {len(test_set)} fresh images (seed {RECIPE['test_seed']}): {test_acc:.4f}")
    save_training_checkpoint(
        args.out, model, None, None, history.epochs, history,
        settings=built_with(small_vgg), classes=list(CLASSES),
        recipe=dict(RECIPE), test_acc=test_acc, threads=args.threads,
        versions={"torch": str(torch.__version__), "numpy": np.__version__, "opencv": cv2.__version__},
    )
    print(f"saved {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    if args.out.resolve() == SMALL_VGG_PATH.resolve():  # the shipped file: ship its new hash with it
        SMALL_VGG_HASH_PATH.write_text(f"{file_sha256(args.out)}  {args.out.name}\n", encoding="utf-8")
        print(f"wrote {SMALL_VGG_HASH_PATH}: commit it with the checkpoint")


if __name__ == "__main__":
    main()
