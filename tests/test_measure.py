"""`make measure`: the instructor's guide's numbers and workshop plans come from measurements."""

from __future__ import annotations

import json

import pytest

from coursesite import REPO, notebook_paths, plans
from coursesite.measure import JSON_PATH, MD_PATH, downloads, render, study_minutes


def _data(names=("00_setup", "02_vgg_architecture", "03_build_vgg_by_hand")) -> dict:
    rows = [{"notebook": n, "seconds": 12.0 + i, "peak_rss_mb": 1000 + 100 * i,
             "downloads": [{"arch": "vgg16", "file": "vgg16-397923af.pth", "mb": 528}] if i == 2 else [],
             "load_before": 1.0} for i, n in enumerate(names)]
    return {"measured": "today", "machine": "2 CPU cores", "python": "3.11", "torch": "2", "weights": "stand-in",
            "notebooks": rows}


def test_render_puts_every_measured_number_in_the_table():
    text = render(_data(), workshop_plans=())
    study = study_minutes(REPO / "notebooks" / "02_vgg_architecture.ipynb")
    assert f"| `02_vgg_architecture` | 13 s | 1,100 MiB | none | {study} min | none |" in text
    assert "`vgg16-397923af.pth` (528 MiB)" in text
    assert "The most memory: `03_build_vgg_by_hand`, 1,200 MiB" in text


def test_render_refuses_a_plan_with_a_problem():
    wrong = plans.Plan("wrong", 30, before=(), slots=((("hands_on", "grad_cam"),),))
    with pytest.raises(ValueError, match="which it requires"):
        render(_data(), workshop_plans=(wrong,))


def test_the_course_plans_name_real_notebooks_and_fit_the_committed_measurements():
    if not JSON_PATH.is_file():
        pytest.skip("no docs/measurements.json yet: run `make measure`")
    data = json.loads(JSON_PATH.read_text())
    assert [r["notebook"] for r in data["notebooks"]] == [p.stem for p in notebook_paths()], \
        "the measurements are from another set of notebooks: run `make measure` again"
    assert MD_PATH.read_text() == render(data) + "\n", (
        "docs/measurements.md is stale: run `python scripts/sync_notebooks.py`")


@pytest.mark.parametrize("notebook", notebook_paths(), ids=lambda p: p.stem)
def test_each_notebook_states_its_study_time(notebook):
    assert 5 <= study_minutes(notebook) <= 60


def test_downloads_are_read_from_the_load_pretrained_calls():
    found = {nb.stem: [d["arch"] for d in downloads(nb)] for nb in notebook_paths()}
    assert any(found.values()), "no notebook loads pretrained weights: the scan is broken"
    assert found[notebook_paths()[0].stem] == []  # setup checks the files, it never loads them


# Binder gives a running session at most 2 GB, the Jupyter server included (mybinder.org's user
# guidelines); the course keeps every kernel at 1.6 GiB or less, as `make measure` measures it here.
# Memory, unlike time, is steady from run to run, so this can be a hard limit.
BINDER_KERNEL_LIMIT_MIB = 1.6 * 1024


def test_every_notebook_fits_binder_as_measured():
    measured = {r["notebook"]: r for r in json.loads(JSON_PATH.read_text())["notebooks"]}
    missing = [p.stem for p in notebook_paths() if p.stem not in measured]
    assert not missing, f"not measured yet (run `python course.py measure`): {missing}"
    over = {n: r["peak_rss_mb"] for n, r in measured.items() if r["peak_rss_mb"] > BINDER_KERNEL_LIMIT_MIB}
    assert not over, (f"kernel peak over {BINDER_KERNEL_LIMIT_MIB:,.0f} MiB, too much for a 2 GB Binder: {over}. "
                      "Free what is done with, load weights once (load_pretrained), train only what must.")
