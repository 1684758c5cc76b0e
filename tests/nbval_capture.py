"""pytest plugin: keep what nbval executes, so ``make site`` need not run it again.

nbval runs each notebook cell by cell and keeps the outputs it received on the cell's
test item (``item.test_outputs``). This plugin collects them and, when a notebook ran
to the end with every cell passing, writes the executed notebook to
``.cache/executed/`` (see ``coursesite.executed``), tagged with the SHA-256 of the
source notebook and the kind of weights the kernels saw. It also records what the
notebook cost: the wall time of its cells, the kernel's peak resident memory (and that of
the largest process the kernel started), and the load average before it ran.
``make measure`` and ``make site`` run stale notebooks through this same path.

It also gives nbval's kernels matplotlib's inline backend. The test process itself
draws off-screen with Agg (``MPLBACKEND=Agg`` from the root conftest), but a kernel
that inherits Agg turns ``plt.show()`` into a no-op: no figure would ever reach an
output. With the inline backend the kernels render figures as a learner's kernel does.
"""

from __future__ import annotations

import os
from pathlib import Path
from queue import Empty

import pytest

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"

# Run in the kernel after the notebook's last cell; not kept in the notebook.
_PEAK_RSS_PROBE = (
    "import resource as _r, sys as _s\n"
    "_u = 1 if _s.platform == 'darwin' else 1024\n"  # macOS reports bytes, Linux KiB
    "print('PEAK_RSS_BYTES', _r.getrusage(_r.RUSAGE_SELF).ru_maxrss * _u,"
    " _r.getrusage(_r.RUSAGE_CHILDREN).ru_maxrss * _u)"
)

_runs: dict[str, dict] = {}  # notebook path -> what its cells left


def _silenced(source: str) -> bool:
    """Whether the cell ends with ``;``, which in Jupyter hides its result (``check_x(answer);``).

    nbval runs cells with ``store_history=False``, and then IPython shows the result anyway:
    without this, every exercise cell of the site and the handouts would show a stray ``False``.
    """
    import io
    import tokenize

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return False
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER, tokenize.DEDENT, tokenize.INDENT}
    last = [tok for tok in tokens if tok.type not in skip]
    return bool(last) and last[-1].string == ";"  # IPython's own rule: the last real token


def _is_nbval_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell_num")


def _run(item) -> dict:
    return _runs.setdefault(str(item.parent.path), {"items": [], "failed": False, "seconds": 0.0,
                                                    "load_before": os.getloadavg()[0], "peak": None})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """Start nbval's kernel (in the first cell's setup) with the inline backend."""
    if not _is_nbval_cell(item):
        yield
        return
    _run(item)
    before = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = before


def _peak_rss(parent, timeout: float = 30) -> tuple[int, int] | None:
    """Ask nbval's kernel for its own and its children's peak RSS, in bytes; None if it cannot say."""
    try:
        msg_id = parent.kernel.execute_cell_input(_PEAK_RSS_PROBE, allow_stdin=False)
        text = ""
        while True:
            msg = parent.get_kernel_message(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                text += msg["content"]["text"]
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        kernel, children = (int(v) for v in text.split("PEAK_RSS_BYTES")[1].split()[:2])
        return kernel, children
    except (Empty, IndexError, ValueError, RuntimeError):
        return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when != "call" or not _is_nbval_cell(item):
        return
    report = outcome.get_result()
    run = _run(item)
    run["items"].append(item)
    run["failed"] |= not report.passed
    run["seconds"] += call.duration
    if item.cell_num == sum(c.cell_type == "code" for c in item.parent.nb.cells) - 1 and report.passed:
        run["peak"] = _peak_rss(item.parent)  # the last cell: the kernel is still up


def pytest_sessionfinish(session):
    if not _runs:
        return
    import nbformat

    from coursesite.executed import weights_kind, write_executed

    weights = weights_kind()  # the kernels inherited this process's TORCH_HOME
    folder = os.environ.get("COURSE_EXECUTED_DIR")  # tests of this plugin write elsewhere
    for path, run in _runs.items():
        items = run["items"]
        if not items or run["failed"]:
            continue
        nb = nbformat.from_dict(items[0].parent.nb)
        code_cells = [c for c in nb.cells if c.cell_type == "code"]
        ran = {it.cell_num: it.test_outputs for it in items if it.test_outputs is not None}
        if sorted(ran) != list(range(len(code_cells))):
            continue  # part of the notebook was deselected or skipped: not a full execution
        for number, cell in enumerate(code_cells):
            cell.outputs = [nbformat.from_dict(dict(o)) for o in ran[number]
                            if not (o.get("output_type") == "execute_result" and _silenced(cell.source))]
            for out in cell.outputs:  # nbval keeps execute_result's count; others have none
                if out.output_type == "execute_result":
                    out.execution_count = number + 1
            cell.execution_count = number + 1
        costs = {"load_before": round(run["load_before"], 2)}
        if run["peak"]:
            costs["peak_rss_mb"] = round(run["peak"][0] / 2**20)
            costs["child_peak_rss_mb"] = round(run["peak"][1] / 2**20)
        write_executed(nb, path, weights=weights, executed_by="nbval", seconds=run["seconds"], extra=costs,
                       **({"folder": Path(folder)} if folder else {}))
    _runs.clear()
