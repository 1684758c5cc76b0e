"""ipywidgets explorers for the notebooks.

Each explorer is split in two: a plain ``*_view(...)`` function that takes the
control values and returns what to show (a table, a Figure), and a small
``*_explorer(...)`` that wires ipywidgets controls to it. The plain function is
what the tests call, so every explorer is tested without a browser.
"""

from __future__ import annotations
