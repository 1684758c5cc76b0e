"""Make every test run, notebooks included, hermetic.

This runs before any test or notebook kernel starts, so the kernels nbval launches
inherit the environment set here:

* TORCH_HOME points at a private folder holding stand-in weights (never the
  learner's own cache), unless COURSE_REAL_WEIGHTS=1 (``make test-pretrained``);
* COURSE_OFFLINE=1 so nothing tries the network;
* matplotlib draws off-screen, and torch uses the cores it is given.
"""

import gc
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))

# Keeps each notebook nbval executes in .cache/executed/ for `make site` (and gives its kernels
# the inline matplotlib backend, so figures reach the outputs).
pytest_plugins = ["nbval_capture"]


def pytest_configure(config):
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ["COURSE_UNDER_TEST"] = "1"
    if os.environ.get("COURSE_REAL_WEIGHTS") == "1":
        return
    from standin_weights import STANDIN_TORCH_HOME, write_standins

    os.environ["TORCH_HOME"] = str(STANDIN_TORCH_HOME)
    os.environ["COURSE_OFFLINE"] = "1"
    # With pytest-xdist the controller runs no test: its workers write the files, each starting
    # with a different one, while the controller does not import torch at all.
    worker = getattr(config, "workerinput", {}).get("workerid")  # "gw0", "gw1", or None
    if worker is None and getattr(config.option, "numprocesses", None):
        return
    # The first import of torch and torchvision happens here (write_standins). It makes over 300,000
    # objects that live as long as the process; Python's garbage collector walks them all again and
    # again while they are made (about 1 s here) and at every full collection after (2 to 3 s of a
    # worker's run).
    # So: no collection while importing; then one, for any garbage the imports left; then what is
    # left is frozen (gc.freeze: never walked again, never freed: it lives to the end anyway).
    gc.disable()
    try:
        write_standins(STANDIN_TORCH_HOME, first=int(worker[2:]) if worker else 0)
    finally:
        gc.enable()
        gc.collect()
        gc.freeze()


def pytest_unconfigure(config):
    """Let each test process exit without a last garbage collection over everything torch made.

    The same step as ``course_utils.launch.exit_now``: about 4 s of every pytest run's end, since
    pytest-xdist waits for its workers to exit.
    """
    gc.freeze()


def _measured_seconds() -> dict[str, float]:
    """Each notebook's run time as `make measure` measured it (docs/measurements.json), by file name."""
    import json

    path = Path(__file__).resolve().parent / "docs" / "measurements.json"
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))["notebooks"]
    except (OSError, ValueError, KeyError):
        return {}
    return {f"{row['notebook']}.ipynb": float(row["seconds"]) for row in rows}


def pytest_collection_modifyitems(config, items):
    """The slowest notebooks first, then everything else in its usual order.

    With two workers (``course.py test``) a long notebook that starts last keeps one core busy
    while the other has nothing left to do; started first, it runs beside the many short files.
    The sort is stable, so a notebook's cells (and every file's tests) keep their order.
    """
    seconds = _measured_seconds()
    items.sort(key=lambda item: -seconds.get(item.path.name, 0.0) if item.path.suffix == ".ipynb" else 0.0)
