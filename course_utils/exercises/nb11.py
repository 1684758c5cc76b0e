"""Exercises for notebook 11 (checking explanations): the pointing game, energy in the mask, Spearman.

The checks do not reuse the solutions' code: the pointing-game cases have their peaks
planted where the answer is known, the energy cases are built with a known share on the
mask, and the Spearman cases have values worked out by hand (ties included).
"""

from __future__ import annotations

import math

import torch

from course_utils.exercises import call_for_number, call_safely, callable_check, report

HINTS = {
    "pointing": (
        "`heatmap.argmax()` finds the hottest pixel, but as one *flat* index into the flattened map, "
        "counted row after row. Turn it into a (row, column) pair before you look it up in the mask.",
        "With W = heatmap.shape[1] (the number of columns, not of rows), the flat index i is at row i // W and "
        "column i % W; `divmod(i, W)` gives both. Look that pixel up in the mask, compare it with 0.5, and return "
        "the answer as a Python bool.",
    ),
    "energy": (
        "Energy in the mask is a ratio of two sums: the map's values on the object (multiply the map by the "
        "mask, then sum) over the map's values everywhere (sum the map). Not the mask's area: weight each pixel "
        "by the map.",
        "The trap is the all-zero map: its total is 0, and 0 / 0 is NaN. Test the total before you divide, and "
        "return 0.0 in that case. Return a Python number (`float(...)` of a one-element tensor), not a tensor.",
    ),
    "spearman": (
        "Spearman is Pearson's correlation of the *ranks*, not of the values: rank each map's values first "
        "(tied values share the average of the ranks they span, as section 4's `average_ranks` does), then "
        "correlate the two rank vectors.",
        "With the two rank vectors in hand, Spearman is section 4's `pearson` applied to them: centre each one "
        "(subtract its mean), then divide their dot product by the product of their norms. Your function may "
        "call the notebook's `average_ranks` and `pearson`.",
    ),
}

# --- Exercise 1: the pointing game by hand -------------------------------------------------


@callable_check("a function hit(heatmap, mask)")
def check_pointing(answer) -> bool:
    """``answer``: a function ``hit(heatmap, mask) -> bool``: is the heat map's peak on the object?"""
    mask = torch.zeros(6, 10)
    mask[1:3, 6:9] = 1
    for r, c in [(2, 7), (4, 7), (2, 2), (1, 8), (5, 9)]:
        m = 0.01 * torch.rand(6, 10, generator=torch.Generator().manual_seed(r * 10 + c))
        m[r, c] = 1.0  # the peak, planted: the answer is whether (r, c) is on the object
        expected = bool(mask[r, c] > 0.5)
        got, err = call_safely(answer, m.clone(), mask.clone())
        if not err:
            got, err = call_safely(bool, got, doing=f"bool() of your answer {got!r:.40}")
        if err:
            return report(False, err)
        if got != expected:
            peak = divmod(int(m.argmax()), m.shape[1])
            return report(False, f"for a map peaking at (row, col) = {peak} you said {got}, expected {expected}. "
                                 "A flat index i is row i // width, column i % width (width = number of columns).",
                          hint=2)
    return report(True, "your pointing game finds the peak and looks it up in the mask right in every case.")


def solution_pointing():
    """Find the flat index of the maximum, turn it into (row, column), look it up in the mask."""
    def hit(heatmap, mask):
        index = int(heatmap.argmax())
        row, col = divmod(index, heatmap.shape[1])
        return bool(mask[row, col] > 0.5)

    return hit


# --- Exercise 2: energy in the mask -----------------------------------------------------------

def _energy_cases() -> list[tuple[str, torch.Tensor, torch.Tensor, float]]:
    """(what, heatmap, mask, expected share) with the share known by construction."""
    mask = torch.zeros(5, 8)
    mask[1:3, 2:6] = 1                               # 8 of the 40 pixels
    cases = [("a map of 3 on the object and 1 elsewhere", 3 * mask + (1 - mask), mask, 24 / (24 + 32)),
             ("a map that is all on the object", 0.5 * mask, mask, 1.0),
             ("a flat map", torch.full((5, 8), 0.2), mask, 8 / 40),
             ("an all-zero map", torch.zeros(5, 8), mask, 0.0)]
    return cases


@callable_check("a function energy(heatmap, mask)")
def check_energy(answer) -> bool:
    """``answer``: a function ``energy(heatmap, mask) -> float``: the share of the map's total on the mask."""
    for what, heatmap, mask, expected in _energy_cases():
        value, problem = call_for_number(answer, heatmap.clone(), mask.clone(), where=f"on {what}")
        if problem:
            return report(False, problem)
        if math.isnan(value):
            return report(False, f"on {what} you returned NaN: 0 / 0. An all-zero map has no energy on the mask "
                                 "or anywhere: return 0.0 when the map's total is 0.", hint=2)
        if abs(value - expected) > 1e-6:
            area = abs(value - 8 / 40) < 1e-6
            extra = " That is the mask's area share: weight each pixel by the map." if area else ""
            return report(False, f"on {what} expected {expected:.4f}, got {value:.4f}. Energy in the mask = "
                                 f"sum(map * mask) / sum(map).{extra}", hint=1)
    return report(True, "your energy-in-mask is right on every case, the all-zero map included.")


def solution_energy():
    """Map total on the mask over map total; guard the all-zero map."""
    def energy(heatmap, mask):
        total = heatmap.sum()
        return float((heatmap * mask).sum() / total) if total > 0 else 0.0

    return energy


# --- Exercise 3: Spearman rank correlation ------------------------------------------------------

_SPEARMAN_CASES = [
    # (a, b, expected, what): the expected values are worked out by hand
    ([1.0, 2, 3, 4, 5], [7.0, 9, 10, 20, 30], 1.0, "b rises with a (not in a straight line)"),
    ([1.0, 2, 3, 4, 5], [5.0, 4, 3, 2, 1], -1.0, "b falls as a rises"),
    # the values are their own ranks, in no order: (3, 1, 2) against (1, 3, 2), centred (1, -1, 0).(-1, 1, 0) = -2
    ([3.0, 1, 2], [1.0, 3, 2], -1.0, "the values are not in order"),
    # ranks a = 1,2,3,4; b = 1.5,1.5,3.5,3.5; centred: (-1.5,-.5,.5,1.5).(-1,-1,1,1) = 4, norms sqrt(5) and 2
    ([1.0, 2, 3, 4], [0.0, 0, 1, 1], 2 / math.sqrt(5), "b has ties"),
    # ranks a = 2,5,1,4,3,6; b = 1.5,5,1.5,5,3,5 (the 1 ranks 3: two values lie below it); both means 3.5;
    # centred a.b = 3 + 2.25 + 5 + .75 + .25 + 3.75 = 15, squared norms 17.5 and 15: 15 / sqrt(17.5 * 15) = sqrt(6/7)
    ([2.0, 5, 1, 4, 3, 6], [0.0, 2, 0, 2, 1, 2], math.sqrt(6 / 7), "b has ties with gaps between them"),
]


def _pearson_of(rank_fn, a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson's correlation of ``rank_fn(a)`` and ``rank_fn(b)``: the check's model of a wrong ranking."""
    ra, rb = rank_fn(a.flatten()).double(), rank_fn(b.flatten()).double()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float(ra @ rb / (ra.norm() * rb.norm()))


def _order_not_ranks(v: torch.Tensor) -> torch.Tensor:
    """``argsort`` once: the positions in sorted order, which are not the ranks."""
    return v.argsort(stable=True)


def _dense_ranks(v: torch.Tensor) -> torch.Tensor:
    """Ties share a rank but leave no gap after them (``torch.unique``'s inverse): 0, 0, 1 instead of 1.5, 1.5, 3."""
    return torch.unique(v, return_inverse=True)[1]


@callable_check("a function spearman_corr(a, b)")
def check_spearman(answer) -> bool:
    """``answer``: a function ``spearman_corr(a, b) -> float`` with average ranks for ties."""
    for a, b, expected, what in _SPEARMAN_CASES:
        ta, tb = torch.tensor(a).reshape(1, -1), torch.tensor(b).reshape(1, -1)   # maps: (1, n)
        value, problem = call_for_number(answer, ta.clone(), tb.clone(), where=f"when {what}")
        if problem:
            return report(False, problem)
        if abs(value - expected) > 1e-6:
            if what == "b has ties" and abs(value - 1.0) < 1e-6:
                return report(False, "with ties you returned 1.0: tied values must share their average rank "
                                     "(here 1.5, 1.5, 3.5, 3.5), not get distinct ranks.", hint=1)
            if what.startswith("b rises"):
                return report(False, f"expected 1.0 when b rises with a, got {value:.4f}: correlate the *ranks*, "
                                     "not the values (that would be Pearson's correlation).", hint=1)
            if abs(value - _pearson_of(_order_not_ranks, ta, tb)) < 1e-6:
                return report(False, f"when {what} expected {expected:.4f}, got {value:.4f}: one `argsort()` gives "
                                     "the *positions* in sorted order, not each value's rank. A value's rank is 1 + "
                                     "how many values are smaller (section 4's `average_ranks`).", hint=1)
            if abs(value - _pearson_of(_dense_ranks, ta, tb)) < 1e-6:
                return report(False, f"when {what} expected {expected:.4f}, got {value:.4f}: after a group of ties "
                                     "the ranks must skip. In (0, 0, 1) the zeros share 1.5 (the average of ranks 1 "
                                     "and 2) and the 1 ranks 3, not 2 (what `torch.unique`'s inverse gives).", hint=1)
            return report(False, f"when {what} expected {expected:.4f}, got {value:.4f}.", hint=2)
    return report(True, "Pearson's correlation of average ranks: right on every case, ties included.")


def solution_spearman():
    """Average ranks by counting (smaller values, plus half the ties), then Pearson's correlation."""
    def spearman_corr(a, b):
        def ranks(v):
            v = v.flatten().double()
            smaller = (v[None, :] < v[:, None]).sum(dim=1)
            equal = (v[None, :] == v[:, None]).sum(dim=1)
            return smaller + (equal + 1) / 2

        ra, rb = ranks(a), ranks(b)
        ra, rb = ra - ra.mean(), rb - rb.mean()
        return float(ra @ rb / (ra.norm() * rb.norm()))

    return spearman_corr
