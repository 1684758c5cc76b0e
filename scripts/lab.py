"""Start the course's JupyterLab on notebooks/ (what `make lab` runs).

    python scripts/lab.py                       # localhost:8888, or the next free port
    python scripts/lab.py --port 9000
    python scripts/lab.py --ip 0.0.0.0          # inside a container: reachable from its host
    python scripts/lab.py -- --LabApp.x=y       # anything after -- goes to JupyterLab

Why a script and not just `jupyter lab`: JupyterLab refuses to run as root without
--allow-root (Docker images, many CI machines and workshop VMs run as root), and on a
machine with no browser (SSH, containers) the address to open is buried in its log. This
adds --allow-root only when the user id is 0 and says so, and once the server is up
prints the one address to open, token included. Authentication is never turned off:
the token stays, and the server listens on localhost unless --ip says otherwise.

The status bar shows the memory JupyterLab and its kernels use (jupyter-resource-usage),
against the limit where one is known: Binder sets MEM_LIMIT, which the extension reads
itself; elsewhere this passes the container's or session's cgroup memory limit, if it has
one. CPU use is not tracked: the extension then samples every kernel and DataLoader worker
for 50 ms each, every second, on the server's own thread.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import webbrowser
from pathlib import Path, PurePosixPath

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
LOCAL_IPS = {"localhost", "127.0.0.1", "::1"}
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")
# cgroup v1 writes "no limit" as a huge number (2**63 rounded down to a page); v2 writes "max".
NO_LIMIT = 2**60


def lab_command(port: int, ip: str, open_browser: bool, is_root: bool, extra: list[str],
                notebooks: Path = NOTEBOOKS) -> list[str]:
    """The JupyterLab command line: the course's notebooks, the port and address asked for."""
    cmd = [sys.executable, "-m", "jupyterlab", str(notebooks), f"--ServerApp.port={port}", f"--ServerApp.ip={ip}"]
    if not open_browser:
        cmd.append("--no-browser")
    if is_root:
        cmd.append("--allow-root")
    return cmd + extra


def cgroup_memory_files(proc_self_cgroup: str, root: Path = CGROUP_ROOT) -> list[Path]:
    """The files that may hold this process's memory limit, cgroup v2's memory.max and v1's
    memory.limit_in_bytes: for its own cgroup and each one above it (the tightest applies), and
    the top of the mount (all a container sees of its own cgroup)."""
    files = [root / "memory.max", root / "memory" / "memory.limit_in_bytes"]
    for line in proc_self_cgroup.splitlines():
        hierarchy, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if hierarchy == "0" and controllers == "":  # v2: one hierarchy, every controller
            base, name = root, "memory.max"
        elif "memory" in controllers.split(","):  # v1: the memory controller's own hierarchy
            base, name = root / "memory", "memory.limit_in_bytes"
        else:
            continue
        parts = PurePosixPath(path).parts[1:]
        files += [base.joinpath(*parts[:i], name) for i in range(len(parts), 0, -1)]
    return list(dict.fromkeys(files))


def read_memory_limit(path: Path) -> int | None:
    """The limit, in bytes, that one cgroup file states; None for none ("max", huge, absent)."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if not text.isdigit():
        return None
    limit = int(text)
    return limit if 0 < limit < NO_LIMIT else None


def memory_limit(files: list[Path]) -> int | None:
    """The tightest limit among the files, or None if none states one."""
    limits = [limit for limit in map(read_memory_limit, files) if limit is not None]
    return min(limits, default=None)


def known_memory_limit(root: Path = CGROUP_ROOT, proc_self_cgroup: Path = PROC_SELF_CGROUP) -> int | None:
    """This process's cgroup memory limit in bytes (Linux), None where it has none or there are no cgroups."""
    try:
        own = proc_self_cgroup.read_text()
    except OSError:
        own = ""
    return memory_limit(cgroup_memory_files(own, root))


def resource_usage_args(limit: int | None, extra: list[str] = (), environ: dict | None = None,
                        installed: bool = True) -> list[str]:
    """JupyterLab options that show the memory limit in the status bar (jupyter-resource-usage).

    None where the user's own options (extra) set one: the extension fails to load when given two."""
    environ = os.environ if environ is None else environ
    if not installed or limit is None or environ.get("MEM_LIMIT"):  # MEM_LIMIT: the extension reads it itself
        return []
    if any(a.startswith("--ResourceUseDisplay.mem_limit") for a in extra):
        return []
    return [f"--ResourceUseDisplay.mem_limit={limit}"]


def browser_available() -> bool:
    """Whether Python can open a browser here (false on SSH sessions and in containers)."""
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def wait_for_server_info(pid: int, process: subprocess.Popen, timeout_s: float = 120.0) -> dict | None:
    """The server's runtime file (jpserver-PID.json: port and token), once it is listening."""
    from jupyter_core.paths import jupyter_runtime_dir

    info_file = Path(jupyter_runtime_dir()) / f"jpserver-{pid}.json"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        if info_file.exists():
            try:
                return json.loads(info_file.read_text())
            except json.JSONDecodeError:  # caught while being written
                pass
        time.sleep(0.2)
    return None


def address_message(info: dict, ip: str) -> str:
    """The lines a learner needs: the address to open, with the token, and how to stop."""
    query = f"?token={info['token']}" if info.get("token") else ""
    url = f"http://localhost:{info['port']}/lab{query}"
    lines = ["", "JupyterLab is running. Open this address in your browser (it includes the access token):",
             f"    {url}"]
    if ip not in LOCAL_IPS:
        lines.append(f"From another machine (a container's host, with port {info['port']} published), replace "
                     "'localhost' by this machine's address; the token is still needed.")
    lines.append("Stop JupyterLab with Ctrl-C (twice) in this terminal.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888, help="port to listen on (the next free one if taken)")
    parser.add_argument("--ip", default="localhost",
                        help="address to listen on; 0.0.0.0 opens it to a container's host (the token stays)")
    parser.add_argument("--no-browser", action="store_true", help="do not try to open a browser")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS,
                        help="folder to serve (default: the course's notebooks/; the browser tests serve a copy)")
    args, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]

    is_root = hasattr(os, "getuid") and os.getuid() == 0
    if is_root:
        print("make lab: running as root (user id 0), so JupyterLab is started with --allow-root.", flush=True)
    open_browser = not args.no_browser and browser_available()
    installed = importlib.util.find_spec("jupyter_resource_usage") is not None
    limit = known_memory_limit(CGROUP_ROOT, PROC_SELF_CGROUP)
    extra = resource_usage_args(limit, extra, installed=installed) + extra
    process = subprocess.Popen(lab_command(args.port, args.ip, open_browser, is_root, extra, args.notebooks))

    def stop(signum, _frame):  # `kill`, a closed terminal, a test's timeout: stop JupyterLab too
        process.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, stop)
    try:
        info = wait_for_server_info(process.pid, process)
        if info is not None:
            print(address_message(info, args.ip), flush=True)
        return process.wait()
    except KeyboardInterrupt:
        # JupyterLab got the same Ctrl-C and asks whether to stop: let it finish.
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:
                continue


if __name__ == "__main__":
    sys.exit(main())
