"""Run one notebook in a fresh kernel, timing it and reading the kernel's peak memory.

Used by ``make site`` for notebooks with no fresh executed copy, and by ``make measure``.
The kernel inherits this process's environment plus ``env``: ``make site`` without the
real weights gives it the same stand-in ``TORCH_HOME`` the tests use.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from coursesite import REPO
from coursesite.executed import GENUINE, STAND_IN, weights_kind

# Run after the last cell, then removed: the kernel's own peak resident memory.
# Also the largest finished child process (workers a notebook started, e.g. torchrun's).
_PEAK_RSS_CELL = (
    "import resource as _r, sys as _s\n"
    "_u = 1 if _s.platform == 'darwin' else 1024\n"  # macOS reports bytes, Linux KiB
    "print('PEAK_RSS_BYTES', _r.getrusage(_r.RUSAGE_SELF).ru_maxrss * _u,"
    " _r.getrusage(_r.RUSAGE_CHILDREN).ru_maxrss * _u)"
)


@dataclass
class Execution:
    nb: nbformat.NotebookNode  # with outputs
    seconds: float  # wall time of all cells, kernel start excluded
    peak_rss_bytes: int  # the kernel's max RSS
    child_peak_rss_bytes: int = 0  # the largest finished child process's max RSS (0: none)


@contextmanager
def _environ(env: dict[str, str]):
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def weights_env() -> tuple[str, dict[str, str]]:
    """The weights a notebook kernel should use here, and the environment that gives them.

    The real weights when ``$TORCH_HOME`` holds them, hash-checked (after ``make prefetch``);
    otherwise the tests' seeded stand-ins, offline.
    """
    if weights_kind() == GENUINE:
        return GENUINE, {}
    sys.path.insert(0, str(REPO / "tests"))
    from standin_weights import STANDIN_TORCH_HOME, write_standins

    write_standins(STANDIN_TORCH_HOME)
    return STAND_IN, {"TORCH_HOME": str(STANDIN_TORCH_HOME), "COURSE_OFFLINE": "1"}


def run_notebook(path: Path, env: dict[str, str], timeout: int = 900) -> Execution:
    """Execute ``path`` top to bottom in a fresh python3 kernel started in ``notebooks/``."""
    nb = nbformat.read(str(path), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_PEAK_RSS_CELL))
    # store_widget_state must stay on (nbclient's Output-widget hook needs it); the state is dropped below.
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(Path(path).parent)}})
    env = {"MPLBACKEND": "module://matplotlib_inline.backend_inline", **env}
    with _environ(env):
        with client.setup_kernel():
            start = time.perf_counter()
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            seconds = time.perf_counter() - start
    nb.metadata.pop("widgets", None)  # a static page has no kernel for it, and it would pull in widget JS
    probe = nb.cells.pop()
    text = "".join(o.get("text", "") for o in probe.outputs)
    kernel, children = (int(v) for v in text.split("PEAK_RSS_BYTES")[1].split()[:2])
    return Execution(nb, seconds, kernel, children)
