"""What the site tests check, written so that each can be run on any built site.

Each function returns a list of problems (empty when all is well), never raises on a
bad page, so a test can print every problem at once.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Tags whose src/href the browser fetches by itself when the page loads.
_LOADING_TAGS = {"script", "link", "img", "iframe", "source", "video", "audio", "embed", "object", "input", "track"}
_LOADING_ATTRS = {"src", "href", "srcset", "data", "poster"}
_CSS_REMOTE = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])\s*((?:https?:)?//[^'")\s]+)""", re.I)


class _Page(HTMLParser):
    """Collects the ids, the references and the outputs of one HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.loads: list[tuple[str, str, str]] = []  # (tag, attribute, url) fetched on load
        self.links: list[str] = []  # every href/src, to check they resolve
        self.output_depth = 0  # >0 while inside a cell's output
        self.outputs = 0
        self.output_images = 0
        self.image_alts: list[tuple[str, str | None]] = []  # (src, alt) of every <img>
        self._stack: list[bool] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        for name in _LOADING_ATTRS:
            value = attrs.get(name)
            if not value:
                continue
            if tag in _LOADING_TAGS:
                urls = [part.split()[0] for part in value.split(",") if part.strip()] if name == "srcset" else [value]
                self.loads += [(tag, name, url) for url in urls]
            if name in ("href", "src"):
                self.links.append(value)
        is_output = "cell_output" in (attrs.get("class") or "").split()
        if tag not in _VOID:
            self._stack.append(is_output)
        if is_output:
            self.outputs += 1
            self.output_depth += 1
        if tag == "img":
            self.image_alts.append((attrs.get("src") or "", attrs.get("alt")))
        if tag == "img" and self.output_depth:
            self.output_images += 1

    def handle_endtag(self, tag):
        if tag in _VOID or not self._stack:
            return
        if self._stack.pop():
            self.output_depth -= 1


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(Path(path).read_text(errors="replace"))
    return page


def _is_remote(url: str) -> bool:
    url = url.strip()
    return bool(re.match(r"^([a-z][a-z0-9+.-]*:)?//", url, re.I)) and not url.lower().startswith("file:")


def pages(html_dir: Path) -> list[Path]:
    """The site's pages: every .html except the theme's Jinja templates copied into _static/."""
    html_dir = Path(html_dir)
    return sorted(p for p in html_dir.rglob("*.html") if p.relative_to(html_dir).parts[0] != "_static")


def external_loads(html_dir: Path) -> list[str]:
    """Every page element or stylesheet rule that would fetch something from another host."""
    problems = []
    html_dir = Path(html_dir)
    for path in pages(html_dir):
        for tag, attr, url in parse(path).loads:
            if _is_remote(url):
                problems.append(f"{path.relative_to(html_dir)}: <{tag} {attr}={url!r}>")
    for path in sorted(html_dir.rglob("*.css")):
        for url in _CSS_REMOTE.findall(path.read_text(errors="replace")):
            problems.append(f"{path.relative_to(html_dir)}: loads {url!r}")
    return problems


def broken_links(html_dir: Path) -> list[str]:
    """Every internal href/src that names a missing file, or a missing #id in an existing page."""
    html_dir = Path(html_dir).resolve()
    parsed = {p.resolve(): parse(p) for p in pages(html_dir)}
    problems = []
    for path, page in sorted(parsed.items()):
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:", "data:")):
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            where = f"{path.relative_to(html_dir)}: {link!r}"
            if not target.exists():
                problems.append(f"{where} -> missing file")
            elif html_dir not in target.parents and target != html_dir:
                problems.append(f"{where} -> points outside the site")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _ids(parsed, target):
                problems.append(f"{where} -> no id {parts.fragment!r} in {target.name}")
    return problems


def _ids(parsed: dict, target: Path) -> set[str]:
    return (parsed.get(target) or parse(target)).ids


_FILE_NAME = re.compile(r"(^|[/\\])[\w.-]+\.(png|jpe?g|gif|svg|webp)$|^[0-9a-f]{16,}", re.I)


def alt_problems(html_dir: Path) -> list[str]:
    """Every image on every page has alt text a screen reader can say: not empty, not a file name or a hash."""
    problems = []
    for path in pages(html_dir):
        for src, alt in parse(path).image_alts:
            text = (alt or "").strip()
            if not text or _FILE_NAME.search(text) or text == src:
                problems.append(f"{path.relative_to(html_dir)}: <img src={src!r}> has alt {alt!r}")
    return problems


def notebook_page_problems(html_dir: Path, notebooks: list[Path]) -> list[str]:
    """Each notebook needs a page with outputs, figures among them, and the weights banner."""
    problems = []
    for nb in notebooks:
        path = Path(html_dir) / "notebooks" / f"{nb.stem}.html"
        if not path.is_file():
            problems.append(f"{nb.name}: no page at {path}")
            continue
        page = parse(path)
        if page.outputs == 0:
            problems.append(f"{nb.name}: its page shows no cell outputs")
        if page.output_images == 0:
            problems.append(f"{nb.name}: its page shows no figure (<img>) in an output")
        if "weights-banner" not in path.read_text():
            problems.append(f"{nb.name}: its page has no weights banner")
    return problems


def solution_problems(html_dir: Path, exercises_dir: Path, notebooks: list[Path]) -> list[str]:
    """Each ``solution_<name>`` in ``course_utils/exercises/nbNN.py`` has a section on NN's solutions page.

    The expected names are read from the modules' text, not from the code that writes the pages.
    """
    problems = []
    for module in sorted(Path(exercises_dir).glob("nb[0-9][0-9].py")):
        names = re.findall(r"^def solution_(\w+)\(", module.read_text(), re.M)
        stems = [nb.stem for nb in notebooks if nb.name.startswith(module.stem[2:4] + "_")]
        if not stems:
            problems.append(f"{module.name}: no notebook {module.stem[2:]}_*.ipynb for its exercises")
            continue
        path = Path(html_dir) / "solutions" / f"{stems[0]}.html"
        if not path.is_file():
            problems.append(f"{module.name}: no solutions page {path.name}")
            continue
        page, text = parse(path), path.read_text()
        for name in names:
            if "solution-" + name.replace("_", "-") not in page.ids:
                problems.append(f"{path.name}: no section for solution_{name}")
            elif f"check_{name}" not in text:
                problems.append(f"{path.name}: the section for solution_{name} does not say what check_{name} expects")
    return problems
