"""A small table that shows itself as HTML in Jupyter and as plain text elsewhere.

The course has no pandas; this is all a notebook needs to show a table. Any notebook
can build one: ``Table(headers, rows, title)`` at the end of a cell renders as HTML,
``print(table)`` gives aligned text. A cell holding a list (a block of layers, say)
shows one item per line.
"""

from __future__ import annotations

import html
from dataclasses import dataclass


def _text(cell) -> str:
    return ", ".join(map(str, cell)) if isinstance(cell, (list, tuple)) else str(cell)


def _html(cell) -> str:
    items = cell if isinstance(cell, (list, tuple)) else [cell]
    return "<br>".join(html.escape(str(c)) for c in items)


@dataclass
class Table:
    """Headers, rows of cells, and an optional title (shown as the caption)."""

    headers: list[str]
    rows: list[list]
    title: str = ""

    def __str__(self) -> str:
        text_rows = [list(self.headers)] + [[_text(c) for c in row] for row in self.rows]
        widths = [max(len(r[i]) for r in text_rows) for i in range(len(self.headers))]
        def line(cells: list[str]) -> str:  # first column left-aligned, numbers right-aligned
            return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

        lines = [line(r) for r in text_rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(([self.title] if self.title else []) + lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
        body = "".join("<tr>" + "".join(f"<td>{_html(c)}</td>" for c in row) + "</tr>" for row in self.rows)
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
