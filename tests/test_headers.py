"""Every notebook's title cell tells a learner what they are in for, and the README's table agrees with it.

The title cell must give, in this format (CONTRIBUTING.md):

    # NN · Title
    **What you will learn** (a list)
    **Prerequisites:** ...
    **Time:** about N minutes of study (the code runs in about M s/min on a 2-core CPU).
    **Peak memory:** about X GB (measured: ...).
    **Downloads:** ... (or "none")

The README's "## The notebooks" table has one row per notebook, with the same study time.
Notebooks are found by globbing, so a new or renumbered notebook is checked without editing this file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from course_notebooks import NOTEBOOKS

REPO = Path(__file__).resolve().parents[1]

TIME = re.compile(r"\*\*Time:\*\*\s+about (\d+) minutes of study\s+\(the code runs in about "
                  r"(\d+(?:\.\d+)?)\s*(?:to \d+(?:\.\d+)?\s*)?(s|seconds?|min|minutes?)\b"
                  r"[^)]*?on a 2-core(?: \w+)? CPU")
PEAK = re.compile(r"\*\*Peak memory:\*\*\s+about (\d+(?:\.\d+)?) (GB|MB|GiB|MiB)\b[^*]*measured")
FIELD = {name: re.compile(rf"\*\*{name}:\*\*\s*(\S[^*]*)") for name in ("Prerequisites", "Downloads")}


def title_cell(path: Path) -> str:
    """The first markdown cell that starts with a level-1 heading (a set-up code cell may come before it)."""
    for cell in json.loads(path.read_text())["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and text.lstrip().startswith("# "):
            return text
    raise AssertionError(f"{path.name} has no title cell: a markdown cell starting with '# {path.name[:2]} · Title'")


def header_problems(path: Path) -> list[str]:
    """What the title cell of ``path`` lacks, in words a contributor can act on; [] when it is complete."""
    text, number = title_cell(path), path.name[:2]
    problems = []
    if not re.match(rf"\s*# {number} · \S", text):
        problems.append(f"the title should read '# {number} · <title>'")
    if not re.search(r"\*\*What you will learn\*\*\s*\n(\s*- .+\n?)+", text):
        problems.append("'**What you will learn**' followed by a list ('- ...')")
    for name, pattern in FIELD.items():
        if not pattern.search(text):
            problems.append(f"'**{name}:** ...'")
    if not TIME.search(text):
        problems.append("'**Time:** about N minutes of study (the code runs in about M s (or min) on a 2-core CPU)'")
    if not PEAK.search(text):
        problems.append("'**Peak memory:** about X GB (measured: ...)'")
    return problems


def study_minutes(path: Path) -> int:
    match = TIME.search(title_cell(path))
    assert match, f"{path.name}: no study time in the title cell"
    return int(match.group(1))


def readme_rows(readme: str) -> dict[str, list[str]]:
    """The README's "## The notebooks" table: notebook stem -> the row's cells (after the notebook column)."""
    section = readme.split("## The notebooks", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 2 and re.fullmatch(r"`\d\d_\w+`", cells[1]):
            rows[cells[1].strip("`")] = cells[2:]
    return rows


def readme_columns(readme: str) -> list[str]:
    section = readme.split("## The notebooks", 1)[1]
    header = next(line for line in section.splitlines() if line.startswith("|"))
    return [c.strip() for c in header.strip().strip("|").split("|")]


def test_there_are_notebooks_to_check():
    assert len(NOTEBOOKS) >= 10


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_title_cell_gives_what_a_learner_needs_to_plan(path):
    problems = header_problems(path)
    assert not problems, f"{path.name}'s title cell needs: " + "; ".join(problems)


def test_readme_table_lists_every_notebook_with_its_study_time():
    readme = (REPO / "README.md").read_text()
    columns = readme_columns(readme)
    for wanted in ("you leave knowing", "study time", "prerequisites", "peak memory", "downloads"):
        assert wanted in columns, f"the README's notebooks table needs a '{wanted}' column; it has {columns}"
    rows = readme_rows(readme)
    assert set(rows) == {p.stem for p in NOTEBOOKS}, (
        f"README table rows {sorted(rows)} != notebooks {[p.stem for p in NOTEBOOKS]}: one row per notebook")
    time_column = columns.index("study time") - 2  # rows hold the cells after '#' and 'notebook'
    for path in NOTEBOOKS:
        cell = rows[path.stem][time_column]
        match = re.search(r"(\d+) min", cell)
        assert match and int(match.group(1)) == study_minutes(path), (
            f"README says {cell!r} for {path.stem}, its title cell says about {study_minutes(path)} minutes")
