"""Style, enforced: ruff (configured in pyproject.toml) passes over all the course's Python and notebooks.

It checks the whole repository (files .gitignore ignores are skipped): course.py, course_utils, tests,
scripts, benchmarks, conftest.py and the code cells of notebooks/*.ipynb, plus any new
folder of Python. Fix what it finds; `.venv/bin/ruff check --fix` sorts imports and
removes unused ones.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from course_notebooks import NOTEBOOKS

REPO = Path(__file__).resolve().parent.parent
MUST_BE_CHECKED = ["course.py", "course_utils", "tests", "scripts", "benchmarks", "conftest.py", "notebooks"]


def _ruff(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    try:
        import ruff  # noqa: F401 - only to say what to install
    except ImportError:
        pytest.fail("ruff is not installed: it is in the test extra, run `make test` (or pip install -e '.[test]').")
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=REPO, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_ruff_finds_nothing():
    result = _ruff("check", "--no-cache", "--output-format", "concise", ".")
    assert result.returncode == 0, (
        "ruff found problems (fix them; `.venv/bin/ruff check --fix` sorts imports):\n"
        + result.stdout[-6000:] + result.stderr[-2000:]
    )


def test_ruff_checks_the_notebooks_and_every_python_folder():
    listed = _ruff("check", "--no-cache", "--show-files", ".").stdout
    checked = {Path(line.strip()).resolve() for line in listed.splitlines() if line.strip()}
    assert NOTEBOOKS and all(nb.resolve() in checked for nb in NOTEBOOKS), "ruff must read the notebooks' code cells"
    for place in MUST_BE_CHECKED:
        target = (REPO / place).resolve()
        assert any(p == target or target in p.parents for p in checked), f"ruff does not check {place}"


def test_the_configuration_catches_unused_imports_import_order_and_long_lines():
    probe = "import sys\nimport os\n\nprint(os.sep, '" + "x" * 120 + "')\n"
    found = _ruff("check", "--no-cache", "--output-format", "concise",
                  "--stdin-filename", "course_utils/_probe.py", "-", stdin=probe).stdout
    for code in ("F401", "I001", "E501"):
        assert code in found, f"pyproject.toml's [tool.ruff] no longer selects {code}:\n{found}"
