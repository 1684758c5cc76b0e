"""Starting torchrun from a notebook: the command, its output as it comes, the cores there are.

Notebook 13 runs ``scripts/train_ddp.py`` under torchrun from a cell. ``torchrun_command`` builds
the command with the kernel's own Python, ``run_streaming`` runs it and prints each line as it
comes (a cell would otherwise show nothing until the end), and ``cpu_cores`` says how many
cores there are to share among the processes. Standard library only: the launching side needs
no torch, and `course.py` (which runs before the course's environment exists) uses ``cpu_cores`` too.
``exit_now`` is for the other side: the scripts those commands start end with it.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

# What torchrun sets for every worker it starts.
LAUNCH_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def cpu_cores() -> int:
    """CPU cores this process may use (its affinity mask, which containers narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def torchrun_command(script: str | Path, args: Sequence[object], nproc: int = 2, max_restarts: int = 0) -> list[str]:
    """``torchrun --standalone --nproc_per_node=N script args`` with this Python's own torch.

    ``python -m torch.distributed.run`` is what the ``torchrun`` command runs; going
    through ``sys.executable`` works from a notebook kernel whose environment's
    ``bin/`` is not on the PATH.
    """
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            f"--max-restarts={max_restarts}", str(script), *map(str, args)]


def run_streaming(command: Sequence[str], cwd: str | Path | None = None, show: bool = True,
                  hide: Callable[[str], bool] | None = None) -> tuple[int, str]:
    """Run ``command``, printing its output line by line as it comes; return (exit code, output).

    Launcher variables (RANK, WORLD_SIZE...) are removed from the child's environment,
    so a launch from inside another launch starts clean. ``hide(line)`` can keep
    noise (e.g. the traceback frames of a worker we killed on purpose) off the screen;
    the returned output still holds every line.
    """
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARS}
    env["PYTHONUNBUFFERED"] = "1"
    lines = []
    with subprocess.Popen(list(command), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, bufsize=1) as process:
        for line in process.stdout:
            lines.append(line)
            if show and not (hide and hide(line)):
                print(line, end="", flush=True)
    return process.returncode, "".join(lines)


def exit_now(status: int) -> NoReturn:
    """End the process with ``status``, skipping the garbage collection Python runs on its way out.

    On the way out Python's collector looks at every object still alive, over 330,000 once torch
    and torchvision are imported, only for the operating system to free all of them a moment later:
    about 1.5 s of a 2-core laptop for each process (measured here), paid by every rank of every
    torchrun launch. ``gc.freeze()`` moves those objects out of the collector's sight. Everything
    else happens as usual: atexit functions run, and printed output is flushed.
    """
    gc.freeze()
    sys.exit(status)
