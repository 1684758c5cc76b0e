"""Train a VGG the way the paper did, scaled down to a laptop.

The paper's recipe (Simonyan & Zisserman 2015, Section 3.1): mini-batch SGD with
momentum 0.9, weight decay 5e-4, dropout 0.5 on the first two FC layers, and a
learning rate divided by 10 whenever the validation accuracy stops improving.
``run_epoch`` is the five-line loop of notebook 06 (forward, loss, zero_grad, backward,
step) plus bookkeeping; ``train`` calls it twice per epoch, once over the training data
and once over the validation data, with tqdm bars and a ``History``.
The paper's batch (256) and starting learning rate (0.01) are the caller's to
choose: the course's small runs use their own (see ``small_vgg.RECIPE``).

A loss that becomes NaN or infinite stops training at once with a
``TrainingDiverged`` error naming the epoch and batch, instead of drawing NaN curves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from course_utils.checkpoints import load_checkpoint, save_checkpoint
from course_utils.device import get_device


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: the learning rate is too high or the data is broken."""


@dataclass
class History:
    """Per-epoch numbers from ``train``: losses, accuracies, learning rate and time.

    ``train_loss`` and ``train_acc`` are running means over the epoch's batches, taken in
    train mode while the weights still move: with dropout on, and on augmented images if the
    dataset augments. They are not the final model's accuracy on its training images;
    ``evaluation.evaluate`` on an unaugmented loader gives that. ``val_*`` are measured in eval mode.
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # wall time since the start of training
    interrupted: bool = False  # the learner stopped training (Ctrl-C, the notebook's stop button)

    @property
    def epochs(self) -> int:
        return len(self.val_acc)

    def best_val_acc(self) -> float:
        return max(self.val_acc, default=0.0)

    def time_to(self, accuracy: float) -> float | None:
        """Seconds of training until the validation accuracy first reached ``accuracy``."""
        return next((s for s, a in zip(self.seconds, self.val_acc) if a >= accuracy), None)

    def as_dict(self) -> dict[str, list[float]]:
        return asdict(self)

    def keep_whole_epochs(self) -> None:
        """Cut every list to the shortest: an interrupt may land between two appends."""
        lists = [f for f in self.__dataclass_fields__ if f != "interrupted"]
        n = min(len(getattr(self, f)) for f in lists)
        for f in lists:
            del getattr(self, f)[n:]

    @classmethod
    def from_dict(cls, d: dict) -> History:
        lists = {k: [float(v) for v in d.get(k, [])] for k in cls.__dataclass_fields__ if k != "interrupted"}
        return cls(**lists, interrupted=bool(d.get("interrupted", False)))


class Stopwatch:
    """Wall time that carries on across restarts: it starts at the seconds already spent.

    ``train`` resumed from a checkpoint, and notebook 13's script restarted by torchrun, both go
    on counting from the time the history already holds.
    """

    def __init__(self, already: float = 0.0) -> None:
        self._t0 = time.perf_counter() - already

    def __call__(self) -> float:
        return time.perf_counter() - self._t0


# ----------------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------------

def make_optimizer(params: nn.Module | Iterable, lr: float = 0.01, momentum: float = 0.9,
                   weight_decay: float = 5e-4) -> torch.optim.SGD:
    """SGD as in the paper. ``params`` is a model, its parameters, or parameter groups."""
    if isinstance(params, nn.Module):
        params = [p for p in params.parameters() if p.requires_grad]
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, patience: int = 2,
                   factor: float = 0.1) -> torch.optim.lr_scheduler.ReduceLROnPlateau:
    """Divide the learning rate by 10 when validation accuracy stops improving (paper, 3.1)."""
    return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=factor, patience=patience)


def run_epoch(model: nn.Module, loader: DataLoader, device: torch.device,
              optimizer: torch.optim.Optimizer | None = None, *, desc: str = "", progress: bool = True,
              channels_last: bool = False, dtype: torch.dtype | None = None,
              scaler: torch.amp.GradScaler | None = None, before_step: Callable[[int], None] | None = None,
              reduce: Callable[[list[float]], list[float]] | None = None) -> tuple[float, float]:
    """One pass over ``loader``: training if an optimizer is given, else evaluation.

    Returns (mean loss, accuracy). Batches may be ``(images, labels, ...)``: extra
    items such as masks are ignored. Around the loop's five lines it moves each batch to
    ``device`` (channel-last if ``channels_last``, as ``train`` explains), keeps running totals,
    shows a progress bar and raises ``TrainingDiverged`` on a NaN or infinite loss; without an
    optimizer it runs in eval mode with gradients off. The rest is for notebook 13's
    data-parallel script, which passes the same names to ``distributed.run_epoch``: mixed
    precision (``dtype``, and a ``scaler`` for float16), ``before_step(i)`` called before
    batch i (a learning-rate warm-up), and ``reduce``, which adds the running sums over all
    processes before the division.
    """
    layout = torch.channels_last if channels_last else torch.contiguous_format
    training = optimizer is not None
    model.train(training)
    total_loss, correct, seen = 0.0, 0, 0
    with torch.set_grad_enabled(training):
        for step, batch in enumerate(tqdm(loader, desc=desc, leave=False, disable=not progress), start=1):
            images = batch[0].to(device)
            if images.dim() == 4:
                images = images.contiguous(memory_format=layout)
            labels = batch[1].to(device)
            if before_step is not None:
                before_step(step - 1)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                logits = model(images)
                loss = nn.functional.cross_entropy(logits, labels)
            if not torch.isfinite(loss):
                raise TrainingDiverged(_diverged_message(desc, step, images, loss))
            if training:
                optimizer.zero_grad()
                if scaler is None:
                    loss.backward()
                    optimizer.step()
                else:  # float16: scale the loss up so that small gradients do not round to zero
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
            total_loss += loss.item() * len(labels)
            correct += (logits.argmax(1) == labels).sum().item()
            seen += len(labels)
    if reduce is not None:
        total_loss, correct, seen = reduce([total_loss, correct, seen])
    return total_loss / seen, correct / seen


def _diverged_message(desc: str, step: int, images: torch.Tensor, loss: torch.Tensor) -> str:
    where = f"{desc + ', ' if desc else ''}batch {step}"
    if not torch.isfinite(images).all():
        return f"{where}: the input images hold NaN or infinite values; check the dataset and its transforms."
    return (f"{where}: the loss became {loss.item()}. Training diverged: lower the learning rate "
            "(try 10x smaller) or add batch norm, then start again from a fresh model.")


def train(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader,
    epochs: int,
    *,
    lr: float = 0.01,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau | None = None,
    device: torch.device | str | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    stop_at: float | None = None,
    channels_last: bool = True,
    progress: bool = True,
) -> History:
    """Train ``model`` for up to ``epochs`` epochs and return its ``History``.

    * ``optimizer`` / ``scheduler``: default to the paper's SGD (``lr``, momentum 0.9,
      weight decay 5e-4) and ``ReduceLROnPlateau`` on validation accuracy.
    * ``checkpoint``: after every epoch, save model, optimizer, scheduler, epoch and
      history there (atomically). With ``resume=True`` and an existing file, carry on
      from the epoch after the saved one instead of starting again.
    * ``stop_at``: stop as soon as validation accuracy reaches this value.
    * Interrupting (Ctrl-C, or the stop button of a notebook) is a normal way to stop: the
      weights keep what they learned, the unfinished epoch is left out of the history, the
      last checkpoint stays intact, and ``train`` returns the history so far with
      ``interrupted=True`` and says how to continue, instead of raising.
    * ``channels_last``: store images and weights channel-last (NHWC) while training:
      the same maths, faster convolutions and pools on a CPU (``benchmarks/channels_last_speed.py``
      measured 1.3x per training step of ``small_vgg`` on one thread of a 2-core CPU).
    """
    device = torch.device(device) if device is not None else get_device()
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model.to(device, memory_format=layout)
    optimizer = optimizer or make_optimizer(model, lr=lr)
    scheduler = scheduler or make_scheduler(optimizer)
    history, start = History(), 0
    if resume and checkpoint is not None and Path(checkpoint).is_file():
        start, history = load_training_checkpoint(checkpoint, model, optimizer, scheduler)
    history.interrupted = False
    saved = start if checkpoint is not None and Path(checkpoint).is_file() else None
    clock = Stopwatch(history.seconds[-1] if history.seconds else 0.0)
    bar = tqdm(range(start, epochs), desc="epochs", disable=not progress, initial=start, total=epochs)
    try:
        for epoch in bar:
            train_loss, train_acc = run_epoch(model, train_loader, device, optimizer, desc=f"epoch {epoch + 1} train",
                                              progress=progress, channels_last=channels_last)
            val_loss, val_acc = run_epoch(model, val_loader, device, desc=f"epoch {epoch + 1} val",
                                          progress=progress, channels_last=channels_last)
            history.train_loss.append(train_loss)
            history.train_acc.append(train_acc)
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
            history.lr.append(optimizer.param_groups[0]["lr"])
            history.seconds.append(clock())
            scheduler.step(val_acc)
            bar.set_postfix(train_acc=f"{train_acc:.3f}", val_acc=f"{val_acc:.3f}")
            if checkpoint is not None:
                save_training_checkpoint(checkpoint, model, optimizer, scheduler, epoch + 1, history)
                saved = epoch + 1
            if stop_at is not None and val_acc >= stop_at:
                break
    except KeyboardInterrupt:
        history.keep_whole_epochs()
        history.interrupted = True
        print(_interrupted_message(history.epochs, checkpoint, saved))
    finally:
        bar.close()
        model.to(memory_format=torch.contiguous_format).eval()
    return history


def _interrupted_message(epochs: int, checkpoint: str | Path | None, saved: int | None) -> str:
    done = f"Training stopped after {epochs} whole epoch(s); the one under way was cut short (its updates stay " \
           "in the weights, not in the history)."
    if checkpoint is None:
        return done + " To be able to continue another time, pass checkpoint=... (and resume=True to go on)."
    if saved is None:
        return done + f" No checkpoint was written yet to {checkpoint}."
    return (done + f" {checkpoint} holds epoch {saved}, intact; to continue from it, call train again with "
            f"checkpoint={str(checkpoint)!r}, resume=True.")


# ----------------------------------------------------------------------------------
# Checkpoints that can resume (the atomic write is course_utils.checkpoints')
# ----------------------------------------------------------------------------------

def save_training_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None,
                             scheduler, epoch: int, history: History, **extra) -> Path:
    """Save everything needed to resume after ``epoch`` epochs, plus torch's CPU RNG state.

    The RNG state makes a resumed run shuffle (and, for a model on the CPU, drop out)
    exactly as an uninterrupted one would have. A GPU draws its dropout masks from its
    own generator, which is not saved: there a resumed run takes other masks.
    """
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "epoch": epoch,
        "history": history.as_dict(),
        "rng": torch.get_rng_state(),
        **extra,
    }
    return save_checkpoint(state, path)


def load_training_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                             scheduler=None, restore_rng: bool = True) -> tuple[int, History]:
    """Load a checkpoint into ``model`` (and optimizer, scheduler); return (epoch, history)."""
    state = load_checkpoint(path)
    model.load_state_dict(state["model"])
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if restore_rng and state.get("rng") is not None:
        torch.set_rng_state(state["rng"])
    return int(state["epoch"]), History.from_dict(state["history"])
