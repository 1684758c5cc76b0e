"""Give every notebook its Colab/Binder links and its set-up cell, from pyproject.toml.

    python scripts/sync_notebooks.py           # update notebooks/*.ipynb in place (idempotent)
    python scripts/sync_notebooks.py --check   # change nothing; exit 1 if a notebook is out of date

The course's repository address lives in one place, ``[project.urls] Repository`` in
pyproject.toml. From it this script writes, in every notebook:

* an "Open in Colab" and a "Binder" badge in the title cell, linking to that notebook's path;
* a set-up cell right after the title: under `make lab`, Binder or any kernel where
  ``course_utils`` imports, it does nothing; elsewhere (Colab) it finds the course next to
  the notebook or clones it, and puts it on ``sys.path``, with no runtime restart. Colab
  already has every package the course needs (torch, torchvision, matplotlib, OpenCV,
  ipywidgets, tqdm), so it installs nothing;
* the title cell's **Time** line (study minutes from the course's time model,
  ``coursesite.study_time``; the run time from ``make measure``'s ``docs/measurements.json``) and
  its **Peak memory** line (measured), so that no header promises a typed number.

It also writes the README's notebooks table from the same numbers and from
``coursesite.plans.REQUIRES``, and re-renders ``docs/measurements.md`` (the guide's tables and
workshop plans), so one command brings everything derived from the notebooks up to date.

Rerun it after adding or renumbering a notebook; tests/test_notebook_setup.py fails until then.
COURSE_REPO_URL, if set, replaces the address the cell clones (a fork, or the tests' local copy).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # coursesite: the time model and the measurements

from coursesite import measure, plans, study_time  # noqa: E402
from coursesite.measure import downloads  # noqa: E402

NOTEBOOKS = REPO / "notebooks"
BRANCH = "main"
SETUP_TAG = "course-setup"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"
BADGE_LINE = re.compile(r"^\[!\[Open in Colab\]")

SETUP_CELL = """\
# Colab, or any Jupyter without the course installed: get the course and make it importable.
# Under `make lab` and on Binder the course is installed already, and this cell does nothing.
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("course_utils") is None:
    course_dir = next((p for p in (os.path.abspath(".."), os.path.abspath("{folder}"))
                       if os.path.isdir(os.path.join(p, "course_utils"))), None)
    if course_dir is None:  # clone it: a few MB (the weights download later, on first use)
        course_dir = os.path.abspath("{folder}")
        repository = os.environ.get("COURSE_REPO_URL", "{url}")
        subprocess.run(["git", "clone", "--depth", "1", repository, course_dir], check=True)
    sys.path.insert(0, course_dir)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [course_dir, os.environ.get("PYTHONPATH")]))
    print("course_utils comes from", course_dir)"""


def repository_url(pyproject: Path = REPO / "pyproject.toml") -> str:
    """The GitHub address in pyproject.toml's [project.urls] Repository (Colab opens GitHub paths)."""
    urls = tomllib.loads(pyproject.read_text())["project"].get("urls", {})
    url = urls.get("Repository", "").rstrip("/")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        sys.exit(f"pyproject.toml needs [project.urls] Repository = \"https://github.com/OWNER/NAME\"; found {url!r}")
    return url


def badge_line(url: str, notebook: str) -> str:
    """The title cell's line of badges for notebooks/<notebook>."""
    owner_repo = url.removeprefix("https://github.com/")
    colab = f"https://colab.research.google.com/github/{owner_repo}/blob/{BRANCH}/notebooks/{notebook}"
    binder = f"https://mybinder.org/v2/gh/{owner_repo}/{BRANCH}?labpath=notebooks%2F{notebook}"
    return f"[![Open in Colab]({COLAB_BADGE})]({colab}) [![Binder]({BINDER_BADGE})]({binder})"


def setup_source(url: str) -> str:
    return SETUP_CELL.format(url=url, folder=url.rsplit("/", 1)[-1])


def with_badges(title: str, line: str) -> str:
    """The title cell with exactly one badge line, between its heading and the rest."""
    heading, *rest = title.split("\n")
    rest = [ln for ln in rest if not BADGE_LINE.match(ln)]
    while rest and rest[0] == "":
        rest.pop(0)
    return "\n".join([heading, "", line, ""] + rest)


TIME_LINE = re.compile(r"\*\*Time:\*\*.*?(?=\n\s*\n|\Z)", re.S)
PEAK_LINE = re.compile(r"\*\*Peak memory:\*\*.*?(?=\n\s*\n|\Z)", re.S)


def measurement(stem: str) -> dict | None:
    """The notebook's row of docs/measurements.json, or None before `make measure` ran it."""
    path = study_time.MEASUREMENTS
    rows = json.loads(path.read_text(encoding="utf-8"))["notebooks"] if path.is_file() else []
    return next((r for r in rows if r["notebook"] == stem), None)


def run_time(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} minutes"


def mib(value: float) -> str:
    return f"{value / 1024:.1f} GiB ({value:,.0f} MiB)" if value >= 1024 else f"{value:,.0f} MiB"


def time_line(path: Path) -> str:
    row = measurement(path.stem)
    ran = (f"the code runs in about {run_time(row['seconds'])} on a 2-core CPU, measured"
           if row else "the run time is not measured yet: run `make measure`")
    return (f"**Time:** about {study_time.study_minutes(path)} minutes of study ({ran}). The study time "
            "comes from the course's time model: prose, code, exercises and the run, counted (the "
            "instructor's guide says how).")


def peak_line(path: Path) -> str:
    row = measurement(path.stem)
    if not row:
        return "**Peak memory:** not measured yet: run `make measure`."
    workers = (f"; each worker process it starts needs up to {mib(row['child_peak_rss_mb'])} more"
               if row.get("child_peak_rss_mb", 0) > row["peak_rss_mb"] / 2 else "")
    return (f"**Peak memory:** about {mib(row['peak_rss_mb'])}, measured: the kernel's peak resident memory "
            f"under `make measure`{workers}.")


def with_numbers(title: str, path: Path) -> str:
    """The title cell with its Time and Peak memory lines generated."""
    for pattern, line in ((TIME_LINE, time_line(path)), (PEAK_LINE, peak_line(path))):
        if not pattern.search(title):
            sys.exit(f"{path.name}: the title cell needs a '{line.split(':**')[0]}:**' line (CONTRIBUTING.md)")
        title = pattern.sub(lambda _m, line=line: line, title, count=1)
    return title


def readme_table(paths: list[Path]) -> str:
    """The README's notebooks table: one row per notebook, every number generated."""
    knows = plans.LEAVE_KNOWING
    lines = ["| # | notebook | you leave knowing | study time | prerequisites | peak memory | downloads |",
             "|---|---|---|---|---|---|---|"]
    numbers = {p.stem[3:]: p.stem[:2] for p in paths}
    for p in paths:
        name, row = p.stem[3:], measurement(p.stem)
        needs = ", ".join(sorted(numbers.get(n, f"({n})") for n in plans.REQUIRES.get(name, ()))) or "none"
        peak = mib(row["peak_rss_mb"]) if row else "not measured yet"
        if row and row.get("child_peak_rss_mb", 0) > row["peak_rss_mb"] / 2:
            peak += f", plus up to {mib(row['child_peak_rss_mb'])} per worker process"
        files = "; ".join(f"`{d['file']}` ({d['mb']} MiB)" for d in downloads(p))
        lines.append(f"| {p.stem[:2]} | `{p.stem}` | {knows.get(name, '(say what it teaches in coursesite/plans.py)')} "
                     f"| about {study_time.study_minutes(p)} min | {needs} | {peak} | "
                     f"{files + ' (once; `make prefetch`)' if files else 'none'} |")
    return "\n".join(lines)


INDEX_ROW = re.compile(r"^(\w+)( +)(.+?)( {2,})(\S.*)$")


def imported_modules(path: Path) -> set[str]:
    """The course_utils modules a notebook's code imports (top-level names: ``gradcam`` for its parts)."""
    code = "\n".join(c.source for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code")
    found = set(re.findall(r"(?:from|import)\s+course_utils\.(\w+)", code))
    # `from course_utils import a, b as B` on one line, or `from course_utils import (...)` on several
    for bracketed, line in re.findall(r"from\s+course_utils\s+import\s+(?:\(([^)]*)\)|([^\n]+))", code):
        names = (bracketed or line.split("#")[0]).split(",")
        found |= {n.split()[0] for n in names if n.strip()}  # "distributed as D" -> distributed
    return found


def synced_index(text: str, paths: list[Path]) -> str:
    """course_utils/__init__.py with its table's notebook column computed from the notebooks' imports."""
    users = {}
    for p in paths:
        for module in imported_modules(p):
            users.setdefault(module, []).append(p.stem[:2])
    lines, out, in_table = text.splitlines(), [], 0
    for line in lines:
        if line.startswith("====="):
            in_table += 1
        match = INDEX_ROW.match(line) if in_table == 2 else None
        if match and match.group(1) != "module":
            module, idea = match.group(1), match.group(3)
            numbers = users.get(module, [])
            column = "all" if len(numbers) == len(paths) else ", ".join(numbers) or "(none)"
            line = f"{module:<21}{idea:<61}{column}".rstrip()
        out.append(line)
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


README_TABLE = re.compile(r"(## The notebooks\n\n)\| # \|.*?\n(?=\n)", re.S)


def synced_readme(text: str, paths: list[Path]) -> str:
    if not README_TABLE.search(text):
        sys.exit("README.md: '## The notebooks' must be followed by its table ('| # | notebook | ...')")
    return README_TABLE.sub(lambda m: m.group(1) + readme_table(paths) + "\n", text, count=1)


def synced(text: str, name: str, url: str, path: Path | None = None) -> str:
    """A notebook's JSON text with its badges and set-up cell up to date (nbformat's layout)."""
    nb = nbformat.reads(text, as_version=4)
    title = nb.cells[0]
    if title.cell_type != "markdown" or not title.source.startswith("# "):
        sys.exit(f"{name}: the first cell must be the markdown title ('# NN · Title')")
    title.source = with_badges(title.source, badge_line(url, name))
    if path is not None:
        title.source = with_numbers(title.source, path)
    setup = [c for c in nb.cells if SETUP_TAG in c.get("metadata", {}).get("tags", [])]
    if setup:
        cell = setup[0]
        cell.source = setup_source(url)
        nb.cells = [c for c in nb.cells if c not in setup]
    else:
        cell = nbformat.v4.new_code_cell(setup_source(url), metadata={"tags": [SETUP_TAG]})
        cell.id = SETUP_TAG
    nb.cells.insert(1, cell)
    return nbformat.writes(nb) + "\n"


def is_stale(path: Path, url: str, numbers: bool = True) -> bool:
    """Whether the notebook's content (not just its JSON key order) differs from the synced one."""
    text = path.read_text(encoding="utf-8")
    new = synced(text, path.name, url, path if numbers else None)
    return nbformat.reads(new, as_version=4) != nbformat.reads(text, as_version=4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is out of date")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    url = repository_url()
    course = args.notebooks.resolve() == NOTEBOOKS.resolve()  # a copy elsewhere (the tests) gets links only
    paths = sorted(args.notebooks.glob("*.ipynb"))
    stale = [p for p in paths if is_stale(p, url, numbers=course)]
    readme = REPO / "README.md"
    readme_text = readme.read_text(encoding="utf-8")
    new_readme = synced_readme(readme_text, paths) if course else readme_text
    index = REPO / "course_utils" / "__init__.py"
    index_text = index.read_text(encoding="utf-8")
    new_index = synced_index(index_text, paths) if course else index_text
    guide_text = measure.MD_PATH.read_text(encoding="utf-8") if measure.MD_PATH.is_file() else ""
    new_guide = guide_text
    if course and measure.JSON_PATH.is_file():  # the guide's tables and plans, from the same numbers
        new_guide = measure.render(json.loads(measure.JSON_PATH.read_text(encoding="utf-8"))) + "\n"
    if not args.check:
        for path in stale:
            text = synced(path.read_text(encoding="utf-8"), path.name, url, path if course else None)
            path.write_text(text, encoding="utf-8")
            print(f"updated {path.name}")
        if new_readme != readme_text:
            readme.write_text(new_readme, encoding="utf-8")
            print("updated README.md (the notebooks table)")
        if new_index != index_text:
            index.write_text(new_index, encoding="utf-8")
            print("updated course_utils/__init__.py (which notebook uses each module)")
        if new_guide != guide_text:
            measure.MD_PATH.write_text(new_guide, encoding="utf-8")
            print(f"updated {measure.MD_PATH.relative_to(REPO)} (the guide's tables and plans)")
        return 0
    stale_names = ([p.name for p in stale] + (["README.md"] if new_readme != readme_text else [])
                   + ([measure.MD_PATH.name] if new_guide != guide_text else [])
                   + (["course_utils/__init__.py"] if new_index != index_text else []))
    if stale_names:
        print("out of date (run `python scripts/sync_notebooks.py`): " + ", ".join(stale_names))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
