"""The course as a static website, PDF handouts and an instructor's guide (``make site``).

Not part of ``course_utils``: learners never import this. It turns the notebooks, the
exercise solutions and the measurements into a Jupyter Book 1 (Sphinx) site that builds
offline. Modules:

* ``executed``  the cache of executed notebooks shared by ``make test`` and ``make site``;
* ``solutions`` solution pages generated from ``course_utils.exercises``;
* ``measure``   ``make measure``: each notebook's wall time and peak memory;
* ``build``     ``make site``;
* ``checks``    what the site tests check (also usable on any built site);
* ``handouts``  ``make handouts``: one PDF per notebook page, printed by Chromium.
"""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = REPO / "notebooks"


def notebook_paths() -> list[Path]:
    """The course's notebooks in teaching order (globbed, never listed by hand)."""
    return sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
