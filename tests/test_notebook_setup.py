"""Colab: every notebook's links point at itself, and its set-up cell works where the course is not installed.

The links and the set-up cell are written by scripts/sync_notebooks.py from the one address
in pyproject.toml; a new or renumbered notebook fails here until the script is rerun. The
set-up cell is run for real in a kernel that cannot import course_utils (a Python that sees
the course's packages but not the course), with the clone pointed at a local copy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from course_notebooks import NOTEBOOKS, cells, source

REPO = Path(__file__).resolve().parent.parent
SYNC = REPO / "scripts" / "sync_notebooks.py"
URL = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


def test_the_address_is_written_once_and_is_a_github_repository():
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", URL), URL
    assert "<" not in URL and "your" not in URL.lower(), f"placeholder address in pyproject.toml: {URL}"
    assert URL not in SYNC.read_text(), "the sync script must read the address from pyproject.toml, not repeat it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_colab_and_binder_links_open_this_very_notebook(path):
    title = source(cells(path)[0])
    owner_repo = URL.removeprefix("https://github.com/")
    colab = re.findall(r"\(https://colab\.research\.google\.com/github/([^)]+)\)", title)
    binder = re.findall(r"\(https://mybinder\.org/v2/gh/([^)]+)\)", title)
    assert colab == [f"{owner_repo}/blob/main/notebooks/{path.name}"], \
        f"{path.name}: Colab link {colab}; run `python scripts/sync_notebooks.py`"
    assert binder == [f"{owner_repo}/main?labpath=notebooks%2F{path.name}"], \
        f"{path.name}: Binder link {binder}; run `python scripts/sync_notebooks.py`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_setup_cell_comes_first_and_clones_this_repository(path):
    found = cells(path)
    setup = found[1]
    assert setup["cell_type"] == "code" and "course-setup" in setup["metadata"].get("tags", []), \
        f"{path.name}: the set-up cell must follow the title; run `python scripts/sync_notebooks.py`"
    assert f'"{URL}"' in source(setup)
    others = [i for i, c in enumerate(found) if "course-setup" in c["metadata"].get("tags", [])]
    assert others == [1], f"{path.name}: set-up cells at {others}"


@pytest.fixture(scope="module")
def sync():
    """The sync script as a module: its main() runs here, without a new Python importing torch each time."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("sync_notebooks", SYNC)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_notebook_is_in_sync_with_the_script(sync, capsys):
    assert sync.main(["--check"]) == 0, capsys.readouterr().out


def test_the_script_runs_as_a_command():
    result = subprocess.run([sys.executable, str(SYNC), "--help"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0 and "--check" in result.stdout, result.stdout + result.stderr


def test_the_check_notices_a_renumbered_notebook(sync, capsys, tmp_path):
    """A notebook copied under a new number still links to the old path: --check must say so."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(NOTEBOOKS[0], folder / "99_renumbered.ipynb")
    assert sync.main(["--check", "--notebooks", str(folder)]) == 1
    assert "99_renumbered.ipynb" in capsys.readouterr().out
    assert sync.main(["--notebooks", str(folder)]) == 0
    assert sync.main(["--check", "--notebooks", str(folder)]) == 0, "after a sync the renumbered copy is up to date"
    assert "notebooks/99_renumbered.ipynb" in source(cells(folder / "99_renumbered.ipynb")[0])


def test_the_index_counts_every_way_a_notebook_imports_a_module(sync, tmp_path):
    """One-line imports one after the other, an alias, a bracketed list, a comment: each module counts."""
    code = ("from course_utils import distributed as D\nfrom course_utils import launch  # torchrun\n"
            "from course_utils import (\n    data,\n    viz,\n)\nimport course_utils.weights\n"
            "from course_utils.gradcam.base import BaseCAM\n")
    notebook = {"cells": [{"cell_type": "code", "id": "imports", "source": code, "metadata": {}, "outputs": [],
                           "execution_count": None}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "99_imports.ipynb"
    path.write_text(json.dumps(notebook))
    assert sync.imported_modules(path) == {"distributed", "launch", "data", "viz", "weights", "gradcam"}


def _setup_code() -> str:
    return source(cells(NOTEBOOKS[0])[1])


def test_the_setup_cell_does_nothing_where_the_course_is_installed(tmp_path):
    """In the course's environment: no clone (the address points nowhere), no path change, no output."""
    code = _setup_code() + "\nimport sys\nprint(sys.path == BEFORE)"
    env = {**os.environ, "COURSE_REPO_URL": str(tmp_path / "nowhere")}
    result = subprocess.run([sys.executable, "-c", "import sys; BEFORE = list(sys.path)\n" + code],
                            cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "True\n"
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def python_without_the_course(tmp_path) -> Path:
    """A venv that sees the course's packages (torch, ipykernel ...) but not course_utils.

    Its .pth file adds the course venv's site-packages as a plain folder, so the .pth file
    there that makes course_utils importable (the editable install) is never read.
    """
    venv = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "course_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # find_spec locates a module without running it (importing torch would cost seconds here).
    probe = subprocess.run([str(python), "-c", "import importlib.util as u\n"
                            "print([u.find_spec(m) is not None for m in ('torch', 'ipykernel', 'course_utils')])"],
                           cwd=tmp_path, capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "[True, True, False]", f"expected torch and ipykernel, not course_utils: {probe}"
    return python


@pytest.fixture
def course_remote(tmp_path) -> Path:
    """A git repository holding the course's code and data: what the cell clones on Colab."""
    remote = tmp_path / "remote"
    remote.mkdir()
    for folder in ("course_utils", "data"):
        shutil.copytree(REPO / folder, remote / folder, ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-c", "user.name=course", "-c", "user.email=course@localhost", "-c", "init.defaultBranch=main"]
    subprocess.run(git + ["init", "-q"], cwd=remote, check=True)
    subprocess.run(git + ["add", "."], cwd=remote, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "course"], cwd=remote, check=True)
    return remote


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_notebook_00_runs_in_a_kernel_without_the_course(tmp_path, python_without_the_course, course_remote,
                                                         monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    kernels = tmp_path / "jupyter" / "kernels" / "no-course"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python_without_the_course), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "no course", "language": "python"}))
    workdir = tmp_path / "colab"  # like /content on Colab: no course next to the notebook
    workdir.mkdir()
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("COURSE_REPO_URL", str(course_remote))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import course_utils\nprint('FROM', course_utils.__file__)"))
    NotebookClient(nb, kernel_name="no-course", timeout=300, resources={"metadata": {"path": str(workdir)}}).execute()
    setup_output = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    clone = workdir / URL.rsplit("/", 1)[-1]
    assert f"course_utils comes from {clone}" in setup_output, setup_output
    last = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert f"FROM {clone / 'course_utils'}" in last, last
