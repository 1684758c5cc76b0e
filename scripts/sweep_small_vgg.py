"""Learning-rate sweep behind notebook 06's fair comparisons; writes data/small_vgg_sweep.json.

    python scripts/sweep_small_vgg.py                     # the shipped file (about 15 minutes, 1 thread)
    python scripts/sweep_small_vgg.py --variants A-bn --lrs 0.05 --out /tmp/one.json

Comparing batch norm on and off at one learning rate mostly measures that rate: a plain
network may need a smaller one. So every variant is trained at several rates on the same
budget (notebook 06's first run: 4,000 shapes at 32x32, seed 0; 500 validation images,
seed 1; 6 epochs, batch 64, SGD momentum 0.9, weight decay 5e-4, the plateau rule), and the
notebook compares each at its best rate. A run whose loss diverges is stored as diverged.

Deterministic like ``train_small_vgg.py``: seeded data and torch, CPU, one thread,
``torch.use_deterministic_algorithms(True)``. Notebook 06 reruns one point (A with batch
norm at 0.05) live and shows how close it comes to the stored one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_utils.data import ShapesDataset  # noqa: E402
from course_utils.device import seed_everything  # noqa: E402
from course_utils.small_vgg import SMALL_VGG_SWEEP_PATH, small_vgg  # noqa: E402
from course_utils.training import TrainingDiverged, train  # noqa: E402

BUDGET = dict(n_train=4000, n_val=500, train_seed=0, val_seed=1, size=32, epochs=6, batch_size=64, val_batch=250)
VARIANTS = {"A-bn": dict(config="A", batch_norm=True), "A-plain": dict(config="A", batch_norm=False),
            "D-bn": dict(config="D", batch_norm=True)}
LRS = {"A-bn": [0.005, 0.01, 0.02, 0.05, 0.1], "A-plain": [0.005, 0.01, 0.02, 0.05, 0.1], "D-bn": [0.02, 0.05, 0.1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=SMALL_VGG_SWEEP_PATH)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--lrs", type=float, nargs="+", default=None, help="default: each variant's grid in LRS")
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    b = BUDGET
    train_set = ShapesDataset(b["n_train"], seed=b["train_seed"], size=b["size"], cache=True)
    val_set = ShapesDataset(b["n_val"], seed=b["val_seed"], size=b["size"], cache=True)
    train_loader = DataLoader(train_set, batch_size=b["batch_size"], shuffle=True)
    val_loader = DataLoader(val_set, batch_size=b["val_batch"])
    runs = []
    for variant in args.variants:
        for lr in args.lrs or LRS[variant]:
            seed_everything(0)  # the notebook's order: seed, build the model, train
            model = small_vgg(**VARIANTS[variant])
            start = time.perf_counter()
            try:
                history = train(model, train_loader, val_loader, b["epochs"], lr=lr, device="cpu", progress=False)
                run = dict(variant=variant, lr=lr, history=history.as_dict(), diverged=None)
                result = f"best val acc {history.best_val_acc():.3f}"
            except TrainingDiverged as err:
                run = dict(variant=variant, lr=lr, history=None, diverged=str(err))
                result = "diverged"
            runs.append(run)
            print(f"{variant:8s} lr {lr:<6} {result}  ({time.perf_counter() - start:.0f} s)", flush=True)
    args.out.write_text(json.dumps(dict(
        budget=b, variants={k: VARIANTS[k] for k in args.variants}, runs=runs, threads=1,
        versions={"torch": str(torch.__version__), "numpy": np.__version__}), indent=1) + "\n")
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
