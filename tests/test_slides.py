"""tools/slides.py and tools/check_slides.py: a lecture deck from a small chapter has a title
slide with the credit line, one slide per section with its equations and figures, the prose
in the speaker notes, Summary, Exercises (no solutions) and References slides with author-year
citations; the cell tags steer it; it loads nothing from the web; and the Chromium check
passes it and catches an overflowing slide and a raw citation key."""

from __future__ import annotations

import base64
import copy
import io
import re
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_cache.base import CacheBundleIn
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO / "book" / "_ext"))
sys.path.insert(0, str(REPO / "tests" / "browser"))
import slides  # noqa: E402
from offline_html import CDN_PATTERN  # noqa: E402


def _png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot([0, 1, 2], [2, 0, 1])
    ax.set_title("a measured curve")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def chapter(outputs: bool = True) -> nbformat.NotebookNode:
    hidden = new_code_cell("assert 1 + 1 == 2  # a claim check")
    hidden.metadata["tags"] = ["remove-cell"]
    skipped = new_markdown_cell("A paragraph the lecturer leaves out of the deck.")
    skipped.metadata["tags"] = ["slide-skip"]
    own = new_markdown_cell("## A slide of my own\n\n- my first point\n- my second point")
    own.metadata["tags"] = ["slide-only", "remove-cell"]
    shown = new_code_cell("x = 2 * math.pi  # shown on a slide")
    shown.metadata["tags"] = ["slide-code"]
    plot = new_code_cell("plot(x)")
    table = new_code_cell("plots.table(['k', 'bound'], rows)")
    if outputs:
        plot.outputs = [new_output("display_data", {"image/png": _png(), "text/plain": "<Figure>"})]
        table.outputs = [
            new_output(
                "execute_result",
                {"text/markdown": "| k | bound |\n| --- | --- |\n| 1 | -97.1 |\n| 10 | -93.4 |"},
                execution_count=1,
            )
        ]
    cells = [
        new_markdown_cell(
            "# The variational autoencoder\n\n**You will learn** what a latent variable model "
            "is; how the encoder approximates the posterior; and why the loss is a bound.\n\n"
            "**Prerequisites:** chapter 3; Gaussians.\n\n**Runtime:** about 60 s."
        ),
        new_code_cell("import math"),
        new_markdown_cell(
            "(ch04-loss-section)=\n## The loss\n\nThe **evidence lower bound** is the loss of "
            "the VAE {cite}`kingma2013autoencoding`, introduced at the same time by "
            "{cite:t}`rezende2014stochastic`. It reads\n\n"
            "$$\n\\ELBO(\\x) = \\E_{\\qzx}[\\log \\pxz] - \\KL(\\qzx \\Vert \\pz)\n$$ (ch04-elbo)\n\n"
            "and {eq}`ch04-elbo` is what we maximize (see {doc}`notation`)."
        ),
        skipped,
        plot,
        new_markdown_cell("The curve falls, as {ref}`ch04-loss-section` predicts."),
        hidden,
        shown,
        table,
        own,
        new_markdown_cell(
            "## Summary\n\n- **The loss.** The ELBO bounds the evidence from below.\n"
            "- The KL term pulls every $\\qzx$ towards the prior.\n\n## Exercises\n\n"
            "```{exercise} Why a bound?\n:label: ch04-ex-bound\n\nShow that the ELBO is at "
            "most $\\log p_\\theta(\\x)$.\n```\n\n```{solution} ch04-ex-bound\n:class: dropdown\n\n"
            "By Jensen's inequality, the secret answer.\n```"
        ),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    return nb


def built(show_code=False):
    title, deck = slides.build_slides(chapter(), "04_demo", show_code)
    return title, deck


def all_text(deck) -> str:
    return "\n".join(
        "\n".join([s.heading, *s.bullets, s.html, *s.notes, *[e.text for e in s.equations]])
        for s in deck
    )


def test_title_slide_goals_sections_summary_exercises_references():
    title, deck = built()
    assert title == "The variational autoencoder"
    kinds = [s.kind for s in deck]
    assert kinds[0] == "title" and kinds[1] == "goals"
    assert kinds[-1] == "references" and "summary" in kinds and "exercises" in kinds
    first = deck[0].html
    assert "Chapter 4" in first and "Autoencoders and Variational Autoencoders" in first
    assert "CC BY 4.0" in first and "AE/VAE book authors" in first
    assert deck[1].bullets[:2] == [
        "What a latent variable model is",
        "How the encoder approximates the posterior",
    ]
    headings = [s.heading for s in deck]
    assert "The loss" in headings and "A slide of my own" in headings
    assert headings.count("Summary") == 1 and headings.count("Exercises") == 1


def test_every_slide_has_notes_and_the_prose_is_in_them():
    _, deck = built()
    assert all(s.notes and any(n.strip() for n in s.notes) for s in deck)
    notes = "\n".join(n for s in deck for n in s.notes)
    assert "introduced at the same time by Rezende et al. (2014)" in notes
    assert "The curve falls, as The loss predicts." in notes
    assert "Show that the ELBO is at most" in notes  # the question, for the lecturer


def test_citations_are_author_year_with_full_entries_at_the_end():
    _, deck = built()
    text = all_text(deck)
    assert "(Kingma and Welling, 2013)" in text
    assert "kingma2013autoencoding" not in text and "{cite" not in text
    references = deck[-1].html
    assert "Kingma, D. P. and Welling, M. (2013). Auto-Encoding Variational Bayes." in references
    assert "Rezende, D. J., Mohamed, S. and Wierstra, D. (2014)" in references


def test_equations_are_numbered_as_in_the_book_and_figures_come_along():
    _, deck = built()
    loss = [s for s in deck if s.heading.startswith("The loss")]
    equations = [e.text for s in loss for e in s.equations]
    assert len(equations) == 1 and "\\tag{4.1}" in equations[0]
    assert "(4.1) is what we maximize" in all_text(deck)
    visuals = [s.visual.kind for s in deck if s.visual is not None]
    assert visuals.count("figure") == 1 and visuals.count("table") == 1


def test_bullets_are_few_and_short():
    _, deck = built()
    for s in deck:
        assert len(s.bullets) <= slides.MAX_BULLETS, s.heading
        for b in s.bullets:
            assert slides._words(b) <= slides.MAX_BULLET_WORDS + 1, b
    loss = next(s for s in deck if s.heading == "The loss")
    assert any("evidence lower bound" in b for b in loss.bullets)


def test_solutions_hidden_cells_and_skipped_cells_never_reach_the_deck():
    _, deck = built()
    text = all_text(deck)
    assert "secret answer" not in text and "claim check" not in text
    assert "leaves out of the deck" not in text


def test_code_is_hidden_unless_asked_for_or_tagged():
    _, deck = built()
    code = [s.visual.text for s in deck if s.visual is not None and s.visual.kind == "code"]
    assert code == ["x = 2 * math.pi  # shown on a slide"]  # the slide-code cell only
    _, deck = built(show_code=True)
    code = [s.visual.text for s in deck if s.visual is not None and s.visual.kind == "code"]
    assert "import math" in code and "plot(x)" in code


def test_printed_output_only_when_tagged_and_widgets_only_with_their_state():
    nb = chapter()
    printer = new_code_cell("print(result)")
    printer.outputs = [new_output("stream", name="stdout", text="k = 10: -93.4 nats\n")]
    widget = new_code_cell("latent_explorer(vae)")
    view = {"model_id": "abc", "version_major": 2, "version_minor": 0}
    widget.outputs = [
        new_output("display_data", {"application/vnd.jupyter.widget-view+json": view})
    ]
    nb.cells[8:8] = [printer, widget]
    _, deck = slides.build_slides(nb, "04_demo")
    kinds = [s.visual.kind for s in deck if s.visual is not None]
    assert "output" not in kinds and "widget" not in kinds
    printer.metadata["tags"] = ["slide-output"]
    _, deck = slides.build_slides(nb, "04_demo")
    outputs = [s.visual.text for s in deck if s.visual is not None and s.visual.kind == "output"]
    assert outputs == ["k = 10: -93.4 nats"]
    assert not any(s.visual.kind == "code" for s in deck if s.visual is not None and
                   "print(result)" in s.visual.text)  # fmt: skip


def test_long_code_is_split_at_blank_lines():
    source = "\n".join(f"line_{i} = {i}" if i % 10 else "" for i in range(1, 40))
    pieces = slides.split_code(source)
    assert all(p.count("\n") + 1 <= slides.CODE_LINES_PER_SLIDE for p in pieces)
    assert "\n".join(pieces).replace("\n\n", "\n") == source.replace("\n\n", "\n").strip()


def test_a_deck_builds_offline(tmp_path):
    deck = slides.build_deck(chapter(), "04_demo", tmp_path)
    page = deck.read_text()
    assert not CDN_PATTERN.search(page)
    loads = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', page)
    assert loads and all(url.startswith("vendor/") for url in loads), loads
    assert "vendor/mathjax/es5/tex-mml-chtml.js" in page and '"KL"' in page  # book macros
    assert page.count('<aside class="notes">') >= 8
    assert 'data-kind="title"' in page and 'data-kind="references"' in page
    assert "<title>4. The variational autoencoder slides</title>" in page
    assert "secret answer" not in page and "kingma2013" not in page


def test_outputs_come_from_the_books_execution_cache_for_the_same_code(tmp_path):
    from jupyter_cache import get_cache

    nb = chapter(outputs=False)
    assert slides.with_outputs(nb, tmp_path / "no-cache") == (nb, False)
    executed = copy.deepcopy(nb)
    executed.cells[1].outputs = [new_output("stream", text="ran\n")]
    get_cache(tmp_path / "cache").cache_notebook_bundle(
        CacheBundleIn(executed, tmp_path / "04_demo.ipynb"), check_validity=False
    )
    merged, found = slides.with_outputs(nb, tmp_path / "cache")
    assert found and merged.cells[1].outputs[0].text == "ran\n"
    nb.cells[1].source = "import cmath"  # the code changed since the book ran it
    assert slides.with_outputs(nb, tmp_path / "cache") == (nb, False)


def test_a_chapter_without_outputs_is_run_first_and_the_note_only_shows_when_true(tmp_path, capsys):
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Tiny\n\n## A figure\n\nA plot of a line:"),
            new_code_cell(
                "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.title('a line')"
            ),
            new_markdown_cell("## Summary\n\n- A line.\n\n## Exercises"),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path = tmp_path / "01_tiny.ipynb"
    nbformat.write(nb, path)
    out = tmp_path / "slides"
    args = ["--out", str(out), "--cache", str(tmp_path / "none"), str(path)]
    assert slides.main(["--no-execute", *args]) == 0
    printed = capsys.readouterr().out
    assert "no outputs" in printed and "<img" not in (out / "01_tiny.slides.html").read_text()
    assert slides.main(args) == 0
    printed = capsys.readouterr().out
    assert "no outputs" not in printed and "ran it now" in printed
    assert "<img" in (out / "01_tiny.slides.html").read_text()
    assert slides.main(args) == 0  # the second time, the kept run is used
    assert "kept from an earlier" in capsys.readouterr().out
    assert (out / "index.html").is_file()


def _need_browser():
    if not (REPO / "_vendor" / "slides" / "reveal.js" / "dist" / "reveal.js").is_file():
        pytest.skip("reveal.js not vendored (run `make vendor`)")
    import check_book

    if check_book.find_chromium() is None:
        pytest.skip("Chromium not installed")
    pytest.importorskip("playwright.sync_api")


def test_the_browser_check_passes_a_good_deck_and_catches_a_bad_one(tmp_path):
    _need_browser()
    import check_slides

    slides.copy_vendor(tmp_path)
    slides.build_deck(chapter(), "04_good", tmp_path)
    bad = chapter()
    own = bad.cells[9]
    own.source = "## Too much\n\n" + "\n".join(f"- point number {i}" for i in range(30))
    bad.cells[2].source += "\n\nA raw key: kingma2013autoencoding."
    slides.build_deck(bad, "04_bad", tmp_path)
    good, broken = check_slides.check_decks(tmp_path, ["04_good.slides.html", "04_bad.slides.html"])
    assert not good.failed, [s["problems"] for s in good.slides if s["problems"]] + good.problems
    assert len(good.slides) >= 8 and all(s["notes"] > 0 for s in good.slides)
    assert sum(s["figures"] for s in good.slides) == 1
    problems = [p for s in broken.slides for p in s["problems"]]
    assert any("taller than the slide" in p for p in problems), problems
    assert any("raw citation key: kingma2013autoencoding" in p for p in problems), problems
