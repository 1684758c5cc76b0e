"""Training throughput of scripts/train_ddp.py: processes, mixed precision, memory layout.

Two comparisons, each measured side by side in this one run and printed as ratios:

1. **Processes** (CPU): the training script under torchrun with 1 and with 2 processes,
   the same global batch, the same images, the same cores (1 process x all threads
   against 2 processes x half the threads each), plus 1 process on one thread.
   Images per second of the last epoch.
2. **Precision and layout** (one process; on a CUDA GPU when there is one, else the
   CPU): training steps with float32 against autocast (bf16 on a CPU, fp16 with a
   GradScaler on a GPU), and contiguous (NCHW) against channels_last (NHWC). On a
   GPU the model is VGG16 at 224x224 (the paper's network); on a CPU it is the
   course's small VGG at 64x64, since VGG16 would take minutes per step.

    python benchmarks/ddp_speed.py
    python benchmarks/ddp_speed.py --skip-processes     # only the precision / layout table

A machine shared with other work inflates every time: the load average is printed
before and after, and only ratios taken in the same run mean anything.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from course_utils import distributed as D  # noqa: E402
from course_utils import launch  # noqa: E402
from course_utils.checkpoints import load_checkpoint  # noqa: E402
from course_utils.training import make_optimizer  # noqa: E402

SCRIPT = REPO / "scripts" / "train_ddp.py"


def processes(layouts: list[tuple[int, int]], global_batch: int, n_train: int, epochs: int) -> dict[tuple, float]:
    """Images/s of the last epoch for each (processes, threads per process), via torchrun."""
    speeds = {}
    for n, threads in layouts:
        with tempfile.TemporaryDirectory() as folder:
            args = ["--device", "cpu", "--n-train", n_train, "--n-val", 100, "--epochs", epochs,
                    "--batch-size", global_batch // n, "--threads", threads, "--checkpoint-dir", folder]
            cmd = launch.torchrun_command(SCRIPT, args, nproc=n)
            code, output = launch.run_streaming(cmd, cwd=REPO, show=False)
            if code != 0:
                sys.exit(f"torchrun with {n} process(es) failed:\n{output[-2000:]}")
            speeds[n, threads] = load_checkpoint(Path(folder) / "last.pt")["run"]["images_per_s"][-1]
    return speeds


def step_speed(model: torch.nn.Module, ctx: D.DistContext, batch: int, size: int, steps: int,
               amp: str | None, channels_last: bool) -> float:
    """Training images/s of ``steps`` SGD steps on random images (after one untimed warm-up pass)."""
    model = D.wrap(model, ctx, channels_last)
    optimizer = make_optimizer(model, lr=1e-3)
    dtype = D.amp_dtype(amp, ctx.device)
    scaler = D.make_scaler(dtype, ctx.device)
    data = [(torch.rand(batch, 3, size, size), torch.randint(0, 5, (batch,))) for _ in range(steps)]
    run = lambda batches: D.run_epoch(model, batches, ctx, optimizer, dtype=dtype, scaler=scaler,  # noqa: E731
                                      channels_last=channels_last)
    run(data[:2])  # warm-up: memory allocation, kernel choice
    if ctx.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    run(data)  # loss.item() every step waits for the GPU, so the clock is honest
    return batch * steps / (time.perf_counter() - start)


def precision_table(steps: int) -> list[tuple[str, float]]:
    cuda = torch.cuda.is_available()
    ctx = D.DistContext(rank=0, world_size=1, local_rank=0, local_world_size=1,
                        device=torch.device("cuda" if cuda else "cpu"), backend=None, threads=torch.get_num_threads())
    if cuda:
        from course_utils.architecture import build_vgg

        make, batch, size, what = (lambda: build_vgg("D", num_classes=5)), 64, 224, "VGG16, 224x224, batch 64, CUDA"
    else:
        from course_utils.small_vgg import small_vgg

        make, batch, size, what = small_vgg, 64, 64, "small VGG (width 1/8), 64x64, batch 64, CPU"
    print(f"\n2. precision and layout, one process: {what}")
    rows = []
    for amp, cl in ((None, False), ("auto", False), (None, True), ("auto", True)):
        torch.manual_seed(0)
        name = f"{'autocast ' + str(D.amp_dtype('auto', ctx.device)).replace('torch.', '') if amp else 'float32'}" \
               f"{', channels_last' if cl else ''}"
        rows.append((name, step_speed(make(), ctx, batch, size, steps, amp, cl)))
        print(f"   {name:32s} {rows[-1][1]:8.1f} images/s  ({rows[-1][1] / rows[0][1]:.2f}x float32)", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-processes", action="store_true")
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--global-batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    print(f"torch {torch.__version__}, {launch.cpu_cores()} CPU cores, CUDA: {torch.cuda.is_available()}")
    if not args.skip_processes:
        print(f"\n1. processes on the CPU: small VGG (width 1/8), 32x32 shapes, {args.n_train} images, "
              f"global batch {args.global_batch}, last of {args.epochs} epochs")
        cores = launch.cpu_cores()
        layouts = [(1, cores), (1, 1), (2, max(1, cores // 2))]  # all cores as threads / one core / all as processes
        speeds = processes(layouts, args.global_batch, args.n_train, args.epochs)
        for (n, threads), s in speeds.items():
            print(f"   {n} process(es) x {threads} thread(s): {s:8.1f} images/s")
        print(f"   RATIO 2 processes / 1 process, same {cores} cores: {speeds[layouts[2]] / speeds[layouts[0]]:.2f}x; "
              f"2 processes / 1 process on one core: {speeds[layouts[2]] / speeds[layouts[1]]:.2f}x")
    rows = precision_table(args.steps)
    base = rows[0][1]
    print("   RATIOS vs float32: " + ", ".join(f"{name}: {s / base:.2f}x" for name, s in rows[1:]))
    load_after = os.getloadavg()[0]
    print(f"\nload average (1 min) before {load_before:.2f}, after {load_after:.2f}")
    if max(load_before, load_after) > launch.cpu_cores() - 0.5:
        print("  the CPU is shared with other work: absolute numbers are inflated; compare ratios only")


if __name__ == "__main__":
    main()
