"""Real-browser check of the built book: every page of _build/html in headless Chromium.

    python tests/browser/check_book.py [_build/html] [--screenshots _build/screenshots]

The pages are served over http://127.0.0.1 (a Python http.server on a free port) and loaded
in headless Chromium (Debian's `chromium`, driven by Playwright) with no network: a request
for any other host is blocked and reported. For every page it checks that

- no script throws (page errors) and nothing is logged at console level "error";
- every request the page makes succeeds (no 404 for a script, stylesheet, font or image);
- MathJax typeset the page wherever it has math: every Sphinx math element holds a
  rendered MathJax container, and no raw ``$...$``, ``\\(...\\)`` or ``\\[...\\]`` is left
  in the text outside code;
- no display equation is wider than its column at a 1280-px-wide window (a wider one hides
  part of itself behind a scrollbar): break it into aligned lines;
- every <img> loaded (naturalWidth > 0);
- every embedded ipywidgets view was drawn by the widget manager;
- every explorer of aevae_lib/explorers.py responds: the input events its probes name (keys on
  a control, a click or a drag on one) are replayed with the real mouse and keyboard, and each
  image it draws afterwards must carry the expected alt text and lie within 0.02 per pixel of
  PyTorch's output (saved in the page when the book was built); the explorers of one page may
  ship at most 2 MB of model data;
- every internal link and resource (href/src) points at a file that exists, and a link's
  #anchor at an element with that id (checked on the HTML files, without the browser);
- no cell shows an object's repr with a memory address ("<... at 0x7f...>"), the sign of a
  cell whose last line returned a value by accident (also on the HTML files).

A screenshot of each page is saved (full page) for a person to look at. Exit status 1 when
any page has a problem; each problem is printed as "page: what is wrong".
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import html.parser
import http.server
import os
import re
import shutil
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

#: Chromium flags: no sandbox (CI runs as root), no GPU, nothing that phones home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]

#: Folders of the built site that hold assets, not pages.
SKIP_DIRS = ("_static", "_sources", "_images", "vendor", "_downloads")

#: How long one page may take to load and typeset, in milliseconds.
PAGE_TIMEOUT_MS = 30_000


# --- links, on the HTML files ----------------------------------------------------------------


class _LinkParser(html.parser.HTMLParser):
    """Collects ids (anchors) and the href/src of a, link, img, script, source, iframe."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str]] = []  # (tag, url)
        self.redirect: str | None = None  # <meta http-equiv="refresh"> target

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "refresh":
            url = re.sub(r"(?i)^\s*\d+\s*;\s*url\s*=\s*", "", attrs.get("content") or "")
            self.redirect = url.strip("'\" ")
            self.refs.append(("meta", self.redirect))
        for key in ("href", "src"):
            if attrs.get(key) and tag in {"a", "link", "img", "script", "source", "iframe"}:
                self.refs.append((tag, attrs[key]))


@functools.cache
def _parse(path: Path) -> _LinkParser:
    parser = _LinkParser()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


# The repr of an object that a cell's last line returned by accident, such as
# "<matplotlib.legend.Legend at 0x7f...>": noise in the reader's page (end the cell with a
# statement, e.g. fig.tight_layout(), or assign the value).
_STRAY_REPR = re.compile(r"&lt;[A-Za-z_][\w.]* (?:object )?at 0x[0-9a-fA-F]+&gt;")


def stray_output_problems(page: Path) -> list[str]:
    """Object reprs with a memory address in ``page``'s HTML: a cell printed what it returned."""
    text = page.read_text(encoding="utf-8", errors="replace")
    return [
        f"stray output (a cell's return value): {html.unescape(m)}"
        for m in sorted(set(_STRAY_REPR.findall(text)))
    ]


def link_problems(root: Path, page: Path) -> list[str]:
    """Internal links or resources of ``page`` whose file (or #anchor) does not exist.

    ``root`` and ``page`` are absolute paths; ``page`` lies in ``root``.
    """
    problems = []
    for tag, url in _parse(page).refs:
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or url.startswith(("mailto:", "javascript:", "data:")):
            continue  # external (the browser check blocks and reports loads from the web)
        target = page if not parts.path else (page.parent / unquote(parts.path))
        if parts.path.endswith("/"):
            target = target / "index.html"
        target = Path(os.path.normpath(target))  # lexically, as a web server sees the path
        if not target.is_relative_to(root):
            problems.append(f"<{tag}> {url} points outside the book")
            continue
        if not target.is_file():
            problems.append(f"broken link: <{tag}> {url} (no file {target.relative_to(root)})")
            continue
        anchor = unquote(parts.fragment)
        if tag == "a" and anchor and target.suffix == ".html" and anchor not in _parse(target).ids:
            problems.append(f"broken anchor: <a> {url} (no id {anchor!r} in {target.name})")
    return problems


# --- the browser -----------------------------------------------------------------------------

# Run in the page once it has loaded: waits for MathJax and the widget manager, then reports.
_INSPECT_JS = r"""
async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const out = {};
  const mathEls = Array.from(document.querySelectorAll('.math'));
  if (mathEls.length || document.querySelector('script[src*="mathjax"]')) {
    for (let i = 0; i < 200 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
      await sleep(50);
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  }
  out.math = mathEls.length;
  out.mathUntypeset = mathEls.filter(e => !e.querySelector('mjx-container')).length;
  out.mjx = document.querySelectorAll('mjx-container').length;
  out.mathErrors = Array.from(document.querySelectorAll('mjx-merror'))
    .map(e => e.getAttribute('data-mjx-error') || e.textContent).slice(0, 5);
  // raw TeX left in the text: walk text nodes outside code, scripts and MathJax output
  const skip = 'script,style,pre,code,textarea,mjx-container,.highlight,.math,kbd,samp';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const raw = [];
  const tex = /\$\$[^$]+\$\$|\$[^\s$][^$\n]*?\$|\\\(|\\\[|\\begin\{/;
  for (let n = walker.nextNode(); n && raw.length < 5; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest(skip)) continue;
    const m = n.textContent.match(tex);
    if (m) raw.push(n.textContent.trim().slice(0, 80));
  }
  out.rawTex = raw;
  // display equations wider than their column: the rendered formula (mjx-math) must fit in
  // the width of the block that holds it, or part of it hides behind a scrollbar
  out.wideMath = Array.from(document.querySelectorAll('mjx-container[display="true"]'))
    .map(c => {
      const inner = c.querySelector('mjx-math');
      const box = c.closest('div.math, .math') || c.parentElement;
      const over = inner ? inner.getBoundingClientRect().width - box.clientWidth : 0;
      const label = (c.closest('div.math') || {}).id || '';
      return over > 1 ? `${label || '(unlabelled)'}: ${Math.round(over)} px too wide: ` +
        (c.getAttribute('aria-label') || inner.textContent || '').slice(0, 60) : null;
    }).filter(Boolean);
  // images: wait for the ones still loading
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(r => {
    img.addEventListener('load', r); img.addEventListener('error', r); setTimeout(r, 10000);
  })));
  out.images = imgs.length;
  out.brokenImages = imgs.filter(i => !(i.complete && i.naturalWidth > 0))
    .map(i => i.getAttribute('src') || '(no src)').map(s => s.slice(0, 80));
  // widgets: every embedded view must get a drawn .widget-subarea just before it
  const views = Array.from(document.querySelectorAll(
    'script[type="application/vnd.jupyter.widget-view+json"]'));
  const drawn = v => { const s = v.previousElementSibling;
    return !!(s && s.classList.contains('widget-subarea') && s.querySelector('.lm-Widget, .jupyter-widgets')); };
  // the manager renders on the load event; without require.js nothing will ever draw them
  for (let i = 0; i < 200 && window.require && views.some(v => !drawn(v)); i++) await sleep(50);
  out.widgets = views.length;
  out.widgetsUndrawn = views.filter(v => !drawn(v)).length;
  return out;
}
"""


# --- explorers (aevae_lib/explorers.py): replay their probes, compare with PyTorch --------------

#: A drawn pixel may differ from PyTorch's output by this much (explorers.PIXEL_TOLERANCE).
EXPLORER_TOLERANCE = 0.02
#: Model data that the explorers of one page may ship, in bytes (explorers.PAGE_BUDGET).
EXPLORER_PAGE_BUDGET = 2_000_000
#: How long the explorers of a page may take to draw, in milliseconds.
EXPLORER_TIMEOUT_MS = 15_000

# How many explorer views the page's widget state holds (myst-nb: one state script per page).
_EXPLORERS_EMBEDDED_JS = r"""
() => {
  const kinds = ["latent", "interpolation", "beta", "denoising"], models = {};
  for (const s of document.querySelectorAll('script[type="application/vnd.jupyter.widget-state+json"]')) {
    try { Object.assign(models, JSON.parse(s.textContent).state || {}); } catch (e) {}
  }
  return Array.from(document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'))
    .filter(v => {
      try {
        const m = models[JSON.parse(v.textContent).model_id];
        return !!m && m.model_module === "anywidget" && kinds.includes((m.state || {}).kind);
      } catch (e) { return false; }
    }).length;
}
"""

# The images an explorer shows now: {label, ink values} per named canvas (null if missing).
_EXPLORER_READ_JS = r"""
(root, names) => names.map(name => {
  const c = root.querySelector(`canvas[data-image="${name}"]`);
  if (!c) return null;
  const n = +c.dataset.n, zoom = +c.dataset.zoom, pad = +c.dataset.pad, half = Math.floor(zoom / 2);
  const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data, ink = [];
  for (let k = 0; k < n; k++)
    for (let r = 0; r < 28; r++)
      for (let q = 0; q < 28; q++) {
        const x = k * (28 * zoom + pad) + q * zoom + half, y = r * zoom + half;
        ink.push(1 - data[4 * (y * c.width + x)] / 255);
      }
  return {label: c.getAttribute("aria-label") || "", ink};
})
"""

# Focus a control; for a group of radio buttons, its checked button.
_EXPLORER_FOCUS_JS = r"""
el => {
  const t = el.matches("fieldset, [role=radiogroup]")
    ? (el.querySelector("input:checked") || el.querySelector("input")) : el;
  t.focus();
  return document.activeElement === t;
}
"""


def _replay(tab, root, steps: list[dict]) -> None:
    """Send the probe's input events with Playwright's real keyboard and mouse."""
    for step in steps:
        if "key" in step:
            target = root.locator(f'[data-control="{step["on"]}"]').first
            if not target.evaluate(_EXPLORER_FOCUS_JS):
                raise RuntimeError(f"control {step['on']!r} cannot take the keyboard focus")
            for _ in range(int(step.get("times", 1))):
                tab.keyboard.press(step["key"])
            continue
        name = step.get("click") or step.get("drag")
        target = root.locator(f'[data-control="{name}"]').first
        # to the middle of the window, clear of a sticky header
        target.evaluate("el => el.scrollIntoView({block: 'center', inline: 'center'})")
        box = target.bounding_box()
        if box is None:
            raise RuntimeError(f"control {name!r} is not visible")

        def at(fx, fy, box=box):
            return box["x"] + fx * box["width"], box["y"] + fy * box["height"]

        if "click" in step:
            tab.mouse.click(*at(*step.get("at", (0.5, 0.5))))
        else:
            points = [at(fx, fy) for fx, fy in step["path"]]
            tab.mouse.move(*points[0])
            tab.mouse.down()
            for point in points[1:]:
                tab.mouse.move(*point, steps=4)
            tab.mouse.up()


def explorer_problems(tab) -> tuple[list[str], dict]:
    """Replay every explorer's probes on the loaded page; (problems, {"explorers": count, ...})."""
    problems: list[str] = []
    embedded = tab.evaluate(_EXPLORERS_EMBEDDED_JS)
    roots = tab.locator("[data-aevae-explorer]")
    for _ in range(EXPLORER_TIMEOUT_MS // 100):
        if roots.count() >= embedded:
            break
        tab.wait_for_timeout(100)
    drawn = roots.count()
    if drawn < embedded:
        problems.append(f"{embedded - drawn} of {embedded} explorers not drawn")
    model_bytes = 0
    for i in range(drawn):
        root = roots.nth(i)
        kind = root.get_attribute("data-aevae-explorer")
        model_bytes += int(root.get_attribute("data-model-bytes") or 0)
        probes = root.evaluate("el => el.__aevae ? el.__aevae.probes : null") or []
        if not probes:
            problems.append(f"explorer {i + 1} ({kind}): no probes to replay")
        for probe in probes:
            where = f"explorer {i + 1} ({kind}), {probe['name']}"
            try:
                _replay(tab, root, probe["steps"])
            except Exception as exc:  # a control that is missing or hidden is a finding
                problems.append(f"{where}: could not send the input: {str(exc)[:160]}")
                continue
            expected = probe["expect"]
            shown = root.evaluate(_EXPLORER_READ_JS, [e["image"] for e in expected])
            for want, got in zip(expected, shown, strict=True):
                if got is None:
                    problems.append(f"{where}: no image {want['image']!r}")
                    continue
                if got["label"] != want["label"]:
                    problems.append(
                        f"{where}: did not respond: image {want['image']!r} shows "
                        f"{got['label']!r}, expected {want['label']!r}"
                    )
                    continue
                raw = base64.b64decode(want["pixels"])
                ref = struct.unpack(f"<{len(raw) // 2}e", raw)
                if len(ref) != len(got["ink"]):
                    problems.append(f"{where}: image {want['image']!r} has the wrong size")
                    continue
                worst = max(abs(a - b) for a, b in zip(ref, got["ink"], strict=True))
                if worst > EXPLORER_TOLERANCE:
                    problems.append(
                        f"{where}: image {want['image']!r} is {worst:.3f} away from PyTorch's "
                        f"output (at most {EXPLORER_TOLERANCE} allowed)"
                    )
    if model_bytes > EXPLORER_PAGE_BUDGET:
        problems.append(
            f"the explorers ship {model_bytes / 1e6:.2f} MB of model data "
            f"(at most {EXPLORER_PAGE_BUDGET / 1e6:.0f} MB per page)"
        )
    return problems, {"explorers": drawn, "explorer_model_bytes": model_bytes}


@dataclass
class PageResult:
    page: str
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    info: dict = field(default_factory=dict)


def find_chromium(explicit: str | None = None) -> str | None:
    """The Chromium to drive: ``explicit``, $AEVAE_CHROMIUM, or the first one on the PATH."""
    names = ("chromium", "chromium-browser", "google-chrome")  # Debian, Ubuntu, GitHub's runners
    for candidate in (explicit, os.environ.get("AEVAE_CHROMIUM"), *names):
        if candidate and (path := shutil.which(candidate)):
            return path
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a tab closed mid-transfer
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(root: Path):
    """Serve ``root`` on http://127.0.0.1:<free port>/; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def pages_of(root: Path) -> list[Path]:
    """Every HTML page of the site (paths relative to ``root``), without the asset folders."""
    found = (p.relative_to(root) for p in root.rglob("*.html"))
    return sorted(p for p in found if not set(p.parts[:-1]) & set(SKIP_DIRS))


def _check_page(context, base: str, root: Path, page: Path, shots: Path | None) -> PageResult:
    rel = page.relative_to(root).as_posix()
    result = PageResult(rel)
    problems = result.problems
    if _parse(page).redirect is not None:  # index.html: only a redirect, checked as a link
        result.problems.extend(link_problems(root, page))
        result.info = {"redirect": _parse(page).redirect}
        return result
    tab = context.new_page()
    tab.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    tab.on(
        "console",
        lambda msg: msg.type == "error" and problems.append(f"console error: {msg.text[:200]}"),
    )
    tab.on(
        "response",
        lambda r: (
            r.status >= 400 and problems.append(f"HTTP {r.status} for {r.url[len(base) - 1 :]}")
        ),
    )
    origin = base.rstrip("/")

    def only_local(route):
        url = route.request.url
        if url.startswith(origin) or url.startswith(("data:", "blob:", "about:")):
            return route.continue_()
        problems.append(f"request outside the book (blocked, no network): {url[:120]}")
        return route.abort()

    tab.route("**/*", only_local)
    start = time.perf_counter()
    try:
        tab.goto(urljoin(base, rel), wait_until="load", timeout=PAGE_TIMEOUT_MS)
        info = tab.evaluate(_INSPECT_JS)
        result.info = info
        if info["mathUntypeset"]:
            problems.append(
                f"MathJax did not typeset {info['mathUntypeset']} of {info['math']} math elements"
            )
        if info["mathErrors"]:
            problems.append(f"MathJax errors: {info['mathErrors']}")
        for text in info["rawTex"]:
            problems.append(f"raw TeX left in the text: {text!r}")
        for text in info.get("wideMath", []):
            problems.append(f"display equation wider than its column at 1280 px: {text}")
        for src in info["brokenImages"]:
            problems.append(f"image did not load: {src}")
        if info["widgetsUndrawn"]:
            problems.append(f"{info['widgetsUndrawn']} of {info['widgets']} widgets not drawn")
        if shots is not None:
            target = shots / (rel[: -len(".html")].replace("/", "__") + ".png")
            tab.screenshot(path=str(target), full_page=True, timeout=PAGE_TIMEOUT_MS)
        # after the screenshot, which shows the explorers as the reader first sees them
        found, explorers = explorer_problems(tab)
        problems.extend(found)
        info.update(explorers)
    except Exception as exc:  # a timeout or a crashed page is a finding, not a crash of the check
        problems.append(f"could not check the page: {type(exc).__name__}: {str(exc)[:200]}")
    finally:
        tab.close()
    result.seconds = time.perf_counter() - start
    problems.extend(link_problems(root, page))
    problems.extend(stray_output_problems(page))
    return result


def check_site(
    root: Path, screenshots: Path | None = None, chromium: str | None = None, pages=None
) -> list[PageResult]:
    """Check every page of the site in ``root`` (or only ``pages``); one result per page."""
    from playwright.sync_api import sync_playwright

    root = Path(root).resolve()
    executable = find_chromium(chromium)
    if executable is None:
        raise RuntimeError("Chromium not found: install Debian's `chromium` or set AEVAE_CHROMIUM")
    if screenshots is not None:
        shutil.rmtree(screenshots, ignore_errors=True)
        screenshots.mkdir(parents=True)
    todo = [Path(p) for p in pages] if pages is not None else pages_of(root)
    with serve(root) as base, sync_playwright() as pw:
        # Playwright starts Chromium with a new, empty --user-data-dir of its own.
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            return [_check_page(context, base, root, root / p, screenshots) for p in todo]
        finally:
            browser.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", nargs="?", default="_build/html", type=Path)
    parser.add_argument("--screenshots", type=Path, default=Path("_build/screenshots"))
    parser.add_argument("--chromium", help="path of the Chromium binary")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        print(f"check_book: no built book at {args.site} (run `make book`)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    results = check_site(args.site, args.screenshots, args.chromium)
    bad = [r for r in results if r.problems]
    for r in results:
        info = r.info
        print(
            f"{'FAIL' if r.problems else 'ok  '} {r.page:55s} {r.seconds:5.1f} s  "
            f"math {info.get('mjx', 0):3d}  images {info.get('images', 0):2d}  "
            f"widgets {info.get('widgets', 0)}  explorers {info.get('explorers', 0)}"
        )
        for problem in r.problems:
            print(f"     {r.page}: {problem}")
    print(
        f"check_book: {len(results)} pages in {time.perf_counter() - start:.0f} s, "
        f"{len(bad)} with problems; screenshots in {args.screenshots}"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
