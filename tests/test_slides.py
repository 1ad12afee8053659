"""tools/slides.py: a deck builds from a small notebook, has one slide per ## section, and
loads nothing from the web (reveal.js, MathJax and require.js from vendor/ next to it)."""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_cache.base import CacheBundleIn
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO / "book" / "_ext"))
import slides  # noqa: E402
from offline_html import CDN_PATTERN  # noqa: E402


def _notebook():
    hidden = new_code_cell("assert 1 + 1 == 2  # a claim check")
    hidden.metadata["tags"] = ["remove-cell"]
    fragment = new_markdown_cell("A point the author reveals step by step.")
    fragment.metadata["slideshow"] = {"slide_type": "fragment"}
    return new_notebook(
        cells=[
            new_markdown_cell("# A chapter\n\n**You will learn** what $\\z$ is."),
            new_code_cell("import math"),
            new_markdown_cell("## The loss\n\n$$\n\\KL(q \\Vert p) \\ge 0\n$$ (ch04-kl)"),
            new_markdown_cell(
                "By {eq}`ch04-kl`, see {cite:t}`kingma2013autoencoding` and {doc}`notation`."
            ),
            new_code_cell("x = 2 * math.pi"),
            hidden,
            fragment,
            new_markdown_cell("## Exercises\n\n1. Why is the KL never negative?"),
            new_markdown_cell("```{solution} ex1\nJensen's inequality.\n```"),
            new_markdown_cell(""),
        ]
    )


def test_slide_types_follow_the_sections_and_keep_the_authors_choice():
    nb = slides.prepare(_notebook())
    types = [c.metadata["slideshow"]["slide_type"] for c in nb.cells]
    assert types == [
        "slide",
        "-",
        "slide",
        "subslide",
        "-",
        "skip",
        "fragment",
        "slide",
        "skip",
        "skip",
    ]


def test_myst_roles_and_equation_labels_become_plain_slides():
    nb = slides.prepare(_notebook())
    assert "\\tag{1}$$" in nb.cells[2].source and "(ch04-kl)" not in nb.cells[2].source
    assert nb.cells[3].source == "By (1), see [kingma2013autoencoding] and notation."


def test_a_deck_builds_offline(tmp_path):
    deck = slides.build_deck(_notebook(), "01_demo", tmp_path)
    page = deck.read_text()
    assert deck.name == "01_demo.slides.html"
    assert not CDN_PATTERN.search(page)
    loads = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', page)
    assert loads and all(url.startswith("vendor/") for url in loads), loads
    assert '"vendor/reveal.js/dist/reveal.js"' in page  # required by the footer script
    assert "vendor/mathjax/es5/tex-mml-chtml.js" in page and '"KL"' in page  # book macros
    top_level = re.findall(r"<section>\s*<section", page)
    assert len(top_level) == 3  # title, "The loss", "Exercises"
    assert "claim check" not in page and "Jensen" not in page  # hidden cell, solution


def test_outputs_come_from_the_books_execution_cache_for_the_same_code(tmp_path):
    from jupyter_cache import get_cache

    nb = _notebook()
    assert slides.with_outputs(nb, tmp_path / "no-cache") == (nb, False)
    executed = copy.deepcopy(nb)
    executed.cells[1].outputs = [nbformat.v4.new_output("stream", text="ran\n")]
    executed.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.metadata["kernelspec"] = executed.metadata["kernelspec"]
    get_cache(tmp_path / "cache").cache_notebook_bundle(
        CacheBundleIn(executed, tmp_path / "01_demo.ipynb"), check_validity=False
    )
    merged, found = slides.with_outputs(nb, tmp_path / "cache")
    assert found and merged.cells[1].outputs[0].text == "ran\n"
    nb.cells[1].source = "import cmath"  # the code changed since the book ran it
    assert slides.with_outputs(nb, tmp_path / "cache") == (nb, False)


@pytest.mark.slow
def test_a_deck_shows_its_math_in_a_browser_with_no_network(tmp_path):
    """Built with the vendored scripts, the deck loads, typesets, draws its widget and
    throws nothing."""
    if not (REPO / "_vendor" / "slides" / "reveal.js" / "dist" / "reveal.js").is_file():
        pytest.skip("reveal.js not vendored (run `make vendor`)")
    sys.path.insert(0, str(REPO / "tests" / "browser"))
    import check_book

    if check_book.find_chromium() is None:
        pytest.skip("Chromium not installed")
    pytest.importorskip("playwright.sync_api")
    import torch
    from ipywidgets.embed import embed_data

    from aevae_lib.models import VAE
    from aevae_lib.widgets import latent_explorer

    torch.manual_seed(0)
    data = embed_data(views=[latent_explorer(VAE(latent_dim=2, hidden=(8,)))])
    nb = _notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": data["manager_state"]}
    nb.cells[4].outputs = [
        nbformat.v4.new_output(
            "display_data", {"application/vnd.jupyter.widget-view+json": data["view_specs"][0]}
        )
    ]
    slides.copy_vendor(tmp_path)
    slides.build_deck(nb, "01_demo", tmp_path)
    (result,) = check_book.check_site(tmp_path, None, pages=["01_demo.slides.html"])
    assert result.problems == []
    assert result.info["mjx"] >= 2  # the inline z and the displayed KL
    assert result.info["widgets"] == 1 and result.info["widgetsUndrawn"] == 0
