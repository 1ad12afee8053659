"""The browser check catches each deliberately broken page of a tiny fake site, passes the good
ones, and (with the vendored scripts) sees real MathJax and real ipywidgets drawn offline.

Needs Chromium (Debian's `chromium`) and the `playwright` package; skipped without them.
One browser for the whole module: a few seconds.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import check_book  # noqa: E402

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
VENDOR = REPO / "_vendor" / "site" / "vendor"

# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

# Stands in for MathJax: typesets every .math element into an <mjx-container>.
MATHJAX_STUB = """
window.MathJax = {startup: {promise: new Promise(done => addEventListener('DOMContentLoaded', () => {
  document.querySelectorAll('.math').forEach(e => {
    e.innerHTML = '<mjx-container>' + e.textContent.slice(2, -2) + '</mjx-container>'; });
  done();
}))}};
"""


def _page(body: str, head: str = "") -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'>{head}</head><body>{body}</body></html>"
    )


FAKE_SITE = {
    "index.html": '<meta http-equiv="Refresh" content="0; url=good.html" />',
    "good.html": _page(
        "<h1 id='top'>Good</h1><p>Math: <span class='math'>\\(x^2\\)</span>.</p>"
        "<pre>$ make book   # a shell prompt in code is not math</pre>"
        "<img src='img/dot.png' alt='dot'><a href='other.html#part'>other</a>"
        "<a href='#top'>top</a><a href='https://example.org/'>an external link</a>",
        head="<script src='stub-mathjax.js'></script>",
    ),
    "other.html": _page("<h2 id='part'>Part</h2><a href='good.html'>back</a>"),
    "broken_link.html": _page(
        "<a href='missing.html'>gone</a><a href='other.html#nowhere'>no anchor</a>"
    ),
    "raw_math.html": _page("<p>The code $z$ was never typeset.</p>"),
    "missing_image.html": _page("<img src='img/nope.png' alt='missing'>"),
    "console_error.html": _page(
        "<script>console.error('boom'); throw new Error('uncaught');</script>"
    ),
    "cdn.html": _page(
        "<p>hi</p>", head="<script src='https://cdn.jsdelivr.net/npm/x.js'></script>"
    ),
    "undrawn_widget.html": _page(
        '<script type="application/vnd.jupyter.widget-view+json">'
        '{"version_major": 2, "version_minor": 0, "model_id": "abc"}</script>'
    ),
    "stray_output.html": _page(
        "<pre>&lt;matplotlib.legend.Legend at 0x7fa1cb4a5290&gt;</pre>"
        "<pre>&lt;torch.utils.data.DataLoader object at 0x7f00aa&gt;</pre>"
    ),
    "_static/asset.html": _page("<a href='nowhere.html'>not a page of the book</a>"),
}


@pytest.fixture(scope="module")
def fake_results(chromium, tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    for name, text in FAKE_SITE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "stub-mathjax.js").write_text(MATHJAX_STUB)
    (root / "img").mkdir()
    (root / "img" / "dot.png").write_bytes(PNG)
    shots = root.parent / f"{root.name}-shots"
    results = check_book.check_site(root, shots, chromium)
    return {r.page: r for r in results}, shots


def _problems(results, page) -> str:
    return "\n".join(results[page].problems)


def test_every_page_but_assets_is_checked_and_screenshotted(fake_results):
    results, shots = fake_results
    assert set(results) == {name for name in FAKE_SITE if not name.startswith("_static")}
    assert (shots / "good.png").stat().st_size > 0
    assert (shots / "raw_math.png").is_file()


def test_good_pages_pass(fake_results):
    results, _ = fake_results
    for page in ("good.html", "other.html", "index.html"):
        assert results[page].problems == [], page
    assert results["good.html"].info["mjx"] == 1
    assert results["good.html"].info["images"] == 1


def test_broken_internal_link_and_anchor_fail(fake_results):
    problems = _problems(fake_results[0], "broken_link.html")
    assert "broken link: <a> missing.html" in problems
    assert "broken anchor: <a> other.html#nowhere" in problems


def test_raw_tex_fails(fake_results):
    assert "raw TeX left in the text: 'The code $z$ was never typeset.'" in _problems(
        fake_results[0], "raw_math.html"
    )


def test_a_cell_that_shows_its_return_value_fails(fake_results):
    problems = _problems(fake_results[0], "stray_output.html")
    assert "stray output (a cell's return value): <matplotlib.legend.Legend at 0x7fa1cb4a5290>" in (
        problems
    )
    assert "<torch.utils.data.DataLoader object at 0x7f00aa>" in problems


def test_missing_image_fails(fake_results):
    problems = _problems(fake_results[0], "missing_image.html")
    assert "image did not load: img/nope.png" in problems
    assert "broken link: <img> img/nope.png" in problems
    assert "HTTP 404" in problems


def test_console_and_page_errors_fail(fake_results):
    problems = _problems(fake_results[0], "console_error.html")
    assert "console error: boom" in problems
    assert "page error: " in problems and "uncaught" in problems


def test_loading_from_the_web_fails(fake_results):
    assert "request outside the book (blocked, no network): https://cdn.jsdelivr.net" in _problems(
        fake_results[0], "cdn.html"
    )


def test_undrawn_widget_fails(fake_results):
    assert "1 of 1 widgets not drawn" in _problems(fake_results[0], "undrawn_widget.html")


@pytest.mark.skipif(
    not (VENDOR / "jupyter-widgets" / "embed-amd.js").is_file(),
    reason="vendored scripts missing (run tools/vendor_js.sh)",
)
def test_real_mathjax_and_a_real_widget_render_offline(chromium, tmp_path):
    """The vendored MathJax, widget manager and anywidget draw math, a latent explorer and
    icon fonts, no network, on a page one folder down (like a chapter), with book/_ext/widget_embed.py's
    script: without it the fonts 404 and every slider label throws (MathJax 2 API)."""
    import ipywidgets
    import torch
    from ipywidgets.embed import dependency_state, embed_data

    from aevae_lib.explorers import latent_explorer
    from aevae_lib.models import VAE

    sys.path.insert(0, str(REPO / "book" / "_ext"))
    import widget_embed

    (tmp_path / "vendor").symlink_to(VENDOR)
    (tmp_path / "notebooks").mkdir()
    torch.manual_seed(0)
    explorer = latent_explorer(VAE(latent_dim=2, hidden=(8,)))
    button = ipywidgets.Button(description="icon font", icon="check")  # needs the icon font
    bar = ipywidgets.HBox([ipywidgets.HTML("epoch"), ipywidgets.IntProgress(3, max=3)])  # tqdm's
    views = [explorer, button, bar]
    # as a notebook stores them: full states (an anywidget's defaults name its classes)
    data = embed_data(views=views, drop_defaults=False, state=dependency_state(views, False))
    js = {"../vendor/requirejs/require.js": {}, "../vendor/jupyter-widgets/embed-amd.js": {}}
    (tmp_path / "notebooks" / "chapter.html").write_text(
        "<!doctype html><html data-content_root='../'><head><meta charset='utf-8'>"
        f"<script>{widget_embed.script(js, 'notebooks/chapter')}</script>"
        "<script defer src='../vendor/mathjax/es5/tex-mml-chtml.js'></script>"
        "<script src='../vendor/requirejs/require.js'></script>"
        "<script src='../vendor/jupyter-widgets/embed-amd.js'></script>"
        '<script type="application/vnd.jupyter.widget-state+json">'
        f"{json.dumps(data['manager_state'])}</script></head><body>"
        "<p>Math: <span class='math'>\\(\\mathbb{E}[x^2]\\)</span></p>"
        "<p><i class='fa fa-check'></i> an icon, as the book's theme has</p>"
        + "".join(
            f'<script type="application/vnd.jupyter.widget-view+json">{json.dumps(v)}</script>'
            for v in data["view_specs"]
        )
        + "</body></html>"
    )
    (result,) = check_book.check_site(tmp_path, tmp_path / "shots", chromium)
    assert result.problems == []
    assert result.info["mjx"] == 1
    assert result.info["widgets"] == 3 and result.info["widgetsUndrawn"] == 0


@pytest.mark.skipif(
    not (VENDOR / "mathjax" / "es5" / "tex-mml-chtml.js").is_file(),
    reason="vendored MathJax missing (run tools/vendor_js.sh)",
)
def test_a_display_equation_wider_than_its_column_fails(chromium, tmp_path):
    """With the real MathJax: a long display equation in a 600-px column is reported with its
    label; a short one, and the same long one broken over aligned lines, pass."""
    (tmp_path / "vendor").symlink_to(VENDOR)
    long_sum = " + ".join(f"\\frac{{a_{{{i}}}}}{{b_{{{i}}}}}" for i in range(40))
    lines = " \\\\ &+ ".join(
        " + ".join(f"\\frac{{a_{{{i}}}}}{{b_{{{i}}}}}" for i in range(j, j + 8))
        for j in range(0, 40, 8)
    )

    def page(name, tex):
        (tmp_path / name).write_text(
            "<!doctype html><html><head><meta charset='utf-8'>"
            "<script defer src='vendor/mathjax/es5/tex-mml-chtml.js'></script></head>"
            "<body><main style='width: 600px'>"
            f"<div class='math notranslate nohighlight' id='equation-wide'>\\[{tex}\\]</div>"
            "</main></body></html>"
        )

    page("wide.html", f"s = {long_sum}")
    page("short.html", "s = a + b")
    page("aligned.html", f"\\begin{{aligned}} s &= {lines} \\end{{aligned}}")
    results = {r.page: r for r in check_book.check_site(tmp_path, None, chromium)}
    assert "equation-wide" in "\n".join(results["wide.html"].problems)
    assert "display equation wider than its column" in "\n".join(results["wide.html"].problems)
    assert results["short.html"].problems == []
    assert results["aligned.html"].problems == []
