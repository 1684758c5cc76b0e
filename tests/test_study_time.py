"""The time model: study times are computed from the notebooks, and every header says what the model says.

The expected minutes in the unit tests are worked out by hand from the model's stated rates
(120 words a minute; half a minute a code cell plus 3 seconds a line; 6 minutes an exercise),
not by calling the code under test twice.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from coursesite import notebook_paths, study_time
from coursesite.study_time import Effort, cell_effort, rounded, sections

NOTEBOOKS = notebook_paths()
TIME = re.compile(r"\*\*Time:\*\*\s+about (\d+) minutes of study")


def _notebook(tmp_path, cells) -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 99 · Title\n\nnot counted at all")] + cells)
    path = tmp_path / "99_example.ipynb"
    nbformat.write(nb, str(path))
    return path


def test_the_model_counts_words_cells_lines_and_exercises(tmp_path):
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    path = _notebook(tmp_path, [
        md(" ".join(["word"] * 240)),                         # 240 words at 120 a minute: 2.0
        code("a = 1\n# a comment is free\n\nb = 2\nc = 3"),    # one cell, 3 lines: 0.5 + 0.15
        code("answer = None  # your code here\ncheck_thing(answer);"),  # 0.5 + 0.1 + an exercise, 6
        code("import os", metadata={"tags": ["course-setup"]}),  # the generated set-up cell: free
    ])
    effort = study_time.notebook_effort(path)
    assert (effort.words, effort.code_cells, effort.code_lines, effort.exercises) == (240, 2, 5, 1)
    assert effort.minutes == pytest.approx(2.0 + 0.65 + 6.6)
    assert study_time.study_minutes(path) == 10  # 9.25, rounded up to a multiple of 5


def test_rounding_is_up_to_the_next_five_minutes():
    assert [rounded(m) for m in (0.1, 5.0, 5.01, 44.2, 60.0)] == [5, 5, 10, 45, 60]


def test_sections_split_the_effort_at_level_two_headings(tmp_path):
    md = nbformat.v4.new_markdown_cell
    path = _notebook(tmp_path, [md("intro words here"), md("## 1. First\n\none two"), md("## 2. Second\n\nx y z")])
    found = sections(path)
    assert list(found) == ["(intro)", "1. First", "2. Second"]
    assert found["2. Second"].words == 6  # "##", "2.", "Second", "x", "y", "z"


def test_a_code_cell_with_a_check_is_an_exercise():
    assert cell_effort(nbformat.v4.new_code_cell("check_vgg13(answer);")).exercises == 1
    assert cell_effort(nbformat.v4.new_code_cell("reveal(solution_vgg13)")).exercises == 0
    assert Effort(words=120).minutes == pytest.approx(1.0)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_header_says_what_the_model_says(path):
    title = nbformat.read(str(path), as_version=4).cells[0].source
    match = TIME.search(title)
    assert match, f"{path.name}: no '**Time:** about N minutes of study' line"
    assert int(match.group(1)) == study_time.study_minutes(path), (
        f"{path.name} says about {match.group(1)} minutes, the model says {study_time.study_minutes(path)}: "
        "run `python scripts/sync_notebooks.py`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_is_one_sitting(path):
    minutes = study_time.notebook_effort(path).minutes
    assert minutes <= study_time.LIMIT_MINUTES, (
        f"{path.name} needs {minutes:.1f} minutes by the time model, more than one sitting "
        f"({study_time.LIMIT_MINUTES}): split or trim it (`python -m coursesite.study_time --sections {path}`)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_run_time_in_the_header_is_the_measured_one(path):
    seconds = study_time.measured_seconds(path)
    assert seconds is not None, f"{path.stem} is not in docs/measurements.json: run `make measure`"
    title = nbformat.read(str(path), as_version=4).cells[0].source
    shown = f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} minutes"
    assert f"the code runs in about {shown} on a 2-core CPU, measured" in title, (
        f"{path.name}: the header's run time is not the measured {shown}: run `python scripts/sync_notebooks.py`")
