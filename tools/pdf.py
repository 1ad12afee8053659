"""PDF handouts: every chapter page of the built book printed by headless Chromium.

    make pdf                  # _build/pdf/NN_topic.pdf, solutions hidden
    make pdf SOLUTIONS=1      # _build/pdf/solutions/NN_topic.pdf, solutions shown
    python tools/pdf.py --verify _build/pdf    # check the PDFs' text (CI does)

The pages of _build/html (``make book``) are served over http://127.0.0.1 and printed by
Debian's Chromium (Playwright, no network) once MathJax has typeset them and every image and
font has loaded, with tools/print.css: the chapter only (no navigation, sidebars or buttons),
figures and equations kept whole, the exercises' solutions hidden unless ``--solutions``
(then expanded). Each page of the PDF carries the chapter's title, the credit line of
LICENSE-CONTENT.md and "page n of N".

``--verify`` reads the PDFs back (pypdf) and fails unless each has the chapter's title on its
first page, the credit line and a page number on every page, no raw TeX, at least as many
images as the chapter page has figures, and solutions exactly when it should.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import time
import unicodedata
from pathlib import Path
from urllib.parse import urljoin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))
import check_book  # noqa: E402

PRINT_CSS = Path(__file__).resolve().parent / "print.css"
CREDIT = (
    "From Autoencoders and Variational Autoencoders, an open, executable textbook by the "
    "AE/VAE book authors, github.com/aevae-book/aevae-book · CC BY 4.0"
)
SOLUTION_MARK = "Solution to"  # sphinx-exercise's title of every solution
PAGE_TIMEOUT_MS = 60_000

_READY_JS = r"""
async (showSolutions) => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  if (document.querySelector('.math, script[src*="mathjax"]')) {
    for (let i = 0; i < 200 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
      await sleep(50);
    if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
  }
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(r => {
    img.addEventListener('load', r); img.addEventListener('error', r); setTimeout(r, 10000);
  })));
  if (showSolutions) {
    document.documentElement.classList.add('aevae-print-solutions');
    document.querySelectorAll('.solution .toggle-hidden, .solution.toggle-hidden').forEach(
      e => e.classList.remove('toggle-hidden'));
    document.querySelectorAll('.solution details').forEach(d => d.open = true);
  }
  await document.fonts.ready;
  const title = document.querySelector('article h1, main h1, h1');
  return {
    title: title ? title.textContent.replace(/[#¶]/g, '').trim() : document.title,
    // a figure inside a solution is printed only with the solutions
    figures: Array.from(document.querySelectorAll('.cell_output img, figure img'))
      .filter(img => showSolutions || !img.closest('.solution')).length,
    math: document.querySelectorAll('mjx-container').length,
    solutions: document.querySelectorAll('.solution').length,
  };
}
"""


def chapter_pages(site: Path) -> list[str]:
    return sorted(
        p.relative_to(site).as_posix() for p in (site / "notebooks").glob("[0-9][0-9]_*.html")
    )


def _footer(title: str) -> str:
    style = "font-size:7.5px;width:100%;margin:0 15mm;color:#555;font-family:sans-serif;"
    return (
        f'<div style="{style}display:flex;justify-content:space-between;">'
        f"<span>{html.escape(CREDIT)}</span>"
        '<span style="white-space:nowrap;margin-left:8px;">page <span class="pageNumber">'
        '</span> of <span class="totalPages"></span></span></div>'
    )


def _header(title: str) -> str:
    style = "font-size:7.5px;width:100%;margin:0 15mm;color:#555;font-family:sans-serif;"
    return f'<div style="{style}">{html.escape(title)}</div>'


def print_pages(site: Path, out: Path, pages: list[str] | None = None, solutions: bool = False):
    """Print ``pages`` (default: every chapter) of the built book to ``out``; returns
    [(pdf path, info from the page)]."""
    from playwright.sync_api import sync_playwright

    site = Path(site).resolve()
    executable = check_book.find_chromium()
    if executable is None:
        raise RuntimeError("Chromium not found: install Debian's `chromium` or set AEVAE_CHROMIUM")
    pages = pages or chapter_pages(site)
    out.mkdir(parents=True, exist_ok=True)
    css = PRINT_CSS.read_text(encoding="utf-8")
    done = []
    with check_book.serve(site) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=check_book.CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            origin = base.rstrip("/")
            for rel in pages:
                tab = context.new_page()
                tab.route(
                    "**/*",
                    lambda route: (
                        route.continue_()
                        if route.request.url.startswith((origin, "data:", "blob:", "about:"))
                        else route.abort()
                    ),
                )
                start = time.perf_counter()
                tab.goto(urljoin(base, rel), wait_until="load", timeout=PAGE_TIMEOUT_MS)
                tab.add_style_tag(content=css)
                info = tab.evaluate(_READY_JS, solutions)
                tab.emulate_media(media="print")
                target = out / (Path(rel).stem + ".pdf")
                tab.pdf(
                    path=str(target),
                    format="A4",
                    print_background=True,
                    display_header_footer=True,
                    header_template=_header(info["title"]),
                    footer_template=_footer(info["title"]),
                    margin={"top": "16mm", "bottom": "18mm", "left": "15mm", "right": "15mm"},
                    prefer_css_page_size=False,
                )
                tab.close()
                info["seconds"] = time.perf_counter() - start
                done.append((target, info))
        finally:
            browser.close()
    return done


def pdf_text(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(str(path)).pages]


def pdf_images(path: Path) -> int:
    from pypdf import PdfReader

    count = 0
    for page in PdfReader(str(path)).pages:
        try:
            count += len(page.images)
        except Exception:  # an image filter pypdf cannot decode still is an image
            count += 1
    return count


def _squash(text: str) -> str:
    """One space for every run of white space, and typographic ligatures spelled out: a PDF's
    text layer may hold "diﬀusion" (one glyph, U+FB00) where the page says "diffusion"."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text))


def verify(pdf: Path, title: str, figures: int, solutions: bool) -> list[str]:
    """Problems with one printed chapter (empty when it is fine)."""
    problems = []
    pages = pdf_text(pdf)
    if not pages:
        return [f"{pdf.name}: no pages"]
    first = _squash(pages[0])
    if title and _squash(title)[:40] not in first:
        problems.append(f"{pdf.name}: the title {title!r} is not on the first page")
    n = len(pages)
    for k, text in enumerate(pages, 1):
        flat = _squash(text)
        if "CC BY 4.0" not in flat or "AE/VAE book authors" not in flat:
            problems.append(f"{pdf.name}: page {k} has no credit line")
            break
        if f"page {k} of {n}" not in flat:
            problems.append(f"{pdf.name}: page {k} has no page number 'page {k} of {n}'")
            break
    everything = _squash(" ".join(pages))
    raw = re.search(r"\$\$|\\(frac|mathbf|begin|KL|bmu|qzx|ELBO)\b", everything)
    if raw:
        problems.append(
            f"{pdf.name}: raw TeX in the text: {everything[raw.start() : raw.start() + 40]!r}"
        )
    images = pdf_images(pdf)
    if images < figures:
        problems.append(f"{pdf.name}: {images} images, the chapter page has {figures} figures")
    has = SOLUTION_MARK in everything
    if solutions and not has:
        problems.append(f"{pdf.name}: printed with solutions, but none is in the text")
    if not solutions and has:
        problems.append(f"{pdf.name}: a solution is in the text of the student PDF")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf")
    parser.add_argument("--solutions", action="store_true", help="print the solutions, expanded")
    parser.add_argument("--verify", action="store_true", help="also check the PDFs' text")
    parser.add_argument("pages", nargs="*", help="pages of the site, e.g. notebooks/04_vae.html")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        print(f"pdf: no built book at {args.site} (run `make book`)", file=sys.stderr)
        return 2
    out = args.out / "solutions" if args.solutions else args.out
    start = time.perf_counter()
    done = print_pages(args.site, out, args.pages or None, args.solutions)
    status = 0
    for path, info in done:
        pages = len(pdf_text(path))
        print(
            f"pdf: {path.relative_to(args.out.parent)}: {pages} pages, {info['figures']} figures, "
            f"{info['math']} formulas, {info['seconds']:.1f} s"
        )
        if args.verify:
            for problem in verify(path, info["title"], info["figures"], args.solutions):
                print(f"    FAIL {problem}")
                status = 1
    print(f"pdf: {len(done)} chapters in {time.perf_counter() - start:.0f} s, into {out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
