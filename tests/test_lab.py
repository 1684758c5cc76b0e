"""`course.py lab` (what `make lab` runs) starts JupyterLab, as root and as a normal user, with its
token, on the port asked for.

The test runs the real launcher (``--no-setup`` keeps it from reinstalling the environment, and no
make is needed: .ci/run hides it), reads the address it prints, and asks the server for /lab and
the kernel specs with and without the token.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv"
IS_ROOT = hasattr(os, "getuid") and os.getuid() == 0
URL_LINE = re.compile(r"^\s+(http://localhost:(\d+)/lab\?token=(\w+))\s*$")


def _load_lab_script():
    spec = importlib.util.spec_from_file_location("course_lab_script", REPO / "scripts" / "lab.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, b""


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        lines.put(line)
    lines.put(None)


def run_make_lab(tmp_path: Path, port: int, as_user: int | None = None, timeout_s: float = 120.0):
    """Start `course.py lab --port port`, wait for the address it prints; return (process, printed, url, token)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTER_CONFIG_DIR": str(home / "config"), "BROWSER": ""}
    env.pop("JUPYTER_TOKEN", None)
    cmd = [sys.executable, str(REPO / "course.py"), "lab", "--no-setup", "--port", str(port), "--",
           "--no-browser", f"--LabApp.workspaces_dir={home / 'workspaces'}"]
    if as_user is not None:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("setpriv (util-linux) is needed to run course.py lab as a normal user from root")
        probe = subprocess.run([setpriv, f"--reuid={as_user}", f"--regid={as_user}", "--clear-groups", "--",
                                "sh", "-c", ".venv/bin/python -c 'import jupyterlab'"], cwd=REPO, capture_output=True)
        if probe.returncode != 0:
            pytest.skip(f"user {as_user} cannot run this .venv's Python (made by root, under a private folder)")
        os.chown(home, as_user, as_user)
        cmd = [setpriv, f"--reuid={as_user}", f"--regid={as_user}", "--clear-groups", "--"] + cmd
    process = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    printed: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        printed.append(line)
        if printed[-2:-1] and "Open this address" in printed[-2] and (m := URL_LINE.match(line)):
            return process, "".join(printed), m.group(1), m.group(3)
    stop(process)
    pytest.fail("course.py lab printed no address to open:\n" + "".join(printed[-40:]))


def stop(process: subprocess.Popen) -> None:
    """Stop course.py, scripts/lab.py and JupyterLab (one process group, started for this test)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _post(url: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _kernel_executable(kernel_id: str, timeout_s: float = 60.0) -> Path | None:
    """The interpreter of the kernel process whose connection file names ``kernel_id`` (Linux /proc)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                argv = cmdline.read_bytes().split(b"\0")
            except OSError:
                continue
            if any(kernel_id.encode() in a for a in argv) and b"ipykernel_launcher" in b" ".join(argv):
                return Path(argv[0].decode())
        time.sleep(0.5)
    return None


def _check_serves_the_course(url: str, port: int, token: str) -> None:
    base = f"http://localhost:{port}"
    status, page = _get(url)
    assert status == 200 and b"JupyterLab" in page, f"/lab answered {status}"
    assert _get(f"{base}/api/kernelspecs")[0] == 403, "the server answered without the token"
    status, body = _get(f"{base}/api/kernelspecs", token)
    assert status == 200
    specs = json.loads(body)
    assert specs["default"] == "python3" and "python3" in specs["kernelspecs"], specs
    if not Path("/proc/self/cmdline").exists():
        return
    kernel = _post(f"{base}/api/kernels", token, {"name": "python3"})
    try:
        executable = _kernel_executable(kernel["id"])
        assert executable is not None, "the python3 kernel's process was not found"
        assert str(executable).startswith(str(VENV)) or VENV.resolve() in executable.resolve().parents, \
            f"the python3 kernel runs {executable}, not the course's .venv"
    finally:
        request = urllib.request.Request(f"{base}/api/kernels/{kernel['id']}", method="DELETE",
                                         headers={"Authorization": f"token {token}"})
        urllib.request.urlopen(request, timeout=60).close()


@pytest.mark.skipif(not (VENV / ".installed").exists(), reason="needs the course's .venv (make lab creates it)")
def test_make_lab_serves_the_course_with_its_token(tmp_path):
    port = free_port()
    process, printed, url, token = run_make_lab(tmp_path, port)
    try:
        assert f":{port}/" in url, f"course.py lab --port {port} printed {url}"
        _check_serves_the_course(url, port, token)
        says_root = "--allow-root" in printed
        assert says_root == IS_ROOT, f"--allow-root line {'missing' if IS_ROOT else 'printed'} for uid {os.getuid()}"
    finally:
        stop(process)
    assert process.returncode is not None


@pytest.mark.skipif(not IS_ROOT, reason="the normal-user run above already is one; this one drops root")
@pytest.mark.skipif(not (VENV / ".installed").exists(), reason="needs the course's .venv (make lab creates it)")
def test_make_lab_as_a_normal_user_started_from_root(tmp_path):
    nobody = 65534
    tmp_path.chmod(0o755)
    port = free_port()
    process, printed, url, token = run_make_lab(tmp_path, port, as_user=nobody)
    try:
        _check_serves_the_course(url, port, token)
        assert "--allow-root" not in printed
    finally:
        stop(process)


@pytest.mark.parametrize("is_root", [True, False])
def test_allow_root_only_for_root_and_auth_never_disabled(is_root):
    lab = _load_lab_script()
    cmd = lab.lab_command(8888, "0.0.0.0", open_browser=False, is_root=is_root, extra=[])
    assert ("--allow-root" in cmd) == is_root
    assert "--ServerApp.ip=0.0.0.0" in cmd and "--no-browser" in cmd
    assert not any("token=" in a.lower() or "password" in a.lower() or "disable_check_xsrf" in a for a in cmd)
    assert cmd[:3] == [sys.executable, "-m", "jupyterlab"]


def test_address_names_port_and_token_and_warns_off_localhost():
    lab = _load_lab_script()
    message = lab.address_message({"port": 9123, "token": "abc123"}, "localhost")
    assert "http://localhost:9123/lab?token=abc123" in message
    assert "another machine" not in message
    assert "another machine" in lab.address_message({"port": 9123, "token": "abc123"}, "0.0.0.0")


# Memory in the status bar (jupyter-resource-usage): the limit comes from the cgroup files, faked here.
GiB = 2**30


def _cgroup(root: Path, relative: str, text: str) -> None:
    (root / relative).parent.mkdir(parents=True, exist_ok=True)
    (root / relative).write_text(text)


@pytest.mark.parametrize(("relative", "text", "expected"), [
    ("memory.max", "2147483648\n", 2 * GiB),  # cgroup v2, a container with --memory=2g
    ("memory.max", "max\n", None),  # v2, no limit
    ("memory/memory.limit_in_bytes", "1073741824\n", GiB),  # v1
    ("memory/memory.limit_in_bytes", "9223372036854771712\n", None),  # v1's "no limit"
    ("memory.max", "", None),
    ("memory.max", "0\n", None),
])
def test_memory_limit_read_from_the_cgroup_files(tmp_path, relative, text, expected):
    lab = _load_lab_script()
    _cgroup(tmp_path, relative, text)
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text("0::/\n" if relative == "memory.max" else "4:memory:/\n")
    assert lab.known_memory_limit(tmp_path, proc) == expected


def test_no_cgroups_means_no_limit(tmp_path):
    lab = _load_lab_script()
    assert lab.known_memory_limit(tmp_path / "none", tmp_path / "no-proc-file") is None


def test_the_tightest_limit_of_the_process_cgroup_and_those_above_it_applies(tmp_path):
    lab = _load_lab_script()
    _cgroup(tmp_path, "user.slice/memory.max", f"{8 * GiB}\n")
    _cgroup(tmp_path, "user.slice/user-1000.slice/session-2.scope/memory.max", "max\n")
    _cgroup(tmp_path, "memory/docker/abc/memory.limit_in_bytes", f"{3 * GiB}\n")
    text = "0::/user.slice/user-1000.slice/session-2.scope\n"
    assert lab.memory_limit(lab.cgroup_memory_files(text, tmp_path)) == 8 * GiB
    text += "9:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n"
    assert lab.memory_limit(lab.cgroup_memory_files(text, tmp_path)) == 3 * GiB


def test_resource_usage_args_only_where_a_limit_is_known_and_binder_has_not_set_one():
    lab = _load_lab_script()
    assert lab.resource_usage_args(2 * GiB, environ={}) == [f"--ResourceUseDisplay.mem_limit={2 * GiB}"]
    assert lab.resource_usage_args(None, environ={}) == []
    assert lab.resource_usage_args(2 * GiB, environ={"MEM_LIMIT": "2147483648"}) == []  # Binder: the extension reads it
    assert lab.resource_usage_args(2 * GiB, environ={}, installed=False) == []
    # The user's own limit stands alone: given two, the extension fails to load.
    assert lab.resource_usage_args(2 * GiB, ["--ResourceUseDisplay.mem_limit=1"], environ={}) == []


def test_lab_script_passes_the_limit_to_jupyterlab_before_the_users_options(tmp_path, monkeypatch):
    lab = _load_lab_script()
    _cgroup(tmp_path, "memory.max", f"{4 * GiB}\n")
    (tmp_path / "proc-self-cgroup").write_text("0::/\n")
    monkeypatch.setattr(lab, "CGROUP_ROOT", tmp_path)
    monkeypatch.setattr(lab, "PROC_SELF_CGROUP", tmp_path / "proc-self-cgroup")
    monkeypatch.delenv("MEM_LIMIT", raising=False)
    started = []

    class FakeLab:
        pid = 1

        def __init__(self, cmd):
            started.append(cmd)

        def poll(self):
            return 0

        def wait(self):
            return 0

    monkeypatch.setattr(lab.subprocess, "Popen", FakeLab)
    monkeypatch.setattr(lab.signal, "signal", lambda *args: None)
    assert lab.main(["--no-browser", "--", "--LabApp.x=y"]) == 0
    assert lab.main(["--no-browser", "--", "--ResourceUseDisplay.mem_limit=1"]) == 0
    ours, theirs = started
    assert ours[-2:] == [f"--ResourceUseDisplay.mem_limit={4 * GiB}", "--LabApp.x=y"], ours
    assert [a for a in theirs if "mem_limit" in a] == ["--ResourceUseDisplay.mem_limit=1"], theirs
    assert not any("track_cpu_percent" in a for a in ours)
