"""A tiny latency harness: warm up, then time repeats, report the median and spread.

Timing a neural network naively (one ``time.time()`` around one call) is wrong
three ways, and this module fixes each:

* the first calls are slow (memory is allocated, kernels are picked), so we run
  ``warmup`` calls first and throw their times away;
* one measurement is noise, so we time ``repeats`` calls with
  ``time.perf_counter`` (a monotonic, high-resolution clock) and report the
  *median*, which one slow outlier cannot drag, together with the spread;
* a GPU runs asynchronously: a call returns before the work is done, so we wait
  for the device (``torch.cuda.synchronize``) before reading the clock.

``time_it`` takes any zero-argument callable, so the same harness times a
forward pass, a batch, or a whole Grad-CAM computation.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Timing:
    """The wall-clock times of ``repeats`` calls, in seconds, with summaries."""

    times_s: tuple[float, ...]
    warmup: int

    @property
    def repeats(self) -> int:
        return len(self.times_s)

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def min_s(self) -> float:
        return min(self.times_s)

    @property
    def max_s(self) -> float:
        return max(self.times_s)

    @property
    def spread_s(self) -> float:
        """Fastest to slowest repeat: how much one measurement can be trusted."""
        return self.max_s - self.min_s

    @property
    def median_ms(self) -> float:
        return self.median_s * 1000

    def per_item_ms(self, n_items: int) -> float:
        """Median milliseconds per item when each call processed ``n_items`` (e.g. a batch)."""
        if n_items < 1:
            raise ValueError(f"n_items must be at least 1, got {n_items}")
        return self.median_ms / n_items

    def __str__(self) -> str:
        return (
            f"{self.median_ms:.1f} ms (median of {self.repeats}, "
            f"range {self.min_s * 1000:.1f}-{self.max_s * 1000:.1f} ms, {self.warmup} warm-up)"
        )


def synchronize() -> None:
    """Wait until the GPU (CUDA or Apple MPS) has finished queued work; no-op on a CPU."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
    mps = getattr(torch, "mps", None)
    if mps is not None and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        mps.synchronize()


def time_it(
    fn: Callable[[], Any],
    warmup: int = 1,
    repeats: int = 5,
    inference_mode: bool = True,
) -> Timing:
    """Call ``fn()`` ``warmup`` times untimed, then ``repeats`` times timed.

    Runs under ``torch.inference_mode()`` by default, as a deployed model would.
    Pass ``inference_mode=False`` to time code that needs autograd (a backward
    pass, Grad-CAM): ``fn`` then runs with whatever grad mode is active.
    """
    if not callable(fn):
        raise TypeError(f"time_it needs a function with no arguments (e.g. lambda: model(x)), got {type(fn).__name__}")
    if warmup < 0:
        raise ValueError(f"warmup must be 0 or more, got {warmup}")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    times = []
    with torch.inference_mode() if inference_mode else nullcontext():
        for _ in range(warmup):
            fn()
        synchronize()
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            synchronize()
            times.append(time.perf_counter() - start)
    return Timing(tuple(times), warmup)
