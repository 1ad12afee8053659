"""tools/pdf.py: a chapter page printed by headless Chromium has its title, its figure, a
credit line and "page n of N" on every page, no navigation, and its solution only when asked
for; --verify's reading of the PDF catches what is missing."""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO / "tests" / "browser"))
import pdf  # noqa: E402


def _png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3), dpi=80)
    ax.plot([0, 1], [1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>The demo chapter</title></head>
<body>
<div class="bd-header">NAVIGATION BAR</div>
<div class="bd-sidebar-primary">TABLE OF CONTENTS</div>
<main class="bd-main"><article class="bd-article">
<h1>1. The demo chapter</h1>
{paragraphs}
<div class="cell_output"><img src="data:image/png;base64,{png}" alt="a figure"></div>
<div class="exercise admonition"><p class="admonition-title">Exercise 1.1</p>
<p>Show that the bound holds.</p></div>
<div class="solution dropdown admonition toggle-hidden"><p class="admonition-title">Solution to
Exercise 1.1</p><p>The secret answer is Jensen.</p></div>
</article></main>
<div class="prev-next-area">NEXT CHAPTER LINK</div>
</body></html>"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    import check_book

    if check_book.find_chromium() is None:
        pytest.skip("Chromium not installed")
    pytest.importorskip("playwright.sync_api")
    pytest.importorskip("pypdf")
    root = tmp_path_factory.mktemp("site")
    (root / "index.html").write_text("<html></html>")
    (root / "notebooks").mkdir()
    text = "\n".join(f"<p>Paragraph {i} of the chapter, long enough to fill a page.</p>" * 3
                     for i in range(60))  # fmt: skip
    (root / "notebooks" / "01_demo.html").write_text(PAGE.format(paragraphs=text, png=_png()))
    return root


def test_a_chapter_prints_with_credit_page_numbers_and_no_solution(site, tmp_path):
    assert pdf.chapter_pages(site) == ["notebooks/01_demo.html"]
    ((path, info),) = pdf.print_pages(site, tmp_path)
    assert path == tmp_path / "01_demo.pdf" and info["figures"] == 1
    assert pdf.verify(path, info["title"], info["figures"], solutions=False) == []
    pages = pdf.pdf_text(path)
    assert len(pages) >= 2
    assert "1. The demo chapter" in pages[0]
    assert f"page 2 of {len(pages)}" in " ".join(pages[1].split())
    everything = " ".join(pages)
    assert "Show that the bound holds" in everything
    assert "secret answer" not in everything
    assert "NAVIGATION BAR" not in everything and "NEXT CHAPTER" not in everything
    assert pdf.pdf_images(path) >= 1


def test_solutions_are_printed_when_asked_for(site, tmp_path):
    ((path, info),) = pdf.print_pages(site, tmp_path, solutions=True)
    assert "secret answer" in " ".join(pdf.pdf_text(path))
    assert pdf.verify(path, info["title"], info["figures"], solutions=True) == []
    # and the check notices a PDF printed the wrong way
    problems = pdf.verify(path, info["title"], info["figures"], solutions=False)
    assert any("solution is in the text" in p for p in problems)
    problems = pdf.verify(path, "Another title", 5, solutions=True)
    assert any("not on the first page" in p for p in problems)
    assert any("1 images" in p or "images" in p for p in problems)


def test_the_text_check_reads_ligatures_as_their_letters():
    """Chromium's PDFs may store "ff" as one ligature glyph; chapter 13's title then read
    "latent di\ufb00usion" and the title check failed on a correct PDF."""
    assert pdf._squash("The autoencoder inside latent di\ufb00usion\n  Contents") == (
        "The autoencoder inside latent diffusion Contents"
    )
    assert pdf._squash("\ufb01eld \ufb02ow") == "field flow"
