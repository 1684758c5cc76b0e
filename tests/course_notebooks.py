"""The course's notebooks as the tests read them: the files in order, one by its number, its cells.

Test files import these instead of each globbing ``notebooks/`` and parsing the JSON itself
(``tests/`` is on ``sys.path``: the top-level ``conftest.py`` puts it there).
"""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def notebook(number: str) -> Path:
    """The one notebook whose file name starts with ``number`` (``"04"``), whatever its title."""
    hits = [p for p in NOTEBOOKS if p.name.startswith(f"{number}_")]
    assert len(hits) == 1, f"expected one notebook {number}_*.ipynb, found {[p.name for p in hits]}"
    return hits[0]


def cells(path: Path, kind: str | None = None) -> list[dict]:
    """A notebook's cells as JSON dicts, in order; only the ``"code"`` or ``"markdown"`` ones if asked."""
    found = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [c for c in found if kind is None or c["cell_type"] == kind]


def source(cell: dict) -> str:
    """One cell's text (the JSON keeps it as a list of lines)."""
    return "".join(cell["source"])


def code(path: Path) -> str:
    """Every code cell of a notebook, one after the other."""
    return "\n".join(source(c) for c in cells(path, "code"))


def prose(path: Path) -> str:
    """Every markdown cell of a notebook, one after the other."""
    return "\n".join(source(c) for c in cells(path, "markdown"))
