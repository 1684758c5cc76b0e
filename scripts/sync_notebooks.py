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
  ipywidgets, tqdm), so it installs nothing.

Rerun it after adding or renumbering a notebook; tests/test_notebook_setup.py fails until then.
COURSE_REPO_URL, if set, replaces the address the cell clones (a fork, or the tests' local copy).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
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


def synced(text: str, name: str, url: str) -> str:
    """A notebook's JSON text with its badges and set-up cell up to date (nbformat's layout)."""
    nb = nbformat.reads(text, as_version=4)
    title = nb.cells[0]
    if title.cell_type != "markdown" or not title.source.startswith("# "):
        sys.exit(f"{name}: the first cell must be the markdown title ('# NN · Title')")
    title.source = with_badges(title.source, badge_line(url, name))
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


def is_stale(path: Path, url: str) -> bool:
    """Whether the notebook's content (not just its JSON key order) differs from the synced one."""
    text = path.read_text(encoding="utf-8")
    return nbformat.reads(synced(text, path.name, url), as_version=4) != nbformat.reads(text, as_version=4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is out of date")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    url = repository_url()
    stale = [p for p in sorted(args.notebooks.glob("*.ipynb")) if is_stale(p, url)]
    if not args.check:
        for path in stale:
            path.write_text(synced(path.read_text(encoding="utf-8"), path.name, url), encoding="utf-8")
            print(f"updated {path.name}")
        return 0
    if stale:
        print("out of date (run `python scripts/sync_notebooks.py`): " + ", ".join(p.name for p in stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
