"""Fixtures for the browser tests: a headless Chromium and the course's JupyterLab.

JupyterLab is started by the same script as `make lab` (scripts/lab.py), with a token the
test knows, on a free port, with no browser of its own and no news or update checks, on a
*copy* of notebooks/ (so running them can never write outputs into the course), autosave
off. Chromium is Debian's (or one named by CHROMIUM, or Playwright's own), started with the
flags that keep it off the network; only localhost resolves.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from course_notebooks import NOTEBOOKS

REPO = Path(__file__).resolve().parent.parent
SCREENSHOTS = REPO / ".cache" / "screenshots"
DEBIAN_CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
INSTALL_HELP = """\
No Chromium found for the browser tests (make test-browser). Install one, then run it again:
    apt-get install -y chromium                       # Debian or Ubuntu, as root (what .ci/run does)
    .venv/bin/python -m playwright install chromium   # Playwright's own build (downloads it)
or name one you already have:
    make test-browser CHROMIUM=/path/to/chromium"""

# Lab settings for a test run: no news or update checks, no autosave (nothing is written
# back), every cell kept in the page so that every output can be inspected.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none",
                                                                   "autoStartDefaultKernel": True},
}

# The memory limit the status bar is to show (jupyter-resource-usage), given by the option that
# scripts/lab.py passes where the machine's cgroup sets one.
LAB_MEM_LIMIT = 48 * 2**30


def playwright_cached_chromium() -> Path | None:
    """A Chromium that `playwright install chromium` downloaded, if any."""
    root = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache" / "ms-playwright")
    found = sorted(root.glob("chromium-*/chrome-linux*/chrome"))
    found += sorted(root.glob("chromium-*/chrome-mac*/**/Chromium"))
    return found[-1] if found else None


def find_chromium() -> Path | None:
    """CHROMIUM if set, else Debian's chromium, else Playwright's download; None if there is none."""
    named = os.environ.get("CHROMIUM", "").strip()
    if named:
        path = Path(shutil.which(named) or named)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    for candidate in DEBIAN_CHROMIUM:
        if Path(candidate).is_file():
            return Path(candidate)
    return playwright_cached_chromium()


def chromium_args() -> list[str]:
    """Flags for a headless Chromium on a machine with no network (and no sandbox as root)."""
    args = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]
    if hasattr(os, "getuid") and os.getuid() == 0:
        args.append("--no-sandbox")
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    """A running JupyterLab: its address, token, the folder it serves and its log."""

    url: str
    token: str
    root: Path
    log: Path
    process: subprocess.Popen
    mem_limit: int = LAB_MEM_LIMIT  # bytes, as the status bar is to show it

    def api(self, path: str, method: str = "GET") -> object:
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        """Stop every kernel (frees the memory of the models a notebook loaded)."""
        for session in self.api("sessions"):
            self.api(f"sessions/{session['id']}", method="DELETE")

    def log_tail(self, n: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    path = find_chromium()
    if path is None:
        if os.environ.get("CHROMIUM", "").strip():
            pytest.exit(f"CHROMIUM={os.environ['CHROMIUM']} is not an executable file.\n\n{INSTALL_HELP}", returncode=1)
        pytest.exit(INSTALL_HELP, returncode=1)
    return path


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Lab:
    home = tmp_path_factory.mktemp("lab")
    root = home / "notebooks"
    root.mkdir()
    for notebook in NOTEBOOKS:
        shutil.copy2(notebook, root / notebook.name)
    for relative, values in LAB_SETTINGS.items():
        path = home / "settings" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    token = secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_TOKEN": token, "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "IPYTHONDIR": str(home / "ipython"), "BROWSER": ""}
    env.pop("MPLBACKEND", None)  # the kernels get matplotlib's inline backend, as a learner's do
    port = free_port()
    log = home / "jupyterlab.log"
    cmd = [sys.executable, str(REPO / "scripts" / "lab.py"), "--port", str(port), "--no-browser",
           "--notebooks", str(root), "--",
           f"--LabApp.user_settings_dir={home / 'settings'}", f"--LabApp.workspaces_dir={home / 'workspaces'}",
           "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--ServerApp.port_retries=0", f"--ResourceUseDisplay.mem_limit={LAB_MEM_LIMIT}"]
    with log.open("w") as log_file:
        process = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Lab(f"http://localhost:{port}", token, root, log, process)
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {process.returncode}:\n{server.log_tail()}")
        try:
            server.api("status")
            break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                os.killpg(process.pid, signal.SIGKILL)
                pytest.fail(f"JupyterLab did not answer within 120 s:\n{server.log_tail()}")
            time.sleep(0.3)
    yield server
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="session")
def browser(chromium_executable):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_executable), headless=True,
                                             args=chromium_args())
        yield browser
        browser.close()


@pytest.fixture
def page(browser, lab, request):
    """A fresh browser tab; its screenshot is saved in .cache/screenshots/ whatever the outcome."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=SCREENSHOTS / f"{request.node.name}.png")
    finally:
        context.close()
        lab.shut_down_kernels()
