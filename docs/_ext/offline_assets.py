"""Sphinx extension: no page of the course site loads anything from another host.

The site must work offline (a workshop room with no Wi-Fi, a USB stick) and must not
leak its readers to third parties. Jupyter Book 1 always loads sphinx-thebe, which
writes a CDN address into every page for its "launch a live kernel" button, a button
this site never shows. This drops, from every page, any script or stylesheet that points
at another host or names one in its inline body. MathJax is served from the site
itself by ``sphinx-mathjax-offline``; ``tests/test_site.py`` scans every built page.
"""

from __future__ import annotations

import re

_REMOTE = re.compile(r"^(https?:)?//|https?://", re.I)


def _is_remote(asset) -> bool:
    filename = getattr(asset, "filename", None) or str(asset)
    body = (getattr(asset, "attributes", None) or {}).get("body", "")
    return bool(_REMOTE.search(filename or "")) or "sphinx-thebe" in (filename or "") or bool(_REMOTE.search(body))


def _drop_remote_assets(app, pagename, templatename, context, doctree):
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [a for a in context[key] if not _is_remote(a)]


def setup(app):
    app.connect("html-page-context", _drop_remote_assets, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
