"""Data-parallel training with ``torch.distributed``: the pieces a torchrun script needs.

``torchrun --nproc_per_node=N script.py`` starts N copies of the same script. Each copy
(a *rank*) holds a full replica of the model and trains on its own slice of every
batch; ``DistributedDataParallel`` (DDP) averages the gradients across ranks during
``backward()``, so every replica takes the same step. That is ordinary SGD on the
*global* batch (per-rank batch x number of ranks), which is what the VGG paper did on
four GPUs (Simonyan & Zisserman 2015, section 3.3).

What this module adds around torch's own machinery, one small function each:

* ``setup`` / ``teardown``: read what torchrun put in the environment (``RANK``,
  ``WORLD_SIZE``, ``LOCAL_RANK``...), pick the backend (``nccl`` for CUDA GPUs,
  ``gloo`` for CPUs), give each rank its share of the CPU cores, and fail with a clear
  ``LaunchError`` on a launch that cannot work. Run without torchrun, it is one plain
  process and no process group.
* ``shard_loader``: a ``DistributedSampler`` for training (each rank a different,
  equally long slice, reshuffled every epoch by ``set_epoch``), a strided slice for
  evaluation.
* ``run_epoch``: ``course_utils.training.run_epoch`` itself, in mixed precision if asked,
  with the metrics added over ranks by ``all_reduce``, so every rank reports the global numbers.
* ``save_state`` / ``load_state``: rank 0 alone writes the checkpoint, atomically, with
  ``course_utils.checkpoints``; any number of ranks can resume from it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from course_utils import training
from course_utils.checkpoints import load_checkpoint
from course_utils.launch import LAUNCH_VARS, cpu_cores
from course_utils.training import History, save_training_checkpoint


class LaunchError(RuntimeError):
    """A launch that cannot work (wrong arguments, data, folders); the message says what to do."""


@dataclass(frozen=True)
class DistContext:
    """Who this process is in the group, and where it computes."""

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    device: torch.device
    backend: str | None  # None: one plain process, no process group
    threads: int

    @property
    def is_main(self) -> bool:
        """Rank 0 prints and writes checkpoints; the others stay quiet."""
        return self.rank == 0

    def describe(self) -> str:
        how = f"backend {self.backend}" if self.backend else "a single process, no process group"
        threads = f", {self.threads} CPU thread(s) per process" if self.device.type == "cpu" else ""
        return f"{self.world_size} process(es) ({how}) on {self.device.type}{threads}"


def choose_backend(device: torch.device) -> str:
    """``nccl`` moves CUDA tensors GPU to GPU; ``gloo`` works on CPU tensors everywhere."""
    return "nccl" if device.type == "cuda" else "gloo"


def launch_env(env: dict[str, str] | None = None) -> dict[str, int] | None:
    """Rank numbers set by torchrun, or None for a plain ``python script.py``.

    Raises ``LaunchError`` when some but not all of torchrun's variables are set (a
    half-copied command, or a script started by hand inside another launcher).
    """
    env = os.environ if env is None else env
    present = [v for v in LAUNCH_VARS if v in env]
    if not present:
        return None
    missing = [v for v in LAUNCH_VARS if v not in env]
    if missing:
        raise LaunchError(
            f"{', '.join(present)} set but {', '.join(missing)} not: start the script with torchrun "
            "(torchrun --standalone --nproc_per_node=2 scripts/train_ddp.py ...), or unset "
            f"{', '.join(present)} to run one plain process.")
    try:
        numbers = {k.lower(): int(env[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
        numbers["local_world_size"] = int(env.get("LOCAL_WORLD_SIZE", numbers["world_size"]))
    except ValueError:
        raise LaunchError(f"RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers, got "
                          f"{[env[k] for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK')]}") from None
    if not 0 <= numbers["rank"] < numbers["world_size"]:
        raise LaunchError(f"RANK={numbers['rank']} is outside 0..WORLD_SIZE-1={numbers['world_size'] - 1}.")
    return numbers


def setup(device: str | None = None, threads: int | None = None) -> DistContext:
    """Join the process group torchrun prepared (if any) and return this rank's context.

    ``device``: "cpu" or "cuda" (default: CUDA when torch sees a GPU). Each rank
    takes GPU ``LOCAL_RANK``. ``threads``: CPU threads per rank (default: the cores
    divided among the ranks on this machine, so N ranks never fight over cores).
    """
    ranks = launch_env() or dict(rank=0, world_size=1, local_rank=0, local_world_size=1)
    kind = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if kind not in ("cpu", "cuda"):
        raise LaunchError(f"device must be 'cpu' or 'cuda', got {kind!r}.")
    if kind == "cuda":
        gpus = torch.cuda.device_count()
        if gpus == 0:
            raise LaunchError("--device cuda asked for, but torch sees no CUDA GPU. Use --device cpu.")
        if ranks["local_rank"] >= gpus:
            raise LaunchError(f"local rank {ranks['local_rank']} needs GPU {ranks['local_rank']}, but this machine "
                              f"has {gpus}: use --nproc_per_node={gpus} (one process per GPU).")
        torch.cuda.set_device(ranks["local_rank"])
        dev = torch.device("cuda", ranks["local_rank"])
    else:
        dev = torch.device("cpu")
    threads = threads or max(1, cpu_cores() // ranks["local_world_size"])
    torch.set_num_threads(threads)
    backend = None
    if launch_env() is not None:
        backend = choose_backend(dev)
        extra = {"device_id": dev} if dev.type == "cuda" else {}  # binds NCCL to this rank's GPU at once
        dist.init_process_group(backend, store=_attempt_store(ranks["world_size"]), rank=ranks["rank"],
                                world_size=ranks["world_size"], **extra)
    return DistContext(device=dev, backend=backend, threads=threads, **ranks)


def _attempt_store(world_size: int) -> dist.Store:
    """The key-value store the ranks meet in, with a fresh key space for each torchrun restart.

    torchrun's agent hosts one store for the whole job (``TORCHELASTIC_USE_AGENT_STORE``)
    and keeps it across restarts, with no per-attempt prefix (torch 2.14). The ranks
    of a restarted group can then read the addresses the dead group left there, and
    fail to connect ("Connection refused") or wait forever; prefixing every key with
    the restart count keeps each attempt's keys apart.
    """
    addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    rank = int(os.environ["RANK"])
    agent_hosts = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    store = dist.TCPStore(addr, port, world_size, is_master=not agent_hosts and rank == 0,
                          timeout=timedelta(minutes=10))
    return dist.PrefixStore(f"attempt{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", store)


def teardown() -> None:
    """Leave the process group (safe to call when there is none)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: nn.Module, ctx: DistContext, channels_last: bool = False) -> nn.Module:
    """Move ``model`` to this rank's device and, in a process group, wrap it in DDP.

    DDP copies rank 0's parameters and buffers to every rank once, here, and from then on
    averages the gradients during ``backward()`` (bucket by bucket, overlapping the backward
    pass) and re-sends rank 0's buffers, such as batch norm's running statistics, before
    each forward.
    """
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(ctx.device, memory_format=layout)
    if ctx.backend is None:
        return model
    return DDP(model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside a DDP wrapper (its state_dict has no ``module.`` prefix)."""
    return model.module if isinstance(model, DDP) else model


# ----------------------------------------------------------------------------------
# Data: every rank its own slice
# ----------------------------------------------------------------------------------

def shard_loader(dataset: Dataset, batch_size: int, ctx: DistContext, *, train: bool, seed: int = 0,
                 workers: int = 0) -> DataLoader:
    """A loader over this rank's slice of ``dataset``.

    Training: ``DistributedSampler`` shuffles all indices with ``seed + epoch`` (the
    same permutation on every rank) and deals them out like cards, rank r taking
    every world_size-th one; call ``loader.sampler.set_epoch(epoch)`` each epoch.
    It pads with repeated images so every rank runs the same number of steps.
    Evaluation: rank r takes items r, r + world_size, ... with no padding, so the
    summed counts are exact.
    """
    n = len(dataset)
    if n < ctx.world_size:
        raise LaunchError(f"{n} images cannot be split over {ctx.world_size} processes: every process needs at "
                          f"least one. Use at most {n} processes, or more data.")
    if batch_size < 1:
        raise LaunchError(f"batch size must be at least 1, got {batch_size}.")
    pin = ctx.device.type == "cuda"
    if train:
        sampler = DistributedSampler(dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=seed)
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
                          pin_memory=pin, persistent_workers=workers > 0)
    part = Subset(dataset, range(ctx.rank, n, ctx.world_size))
    return DataLoader(part, batch_size=batch_size, num_workers=workers, pin_memory=pin)


def all_reduce_sums(values: Sequence[float], ctx: DistContext) -> list[float]:
    """Add ``values`` (e.g. summed loss, correct, seen) over all ranks; every rank gets the totals."""
    totals = torch.tensor(list(values), dtype=torch.float64, device=ctx.device)
    if ctx.backend is not None:
        dist.all_reduce(totals, op=dist.ReduceOp.SUM)
    return totals.tolist()


# ----------------------------------------------------------------------------------
# Mixed precision and the loop
# ----------------------------------------------------------------------------------

def amp_dtype(amp: str | None, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``--amp``: None (off), "bf16", "fp16", or "auto".

    "auto": bfloat16 on a CPU (its only fast low precision), float16 on a CUDA GPU
    (with a GradScaler, see ``make_scaler``), since older GPUs lack bfloat16.
    """
    if amp in (None, "off"):
        return None
    if amp == "auto":
        amp = "fp16" if device.type == "cuda" else "bf16"
    if amp not in ("bf16", "fp16"):
        raise LaunchError(f"--amp must be bf16, fp16 or auto, got {amp!r}.")
    if amp == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise LaunchError("this GPU has no bfloat16: use --amp fp16.")
    return torch.bfloat16 if amp == "bf16" else torch.float16


def make_scaler(dtype: torch.dtype | None, device: torch.device) -> torch.amp.GradScaler | None:
    """float16 gradients can underflow to 0; a GradScaler multiplies the loss first. bf16 needs none."""
    return torch.amp.GradScaler(device.type) if dtype == torch.float16 else None


def warmup_lr(lr: float, progress: float, warmup_epochs: float, k: float) -> float:
    """Goyal et al. (2017)'s gradual warm-up: from ``lr / k`` up to ``lr``, linearly.

    ``lr`` is the rate for the global batch, already scaled by the linear scaling
    rule (k times the reference batch, k times its rate), so ``lr / k`` is the rate
    that suited the reference batch. ``progress`` is in epochs (2.5 = halfway
    through the third). With ``k <= 1`` or after ``warmup_epochs`` it returns ``lr``.
    """
    if warmup_epochs <= 0 or progress >= warmup_epochs or k <= 1:
        return lr
    start = lr / k
    return start + (lr - start) * progress / warmup_epochs


def run_epoch(model: nn.Module, loader: DataLoader, ctx: DistContext,
              optimizer: torch.optim.Optimizer | None = None, *, desc: str = "", progress: bool = False,
              channels_last: bool = False, dtype: torch.dtype | None = None,
              scaler: torch.amp.GradScaler | None = None,
              before_step: Callable[[int], None] | None = None) -> tuple[float, float]:
    """``course_utils.training.run_epoch`` on this rank's slice, in ``dtype`` (mixed precision).

    Returns the (mean loss, accuracy) over **all ranks**: each rank sums its own, then
    ``all_reduce`` adds the sums. DDP averages the gradients inside ``backward()``, so
    the loop itself is the single-process one, unchanged.
    """
    return training.run_epoch(model, loader, ctx.device, optimizer, desc=f"rank {ctx.rank}, {desc or 'epoch'}",
                              progress=progress, channels_last=channels_last, dtype=dtype, scaler=scaler,
                              before_step=before_step, reduce=lambda sums: all_reduce_sums(sums, ctx))


# ----------------------------------------------------------------------------------
# Checkpoints: rank 0 writes, everyone can resume
# ----------------------------------------------------------------------------------

def check_writable(folder: str | Path) -> Path:
    """Make sure checkpoints can be written in ``folder`` before hours of training, not after."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as err:
        raise LaunchError(f"cannot write checkpoints in {folder} ({err.strerror or err}). "
                          "Pass --checkpoint-dir with a folder you can write to.") from None
    return folder


def save_state(path: str | Path, ctx: DistContext, model: nn.Module, optimizer: torch.optim.Optimizer,
               scheduler: Any, epoch: int, history: History, **extra: Any) -> None:
    """Rank 0 writes everything needed to resume after ``epoch`` epochs, atomically.

    Every replica holds the same weights, so one copy is enough; ranks writing the
    same file at once would only race. The model is saved unwrapped (no
    ``module.`` prefix), so the file loads with or without DDP, in any world size.
    """
    if ctx.is_main:
        save_training_checkpoint(path, unwrap(model), optimizer, scheduler, epoch, history, **extra)


def load_state(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer,
               scheduler: Any = None, settings: dict | None = None) -> tuple[int, History, dict[str, Any]]:
    """Resume from ``path`` on every rank: (epochs done, history, the whole state).

    Nothing in the file depends on the number of processes that wrote it: weights
    and momentum are the same on every replica, and the data order comes from the
    sampler's ``seed + epoch``. So a run written by 2 processes resumes in 1 or 8.
    ``settings``: what the file must say it holds (``state["settings"]``), checked first.
    """
    state = load_checkpoint(path)
    if settings is not None and state.get("settings") != settings:
        raise LaunchError(f"{path} holds a different model {state.get('settings')}, not {settings}: "
                          "use another --checkpoint-dir, or the settings it was written with.")
    unwrap(model).load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    return int(state["epoch"]), History.from_dict(state["history"]), state
