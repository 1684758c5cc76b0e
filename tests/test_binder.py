"""Binder: repo2docker builds the course from binder/, with CPU-only PyTorch and course_utils installed.

`jupyter-repo2docker --no-build --debug .` needs no Docker: it prints the Dockerfile it would
build. The test reads that, and checks binder/environment.yml against pyproject.toml.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BINDER = REPO / "binder"


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ ]", requirement, maxsplit=1)[0].lower()


def _binder_environment() -> tuple[list[str], list[str]]:
    """(conda packages, pip packages) of binder/environment.yml, read line by line (no YAML library needed)."""
    conda, pip, in_pip = [], [], False
    for line in (BINDER / "environment.yml").read_text().splitlines():
        if re.match(r"^\s+- pip:\s*$", line):
            in_pip = True
        elif m := re.match(r"^(\s+)- (\S.*)$", line):
            (pip if in_pip and len(m.group(1)) > 2 else conda).append(m.group(2).strip())
    return conda, pip


def test_binder_environment_has_cpu_pytorch_and_every_course_dependency():
    conda, pip = _binder_environment()
    assert any(p.startswith("pytorch-cpu") for p in conda), "Binder has no GPU: use conda-forge's pytorch-cpu"
    assert not any(_name(p) in {"torch", "pytorch"} for p in conda + pip), "a plain torch would pull a CUDA build"
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    binder = {_name(p).replace("pytorch-cpu", "torch"): p for p in conda + pip}
    missing = [d for d in declared if _name(d) not in binder]
    assert not missing, f"binder/environment.yml lacks {missing}"
    for requirement in declared:
        version = requirement[len(_name(requirement)):]
        found = binder[_name(requirement)]
        assert found.endswith(version), f"{found} in binder/environment.yml vs pyproject's {requirement}"


def test_postbuild_installs_course_utils_and_nothing_else():
    post_build = BINDER / "postBuild"
    assert post_build.stat().st_mode & 0o111, "postBuild must be executable"
    commands = [ln for ln in post_build.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert commands[-1].split() == ["python", "-m", "pip", "install", "--no-deps", "-e", "."], commands


@pytest.mark.skipif(shutil.which("git") is None, reason="repo2docker needs git")
def test_repo2docker_builds_from_binder_folder(tmp_path):
    pytest.importorskip("repo2docker", reason="jupyter-repo2docker is in the test extra: pip install -e '.[test]'")
    exe = Path(sys.executable).parent / "jupyter-repo2docker"
    result = subprocess.run([str(exe), "--no-build", "--debug", str(REPO)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert "conda environment for python=3.11" in out, "repo2docker did not read binder/environment.yml's Python"
    assert re.search(r'env update -p \$\{NB_PYTHON_PREFIX\} --file "binder/environment\.yml"', out), \
        "the Dockerfile does not install binder/environment.yml"
    assert "RUN ./binder/postBuild" in out, "the Dockerfile does not run binder/postBuild"
    assert '--file "environment.yml"' not in out, "repo2docker used the top-level environment.yml (CUDA torch)"
