"""Sphinx extension: keep the built pages free of CDN references.

The book is read offline (and built on machines without internet), so every script,
stylesheet and font a page loads must come from the book itself. _config.yml points MathJax,
require.js and the ipywidgets embed manager at copies vendored by tools/vendor_js.sh. This
extension does the rest:

1. It drops the two scripts that sphinx-thebe (always loaded by Jupyter Book) adds to every
   page: an inline constant holding thebe's CDN address and `sphinx-thebe.js`. They serve
   the "live code" button, which this book does not use (`launch_buttons.thebe: false`).
2. After an HTML build it reads every page and logs a warning for each reference to a CDN
   host, so that `jupyter-book build -W` fails when one creeps in (for example from a
   notebook output that loads a plotting library from the web).
"""

from __future__ import annotations

import re
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

# Hosts that serve JavaScript, CSS or fonts to web pages; a page naming one would fetch it.
CDN_PATTERN = re.compile(
    r"(cdn\.jsdelivr\.net|unpkg\.com|cdnjs\.cloudflare\.com|fonts\.googleapis\.com"
    r"|fonts\.gstatic\.com|ajax\.googleapis\.com|code\.jquery\.com|cdn\.plot\.ly"
    r"|polyfill\.io|bootstrapcdn\.com|cdn\.bokeh\.org|//[\w.-]*cdn[\w-]*\.(?:com|net|org|io)/)"
)


def _is_thebe_script(js) -> bool:
    filename = str(getattr(js, "filename", js) or "")
    body = getattr(js, "attributes", {}).get("body", "")
    return filename.endswith("sphinx-thebe.js") or "THEBE_JS_URL" in body


def drop_thebe_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    if app.config["thebe_config"].get("always_load"):
        return  # someone turned thebe on: leave its scripts alone
    if "script_files" in context:
        context["script_files"] = [js for js in context["script_files"] if not _is_thebe_script(js)]


def find_cdn_references(outdir: Path) -> list[tuple[Path, int, str]]:
    """Every (page, line number, host) where a built HTML page names a CDN host."""
    hits = []
    for page in sorted(outdir.rglob("*.html")):
        text = page.read_text(encoding="utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), start=1):
            for match in CDN_PATTERN.finditer(line):
                hits.append((page, lineno, match.group(0)))
    return hits


def check_pages(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    for page, lineno, host in find_cdn_references(outdir):
        logger.warning(
            "page loads from a CDN (%s); serve it from the book instead",
            host,
            location=f"{page.relative_to(outdir)}:{lineno}",
            type="offline_html",
        )


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", drop_thebe_scripts, priority=900)
    app.connect("build-finished", check_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
