"""The course website (`make site`), its handouts and the parts that build them.

Two kinds of tests:

* always (in `make test`): the site checks catch broken pages made on purpose, the
  solution pages hold every exercise, the executed-notebook cache and the nbval plugin work;
* on the built site (`make test-site`, after `make test`, sets COURSE_SITE_BUILT=1): every
  notebook has a page with outputs and figures, every internal link resolves, no page loads
  anything from another host, the solution pages are complete, each notebook has a PDF handout.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from coursesite import REPO, checks, notebook_paths
from coursesite.build import HTML_DIR, SITE_DIR, page_notebook
from coursesite.executed import GENUINE, STAND_IN, read_fresh, write_executed
from coursesite.solutions import anchor, exercises

EXERCISES_DIR = REPO / "course_utils" / "exercises"
NOTEBOOKS = notebook_paths()


def _site(tmp_path: Path, pages: dict[str, str]) -> Path:
    for name, html in pages.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html)
    return tmp_path


# --- the checks catch what they are for ------------------------------------------------------

def test_external_loads_flags_cdn_scripts_styles_images_and_css_imports(tmp_path):
    site = _site(tmp_path, {
        "index.html": '<script src="_static/local.js"></script><a href="https://example.org/">a link is fine</a>',
        "bad.html": '<script src="https://cdn.example.net/x.js"></script>'
                    '<link rel="stylesheet" href="//fonts.example.com/f.css">'
                    '<img src="http://example.com/i.png"><iframe src="https://example.com/e"></iframe>',
        "_static/style.css": '@import "https://fonts.example.com/css"; .x { background: url(//example.com/b.png) }',
    })
    problems = checks.external_loads(site)
    assert len(problems) == 6, problems
    assert not any(p.startswith("index.html") for p in problems)


def test_broken_links_flags_missing_pages_and_missing_anchors(tmp_path):
    site = _site(tmp_path, {
        "index.html": '<a href="a/page.html#here">ok</a><a href="a/page.html#gone">no id</a>'
                      '<a href="missing.html">no page</a><a href="https://example.org/x">external</a>'
                      '<a href="#top">self</a>'
                      '<span id="top"></span>',
        "a/page.html": '<section id="here"></section><a href="../index.html">back</a><img src="../_images/none.png">',
    })
    problems = checks.broken_links(site)
    found = sorted(p.split(" -> ")[1] for p in problems)
    assert found == ["missing file", "missing file", "no id 'gone' in page.html"], problems


def test_notebook_page_problems_flags_pages_without_outputs_figures_or_banner(tmp_path):
    nbs = [Path("00_good.ipynb"), Path("01_no_figure.ipynb"), Path("02_missing.ipynb")]
    site = _site(tmp_path, {
        "notebooks/00_good.html": '<div class="admonition weights-banner"></div>'
                                  '<div class="cell_output"><img src="x.png"></div>',
        "notebooks/01_no_figure.html": '<div class="cell_output"><pre>text</pre></div><img src="logo.png">',
    })
    problems = checks.notebook_page_problems(site, nbs)
    assert not any("00_good" in p for p in problems)
    assert any("01_no_figure" in p and "figure" in p for p in problems)
    assert any("01_no_figure" in p and "banner" in p for p in problems)
    assert any("02_missing" in p and "no page" in p for p in problems)


def test_solution_problems_flags_a_solution_without_its_section(tmp_path):
    (tmp_path / "ex").mkdir()
    (tmp_path / "ex" / "nb03.py").write_text("def check_a(x): ...\ndef solution_a(): ...\ndef solution_b_c(): ...\n")
    site = _site(tmp_path / "html", {"solutions/03_demo.html": '<section id="solution-a">check_a</section>'})
    problems = checks.solution_problems(site, tmp_path / "ex", [Path("03_demo.ipynb")])
    assert problems == ["03_demo.html: no section for solution_b_c"]


# --- the parts that build the site ------------------------------------------------------------

@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_solution_page_has_every_exercise_with_its_statement_and_code(notebook):
    module = EXERCISES_DIR / f"nb{notebook.name[:2]}.py"
    expected = re.findall(r"^def solution_(\w+)\(", module.read_text(), re.M) if module.is_file() else []
    found = exercises(notebook)
    assert [e.name for e in found] == expected
    for ex in found:
        assert ex.statement, f"{notebook.name}: no markdown cell poses exercise {ex.name} before its check cell"
        assert ex.code.strip() and "def solution_" not in ex.code
        assert ex.expects, f"check_{ex.name} needs a docstring saying what it expects"


def test_page_notebook_puts_the_banner_under_the_title_and_links_solutions():
    def widget():
        data = {"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "VBox()"}
        return [nbformat.v4.new_output("display_data", data=data)]

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 09 · Demo\n\n[![Open in Colab](https://x.example/b.svg)](https://y.example/nb)"
                                      " ![logo](//cdn.example/l.png) ![local](figure.png)\n\n**What you will learn**"),
        nbformat.v4.new_code_cell("reveal(solution_fc_share)", outputs=widget()),
        nbformat.v4.new_code_cell("browser", outputs=widget()),
    ])
    for weights, css in ((STAND_IN, "weights-standin"), (GENUINE, "weights-genuine")):
        page = page_notebook(nb, weights)
        title = page.cells[0].source
        assert title.startswith("# 09 · Demo\n") and css in title
        assert title.index(css) < title.index("What you will learn")
        assert "[Open in Colab](https://y.example/nb)" in title and "[logo](//cdn.example/l.png)" in title
        assert "![local](figure.png)" in title and "b.svg" not in title
        assert page.cells[1].outputs == []
        assert f"<{anchor('fc_share')}>" in page.cells[2].source
        assert page.cells[3].outputs[0].data == {"text/markdown": page.cells[3].outputs[0].data["text/markdown"]}
    assert "noise" in page_notebook(nb, STAND_IN).cells[0].source


def test_every_figure_output_gets_alt_text_from_its_author_or_its_introduction():
    png = {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}
    figure = [nbformat.v4.new_output("display_data", data=png)]
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 09 · Demo"),
        nbformat.v4.new_markdown_cell("Four **random** views of one photo, as `training` sees them. More text."),
        nbformat.v4.new_code_cell("show()", outputs=figure),
        nbformat.v4.new_code_cell("show()", outputs=figure, metadata={"alt": "A bar chart of five classes."}),
        nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output("stream", text="1")]),
    ])
    page = page_notebook(nb, STAND_IN)
    expected = "Figure: Four random views of one photo, as training sees them."
    assert page.cells[2].metadata["mystnb"]["image"]["alt"] == expected
    assert page.cells[3].metadata["mystnb"]["image"]["alt"] == "A bar chart of five classes."
    assert "mystnb" not in page.cells[4].metadata


def test_alt_problems_flags_empty_file_name_and_hash_alts(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "a.html").write_text(
        '<img src="../_images/572c70ab.png" alt="../_images/572c70ab.png"><img src="x.png" alt="">'
        '<img src="y.png"><img src="h.png" alt="572c70abcdef0123456789"><img src="ok.png" alt="Figure: a cat.">')
    found = checks.alt_problems(tmp_path)
    assert len(found) == 4 and not any("ok.png" in p for p in found), found


def test_executed_copy_is_fresh_only_for_the_same_source_and_weights(tmp_path):
    source = tmp_path / "05_demo.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    nbformat.write(nb, str(source))
    write_executed(nb, source, weights=STAND_IN, executed_by="test", seconds=1.0, folder=tmp_path / "exec")
    assert read_fresh(source, STAND_IN, tmp_path / "exec") is not None
    assert read_fresh(source, GENUINE, tmp_path / "exec") is None
    source.write_text(source.read_text().replace("1 + 1", "1 + 2"))
    assert read_fresh(source, STAND_IN, tmp_path / "exec") is None
    with pytest.raises(ValueError, match="weights must be"):
        write_executed(nb, source, weights="real", executed_by="test", seconds=1.0, folder=tmp_path / "exec")


def test_nbval_plugin_keeps_the_executed_notebook_with_its_figure(tmp_path):
    """Runs nbval on a two-cell notebook with the plugin, as `make test` does, and reads what it kept."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()"),
        nbformat.v4.new_code_cell("print('hello')\n6 * 7"),
        nbformat.v4.new_code_cell("7 * 6;  # the ';' hides the result, as in Jupyter"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, str(tmp_path / "07_tiny.ipynb"))
    env = {**os.environ, "COURSE_EXECUTED_DIR": str(tmp_path / "exec"),
           "MPLBACKEND": "Agg",  # as the root conftest sets it for the test process
           "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "nbval_capture", "--nbval-lax",
                             "--nbval-current-env", "-p", "no:cacheprovider", "-q", "07_tiny.ipynb"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    kept = nbformat.read(str(tmp_path / "exec" / "07_tiny.ipynb"), as_version=4)
    first, second, silenced = (c.outputs for c in kept.cells)
    assert silenced == [], "a cell ending in ';' keeps no result (an exercise check's stray False)"
    assert any("image/png" in o.get("data", {}) for o in first), first
    assert [o.output_type for o in second] == ["stream", "execute_result"]
    costs = kept.metadata.course_site
    assert costs["executed_by"] == "nbval" and costs["seconds"] > 0
    assert 20 < costs["peak_rss_mb"] < 100_000, costs  # the kernel's own peak memory, in MiB


# --- the built site (make test-site) -----------------------------------------------------------

built = pytest.mark.skipif(os.environ.get("COURSE_SITE_BUILT") != "1",
                           reason="checks the built site: run `make test-site` (after `make test`)")


@built
def test_site_was_built_and_recorded():
    record = json.loads((SITE_DIR / "build.json").read_text())
    assert set(record["notebooks"]) == {nb.stem for nb in NOTEBOOKS}
    assert (HTML_DIR / "index.html").is_file() and (HTML_DIR / ".nojekyll").is_file()


@built
def test_every_notebook_has_a_page_with_outputs_figures_and_banner():
    assert checks.notebook_page_problems(HTML_DIR, NOTEBOOKS) == []
    weights = json.loads((SITE_DIR / "build.json").read_text())["weights"]
    css = "weights-standin" if weights == STAND_IN else "weights-genuine"
    for nb in NOTEBOOKS:
        assert css in (HTML_DIR / "notebooks" / f"{nb.stem}.html").read_text(), nb.name


@built
def test_no_image_on_the_site_has_a_file_name_for_alt_text():
    assert checks.alt_problems(HTML_DIR) == []


@built
def test_no_page_loads_anything_from_another_host():
    assert checks.external_loads(HTML_DIR) == []


@built
def test_every_internal_link_resolves():
    assert checks.broken_links(HTML_DIR) == []


@built
def test_solution_pages_hold_every_exercise():
    assert checks.solution_problems(HTML_DIR, EXERCISES_DIR, NOTEBOOKS) == []


@built
def test_maths_is_typeset_by_mathjax_served_from_the_site():
    with_maths = [p for p in checks.pages(HTML_DIR) if 'class="math' in p.read_text()]
    assert with_maths, "no page has maths: the check below would prove nothing"
    for page in with_maths:
        scripts = [u for tag, _, u in checks.parse(page).loads if tag == "script" and "mathjax" in u.lower()]
        assert scripts, f"{page.name} has maths but loads no MathJax"
        for url in scripts:
            assert (page.parent / url.split("?")[0]).resolve().is_file(), f"{page.name}: {url} is not in the site"


@built
def test_each_notebook_has_a_pdf_handout_with_pages():
    from coursesite.handouts import OUT_DIR, pdf_pages

    for nb in NOTEBOOKS:
        pdf = OUT_DIR / f"{nb.stem}.pdf"
        assert pdf.is_file(), f"no handout {pdf.name}: run `make handouts`"
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf_pages(pdf) >= 1, pdf.name
