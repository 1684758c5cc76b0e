"""The course as a learner meets it: JupyterLab in a real (headless) Chromium.

nbval proves every notebook runs in a kernel; it never renders a widget or clicks a control.
Here each notebook with an explorer widget is opened in JupyterLab, run from the Run menu,
checked for error output, and then every slider and dropdown of every explorer is used once:
the explorer's output must change (a new figure or new text). In notebook 10 a photo is then
uploaded into the photo chooser, then a file that is no photo (on the same page: the notebook runs
once). Notebook 00 is run and its status tables must render. The status bar shows memory use against
the limit. A screenshot of each lands in .cache/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from course_notebooks import NOTEBOOKS, code
from jupyterlab_ui import (
    CHOOSER,
    EXPLORER,
    SHOWN,
    SNAPSHOT_JS,
    cells_not_run,
    error_outputs,
    open_notebook,
    operate_explorer,
    run_all_cells,
    upload_photo,
    wait_idle,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeout

REPO = Path(__file__).resolve().parent.parent
EXPLORER_CALL = re.compile(r"\b\w+_explorer\(")


def notebooks_with_explorers() -> list[Path]:
    """Every notebook whose code calls an ``*_explorer(`` or ``*_browser(`` helper."""
    return [p for p in NOTEBOOKS if EXPLORER_CALL.search(code(p))]


def run_cleanly(page, lab, name: str) -> float:
    open_notebook(page, lab, name)
    seconds = run_all_cells(page)
    wait_idle(page, lab)
    errors = error_outputs(page)
    assert not errors, f"{name}: error output after Run All Cells:\n" + "\n---\n".join(e[-2000:] for e in errors)
    assert not cells_not_run(page), f"{name}: code cells {cells_not_run(page)} did not run"
    return seconds


def test_status_bar_shows_memory_against_the_limit(page, lab):
    """jupyter-resource-usage's "Mem: 312 / 49152 MB", the limit being the one scripts/lab.py was given."""
    page.goto(f"{lab.url}/lab/workspaces/status-bar?token={lab.token}")
    shown = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"^Mem: "))
    shown.first.wait_for(state="visible", timeout=120_000)
    try:  # the extension refreshes its numbers every few seconds
        page.wait_for_function("() => /Mem: [0-9.]+ \\/ /.test(document.querySelector('#jp-main-statusbar').innerText)",
                               timeout=30_000, polling=250)
    except PlaywrightTimeout:
        pass
    text = " ".join(shown.first.inner_text().split())
    m = re.fullmatch(r"Mem: ([0-9.]+) / ([0-9.]+) (MB|GB)", text)
    assert m, f"the status bar shows {text!r}, not the memory used and its limit"
    used, limit = float(m.group(1)), float(m.group(2))
    scale = {"MB": 2**20, "GB": 2**30}[m.group(3)]
    assert abs(limit * scale - lab.mem_limit) < 0.01 * lab.mem_limit, f"{text!r}: not the limit of {lab.mem_limit} B"
    assert 0 < used < limit, text


def test_the_explorer_notebooks_are_found():
    assert len(notebooks_with_explorers()) >= 3, "the course has explorers in 01, 06 and 07 at least"


@pytest.mark.parametrize("notebook", notebooks_with_explorers(), ids=lambda p: p.stem)
def test_explorers_respond_to_their_controls(page, lab, notebook, tmp_path):
    """Every control of every explorer changes its output; in notebook 10, then, the photo upload works."""
    seconds = run_cleanly(page, lab, notebook.name)
    expected = len(EXPLORER_CALL.findall(code(notebook)))
    explorers = page.locator(f"{SHOWN} {EXPLORER}").all()
    assert len(explorers) >= expected, \
        f"{notebook.name}: {expected} explorer call(s) in the code, {len(explorers)} rendered"
    for number, explorer in enumerate(explorers, 1):
        changes = operate_explorer(page, lab, explorer)
        assert changes, f"{notebook.name}: explorer {number} has no control that could be operated"
        errors = error_outputs(explorer)
        assert not errors, \
            f"{notebook.name}: explorer {number} shows an error after its controls moved:\n{errors[0][-2000:]}"
        explorer.scroll_into_view_if_needed()
        images = explorer.locator(".widget-output img").count()
        print(f"{notebook.stem}: explorer {number} shows {images} figure(s) and "
              f"{explorer.locator('.widget-output table').count()} table(s)")
        print(f"{notebook.stem}: ran in {seconds:.0f} s; explorer {number}: "
              + ", ".join(f"{c.control} {c.before} -> {c.after}" for c in changes))
    if notebook.stem == "10_grad_cam":  # the notebook has run already: the upload is tested on this page
        check_an_uploaded_photo_is_explained(page, lab, tmp_path)


def test_setup_notebook_shows_its_status_tables(page, lab):
    from course_utils.weights import COURSE_WEIGHTS, file_name, get_weights

    run_cleanly(page, lab, "00_setup.ipynb")
    tables = page.locator(f"{SHOWN} .jp-OutputArea-output table").all()
    headers = [t.locator("th").all_inner_texts() for t in tables]
    weights = [t for t, h in zip(tables, headers) if [x.strip() for x in h] == ["file", "size", "status"]]
    assert weights, f"no weights status table among the outputs' tables (headers: {headers})"
    rows = weights[0].locator("tbody tr").all_inner_texts()
    for arch, name in COURSE_WEIGHTS.items():
        expected = file_name(get_weights(arch, name))
        row = next((r for r in rows if expected in r), None)
        assert row is not None, f"no row for {expected} in the weights table: {rows}"
        assert re.search(r"genuine|stand-in|not downloaded", row), f"row without a status: {row!r}"
    report = next((t for t in tables if "torch" in t.inner_text()), None)
    assert report is not None, "the environment report (versions, device) did not render as a table"
    weights[0].scroll_into_view_if_needed()


def test_the_upload_is_checked_in_the_grad_cam_notebook():
    """Running notebook 10 in the browser takes most of a minute, so its explorer test checks the upload too."""
    assert "10_grad_cam" in [p.stem for p in notebooks_with_explorers()]


def check_an_uploaded_photo_is_explained(page, lab, tmp_path):
    """Notebook 10 (already run) on a learner's own photo: upload a JPEG through the chooser's file dialog,
    and its top classes and its Grad-CAM map are drawn; upload a text file named .jpg, and a message says so
    while the map stays."""
    from PIL import Image, ImageOps

    from course_utils.images import shipped_images

    photo = tmp_path / "my_own_photo.jpg"
    ImageOps.mirror(Image.open(shipped_images()["coffee"]).convert("RGB")).save(photo, quality=90)
    not_a_photo = tmp_path / "holiday.jpg"
    not_a_photo.write_text("a text file, whatever its name says\n")

    chooser = page.locator(f"{SHOWN} {CHOOSER}")
    assert chooser.count() == 1, f"10_grad_cam: {chooser.count()} photo choosers rendered, expected 1"
    output = chooser.locator(".widget-output").first
    before = output.evaluate(SNAPSHOT_JS)

    said = upload_photo(page, lab, chooser, photo, expect=photo.name)
    after = output.evaluate(SNAPSHOT_JS)
    figures = lambda snapshot: {line for line in snapshot.splitlines() if line.startswith("data:image")}  # noqa: E731
    assert figures(after) and figures(after) != figures(before), "the upload drew no new figure"
    assert photo.name in after and "top 5" in after, f"the output does not name the photo's top classes:\n{after[:500]}"
    assert not error_outputs(chooser), error_outputs(chooser)[0][-2000:]
    # the kernel emptied the upload's value, and the page's copy with it: nothing to save into the notebook
    assert chooser.locator(".widget-upload").inner_text().strip().endswith("(0)")
    print(f"10_grad_cam: uploaded {photo.name}: {said!r}")

    said = upload_photo(page, lab, chooser, not_a_photo, expect="has not changed")
    assert output.evaluate(SNAPSHOT_JS) == after, "a bad file changed what is shown"
    assert not error_outputs(chooser), error_outputs(chooser)[0][-2000:]
    print(f"10_grad_cam: uploaded {not_a_photo.name}: {said!r}")
