"""Execute notebooks the way ``make test`` does: nbval, plus the plugin that keeps them.

``make site`` (for notebooks with no fresh executed copy) and ``make measure`` both call
:func:`execute`. It runs ``pytest --nbval-lax`` on the given notebooks from the top of the
repository, so the root ``conftest.py`` applies exactly as under ``make test``: the stand-in
weights in a private ``TORCH_HOME`` unless the real ones are in the cache, and the plugin
``tests/nbval_capture.py``, which writes each executed notebook with its time and peak
memory to ``.cache/executed/``. One executor for tests, site and measurements.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from coursesite import REPO
from coursesite.executed import GENUINE


def execute(notebooks: list[Path], weights: str) -> None:
    """Run ``notebooks`` under nbval, one kernel each, in order; raise if any cell fails."""
    if not notebooks:
        return
    env = dict(os.environ)
    if weights == GENUINE:
        env["COURSE_REAL_WEIGHTS"] = "1"  # the root conftest then leaves TORCH_HOME alone
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
           "-q", "--durations=5", *(str(Path(nb).relative_to(REPO)) for nb in notebooks)]
    print("executing:", " ".join(Path(nb).name for nb in notebooks), flush=True)
    done = subprocess.run(cmd, cwd=REPO, env=env)
    if done.returncode != 0:
        raise SystemExit(f"a notebook failed to run (pytest exit {done.returncode}); see the cells reported above")
