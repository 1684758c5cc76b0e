"""Exercise checks and revealable solutions, one module per notebook (``nbNN.py``).

Every exercise in the course ends with two cells:

* ``check_xxx(your_answer)`` prints what is right or what is still wrong, and
  returns True or False. It never raises, whatever it is given (``None`` means
  "not attempted yet"), so a half-done notebook still runs to the end.
* ``reveal(solution_xxx)`` is the ladder for a learner who is stuck: a "Hint 1" button, then
  "Hint 2", then "Show solution", each revealed only by a click (the check / hint / solution
  ladder of Kaggle's learntools). The hints live beside the check, in the module's
  ``HINTS = {"xxx": ("first hint", "second hint")}``; one or two per exercise. A check that
  recognises a common wrong answer says which hint covers it (``report(False, ..., hint=2)``).

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


def call_for_number(fn: Callable, *args, where: str) -> tuple[int | float | None, str | None]:
    """Call the learner's function and read one number back: (number, None), or (None, what went wrong).

    ``where`` starts both messages, e.g. ``"on an all-zero map"``.
    """
    got, err = call_safely(fn, *args)
    if err:
        return None, f"{where}: {err}"
    value = as_number(got)
    if value is None:
        return None, f"{where} return one number, got {got!r:.60}."
    return value, None


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


def callable_check(what: str, hint: int | None = None) -> Callable[[Callable], Callable]:
    """Decorate a check whose answer is a function (or a transform): it then receives something it can call.

    ``None`` gets "not attempted yet" and anything that cannot be called gets "your answer should
    be <what>, got <its type>" (pointing to ``hint`` if given), so the check itself only tests what
    the function does.
    """
    def decorate(check: Callable[[Callable], bool]) -> Callable[[object], bool]:
        @functools.wraps(check)
        def checked(answer: object) -> bool:
            if answer is None:
                return not_attempted()
            if not callable(answer):
                return report(False, f"your answer should be {what}, got {type(answer).__name__}.", hint=hint)
            return check(answer)
        return checked
    return decorate


def report(ok: bool, message: str, hint: int | None = None) -> bool:
    """Print a tick or a cross with ``message``; return ``ok``.

    ``hint=n`` (for a wrong answer the check recognises) points the learner to the hint
    that covers their mistake, before they reach for the solution.
    """
    if hint is not None and not ok:
        message += f" (Stuck? Hint {hint} below is about this.)"
    print(("✅ Correct! " if ok else "❌ Not yet: ") + message)
    return ok


def hints_for(solution: Callable) -> tuple[str, ...]:
    """The hints of ``solution_xxx``: ``HINTS["xxx"]`` of the module that defines it."""
    module = inspect.getmodule(solution)
    key = solution.__name__.removeprefix("solution_")
    found = getattr(module, "HINTS", {}).get(key, ())
    return (found,) if isinstance(found, str) else tuple(found)


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


def ladder(solution: Callable) -> list[tuple[str, str]]:
    """The steps ``reveal`` shows one click at a time: (button label, Markdown), hints first."""
    hints = hints_for(solution)
    steps = [(f"Hint {i} of {len(hints)}", f"**Hint {i}.** {text}") for i, text in enumerate(hints, start=1)]
    return steps + [("Show solution", f"```python\n{solution_source(solution)}\n```")]


def reveal(solution: Callable) -> None:
    """Show the hints, then the solution, one button click at a time (plain text without widgets)."""
    steps = ladder(solution)
    try:
        import ipywidgets as widgets
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - outside Jupyter
        print("\n\n".join(text for _, text in steps))
        return
    out = widgets.Output()
    button = widgets.Button(description=steps[0][0], icon="question" if len(steps) > 1 else "eye")
    shown = 0

    def on_click(_):
        nonlocal shown
        with out:
            display(Markdown(steps[shown][1]))
        shown += 1
        if shown == len(steps):
            button.disabled = True
        else:
            button.description = steps[shown][0]
            button.icon = "eye" if shown == len(steps) - 1 else "question"

    button.on_click(on_click)
    display(widgets.VBox([button, out]))
