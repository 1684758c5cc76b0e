"""Solution pages generated from ``course_utils/exercises``: an answer key without a kernel.

Nothing here is copied by hand. For each notebook ``NN_x.ipynb`` the module
``course_utils.exercises.nbNN`` holds ``check_<name>`` and ``solution_<name>`` pairs.
Each exercise on the page shows:

* the exercise as the notebook states it (the markdown cell before the ``check_<name>(...)`` cell);
* what the check expects (the check's docstring);
* the worked solution exactly as "Show solution" reveals it in the notebook
  (``solution_source``, made from ``inspect.getsource`` of ``solution_<name>``), and its idea
  (the solution's docstring).
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_utils.exercises import hints_for, solution_source


@dataclass(frozen=True)
class Exercise:
    name: str  # "fc_share" for check_fc_share / solution_fc_share
    statement: str  # markdown from the notebook ("" when the notebook does not pose it)
    expects: str  # the check's docstring
    idea: str  # the solution's docstring
    code: str  # the solution as the notebook reveals it
    hints: tuple[str, ...] = ()  # what the notebook's hint buttons reveal first


def anchor(name: str) -> str:
    """The HTML id of an exercise's section, e.g. ``solution-fc-share``."""
    return "solution-" + name.replace("_", "-")


def exercises_module(notebook: Path):
    """``course_utils.exercises.nbNN`` for ``notebooks/NN_x.ipynb``, or None if there is none."""
    number = Path(notebook).name[:2]
    try:
        return importlib.import_module(f"course_utils.exercises.nb{number}")
    except ModuleNotFoundError:
        return None


def _statements(notebook: Path) -> dict[str, str]:
    """Map exercise name to the markdown cell that poses it (the one before its check cell)."""
    cells = nbformat.read(str(notebook), as_version=4).cells
    found = {}
    for i, cell in enumerate(cells):
        match = cell.cell_type == "code" and re.search(r"\bcheck_(\w+)\(", cell.source)
        if match and i > 0 and cells[i - 1].cell_type == "markdown":
            text = cells[i - 1].source
            if text.lstrip().startswith("## Exercises"):  # the heading sits in the same cell as exercise 1
                text = text.lstrip()[len("## Exercises"):]
            found[match.group(1)] = text.strip()
    return found


def exercises(notebook: Path) -> list[Exercise]:
    """Every exercise of a notebook, in the order its module defines the solutions."""
    module = exercises_module(notebook)
    if module is None:
        return []
    statements = _statements(notebook)
    solutions = [(name, fn) for name, fn in vars(module).items()
                 if name.startswith("solution_") and inspect.isfunction(fn) and fn.__module__ == module.__name__]
    solutions.sort(key=lambda pair: inspect.getsourcelines(pair[1])[1])
    result = []
    for fn_name, fn in solutions:
        name = fn_name[len("solution_"):]
        check = getattr(module, f"check_{name}", None)
        if check is None:
            raise ValueError(f"{module.__name__}.{fn_name} has no check_{name}: every solution needs its check")
        result.append(Exercise(name, statements.get(name, ""), inspect.getdoc(check) or "",
                               inspect.getdoc(fn) or "", solution_source(fn), hints_for(fn)))
    return result


def _fence(code: str, lang: str = "python") -> str:
    ticks = "`" * max(3, max((len(m) for m in re.findall(r"`+", code)), default=0) + 1)
    return f"{ticks}{lang}\n{code}\n{ticks}"


def page(notebook: Path, title: str) -> str:
    """The MyST markdown of one notebook's solution page."""
    lines = [f"# Solutions: {title}", "",
             f"The worked solutions to the exercises of [{title}](../notebooks/{Path(notebook).stem}.ipynb), "
             "generated from `course_utils/exercises`: the same code that *Show solution* reveals in the notebook. "
             "Try each exercise first.", ""]
    for number, ex in enumerate(exercises(notebook), start=1):
        lines += [f"({anchor(ex.name)})=", f"## Exercise {number}: `{ex.name}`", ""]
        if ex.statement:
            lines += [ex.statement, ""]
        if ex.expects:
            lines += [f"**What the check (`check_{ex.name}`) expects:** {ex.expects}", ""]
        for i, hint in enumerate(ex.hints, start=1):
            lines += [f"**Hint {i}.** {hint}", ""]
        if ex.idea:
            lines += [f"**The idea:** {ex.idea}", ""]
        lines += [_fence(ex.code), ""]
    return "\n".join(lines)


def notebook_title(notebook: Path) -> str:
    """The notebook's H1 (``01 · The VGG architecture, computed``)."""
    first = nbformat.read(str(notebook), as_version=4).cells[0].source
    return first.splitlines()[0].lstrip("# ").strip()
