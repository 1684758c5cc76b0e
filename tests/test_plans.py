"""Workshop plans an instructor can follow: prerequisites first, slots that fit, demos with a defined path.

The course's own plans must pass; hand-made broken plans show that each rule can fail.
"""

from __future__ import annotations

import re

import pytest

from coursesite import notebook_paths, plans
from coursesite.measure import prerequisites
from coursesite.plans import DEMOS, PLANS, REQUIRES, Plan, problems

NOTEBOOKS = plans.by_name()


def test_every_notebook_has_its_requirements_written_down():
    assert set(REQUIRES) == set(NOTEBOOKS), "coursesite/plans.py REQUIRES must list every notebook, and only those"
    assert set(plans.LEAVE_KNOWING) == set(NOTEBOOKS)


def test_a_notebook_requires_only_notebooks_that_come_before_it():
    order = list(NOTEBOOKS)
    for name, needed in REQUIRES.items():
        for other in needed:
            assert order.index(other) < order.index(name), f"{name} requires {other}, which comes later"


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_the_header_names_every_notebook_it_requires(path):
    stated = prerequisites(path)
    for needed in REQUIRES[path.stem[3:]]:
        number = NOTEBOOKS[needed].stem[:2]
        assert re.search(rf"\b{number}\b", stated), (
            f"{path.name}'s Prerequisites line should name notebook {number} ({needed}): {stated!r}")


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: p.title.split(" (")[0])
def test_the_course_plans_are_sound(plan):
    assert problems(plan) == []
    text = "\n".join(plans.render(plan))
    assert "**total**" in text


@pytest.mark.parametrize("name", sorted(DEMOS))
def test_a_demo_is_a_defined_path_shorter_than_the_notebook(name):
    path = NOTEBOOKS[name]
    demo = plans.item_minutes("demo", path)
    assert 0 < demo < plans.item_minutes("hands_on", path)
    assert len(DEMOS[name].say.split()) >= 8, "say what the demo is for"


def _slot(*items):
    return tuple(items)


def test_a_plan_that_breaks_the_prerequisite_order_fails():
    wrong = Plan("wrong", 400, before=("setup",),
                 slots=(_slot(("hands_on", "grad_cam")), _slot(("hands_on", "pretrained_inference"))))
    found = problems(wrong)
    assert any("grad_cam comes before pretrained_inference" in p for p in found), found


def test_a_slot_that_overflows_fails():
    everything = Plan("crammed", 1000, before=("setup", "pytorch_essentials"),
                      slots=(_slot(("hands_on", "vgg_architecture"), ("hands_on", "pretrained_inference")),))
    assert any("slot 1 needs" in p and "more than its 90" in p for p in problems(everything))


def test_a_plan_longer_than_its_day_fails():
    slots = (_slot(("hands_on", "pytorch_essentials")), _slot(("hands_on", "vgg_architecture")))
    assert any("more than its 60" in p for p in problems(Plan("short day", 60, ("setup",), slots)))


def test_a_demo_without_a_path_fails():
    plan = Plan("no path", 400, ("setup", "pytorch_essentials"), (_slot(("demo", "pretrained_inference"),
                                                                       ("demo", "inference_in_depth")),))
    assert any("inference_in_depth is shown as a demo" in p for p in problems(plan))


def test_a_demo_of_a_section_that_does_not_exist_is_refused(monkeypatch):
    monkeypatch.setitem(DEMOS, "feature_maps", plans.Demo((42,), "a section that was renumbered away"))
    with pytest.raises(ValueError, match="no section"):
        plans.item_minutes("demo", NOTEBOOKS["feature_maps"])


def test_the_half_day_tells_one_story():
    """Set up at home, then the architecture, pretrained inference and Grad-CAM, in that order."""
    half = PLANS[0]
    placed = [n for slot in half.slots if slot != plans.LUNCH for _, n in slot]
    assert "setup" in half.before
    for earlier, later in (("vgg_architecture", "pretrained_inference"), ("pretrained_inference", "grad_cam")):
        assert placed.index(earlier) < placed.index(later)
