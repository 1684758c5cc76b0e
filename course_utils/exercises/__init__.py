"""Exercise checks and revealable solutions, one module per notebook.

Every exercise in the course ends with two cells:

* ``check_xxx(your_answer)`` prints what is right or what is still wrong, and
  returns True or False. It never raises, so a half-done notebook still runs.
* ``reveal(solution_xxx)`` shows a "Show solution" button; the worked solution's
  source appears only when you click it. Try first!

The solutions are real functions, so the tests run each one through its check.
"""

from __future__ import annotations

import inspect
import textwrap
from typing import Callable

NOT_ATTEMPTED = "Not attempted yet: replace the `None` above with your answer, then run this cell again."


def not_attempted() -> bool:
    """Say the exercise is not attempted yet; return False."""
    print(NOT_ATTEMPTED)
    return False


def call_safely(fn: Callable, *args) -> tuple[object, str | None]:
    """Call the learner's function; return (result, None) or (None, what went wrong)."""
    try:
        return fn(*args), None
    except Exception as err:  # the learner's code may raise anything; report it, don't crash
        return None, f"calling your answer raised {type(err).__name__}: {err}"


def report(ok: bool, message: str) -> bool:
    """Print a tick or a cross with ``message``; return ``ok``."""
    print(("✅ Correct! " if ok else "❌ Not yet: ") + message)
    return ok


def solution_source(solution: Callable) -> str:
    """A solution function's body as notebook code: no def line, docstring or return."""
    lines = inspect.getsource(solution).splitlines()
    body = lines[1:]
    doc = inspect.getdoc(solution)
    if doc and body and body[0].strip().startswith(('"""', "'''")):
        quote = body[0].strip()[:3]
        end = next(i for i, line in enumerate(body) if line.rstrip().endswith(quote) and (i > 0 or line.strip().count(quote) >= 2))
        body = body[end + 1:]
    lines = textwrap.dedent("\n".join(body)).strip().splitlines()
    # A solution ends in `return <answer>`; in a notebook cell that line is `answer = ...`.
    if lines and lines[-1].startswith("return "):
        value = lines.pop()[len("return "):]
        if value != "answer":
            lines.append(f"answer = {value}")
    return "\n".join(lines).rstrip()


def reveal(solution: Callable) -> None:
    """Show a button that reveals ``solution``'s code (plain text where widgets are missing)."""
    source = solution_source(solution)
    try:
        import ipywidgets as widgets
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - outside Jupyter
        print(source)
        return
    out = widgets.Output()
    button = widgets.Button(description="Show solution", icon="eye")

    def on_click(_):
        with out:
            out.clear_output()
            display(Markdown(f"```python\n{source}\n```"))
        button.disabled = True

    button.on_click(on_click)
    display(widgets.VBox([button, out]))
