"""course_utils.launch: the launching side of torchrun, and how a launched script ends.

``torchrun_command`` and ``run_streaming`` are exercised by every real launch in
``test_ddp.py``; this file holds what those launches cannot see.
"""

from __future__ import annotations

import subprocess
import sys


def test_exit_now_exits_with_the_status_after_freezing_every_object():
    """The status comes through, atexit functions still run, printed output is still flushed, and by then
    the collector has been told to leave the surviving objects alone (``gc.get_freeze_count()``)."""
    program = (
        "import atexit, gc, sys\n"
        "from course_utils import launch\n"
        "atexit.register(lambda: print('at exit, frozen objects:', gc.get_freeze_count() > 0))\n"
        "sys.stdout.write('written before exit_now\\n')\n"  # buffered: no flush here
        "launch.exit_now(3)\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    assert result.stdout.splitlines() == ["written before exit_now", "at exit, frozen objects: True"]

