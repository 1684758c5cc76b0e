"""The course's time model: how long a notebook takes a careful learner, computed from the notebook.

    python -m coursesite.study_time            # every notebook: the model's terms and its minutes
    python -m coursesite.study_time --sections notebooks/04_pretrained_inference.ipynb

A header's "Time: about N minutes of study" is not typed: ``scripts/sync_notebooks.py`` writes
it from ``study_minutes``, and ``tests/test_study_time.py`` fails when a header disagrees.
The model adds four things a learner does (the instructor's guide says how the rates were chosen):

* **reading prose** at ``WORDS_PER_MINUTE`` (technical text read to be learned, about half the
  average silent-reading rate of non-fiction);
* **reading and running each code cell**: ``CELL_MINUTES`` per cell plus ``LINE_MINUTES`` per
  line of code (comments and blank lines are free);
* **each exercise** (a cell that calls ``check_xxx(...)``): ``EXERCISE_MINUTES`` to think, write,
  check, and perhaps climb the hint ladder;
* **waiting for the code**: the notebook's run time as ``make measure`` measured it
  (``docs/measurements.json``), when it has been measured.

The title cell and the generated set-up cell are not counted (nobody studies them), and neither
is code inside a Markdown fence (it is read as prose would be, so it counts as words).
"""

from __future__ import annotations

import argparse
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from coursesite import REPO, notebook_paths

WORDS_PER_MINUTE = 120
CELL_MINUTES = 0.5
LINE_MINUTES = 0.05
EXERCISE_MINUTES = 6.0
ROUND_TO = 5  # headers say "about N minutes" with N a multiple of 5, rounded up
LIMIT_MINUTES = 60  # one sitting: no notebook may need more
MEASUREMENTS = REPO / "docs" / "measurements.json"

SETUP_TAG = "course-setup"
CHECK_CALL = re.compile(r"^\s*check_\w+\(", re.M)


@dataclass(frozen=True)
class Effort:
    """What a stretch of notebook asks of a learner, counted."""

    words: int = 0
    code_cells: int = 0
    code_lines: int = 0
    exercises: int = 0
    run_seconds: float = 0.0

    @property
    def minutes(self) -> float:
        return (self.words / WORDS_PER_MINUTE + self.code_cells * CELL_MINUTES
                + self.code_lines * LINE_MINUTES + self.exercises * EXERCISE_MINUTES + self.run_seconds / 60)

    def __add__(self, other: Effort) -> Effort:
        return Effort(self.words + other.words, self.code_cells + other.code_cells,
                      self.code_lines + other.code_lines, self.exercises + other.exercises,
                      self.run_seconds + other.run_seconds)


def cell_effort(cell) -> Effort:
    """One cell's words (Markdown) or cell, lines and exercises (code)."""
    if cell.cell_type == "markdown":
        return Effort(words=len(cell.source.split()))
    if cell.cell_type != "code" or SETUP_TAG in cell.get("metadata", {}).get("tags", []):
        return Effort()
    lines = [ln for ln in cell.source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return Effort(code_cells=1, code_lines=len(lines), exercises=int(bool(CHECK_CALL.search(cell.source))))


def _cells(notebook: Path) -> list:
    """The cells a learner studies: all but the title cell."""
    return nbformat.read(str(notebook), as_version=4).cells[1:]


def measured_seconds(notebook: Path, measurements: Path = MEASUREMENTS) -> float | None:
    """The notebook's run time from ``make measure``, or None if it has not been measured."""
    if not measurements.is_file():
        return None
    rows = json.loads(measurements.read_text(encoding="utf-8")).get("notebooks", [])
    return next((row["seconds"] for row in rows if row["notebook"] == Path(notebook).stem), None)


def notebook_effort(notebook: Path) -> Effort:
    total = sum((cell_effort(c) for c in _cells(notebook)), Effort())
    return total + Effort(run_seconds=measured_seconds(notebook) or 0.0)


def rounded(minutes: float) -> int:
    """Up to the next multiple of ``ROUND_TO`` (a promise should not be short)."""
    return max(ROUND_TO, ROUND_TO * math.ceil(minutes / ROUND_TO - 1e-9))


def study_minutes(notebook: Path) -> int:
    """The minutes a header promises: the model's total, rounded up to a multiple of 5."""
    return rounded(notebook_effort(notebook).minutes)


def section_number(heading: str) -> int | None:
    """2 for '## 2. One photo, step by step'; None for other headings."""
    match = re.match(r"##\s+(\d+)\.", heading)
    return int(match.group(1)) if match else None


def sections(notebook: Path) -> dict[str, Effort]:
    """Effort per level-2 section ('## ...' heading to the next), in order; '(intro)' before the first."""
    found: dict[str, Effort] = {}
    current = "(intro)"
    for cell in _cells(notebook):
        headings = [ln[3:].strip() for ln in cell.source.splitlines() if ln.startswith("## ")]
        if cell.cell_type == "markdown" and headings:
            current = headings[-1]  # a cell that opens a section counts towards it
        found[current] = found.get(current, Effort()) + cell_effort(cell)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--sections", action="store_true", help="one line per section")
    args = parser.parse_args(argv)
    for nb in args.notebooks or notebook_paths():
        e = notebook_effort(nb)
        flag = "  OVER ONE SITTING" if e.minutes > LIMIT_MINUTES else ""
        print(f"{nb.stem:40s} {e.words:5d} words {e.code_cells:3d} cells {e.code_lines:4d} lines "
              f"{e.exercises} exercises {e.run_seconds:5.0f} s run -> {e.minutes:5.1f} min, "
              f"header {study_minutes(nb)}{flag}")
        if args.sections:
            for name, s in sections(nb).items():
                print(f"    {s.minutes:5.1f}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
