"""The project's own conventions: packaging agrees, notebooks are clean, loading is safe."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from course_notebooks import NOTEBOOKS, cells, source

REPO = Path(__file__).resolve().parent.parent


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = [r for reqs in project["optional-dependencies"].values() for r in reqs]
    return {r.replace(" ", "") for r in project["dependencies"] + extras}


def _environment_yml_pip_requirements() -> set[str]:
    lines = (REPO / "environment.yml").read_text().splitlines()
    start = lines.index("  - pip:")
    reqs = set()
    for line in lines[start + 1:]:
        m = re.match(r"^\s+- (\S.*)$", line)
        if m and not m.group(1).startswith("-e"):
            reqs.add(m.group(1).replace(" ", ""))
    return reqs


def test_environment_yml_and_pyproject_declare_the_same_packages():
    assert _environment_yml_pip_requirements() == _pyproject_requirements()


def test_declared_ranges_admit_the_course_torch():
    reqs = _pyproject_requirements()
    assert any(r.startswith("torch>=") for r in reqs) and any(r.startswith("torchvision>=") for r in reqs)
    from packaging.specifiers import SpecifierSet

    for name, version in (("torch", "2.14.1"), ("torchvision", "0.29.1")):
        spec = next(r[len(name):] for r in reqs if re.match(rf"{name}[<>=]", r))
        assert version in SpecifierSet(spec), f"{name} {version} not admitted by {spec}"


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text().split("## The notebooks")[0]
    assert re.search(r"^python3 course\.py test$", ci, re.M)
    assert "python3 course.py test" in readme and "py course.py test" in readme and "course.py lab" in readme
    assert "make test" in readme and "make lab" in readme  # the aliases, for those who have make


def test_notebooks_are_numbered_without_gaps_or_twins():
    numbers = [p.stem[:2] for p in NOTEBOOKS]
    assert numbers == [f"{i:02d}" for i in range(len(NOTEBOOKS))], [p.stem for p in NOTEBOOKS]
    assert len(NOTEBOOKS) >= 9


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    code = [(i, c) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]
    dirty = [i for i, c in code if c.get("outputs") or c.get("execution_count")]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; run `make clean-outputs`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_follows_the_course_conventions(path):
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    title = "".join(cells[0]["source"])
    assert cells[0]["cell_type"] == "markdown" and title.startswith("# ")
    has_time = re.search(r"Time:\*?\*?\s*about \d+", title)
    assert "What you will learn" in title and has_time, "title cell needs learn + time"
    prose = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert re.search(r"^## Summary", prose, re.M), "needs a ## Summary"
    assert re.search(r"^## Exercises", prose, re.M), "needs ## Exercises"
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "reveal(" in code and "check_" in code, "exercises need a check and a revealable solution"
    assert "assert " in code, "needs assert checkpoints"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_no_torch_load_without_weights_only():
    out = subprocess.run(["git", "grep", "-n", r"torch\.load(", "--", "*.py", "*.ipynb"],
                         cwd=REPO, capture_output=True, text=True).stdout
    unsafe = [line for line in out.splitlines() if "weights_only=True" not in line]
    assert not unsafe, unsafe


def test_the_index_has_one_row_per_module_of_course_utils():
    """course_utils/__init__.py's table lists every module and package once, and nothing that is not there.

    (Its notebook column is computed from the notebooks' imports by scripts/sync_notebooks.py, which
    tests/test_notebook_setup.py runs with --check.)
    """
    package = REPO / "course_utils"
    modules = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    doc = (package / "__init__.py").read_text(encoding="utf-8")
    lines = doc.splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("=====")]  # above, under the header, below
    rows = [line.split()[0] for line in lines[rules[1] + 1:rules[2]] if line.strip()]
    assert sorted(rows) == sorted(set(rows)), f"rows listed twice: {[r for r in rows if rows.count(r) > 1]}"
    assert not modules - set(rows), f"modules missing from the index: {sorted(modules - set(rows))}"
    assert not set(rows) - modules, f"rows for modules that do not exist: {sorted(set(rows) - modules)}"


# --- conventions of the notebooks' code ---------------------------------------------------

def _code_lines(path: Path):
    for i, cell in enumerate(cells(path)):
        if cell["cell_type"] == "code":
            for line in source(cell).splitlines():
                yield i, line


GRADCAM_NOTEBOOKS = [p for p in NOTEBOOKS if "grad_cam" in p.stem or "explanation" in p.stem]


@pytest.mark.parametrize("path", GRADCAM_NOTEBOOKS, ids=lambda p: p.stem)
def test_gradcam_notebooks_never_divide_by_a_maximum_by_hand(path):
    bare = re.compile(r"/\s*[\w.\[\]()\"':, ]*\.(max|amax)\([^)]*\)(?!\.clamp)")
    found = [f"cell {i}: {line.strip()}" for i, line in _code_lines(path) if bare.search(line)]
    assert not found, f"{path.name} divides by a map's maximum (NaN on an all-zero map); use scale_maps: {found}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_scope_thread_changes(path):
    found = [f"cell {i}: {line.strip()}" for i, line in _code_lines(path) if "set_num_threads" in line]
    assert not found, (f"{path.name} sets the thread count directly; use `with cpu_threads(n):` from "
                       f"course_utils.device so the change cannot outlive the cell: {found}")
