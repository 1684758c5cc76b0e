"""`make measure`: the instructor's guide's numbers and workshop plans come from measurements."""

from __future__ import annotations

import json

import pytest

from coursesite import notebook_paths
from coursesite.measure import JSON_PATH, PLANS, downloads, render, study_minutes


def _data(study: int = 10, names=("00_setup", "02_vgg_architecture", "03_build_vgg_by_hand")) -> dict:
    rows = [{"notebook": n, "seconds": 12.0 + i, "peak_rss_mb": 1000 + 100 * i, "study_minutes": study,
             "downloads": [{"arch": "vgg16", "file": "vgg16-397923af.pth", "mb": 528}] if i == 2 else [],
             "load_before": 1.0} for i, n in enumerate(names)]
    return {"measured": "today", "machine": "2 CPU cores", "python": "3.11", "torch": "2", "weights": "stand-in",
            "notebooks": rows}


def test_render_puts_every_measured_number_in_the_table():
    text = render(_data(), plans={"Short": {"minutes": 60, "before": ["setup"], "hands_on": ["*"], "demo": []}})
    assert "| `02_vgg_architecture` | 13 s | 1,100 MiB | none | 10 min | none |" in text
    assert "`vgg16-397923af.pth` (528 MB)" in text
    assert "The most memory: `03_build_vgg_by_hand`, 1,200 MiB" in text
    # "*" expands to every notebook not named elsewhere: 2 x (10 study + 10 discussion) = 40 minutes
    assert "**40** of 60" in text


def test_a_plan_that_does_not_fit_its_slot_is_refused():
    with pytest.raises(ValueError, match="more than its 30"):
        render(_data(study=20), plans={"Tight": {"minutes": 30, "before": [], "hands_on": ["*"], "demo": []}})


def test_a_plan_naming_a_missing_notebook_is_refused():
    with pytest.raises(ValueError, match="do not exist"):
        render(_data(), plans={"Old": {"minutes": 300, "before": [], "hands_on": ["no_such"], "demo": []}})


def test_a_notebook_left_out_of_a_plan_is_listed_as_homework():
    text = render(_data(), plans={"P": {"minutes": 300, "before": [], "hands_on": ["vgg_architecture"], "demo": []}})
    assert "Not in this plan (homework): `00_setup`, `03_build_vgg_by_hand`." in text


def test_the_course_plans_name_real_notebooks_and_fit_the_committed_measurements():
    if not JSON_PATH.is_file():
        pytest.skip("no docs/measurements.json yet: run `make measure`")
    data = json.loads(JSON_PATH.read_text())
    assert [r["notebook"] for r in data["notebooks"]] == [p.stem for p in notebook_paths()], \
        "the measurements are from another set of notebooks: run `make measure` again"
    render(data, plans=PLANS)


@pytest.mark.parametrize("notebook", notebook_paths(), ids=lambda p: p.stem)
def test_each_notebook_states_its_study_time(notebook):
    assert 1 <= study_minutes(notebook) <= 120


def test_downloads_are_read_from_the_load_pretrained_calls():
    found = {nb.stem: [d["arch"] for d in downloads(nb)] for nb in notebook_paths()}
    assert any(found.values()), "no notebook loads pretrained weights: the scan is broken"
    assert found[notebook_paths()[0].stem] == []  # setup checks the files, it never loads them
