"""Train a VGG with DistributedDataParallel: the same script on one CPU, several GPUs, several nodes.

One machine, 2 processes (CPU: gloo backend; GPUs: one process per GPU, nccl):

    torchrun --standalone --nproc_per_node=2 scripts/train_ddp.py --checkpoint-dir runs/demo

Two machines with 4 GPUs each (run on both; HOST is the first machine's address):

    torchrun --nnodes=2 --nproc_per_node=4 --rdzv-backend=c10d --rdzv-endpoint=HOST:29500 \\
        --rdzv-id=vgg16 --max-restarts=3 scripts/train_ddp.py --data /data/imagenet \\
        --config D --width 1 --batch-size 64 --lr 0.02 --warmup-epochs 5 --amp --channels-last \\
        --checkpoint-dir /shared/runs/vgg16

Or plainly, one process: ``python scripts/train_ddp.py``.

Data: the course's procedural shapes by default (no download). ``--data DIR`` reads an
ImageFolder tree with ImageNet's layout, ``DIR/train/<class>/*.jpg`` and
``DIR/val/<class>/*.jpg``, and trains with the paper's scale jittering (section 3.1):
the shorter side rescaled to a random S in [256, 512], a random 224x224 crop, a random
horizontal flip. (torchvision's RandomResizedCrop, used for its own VGG weights, instead
crops a random 8%-100% of the area at a random aspect ratio and stretches it to 224.)

``--batch-size`` is per process; the global batch is that times the number of
processes, and ``--lr`` is the rate for the global batch (Goyal et al. 2017: scale it
with the global batch, and warm up with ``--warmup-epochs``).

With ``--checkpoint-dir`` rank 0 writes ``last.pt`` there after every epoch (atomically),
and a run started again with the same folder resumes from it, with any number of
processes. So torchrun's ``--max-restarts`` turns a dead worker into a short pause.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_utils import distributed as D  # noqa: E402
from course_utils import launch  # noqa: E402
from course_utils.data import CLASSES, ShapesDataset  # noqa: E402
from course_utils.device import seed_everything  # noqa: E402
from course_utils.training import History, Stopwatch, make_optimizer, make_scheduler  # noqa: E402

CHECKPOINT_NAME = "last.pt"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = p.add_argument_group("data")
    data.add_argument("--data", type=Path, help="ImageFolder root with train/ and val/ (default: shapes)")
    data.add_argument("--n-train", type=int, default=2000, help="shapes: training images")
    data.add_argument("--n-val", type=int, default=500, help="shapes: validation images")
    data.add_argument("--image-size", type=int, default=32, help="shapes: image side in pixels")
    data.add_argument("--crop", type=int, default=224, help="--data: crop side (paper: 224)")
    data.add_argument("--scale", type=int, nargs=2, default=(256, 512), metavar=("SMIN", "SMAX"),
                      help="--data: range of the shorter side before cropping (paper: 256 512)")
    data.add_argument("--workers", type=int, default=None, help="data-loading processes per rank")
    model = p.add_argument_group("model")
    model.add_argument("--config", default="A", help="VGG configuration A-E (default A = VGG11)")
    model.add_argument("--width", type=float, default=None, help="channel multiplier (shapes 0.125, --data 1)")
    model.add_argument("--hidden", type=int, default=None, help="FC width (shapes 256, --data 4096 x width)")
    model.add_argument("--no-batch-norm", dest="batch_norm", action="store_false")
    model.add_argument("--dropout", type=float, default=0.5)
    train = p.add_argument_group("training")
    train.add_argument("--epochs", type=int, default=4)
    train.add_argument("--batch-size", type=int, default=32, help="per process")
    train.add_argument("--lr", type=float, default=0.05, help="for the global batch")
    train.add_argument("--warmup-epochs", type=float, default=0.0,
                       help="ramp the rate up from lr x reference-batch / global batch (Goyal et al. 2017)")
    train.add_argument("--reference-batch", type=int, default=256,
                       help="the batch --lr would suit without scaling (paper and Goyal et al.: 256)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--amp", nargs="?", const="auto", default=None, choices=("auto", "bf16", "fp16"),
                       help="mixed precision (auto: bf16 on CPU, fp16 + GradScaler on CUDA)")
    train.add_argument("--channels-last", action="store_true", help="NHWC memory layout")
    train.add_argument("--device", choices=("cpu", "cuda"), default=None)
    train.add_argument("--threads", type=int, default=None, help="CPU threads per process")
    train.add_argument("--checkpoint-dir", type=Path, default=None)
    train.add_argument("--crash-at-step", type=int, default=None,
                       help="try out fault tolerance: the last rank kills itself (SIGKILL) before this "
                            "global step, on torchrun's first attempt only")
    return p.parse_args(argv)


# ----------------------------------------------------------------------------------
# Data and model
# ----------------------------------------------------------------------------------

def paper_transforms(crop: int, smin: int, smax: int):
    """(train, val) transforms. Train: the paper's scale jittering; val: one centre crop at Q = (smin + smax) / 2."""
    from torchvision.transforms import v2 as T

    from course_utils.images import IMAGENET_MEAN, IMAGENET_STD

    finish = [T.ToDtype(torch.float32, scale=True), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    train = T.Compose([T.ToImage(), T.RandomShortestSize(list(range(smin, smax + 1))), T.RandomCrop(crop),
                       T.RandomHorizontalFlip(), *finish])
    val = T.Compose([T.ToImage(), T.Resize((smin + smax) // 2), T.CenterCrop(crop), *finish])
    return train, val


def image_folder(root: Path, split: str, transform) -> Dataset:
    """``root/split`` as an ImageFolder, or a LaunchError that shows the layout expected."""
    from torchvision.datasets import ImageFolder

    from course_utils.images import load_image

    layout = (f"expected ImageNet's layout: {root}/train/<class>/<image> and {root}/val/<class>/<image>, "
              "one sub-folder per class")
    if not (root / split).is_dir():
        raise D.LaunchError(f"--data {root}: no {split}/ folder; {layout}.")
    try:
        return ImageFolder(root / split, transform=transform, loader=load_image)
    except (FileNotFoundError, RuntimeError) as err:  # no class folders, or class folders without images
        raise D.LaunchError(f"--data {root}: {root / split} is not an ImageFolder ({err}); {layout}.") from None


def datasets(args: argparse.Namespace) -> tuple[Dataset, Dataset, list[str]]:
    if args.data is None:
        train = ShapesDataset(args.n_train, seed=args.seed, size=args.image_size, cache=True)
        val = ShapesDataset(args.n_val, seed=args.seed + 1, size=args.image_size, cache=True)
        for ds in (train, val):  # draw every image once, up front, so epochs time the training alone
            for i in range(len(ds)):
                ds[i]
        return train, val, list(CLASSES)
    smin, smax = args.scale
    if args.crop < 32 or not args.crop <= smin <= smax:
        raise D.LaunchError(f"--crop {args.crop} --scale {smin} {smax}: need 32 <= crop <= SMIN <= SMAX "
                            "(a VGG halves the image five times; the crop is cut from the rescaled image).")
    if not args.data.is_dir():
        raise D.LaunchError(f"--data {args.data}: no such folder.")
    train_tf, val_tf = paper_transforms(args.crop, *args.scale)
    train, val = image_folder(args.data, "train", train_tf), image_folder(args.data, "val", val_tf)
    if val.classes != train.classes:
        raise D.LaunchError(f"--data {args.data}: train/ has classes {train.classes[:5]}... but val/ has "
                            f"{val.classes[:5]}...; both need the same class folders.")
    return train, val, list(train.classes)


def model_settings(args: argparse.Namespace, num_classes: int) -> dict:
    """What the model is; stored in the checkpoint so a resume can check it matches."""
    shapes = args.data is None
    width = args.width if args.width is not None else (0.125 if shapes else 1.0)
    hidden = args.hidden if args.hidden is not None else (256 if shapes else max(1, int(4096 * width)))
    return dict(config=args.config, width=width, hidden=hidden, batch_norm=args.batch_norm,
                dropout=args.dropout, num_classes=num_classes, small=shapes)


def build_model(settings: dict) -> torch.nn.Module:
    """Shapes: the course's small VGG (notebook 06). Real photos: a full-layout VGG with 7x7 pooling."""
    s = dict(settings)
    num_classes, small = s.pop("num_classes"), s.pop("small")
    if small:
        from course_utils.small_vgg import small_vgg

        return small_vgg(num_classes, **s)
    from course_utils.architecture import build_vgg

    return build_vgg(s.pop("config"), num_classes=num_classes, **s)


# ----------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------

def crash_hook(args: argparse.Namespace, ctx: D.DistContext, steps_per_epoch: int, epoch: int):
    """before_step hook for --crash-at-step: a worker that dies without a word, like a real crash."""
    first_attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"
    if args.crash_at_step is None or not first_attempt or ctx.rank != ctx.world_size - 1:
        return None

    def hook(i: int) -> None:
        if epoch * steps_per_epoch + i == args.crash_at_step:
            print(f"[rank {ctx.rank}] --crash-at-step {args.crash_at_step}: killing myself (SIGKILL)", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ctx = None
    try:
        # Check everything that can be checked before joining the group, on every rank,
        # so a bad launch fails at once with one clear message instead of hanging.
        ranks = D.launch_env() or {"rank": 0, "world_size": 1}
        if args.checkpoint_dir is not None:
            D.check_writable(args.checkpoint_dir)
        train_set, val_set, classes = datasets(args)
        for name, ds in (("training", train_set), ("validation", val_set)):
            if len(ds) < ranks["world_size"]:
                raise D.LaunchError(f"the {name} set has {len(ds)} images, fewer than the {ranks['world_size']} "
                                    f"processes: each needs at least one. Use --nproc_per_node={len(ds)} or fewer, "
                                    "or more data.")
        ctx = D.setup(args.device, args.threads)
        return train(args, ctx, train_set, val_set, classes)
    except D.LaunchError as err:
        if os.environ.get("LOCAL_RANK", "0") == "0":  # once per machine, not once per process
            print(f"error: {err}", file=sys.stderr, flush=True)
        else:  # let local rank 0 print before torchrun stops the group
            time.sleep(2)
        return 2
    finally:
        D.teardown()


def train(args, ctx: D.DistContext, train_set: Dataset, val_set: Dataset, classes: list[str]) -> int:
    say = (lambda *a: print(*a, flush=True)) if ctx.is_main else (lambda *a: None)
    seed_everything(args.seed)  # the same initial weights on every rank (DDP also copies rank 0's)
    settings = model_settings(args, len(classes))
    model = D.wrap(build_model(settings), ctx, args.channels_last)
    optimizer = make_optimizer(model, lr=args.lr)
    scheduler = make_scheduler(optimizer)
    dtype = D.amp_dtype(args.amp, ctx.device)
    scaler = D.make_scaler(dtype, ctx.device)
    workers = args.workers if args.workers is not None else (0 if args.data is None else min(8, ctx.threads))
    train_loader = D.shard_loader(train_set, args.batch_size, ctx, train=True, seed=args.seed, workers=workers)
    val_loader = D.shard_loader(val_set, 256 if args.data is None else args.batch_size, ctx, train=False,
                                workers=workers)
    steps = len(train_loader)
    global_batch = args.batch_size * ctx.world_size
    restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    say(ctx.describe() + (f"; torchrun restart {restart} of {os.environ.get('TORCHELASTIC_MAX_RESTARTS')}"
                          if restart else ""))
    say(f"batch {args.batch_size} per process x {ctx.world_size} = global batch {global_batch}; "
        f"{len(train_set)} training images -> {steps} steps per epoch; lr {args.lr} for the global batch"
        + (f", autocast {str(dtype).replace('torch.', '')}" if dtype else "")
        + (", channels_last" if args.channels_last else ""))

    history, start, run = History(), 0, {"world_sizes": [], "global_batches": [], "images_per_s": []}
    path = args.checkpoint_dir / CHECKPOINT_NAME if args.checkpoint_dir is not None else None
    if path is not None and path.is_file():
        start, history, state = D.load_state(path, model, optimizer, scheduler, settings=settings)
        run = state.get("run", run)
        say(f"resumed from {path}: {start} epoch(s) done, written by {run['world_sizes'][-1]} process(es) "
            f"(global batch {run['global_batches'][-1]}); now {ctx.world_size} (global batch {global_batch})")
        if run["global_batches"][-1] != global_batch:
            say("  note: the global batch changed, so the same --lr now means a different step size "
                "(linear scaling rule: scale --lr with the global batch)")
    elif int(os.environ.get("TORCHELASTIC_MAX_RESTARTS", "0")) > 0 and path is None:
        say("note: --max-restarts without --checkpoint-dir: a restarted run starts again from epoch 1")
    if start >= args.epochs:
        say(f"nothing to do: {start} of {args.epochs} epochs already done")
        return 0

    clock = Stopwatch(history.seconds[-1] if history.seconds else 0.0)
    for epoch in range(start, args.epochs):
        train_loader.sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every rank
        torch.manual_seed(args.seed + 1000 * (epoch + 1) + ctx.rank)  # dropout: per epoch and rank, resumable
        crash = crash_hook(args, ctx, steps, epoch)

        def before_step(i: int, epoch: int = epoch, crash=crash) -> None:
            if crash is not None:
                crash(i)
            if epoch + i / steps < args.warmup_epochs:  # Goyal et al.'s gradual warm-up, step by step
                lr = D.warmup_lr(args.lr, epoch + i / steps, args.warmup_epochs, global_batch / args.reference_batch)
                for group in optimizer.param_groups:
                    group["lr"] = lr

        t0 = clock()
        train_loss, train_acc = D.run_epoch(
            model, train_loader, ctx, optimizer, dtype=dtype, scaler=scaler, channels_last=args.channels_last,
            before_step=before_step,
            progress=ctx.is_main and sys.stderr.isatty(), desc=f"epoch {epoch + 1}")
        speed = len(train_loader.sampler) * ctx.world_size / (clock() - t0)
        val_loss, val_acc = D.run_epoch(D.unwrap(model), val_loader, ctx, dtype=dtype,
                                        channels_last=args.channels_last)
        history.train_loss.append(train_loss)
        history.train_acc.append(train_acc)
        history.val_loss.append(val_loss)
        history.val_acc.append(val_acc)
        history.lr.append(optimizer.param_groups[0]["lr"])
        history.seconds.append(clock())
        scheduler.step(val_acc)
        for key, value in (("world_sizes", ctx.world_size), ("global_batches", global_batch), ("images_per_s", speed)):
            run[key].append(value)
        say(f"epoch {epoch + 1}/{args.epochs}  train loss {train_loss:.3f} acc {train_acc:.3f}  "
            f"val loss {val_loss:.3f} acc {val_acc:.3f}  lr {history.lr[-1]:.3g}  {speed:.0f} images/s")
        if path is not None:
            D.save_state(path, ctx, model, optimizer, scheduler, epoch + 1, history, settings=settings,
                         classes=classes, run=run)
    say(f"done: validation accuracy {history.val_acc[-1]:.3f}" + (f"; checkpoint {path}" if path else ""))
    return 0


if __name__ == "__main__":
    launch.exit_now(main())  # exit without a last garbage collection (~1.5 s)
