"""``make site``: the course as a static website, built offline with Jupyter Book 1.

    python -m coursesite.build             # reuse fresh executions, run the stale ones, build
    python -m coursesite.build --reuse-only  # fail instead of executing anything (CI after make test)

Sources are ``docs/`` (``_config.yml``, ``_toc.yml``, the hand-written pages). The build
writes the generated pages next to them, in folders that ignore themselves in git:

* ``docs/notebooks/NN_x.ipynb``: each notebook with its outputs (reused from
  ``.cache/executed/`` when fresh, else executed now with nbval, as ``make test`` does),
  with a banner under its title
  saying whether genuine or stand-in weights produced them;
* ``docs/solutions/NN_x.md``: the answer key, from ``course_utils/exercises``.

Then Sphinx (through ``jupyter-book build``) writes HTML to ``.cache/site/_build/html``,
with warnings as errors and MathJax served from the site itself.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from coursesite import REPO, notebook_paths
from coursesite.executed import GENUINE, read_fresh, weights_kind
from coursesite.solutions import anchor, notebook_title, page

DOCS = REPO / "docs"
SITE_DIR = REPO / ".cache" / "site"
HTML_DIR = SITE_DIR / "_build" / "html"
GENERATED = ("notebooks", "solutions")  # folders under docs/ that the build owns
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

BANNER = {
    "genuine": (
        ":::{note}\n:class: weights-banner weights-genuine\n"
        "**Built with the genuine pretrained weights.** The outputs on this page came from torchvision's "
        "real VGG weights, checked against the SHA-256 in their official file names.\n:::"
    ),
    "stand-in": (
        ":::{warning}\n:class: weights-banner weights-standin\n"
        "**Built with stand-in weights: the ImageNet predictions and VGG16 heat maps on this page are noise.** "
        "The machine that built this page had no network, so the pretrained VGG files were seeded random "
        "stand-ins with the real architecture (the same ones `make test` uses). Shapes, counts and timings are "
        "real, and so is everything trained from scratch on the page; anything read from the pretrained weights "
        "(class names, probabilities, heat maps, transfer-learning results) is not. Run `make prefetch`, then "
        "`make site`, to build it with the real weights.\n:::"
    ),
}

WIDGET_NOTE = ("*An interactive widget is here in the notebook: open the notebook in JupyterLab "
               "(`make lab`) to use it.*")


def _owned_folder(name: str) -> Path:
    """``docs/<name>/``, created with a ``.gitignore`` of ``*`` so git never sees what the build writes."""
    folder = DOCS / name
    folder.mkdir(exist_ok=True)
    (folder / ".gitignore").write_text("# written by `make site` (coursesite.build); never committed\n*\n")
    return folder


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)


_REMOTE_BADGE = re.compile(r"\[!\[([^\]]*)\]\((?:https?:)?//[^)]*\)\]\(([^)]*)\)")  # [![alt](remote)](link)
_REMOTE_IMAGE = re.compile(r"!\[([^\]]*)\]\(((?:https?:)?//[^)]*)\)")  # ![alt](remote)


def local_images_only(markdown: str) -> str:
    """Turn images served by another host (Colab/Binder badges) into plain links: no page loads them."""
    return _REMOTE_IMAGE.sub(r"[\1](\2)", _REMOTE_BADGE.sub(r"[\1](\2)", markdown))


_IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")
_MARKUP = re.compile(r"[`*_#>]|\[([^\]]*)\]\([^)]*\)|\{[^}]*\}")


def figure_alt(cell, previous_markdown: str) -> str:
    """A figure's alt text: the cell's own ``alt`` metadata if the author wrote one, else the first
    sentence of the prose that introduces it (what the learner reads just before looking)."""
    if cell.metadata.get("alt"):
        return str(cell.metadata["alt"])
    text = " ".join(_MARKUP.sub(lambda m: m.group(1) or "", previous_markdown).split())
    sentence = re.split(r"(?<=[.!?:])\s", text, maxsplit=1)[0].rstrip(":") if text else ""
    return f"Figure: {sentence[:240]}" if sentence else "Figure: the output of the code cell above"


def page_notebook(nb: nbformat.NotebookNode, weights: str) -> nbformat.NotebookNode:
    """The notebook as a web page shows it: banner under the title, widgets explained, solutions linked,
    badges from other hosts turned into plain links."""
    nb = nbformat.from_dict(nb)
    title = nb.cells[0]
    head, _, rest = title.source.partition("\n")
    title.source = f"{head}\n\n{BANNER[weights]}\n\n{rest.lstrip()}"
    cells = []
    prose = ""
    for cell in nb.cells:
        cells.append(cell)
        if cell.cell_type == "markdown":
            cell.source = local_images_only(cell.source)
            prose = cell.source
        if cell.cell_type != "code":
            continue
        if any(mime in out.get("data", {}) for out in cell.outputs for mime in _IMAGE_MIMES):
            # myst-nb carries cell metadata mystnb.image.alt into every image of the cell's outputs
            options = cell.metadata.setdefault("mystnb", {}).setdefault("image", {})
            options.setdefault("alt", figure_alt(cell, prose))
        revealed = re.fullmatch(r"\s*reveal\((solution_(\w+))\)\s*;?\s*", cell.source)
        if revealed:
            # The "Show solution" button needs a kernel; on the site the answer key is a page.
            cell.outputs = [o for o in cell.outputs if WIDGET_MIME not in o.get("data", {})]
            cells.append(nbformat.v4.new_markdown_cell(
                f"*Solution:* {{ref}}`{revealed.group(1)} on the solutions page <{anchor(revealed.group(2))}>`"
                f" (in the notebook, the button above reveals it)."))
            continue
        for out in cell.outputs:
            if WIDGET_MIME in out.get("data", {}):
                out.data = {"text/markdown": WIDGET_NOTE}
    nb.cells = cells
    return nb


def stage_notebooks(weights: str, reuse_only: bool) -> dict[str, dict]:
    """Write every notebook page to ``docs/notebooks/``; return how each one was obtained."""
    from coursesite.execute import execute

    folder = _owned_folder("notebooks")
    stale = [nb for nb in notebook_paths() if read_fresh(nb, weights) is None]
    if stale and reuse_only:
        raise SystemExit(
            f"{', '.join(nb.name for nb in stale)}: no fresh executed copy in .cache/executed/ for {weights} weights.\n"
            "Run `make test` first (it keeps every notebook it executes), or `make site` without --reuse-only.")
    execute(stale, weights)
    report = {}
    for source in notebook_paths():
        nb = read_fresh(source, weights)
        if nb is None:
            raise SystemExit(f"{source.name} ran, but left no executed copy in .cache/executed/")
        report[source.stem] = {"how": "executed" if source in stale else "reused",
                               "seconds": nb.metadata["course_site"]["seconds"]}
        _write_if_changed(folder / source.name, nbformat.writes(page_notebook(nb, weights)))
    for orphan in set(folder.glob("*.ipynb")) - {folder / s.name for s in notebook_paths()}:
        orphan.unlink()  # a renamed or removed notebook leaves no orphan page
    return report


def stage_solutions() -> None:
    """Write one solutions page per notebook to ``docs/solutions/``."""
    folder = _owned_folder("solutions")
    wanted = set()
    for source in notebook_paths():
        path = folder / f"{source.stem}.md"
        _write_if_changed(path, page(source, notebook_title(source)))
        wanted.add(path)
    for stale in set(folder.glob("*.md")) - wanted:
        stale.unlink()


def build_html() -> None:
    """Run Sphinx through Jupyter Book 1; warnings are errors."""
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(DOCS), "--path-output", str(SITE_DIR),
           "--builder", "html", "--all", "-W", "--keep-going", "-q"]
    subprocess.run(cmd, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse-only", action="store_true",
                        help="fail if a notebook has no fresh executed copy instead of executing it")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    weights = weights_kind()
    print(f"weights for the notebook pages: {weights}"
          + ("" if weights == GENUINE else " (run `make prefetch` for the real ones)"), flush=True)
    notebooks = stage_notebooks(weights, args.reuse_only)
    stage_solutions()
    staged = time.perf_counter() - start
    try:
        build_html()
    except subprocess.CalledProcessError:
        print("The site did not build: Sphinx reported the warnings or errors above.", file=sys.stderr)
        return 1
    record = {"weights": weights, "notebooks": notebooks, "stage_seconds": round(staged, 1),
              "total_seconds": round(time.perf_counter() - start, 1)}
    (SITE_DIR / "build.json").write_text(json.dumps(record, indent=2))
    reused = sum(n["how"] == "reused" for n in notebooks.values())
    print(f"site built in {record['total_seconds']:.0f} s ({reused} of {len(notebooks)} notebooks reused): "
          f"{HTML_DIR / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
