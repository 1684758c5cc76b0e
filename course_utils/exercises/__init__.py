"""Exercise checks and revealable solutions, one module per notebook (``nbNN.py``).

Every exercise in the course ends with two cells:

* ``check_xxx(your_answer)`` prints what is right or what is still wrong, and
  returns True or False. It never raises, whatever it is given (``None`` means
  "not attempted yet"), so a half-done notebook still runs to the end.
* ``reveal(solution_xxx)`` shows a "Show solution" button; the worked solution's
  source appears only when you click it. Try first!

Every ``check_xxx`` has a ``solution_xxx``, and the tests run each solution through
its check. A check never computes its expected value with the solution's code
(that would only prove the code agrees with itself): it works it out another way,
from first principles, through a different library, or from a pinned number with its
source.

The helpers below are the machinery every module shares.
"""

from __future__ import annotations

import functools
import inspect
import numbers
import textwrap
from collections.abc import Callable

import numpy as np
import torch

NOT_ATTEMPTED = "Not attempted yet: replace the `None` above with your answer, then run this cell again."


def not_attempted() -> bool:
    """Say the exercise is not attempted yet; return False."""
    print(NOT_ATTEMPTED)
    return False


def call_safely(fn: Callable, *args, doing: str = "calling your answer") -> tuple[object, str | None]:
    """Call the learner's code; return (result, None) or (None, "<doing> raised <what>").

    A check must never raise, and the learner's code may raise anything.
    """
    try:
        return fn(*args), None
    except Exception as err:  # report it, don't crash the notebook
        return None, f"{doing} raised {type(err).__name__}: {str(err)[:300]}"


def as_number(answer: object, whole: bool = False) -> int | float | None:
    """The learner's answer as a plain Python int or float, or None if it is not a number.

    Accepts ints, floats, NumPy scalars and one-element tensors or arrays (what
    ``.sum()`` and ``.numel()`` give). Refuses bools and strings: ``True`` is not a
    count, and ``"5"`` is a slip the check should point out, not quietly fix.
    With ``whole=True`` only whole numbers pass (``5.0`` becomes ``5``; NaN and inf do not).
    """
    if isinstance(answer, (torch.Tensor, np.ndarray, np.generic)):
        size = answer.numel() if isinstance(answer, torch.Tensor) else answer.size
        if size != 1:
            return None
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        return None
    if whole:
        if isinstance(answer, numbers.Integral):
            return int(answer)
        return int(answer) if float(answer).is_integer() else None
    return answer


def number_check(what: str, whole: bool = False) -> Callable[[Callable], Callable]:
    """Decorate a check whose answer is one number: it then receives that number, never junk.

    ``None`` gets "not attempted yet" and anything ``as_number`` refuses gets
    "give <what>", so the check itself only compares numbers.
    """
    def decorate(check: Callable[[int | float], bool]) -> Callable[[object], bool]:
        @functools.wraps(check)
        def checked(answer: object) -> bool:
            if answer is None:
                return not_attempted()
            value = as_number(answer, whole=whole)
            if value is None:
                return report(False, f"give {what}, got {answer!r:.80}.")
            return check(value)
        return checked
    return decorate


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
        end = next(i for i, line in enumerate(body)
                   if line.rstrip().endswith(quote) and (i > 0 or line.strip().count(quote) >= 2))
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
