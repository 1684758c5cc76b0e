"""Running a notebook again in the same kernel gives back what the previous run held.

Learners re-run cells and whole notebooks. Measured before the fix: notebook 10's kernel grew by
about a VGG16 (~550 MB) per pass, because each run's Grad-CAM explorer stayed open in ipywidgets'
registry, and its callbacks kept the old model and batch alive. Found later: a cell ending in
``model.requires_grad_(True)`` (which returns the model) kept each run's VGG16 in IPython's output
history ``Out[n]``; the rule for cells is in ``test_no_cell_ends_by_returning_a_model``.

Here a notebook runs three times in one kernel. After each pass the kernel collects garbage and
hands freed memory back to the system (glibc's ``malloc_trim``; without it the allocator keeps
freed pages and the resident size drifts up tens of MB a pass with nothing alive). The live tensors
must not grow, and the third pass may cost at most 100 MB more resident memory than the second.

Three runs of a notebook take most of a minute, so this one runs in its own step,
``make test-rerun`` (which ``.ci/run`` calls), not inside ``make test``.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from course_notebooks import NOTEBOOKS
from nbclient import NotebookClient

from course_utils import widgets

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import ctypes, gc, re, torch
gc.collect()
ctypes.CDLL("libc.so.6").malloc_trim(0)
live = sum(t.numel() * t.element_size() for t in gc.get_objects()
           if isinstance(t, torch.Tensor) and t.device.type == "cpu" and t._base is None)
rss = int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) * 1024
print("MEASURE", live, rss)
"""


def _passes(notebook: Path, passes: int = 3) -> list[tuple[int, int]]:
    nb = nbformat.read(str(notebook), as_version=4)
    probe = nbformat.v4.new_code_cell(PROBE)
    client = NotebookClient(nb, kernel_name="python3", timeout=600,
                            resources={"metadata": {"path": str(notebook.parent)}})
    found = []
    with client.setup_kernel():
        for _ in range(passes):
            for i, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, i)
            nb.cells.append(probe)
            client.execute_cell(probe, len(nb.cells) - 1)
            nb.cells.pop()
            text = "".join(o.get("text", "") for o in probe.outputs)
            live, rss = map(int, re.search(r"MEASURE (\d+) (\d+)", text).groups())
            found.append((live, rss))
    return found


@pytest.mark.skipif(os.environ.get("COURSE_RERUN_TEST") != "1", reason="three runs of a notebook: `make test-rerun`")
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and glibc's malloc_trim")
@pytest.mark.parametrize("name", ["10_grad_cam"])
def test_a_second_and_third_run_hold_no_more_than_the_first(name):
    (live1, _), (live2, rss2), (live3, rss3) = _passes(REPO / "notebooks" / f"{name}.ipynb")
    mib = 2**20
    assert live3 <= live1 + mib, f"live tensors grew from {live1 / mib:.0f} to {live3 / mib:.0f} MiB over 3 runs"
    assert rss3 - rss2 < 100 * 10**6, f"the third run cost {(rss3 - rss2) / 10**6:.0f} MB more than the second"


def test_showing_an_explorer_again_closes_the_one_before():
    """The mechanism, without a kernel: the second explorer from the same place closes the first."""
    import ipywidgets

    def draw():
        pass

    first = widgets.explorer([[ipywidgets.IntSlider()]], draw)
    slider = first.children[0].children[0]
    second = widgets.explorer([[ipywidgets.IntSlider()]], draw)
    assert first.comm is None and slider.comm is None, "the first explorer and its controls are closed"
    assert second.comm is not None
    widgets.close_widget(second)


# nn.Module methods that return the module itself: as a cell's last line, IPython shows the model and
# keeps it in Out[n] for the rest of the session, so a re-run cannot free the old one.
RETURNS_THE_MODULE = {"requires_grad_", "to", "eval", "train", "cuda", "cpu", "float", "half", "double",
                      "bfloat16", "apply", "to_empty", "share_memory", "zero_grad_"}


def _last_expression_method(source: str) -> str | None:
    """The method name called by a cell's last line, if that line is a bare call shown by IPython."""
    import ast
    import io
    import tokenize

    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT}
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type not in skip]
    if tokens and tokens[-1].string == ";":
        return None  # IPython shows nothing and keeps nothing (a comment after the ";" is fine)
    body = ast.parse(source).body
    last = body[-1].value if body and isinstance(body[-1], ast.Expr) else None
    if isinstance(last, ast.Call) and isinstance(last.func, ast.Attribute):
        return last.func.attr
    return None


def test_the_rule_catches_the_cell_that_leaked():
    assert _last_expression_method("x = 1\nmodel.requires_grad_(True)") == "requires_grad_"
    assert _last_expression_method("model.requires_grad_(True);") is None
    assert _last_expression_method("model.requires_grad_(True);  # a comment") is None
    assert _last_expression_method("model = model.eval()") is None


def test_no_cell_ends_by_returning_a_model():
    """No notebook cell's last line returns the model (e.g. ``model.eval()``): Out[] would keep it."""
    found = []
    for path in NOTEBOOKS:
        nb = nbformat.read(str(path), as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and _last_expression_method(cell.source) in RETURNS_THE_MODULE:
                found.append(f"{path.name} cell {i}: {cell.source.strip().splitlines()[-1]}")
    assert not found, "end these lines with ';' or assign the result: " + "; ".join(found)
