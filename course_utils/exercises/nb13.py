"""Exercises for notebook 13 (scaling up): the linear scaling rule, how a sampler deals the data, warm-up."""

from __future__ import annotations

from course_utils.exercises import call_safely, callable_check, number_check, report

HINTS = {
    "scaled_lr": (
        "The linear scaling rule multiplies the rate by k, where k is how many times larger the *global* "
        "batch (all GPUs together) is than the paper's 256.",
        "Global batch = 8 GPUs x 64 images per GPU; the rate is 0.01 x (global batch / 256).",
    ),
    "shard": (
        "`DistributedSampler` first pads the list of indices to a multiple of `world_size` by repeating "
        "indices from its start, then deals the padded list like cards: rank r takes every "
        "`world_size`-th index, starting at position r.",
        "Padded list: `[i % n for i in range(total)]`, where `total` is `n` rounded up to a multiple of "
        "`world_size` (`math.ceil`); then take a slice of it with a step of `world_size`.",
    ),
    "warmup_lr": (
        "Gradual warm-up is a straight line in time: from the small-batch rate (3.2 / 32) at epoch 0 to the "
        "full rate 3.2 at epoch 5.",
        "start + (target - start) x (the fraction of the warm-up done), with start = 3.2 / 32 and the "
        "fraction 2.5 / 5.",
    ),
}

# --- Exercise 1: the learning rate for a bigger global batch ----------------------------------

PAPER_BATCH, PAPER_LR = 256, 0.01  # Simonyan & Zisserman 2015, section 3.1
GOYAL_LR = 0.1  # Goyal et al. 2017's reference rate for a batch of 256 (a common mix-up)
GPUS, PER_GPU = 8, 64


@number_check("the learning rate, a number such as 0.05")
def check_scaled_lr(value: float) -> bool:
    """The answer: the paper's rate scaled for 8 GPUs x 64 images by the linear scaling rule."""
    global_batch = GPUS * PER_GPU
    expected = PAPER_LR * global_batch / PAPER_BATCH
    if abs(value - expected) < 1e-9:
        return report(True, f"{GPUS} x {PER_GPU} = {global_batch} images per step, {global_batch / PAPER_BATCH:g} "
                            f"times the paper's {PAPER_BATCH}, so {global_batch / PAPER_BATCH:g} times its rate: "
                            f"{expected:g}. Warm up to it over the first epochs (Goyal et al. 2017).")
    if abs(value - PAPER_LR * GPUS) < 1e-9:
        return report(False, "that scales with the number of GPUs; the rule scales with the global batch, "
                             "and each GPU here holds 64 images, not 256.", hint=1)
    if abs(value - GOYAL_LR * global_batch / PAPER_BATCH) < 1e-9:
        return report(False, f"that scales Goyal et al.'s reference rate, {GOYAL_LR:g}; start from the paper's, "
                             f"{PAPER_LR:g} for a batch of {PAPER_BATCH}.", hint=2)
    if abs(value - PAPER_LR) < 1e-9:
        return report(False, "that is the paper's rate unchanged; the global batch is not 256 any more.", hint=1)
    if value < PAPER_LR:
        return report(False, "a bigger batch averages more gradients, so the steps can be bigger, not smaller.",
                      hint=1)
    return report(False, f"{value:g} is not it: multiply the paper's rate by (global batch / {PAPER_BATCH}).",
                  hint=2)


def solution_scaled_lr():
    """Linear scaling rule: k times the batch, k times the rate."""
    global_batch = 8 * 64
    return 0.01 * global_batch / 256


# --- Exercise 2: deal the data like DistributedSampler -----------------------------------------

CASES = [(10, 3), (12, 4), (7, 4), (2, 4), (5, 1)]  # (dataset size, world size)


def _dealt(n: int, world: int) -> list[list[int]]:
    """What torch's own DistributedSampler(shuffle=False) gives each rank: the reference."""
    from torch.utils.data import DistributedSampler

    return [list(DistributedSampler(range(n), num_replicas=world, rank=r, shuffle=False)) for r in range(world)]


def _as_indices(out: object) -> list[int] | None:
    try:
        values = list(out)
        if not all(float(v).is_integer() for v in values):
            return None
        return [int(v) for v in values]
    except Exception:  # noqa: BLE001 - any junk the learner returned
        return None


@callable_check("a function f(n, rank, world_size)")
def check_shard(answer) -> bool:
    """``answer``: ``f(n, rank, world_size)``, the indices of ``range(n)`` that rank gets, in order,
    as ``DistributedSampler(..., shuffle=False)`` deals them."""
    for n, world in CASES:
        expected = _dealt(n, world)
        for rank in range(world):
            out, err = call_safely(answer, n, rank, world)
            if err:
                return report(False, err)
            got = _as_indices(out)
            if got is None:
                return report(False, f"f({n}, {rank}, {world}) should return a list of whole numbers, got {out!r:.80}.")
            if got == expected[rank]:
                continue
            unpadded = list(range(rank, n, world))
            if got == unpadded:
                return report(False, f"with n={n} and {world} ranks, rank {rank} got {len(got)} items but rank 0 "
                                     f"gets {len(expected[0])}: every rank must run the same number of steps, so "
                                     "the sampler pads the list, repeating indices from the start.", hint=1)
            if got == expected[rank][:n // world] and n % world:
                return report(False, f"with n={n} and {world} ranks, rank {rank} got {len(got)} items: that leaves "
                                     f"out the last {n % world} of the {n} indices (drop_last=True). By default the "
                                     "sampler pads instead, repeating indices from the start, so no image is left out.",
                              hint=1)
            share = -(-n // world)
            if got == list(range(rank * share, min(n, (rank + 1) * share))):
                return report(False, "those are contiguous blocks; the sampler deals like cards: "
                                     "rank, rank + world_size, rank + 2 * world_size, ...", hint=1)
            return report(False, f"f({n}, {rank}, {world}) gave {got}, the sampler gives {expected[rank]}.", hint=2)
    return report(True, "every rank gets ceil(n / world_size) indices, dealt like cards after padding "
                        "the list with its own first indices: equal shares, so no rank waits for another.")


def solution_shard():
    """Pad the index list to a multiple of world_size by repeating it, then take every world_size-th."""
    import math

    def answer(n, rank, world_size):
        total = math.ceil(n / world_size) * world_size
        indices = [i % n for i in range(total)]  # 0..n-1, then again from 0 to fill up
        return indices[rank::world_size]

    return answer


# --- Exercise 3: gradual warm-up -----------------------------------------------------------------

WARM_K, WARM_TARGET, WARM_EPOCHS, WARM_AT = 32, 3.2, 5, 2.5  # Goyal et al.: batch 8192 = 32 x 256


@number_check("the learning rate, a number")
def check_warmup_lr(value: float) -> bool:
    """The answer: the rate 2.5 epochs into a 5-epoch linear warm-up from 3.2 / 32 to 3.2."""
    start = WARM_TARGET / WARM_K
    expected = start + (WARM_TARGET - start) * WARM_AT / WARM_EPOCHS
    if abs(value - expected) < 1e-6:
        return report(True, f"halfway from {start:g} to {WARM_TARGET:g}: {expected:g}. The first steps use the "
                            "small-batch rate, while the network changes fastest; the full rate comes once "
                            "it has settled.")
    if abs(value - WARM_TARGET * WARM_AT / WARM_EPOCHS) < 1e-6:
        return report(False, f"that ramps up from 0; Goyal et al. start from the small-batch rate, {start:g}.",
                      hint=1)
    if abs(value - WARM_TARGET) < 1e-6:
        return report(False, "that is the full rate: the warm-up lasts 5 epochs, and only 2.5 have passed.", hint=1)
    return report(False, f"{value:g} is not it: start + (target - start) * 2.5 / 5, "
                         f"with start = {WARM_TARGET:g} / {WARM_K}.", hint=2)


def solution_warmup_lr():
    """A straight line from the small-batch rate to the scaled rate."""
    target, k = 3.2, 32
    start = target / k
    return start + (target - start) * 2.5 / 5
