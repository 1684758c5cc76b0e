"""Driving JupyterLab's own UI with Playwright: open a notebook, run it, read it, use its widgets.

Every wait is on a state of the page (the kernel indicator, the cells' prompts, a widget's
output), with a time limit, never a fixed sleep: JupyterLab is asynchronous and a loaded
2-core machine is slow.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from playwright.sync_api import Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
SHOWN = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook in the visible tab
PROMPTS_JS = (f"() => [...document.querySelectorAll('{SHOWN} .jp-CodeCell .jp-InputPrompt')]"
              ".map(e => e.innerText.trim())")
IDLE_JS = """() => {
  const indicator = document.querySelector('SHOWN .jp-Notebook-ExecutionIndicator');
  return indicator !== null && indicator.dataset.status === 'idle';
}""".replace("SHOWN", SHOWN)
# Finished: nothing queued or running ([*]), the first cell has run, the kernel is idle.
RUN_DONE_JS = """() => {
  const prompts = [...document.querySelectorAll('SHOWN .jp-CodeCell .jp-InputPrompt')].map(e => e.innerText.trim());
  const indicator = document.querySelector('SHOWN .jp-Notebook-ExecutionIndicator');
  return prompts.length > 0 && !prompts.includes('[*]:') && prompts[0] !== '[ ]:' && prompts[0] !== '[]:'
    && indicator !== null && indicator.dataset.status === 'idle';
}""".replace("SHOWN", SHOWN)
# What a widget output shows: its text and its images (a new figure is a new data: URL).
SNAPSHOT_JS = """(el) => el.innerText + '\\n' + [...el.querySelectorAll('img')].map(i => i.src).join('\\n')"""
# The outermost ipywidgets boxes that hold controls and an output: the course's explorers.
EXPLORER = ".widget-vbox:has(.widget-output):has(.widget-slider, .widget-dropdown):not(.widget-vbox .widget-vbox)"


def open_notebook(page: Page, lab, name: str, timeout_s: float = 120) -> None:
    """Open notebooks/<name> in JupyterLab, in a workspace of its own (no tab of an earlier test
    comes back), and wait until its kernel is up and idle."""
    workspace = re.sub(r"\W", "-", name)
    page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{name}?token={lab.token}")
    page.locator(f"{SHOWN} .jp-Notebook").first.wait_for(state="visible", timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        dialog = page.locator(".jp-Dialog")
        if dialog.count() and "Select Kernel" in dialog.first.inner_text():
            dialog.get_by_role("button", name="Select", exact=True).click()
        sessions = [s for s in lab.api("sessions") if s["path"].endswith(name)]
        if sessions and sessions[0]["kernel"]["execution_state"] == "idle" and page.evaluate(IDLE_JS):
            return
        page.wait_for_timeout(250)  # polling interval between two looks at the state, not a wait for it
    raise AssertionError(f"{name}: the kernel did not start and go idle within {timeout_s:.0f} s\n{lab.log_tail()}")


def run_all_cells(page: Page, timeout_s: float = 300) -> float:
    """Run > Run All Cells from the menu bar; wait until the run ends. Returns the seconds it took."""
    start = time.monotonic()
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    try:
        page.wait_for_function(RUN_DONE_JS, timeout=timeout_s * 1000, polling=500)
    except PlaywrightTimeout:
        prompts = page.evaluate(PROMPTS_JS)
        raise AssertionError(f"the notebook did not finish within {timeout_s:.0f} s; prompts: {prompts}") from None
    return time.monotonic() - start


def error_outputs(scope: Page | Locator) -> list[str]:
    """Texts of the error outputs shown (tracebacks, in cells or in widget outputs)."""
    if isinstance(scope, Page):
        scope = scope.locator(SHOWN)
    texts = [el.inner_text() for el in scope.locator(STDERR).all()]
    return [t for t in texts if "Traceback" in t or re.search(r"^\w*(Error|Exception)\b", t, re.M)]


def cells_not_run(page: Page) -> list[int]:
    """Indexes (among code cells) of those that never ran: JupyterLab stops at the first error."""
    return [i for i, p in enumerate(page.evaluate(PROMPTS_JS)) if not re.fullmatch(r"\[\d+\]:", p)]


# The status bar's kernel status ("Python 3 (ipykernel) | Idle") follows every message the
# kernel handles, widget callbacks included; the toolbar's execution indicator follows cells only.
STATUSBAR_IDLE_JS = """() => [...document.querySelectorAll(
    '#jp-main-statusbar .jp-StatusBar-TextItem, #jp-main-statusbar span')]
  .some(e => /\\|\\s*Idle\\s*$/.test(e.innerText))"""


def wait_idle(page: Page, lab, timeout_s: float = 120) -> None:
    """Wait until the kernel has handled everything: status bar says Idle, and so does the server."""
    deadline = time.monotonic() + timeout_s
    page.wait_for_function(IDLE_JS, timeout=timeout_s * 1000, polling=200)
    while time.monotonic() < deadline:
        page.wait_for_function(STATUSBAR_IDLE_JS, timeout=max(1, deadline - time.monotonic()) * 1000, polling=200)
        server_idle = all(s["kernel"]["execution_state"] == "idle" for s in lab.api("sessions"))
        if server_idle and page.evaluate(STATUSBAR_IDLE_JS):
            return
        page.wait_for_timeout(200)  # polling interval between two looks at the state
    raise AssertionError(f"the kernel did not go idle within {timeout_s:.0f} s")


@dataclass
class Change:
    """One operation on an explorer's control, and what the control showed before and after."""

    control: str
    before: str
    after: str


def _control_label(control: Locator) -> str:
    label = control.locator(".widget-label").first
    return label.inner_text().strip() if label.count() else "?"


def _wait_for_new_output(page: Page, lab, output: Locator, before: str, what: str, timeout_s: float) -> str:
    try:
        page.wait_for_function(f"([el, before]) => ({SNAPSHOT_JS})(el) !== before",
                               arg=[output.element_handle(), before], timeout=timeout_s * 1000, polling=200)
    except PlaywrightTimeout:
        raise AssertionError(f"{what}, but the explorer's output did not change within {timeout_s:.0f} s: "
                             "is the control's observer wired to the redraw?") from None
    wait_idle(page, lab)
    after = output.evaluate(SNAPSHOT_JS)
    assert after.strip(), f"{what}, and the explorer's output is now empty"
    return after


def move_slider(page: Page, lab, explorer: Locator, slider: Locator, timeout_s: float = 90) -> Change:
    """Focus the slider's handle and press the right arrow (the left one at the maximum)."""
    output = explorer.locator(".widget-output").first
    readout = slider.locator(".widget-readout").first
    before_value, before = readout.inner_text().strip(), output.evaluate(SNAPSHOT_JS)
    handle = slider.locator(".noUi-handle").first
    handle.scroll_into_view_if_needed()
    handle.focus()
    page.keyboard.press("ArrowRight")
    try:
        page.wait_for_function("([el, v]) => el.innerText.trim() !== v",
                               arg=[readout.element_handle(), before_value], timeout=5_000, polling=100)
    except PlaywrightTimeout:  # already at the maximum
        page.keyboard.press("ArrowLeft")
    after_value = readout.inner_text().strip()
    assert after_value != before_value, f"slider {_control_label(slider)!r} did not move from {before_value}"
    what = f"the slider {_control_label(slider)!r} moved from {before_value} to {after_value}"
    _wait_for_new_output(page, lab, output, before, what, timeout_s)
    return Change(_control_label(slider), before_value, after_value)


def change_dropdown(page: Page, lab, explorer: Locator, dropdown: Locator, timeout_s: float = 90) -> Change | None:
    """Choose the next option of a dropdown; None when it has only one option."""
    output = explorer.locator(".widget-output").first
    select = dropdown.locator("select").first
    options = select.locator("option").all_inner_texts()
    if len(options) < 2:
        return None
    current = select.evaluate("s => s.options[s.selectedIndex].text")
    choice = options[(options.index(current) + 1) % len(options)]
    before = output.evaluate(SNAPSHOT_JS)
    select.scroll_into_view_if_needed()
    select.select_option(label=choice)
    what = f"the dropdown {_control_label(dropdown)!r} changed from {current!r} to {choice!r}"
    _wait_for_new_output(page, lab, output, before, what, timeout_s)
    return Change(_control_label(dropdown), current, choice)


def operate_explorer(page: Page, lab, explorer: Locator) -> list[Change]:
    """Use every slider and dropdown of one explorer once; each must change its output."""
    changes = []
    for slider in explorer.locator(".widget-slider").all():
        changes.append(move_slider(page, lab, explorer, slider))
    for dropdown in explorer.locator(".widget-dropdown").all():
        change = change_dropdown(page, lab, explorer, dropdown)
        if change is not None:
            changes.append(change)
    return changes


# The course's photo chooser (course_utils.photo_chooser): the box whose first row holds an upload button.
CHOOSER = ".widget-vbox:has(> .widget-hbox .widget-upload)"


def upload_photo(page: Page, lab, chooser: Locator, path, expect: str, timeout_s: float = 90) -> str:
    """Pick ``path`` with the chooser's upload button; wait until its message contains ``expect``.

    ipywidgets' FileUpload keeps its ``<input type="file">`` out of the page (the button clicks it), so
    the file goes in through the file dialog it opens, which Playwright answers (``set_files`` is
    ``set_input_files`` on that very input). Returns the chooser's message.
    """
    message = chooser.locator(":scope > .widget-html").first
    button = chooser.locator(".widget-upload").first
    button.scroll_into_view_if_needed()
    with page.expect_file_chooser(timeout=10_000) as dialog:
        button.click()
    dialog.value.set_files(str(path))
    try:
        page.wait_for_function("([el, text]) => el.innerText.includes(text)", arg=[message.element_handle(), expect],
                               timeout=timeout_s * 1000, polling=200)
    except PlaywrightTimeout:
        raise AssertionError(f"uploaded {path}, but the chooser's message did not say {expect!r} within "
                             f"{timeout_s:.0f} s; it says {message.inner_text()!r}") from None
    wait_idle(page, lab)
    return message.inner_text()
