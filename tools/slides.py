"""One reveal.js slide deck per chapter, usable offline:  python tools/slides.py [NOTEBOOK...]

    make slides        # every chapter -> _build/slides/NN_topic.slides.html (+ index.html)

Each deck is nbconvert's reveal.js export (``--to slides``) of a *copy* of the chapter, in
which every cell without slide metadata of its own gets a default:

    "# Title" and "## Section" cells   start a new slide (horizontal)
    other Markdown cells                start a new sub-slide (vertical, below the section)
    code cells and their outputs        stay with the Markdown before them
    hidden cells (remove-cell), exercise solutions, empty cells   are skipped

so a chapter reads as one horizontal slide per ``##`` section with its steps below it. A
cell that already has ``slideshow.slide_type`` (View > Cell Toolbar > Slideshow in Jupyter)
keeps it: authors can refine a deck without touching this script. MyST roles such as
{cite:t}`key` or {doc}`page` are shown as plain text.

The figures come from the book's execution cache (_build/.jupyter_cache, filled by
``make book``); a chapter whose code changed since then, or that never ran, gives a deck
of its code without outputs (and a note saying so). Widgets show their starting state, as in
the book. reveal.js, MathJax, require.js and the widget manager are copied from _vendor/
(``make vendor``) to _build/slides/vendor/, and the decks load them from there: the folder
works offline and can be zipped and handed to students.
"""

from __future__ import annotations

import argparse
import copy
import html
import json
import re
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "slides_template"
VENDOR = "vendor"  # the decks' folder of scripts, next to them

#: Markdown cells with these MyST directives are solutions: not shown on slides.
_SOLUTION = re.compile(r"[`:]{3,}\s*\{(solution|dropdown)\}|\{admonition\}\s*Solution", re.I)
#: A MyST role, {name}`text` or {name:sub}`text`; its text is kept.
_ROLE = re.compile(r"\{([a-z]+)(?::[a-z]+)?\}`([^`]*)`")
_SKIP_TAGS = {"remove-cell"}
#: MyST's labelled display math: $$ ... $$ (label)
_LABELLED_MATH = re.compile(r"\$\$(.+?)\$\$[ \t]*\(([\w-]+)\)", re.S)


def default_slide_type(cell) -> str:
    """The slide type a cell gets when it has none of its own."""
    text = cell.source.strip()
    tags = set(cell.metadata.get("tags", []))
    if not text or tags & _SKIP_TAGS:
        return "skip"
    if cell.cell_type == "markdown":
        if _SOLUTION.search(text):
            return "skip"
        return "slide" if re.match(r"#{1,2} ", text) else "subslide"
    return "-"


def _role_text(match: re.Match) -> str:
    role, text = match.group(1), match.group(2)
    title = re.match(r"(.*?)\s*<[^>]*>$", text)  # {doc}`the VAE </notebooks/04_vae>`
    if title:
        return title.group(1)
    if role == "cite":
        return f"[{text}]"
    return text.rsplit("/", 1)[-1] if role == "doc" else text


def number_equations(cells) -> None:
    """MyST's labelled display math, ``$$ ... $$ (label)``, becomes ``$$ ... \\tag{n} $$``
    and every {eq}`label` becomes (n), numbered in order of appearance."""
    numbers: dict[str, int] = {}

    def tag(match: re.Match) -> str:
        n = numbers.setdefault(match.group(2), len(numbers) + 1)
        return f"$${match.group(1)} \\tag{{{n}}}$$"

    for cell in cells:
        if cell.cell_type == "markdown":
            cell.source = _LABELLED_MATH.sub(tag, cell.source)
    for cell in cells:
        if cell.cell_type == "markdown":
            cell.source = re.sub(
                r"\{eq\}`([^`]*)`",
                lambda m: f"({numbers[m.group(1)]})" if m.group(1) in numbers else m.group(1),
                cell.source,
            )


def prepare(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with a slide type on every cell, numbered equations and MyST roles
    as plain text."""
    nb = copy.deepcopy(nb)
    number_equations(nb.cells)
    for cell in nb.cells:
        show = cell.metadata.setdefault("slideshow", {})
        show.setdefault("slide_type", default_slide_type(cell))
        if cell.cell_type == "markdown":
            cell.source = _ROLE.sub(_role_text, cell.source)
    return nb


def mathjax_config() -> str:
    """MathJax 3 configuration: $...$ inline math and the book's macros from _config.yml."""
    sys.path.insert(0, str(ROOT / "tools"))
    from macros import load_macros

    return json.dumps(
        {
            "tex": {
                "inlineMath": [["$", "$"], ["\\(", "\\)"]],
                "displayMath": [["$$", "$$"], ["\\[", "\\]"]],
                "processEscapes": True,
                "macros": load_macros(),
            },
            "chtml": {"fontURL": f"{VENDOR}/mathjax/es5/output/chtml/fonts/woff-v2"},
        }
    )


def build_deck(nb: nbformat.NotebookNode, name: str, out_dir: Path) -> Path:
    """Write ``out_dir/<name>.slides.html`` from ``nb`` (already ``prepare``d or not)."""
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {"remove-cell"}
    config.TagRemovePreprocessor.remove_input_tags = {"remove-input", "hide-input"}
    config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output", "hide-output"}
    exporter = SlidesExporter(
        config=config,
        template_name="aevae_reveal",
        extra_template_basedirs=[str(TEMPLATES)],
        reveal_url_prefix=f"{VENDOR}/reveal.js",
        reveal_scroll=False,
        reveal_theme="white",  # its fonts ship with reveal.js (simple, sky, ... load Google's)
        exclude_input_prompt=True,  # no In [3]: / Out[3]: on a slide
        exclude_output_prompt=True,
    )
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from widget_embed import script  # the book's widget set-up: fonts, MathJax 3

    widget_script = script({f"../{VENDOR}/jupyter-widgets/embed-amd.js": {}}, name)
    resources = {
        "aevae": {
            "vendor": VENDOR,
            "mathjax_config": mathjax_config(),
            "widget_script": widget_script,
        }
    }
    body, _ = exporter.from_notebook_node(prepare(nb), resources=resources)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.slides.html"
    target.write_text(body, encoding="utf-8")
    return target


def copy_vendor(out_dir: Path, vendor: Path = ROOT / "_vendor") -> None:
    """Copy reveal.js, MathJax, require.js and the widget manager to out_dir/vendor/."""
    sources = {
        "reveal.js": vendor / "slides" / "reveal.js",
        "mathjax": vendor / "site" / "vendor" / "mathjax",
        "requirejs": vendor / "site" / "vendor" / "requirejs",
        "jupyter-widgets": vendor / "site" / "vendor" / "jupyter-widgets",
    }
    missing = [str(p) for p in sources.values() if not p.is_dir()]
    if missing:
        raise SystemExit(f"slides: missing {', '.join(missing)}; run `make vendor` first")
    for name, source in sources.items():
        shutil.rmtree(out_dir / VENDOR / name, ignore_errors=True)
        shutil.copytree(source, out_dir / VENDOR / name)


def with_outputs(nb: nbformat.NotebookNode, cache: Path) -> tuple[nbformat.NotebookNode, bool]:
    """``nb`` with the outputs of its execution by ``make book``, when the book's execution
    cache (``_build/.jupyter_cache``) holds a run of exactly this notebook's code; else ``nb``.

    (The copies in _build/jupyter_execute/ have no outputs when the cache served them.)
    """
    if not (cache / "global.db").is_file():
        return nb, False
    from jupyter_cache import get_cache

    try:
        _, merged = get_cache(cache).merge_match_into_notebook(nb)
    except KeyError:  # the code changed since the last build, or it never ran
        return nb, False
    return merged, True


def write_index(decks: list[Path], out_dir: Path) -> Path:
    items = "\n".join(
        f'<li><a href="{d.name}">{html.escape(d.name.removesuffix(".slides.html"))}</a></li>'
        for d in decks
    )
    index = out_dir / "index.html"
    index.write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Slides: Autoencoders and Variational Autoencoders</title></head><body>"
        "<h1>Slides: Autoencoders and Variational Autoencoders</h1>"
        f"<ul>\n{items}\n</ul>"
        "<p>Text and figures CC BY 4.0, code MIT. Keys: arrows to move, <kbd>s</kbd> for "
        "speaker notes, <kbd>Esc</kbd> for an overview.</p></body></html>",
        encoding="utf-8",
    )
    return index


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "slides")
    parser.add_argument(
        "--cache",
        type=Path,
        default=ROOT / "_build" / ".jupyter_cache",
        help="the book's execution cache (default: _build/.jupyter_cache)",
    )
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    copy_vendor(args.out)
    decks = []
    for notebook in notebooks:
        nb, executed = with_outputs(nbformat.read(notebook, as_version=4), args.cache)
        deck = build_deck(nb, notebook.stem, args.out)
        decks.append(deck)
        note = "" if executed else "  (no outputs: run `make book` first for the figures)"
        print(f"slides: {deck.relative_to(args.out.parent)}{note}")
    print(f"slides: {len(decks)} decks; open {write_index(decks, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
