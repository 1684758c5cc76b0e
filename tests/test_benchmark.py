"""course_utils.benchmark: warm-up is untimed, repeats are timed, summaries are right."""

from __future__ import annotations

import time

import pytest
import torch

from course_utils.benchmark import Timing, time_it


def test_warmup_calls_are_run_but_not_timed():
    calls = []
    timing = time_it(lambda: calls.append(1), warmup=2, repeats=3)
    assert len(calls) == 5
    assert timing.repeats == 3 and timing.warmup == 2 and len(timing.times_s) == 3


def test_measures_the_time_a_call_takes():
    timing = time_it(lambda: time.sleep(0.02), warmup=0, repeats=3)
    assert 0.018 <= timing.min_s and timing.median_s < 0.5


def test_a_slow_first_call_is_absorbed_by_the_warmup():
    state = {"first": True}

    def fn():
        if state["first"]:
            state["first"] = False
            time.sleep(0.2)

    assert time_it(fn, warmup=1, repeats=3).max_s < 0.1


def test_summaries_from_known_times():
    t = Timing(times_s=(0.010, 0.030, 0.020, 0.100), warmup=1)
    assert t.median_s == pytest.approx(0.025)
    assert t.min_s == 0.010 and t.max_s == 0.100
    assert t.spread_s == pytest.approx(0.090)
    assert t.median_ms == pytest.approx(25.0)
    assert t.per_item_ms(5) == pytest.approx(5.0)
    assert str(t) == "25.0 ms (median of 4, range 10.0-100.0 ms, 1 warm-up)"
    with pytest.raises(ValueError, match="at least 1"):
        t.per_item_ms(0)


def test_runs_under_inference_mode_by_default_and_can_keep_autograd():
    w = torch.ones(3, requires_grad=True)
    seen = {}

    def fn():
        seen["inference"] = torch.is_inference_mode_enabled()
        seen["requires_grad"] = (w * 2).requires_grad

    time_it(fn, warmup=0, repeats=1)
    assert seen == {"inference": True, "requires_grad": False}
    time_it(fn, warmup=0, repeats=1, inference_mode=False)
    assert seen == {"inference": False, "requires_grad": True}


def test_a_backward_pass_can_be_timed():
    w = torch.ones(3, requires_grad=True)
    timing = time_it(lambda: (w * 2).sum().backward(), warmup=1, repeats=2, inference_mode=False)
    assert timing.repeats == 2 and w.grad is not None and w.grad.tolist() == [6.0, 6.0, 6.0]


def test_bad_arguments_are_explained():
    with pytest.raises(TypeError, match="no arguments"):
        time_it(42)
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        time_it(lambda: None, repeats=0)
    with pytest.raises(ValueError, match="warmup must be 0 or more"):
        time_it(lambda: None, warmup=-1)
