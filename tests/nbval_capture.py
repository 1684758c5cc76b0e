"""pytest plugin: keep what nbval executes, so ``make site`` need not run it again.

nbval runs each notebook cell by cell and keeps the outputs it received on the cell's
test item (``item.test_outputs``). This plugin collects them and, when a notebook ran
to the end with every cell passing, writes the executed notebook to
``.cache/executed/`` (see ``coursesite.executed``), tagged with the SHA-256 of the
source notebook and the kind of weights the kernels saw.

It also gives nbval's kernels matplotlib's inline backend. The test process itself
draws off-screen with Agg (``MPLBACKEND=Agg`` from the root conftest), but a kernel
that inherits Agg turns ``plt.show()`` into a no-op: no figure would ever reach an
output. With the inline backend the kernels render figures as a learner's kernel does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"

_runs: dict[str, dict] = {}  # notebook path -> {"items": [...], "failed": bool, "seconds": float}


def _is_nbval_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell_num")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """Start nbval's kernel (in the first cell's setup) with the inline backend."""
    if not _is_nbval_cell(item):
        yield
        return
    before = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = before


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when != "call" or not _is_nbval_cell(item):
        return
    report = outcome.get_result()
    run = _runs.setdefault(str(item.parent.path), {"items": [], "failed": False, "seconds": 0.0})
    run["items"].append(item)
    run["failed"] |= not report.passed
    run["seconds"] += call.duration


def pytest_sessionfinish(session):
    if not _runs:
        return
    import nbformat

    from coursesite.executed import weights_kind, write_executed

    weights = weights_kind()  # the kernels inherited this process's TORCH_HOME
    for path, run in _runs.items():
        items = run["items"]
        nb = nbformat.from_dict(items[0].parent.nb) if items else None
        if nb is None or run["failed"]:
            continue
        code_cells = [c for c in nb.cells if c.cell_type == "code"]
        ran = {it.cell_num: it.test_outputs for it in items if it.test_outputs is not None}
        if sorted(ran) != list(range(len(code_cells))):
            continue  # part of the notebook was deselected or skipped: not a full execution
        for number, cell in enumerate(code_cells):
            cell.outputs = [nbformat.from_dict(dict(o)) for o in ran[number]]
            for out in cell.outputs:  # nbval keeps execute_result's count; others have none
                if out.output_type == "execute_result":
                    out.execution_count = number + 1
            cell.execution_count = number + 1
        folder = os.environ.get("COURSE_EXECUTED_DIR")  # tests of this plugin write elsewhere
        write_executed(nb, path, weights=weights, executed_by="nbval (make test)", seconds=run["seconds"],
                       **({"folder": Path(folder)} if folder else {}))
    _runs.clear()

