"""``make handouts``: each notebook page of the built site printed to PDF by headless Chromium.

    make handouts                      # Debian's /usr/bin/chromium
    make handouts CHROMIUM=/path/to/chromium

Chromium prints the HTML the site already has (outputs, figures, rendered maths), so a
handout looks like the page. nbconvert's webpdf exporter cannot use a system Chromium,
which is why this calls the browser directly. The browser test (``make test-browser``)
uses the same ``CHROMIUM`` variable and the same default.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from coursesite import REPO, notebook_paths
from coursesite.build import HTML_DIR

OUT_DIR = REPO / ".cache" / "handouts"
DEBIAN_CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
INSTALL_HELP = ("Install Chromium (Debian/Ubuntu: `sudo apt-get install chromium`), "
                "or name one: `make handouts CHROMIUM=/path/to/chromium`.")


def find_chromium() -> str:
    """``$CHROMIUM`` if set, else Debian's chromium; a clear error if there is none."""
    named = os.environ.get("CHROMIUM", "").strip()
    if named:
        if not (Path(named).is_file() and os.access(named, os.X_OK)):
            raise SystemExit(f"CHROMIUM={named} is not an executable file. {INSTALL_HELP}")
        return named
    for candidate in (*DEBIAN_CHROMIUM, shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise SystemExit(f"No Chromium found for the handouts. {INSTALL_HELP}")


def pdf_pages(path: Path) -> int:
    """How many pages a PDF has (counts its /Type /Page objects; Chromium writes them plainly)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", Path(path).read_bytes()))


def print_page(chromium: str, html: Path, pdf: Path) -> None:
    """Print one page to PDF, giving its scripts (MathJax) time to typeset first."""
    with tempfile.TemporaryDirectory(prefix="handout-profile-") as profile:
        cmd = [chromium, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
               f"--user-data-dir={profile}", "--no-pdf-header-footer", "--virtual-time-budget=10000",
               f"--print-to-pdf={pdf}", html.resolve().as_uri()]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    if done.returncode != 0 or not pdf.is_file():
        raise SystemExit(f"Chromium could not print {html.name} (exit {done.returncode}):\n{done.stderr[-2000:]}")


def main() -> int:
    chromium = find_chromium()
    pages = [HTML_DIR / "notebooks" / f"{nb.stem}.html" for nb in notebook_paths()]
    missing = [p.name for p in pages if not p.is_file()]
    if missing:
        raise SystemExit(f"No site page for {', '.join(missing)}: run `make site` first.")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for stale in OUT_DIR.glob("*.pdf"):
        stale.unlink()
    start = time.perf_counter()
    for page in pages:
        pdf = OUT_DIR / f"{page.stem}.pdf"
        print_page(chromium, page, pdf)
        print(f"{pdf.relative_to(REPO)}: {pdf_pages(pdf)} pages, {pdf.stat().st_size / 2**20:.1f} MiB", flush=True)
    print(f"{len(pages)} handouts in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
