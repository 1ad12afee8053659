"""Check every slide of every lecture deck in headless Chromium, as a lecturer would see it.

    python tools/check_slides.py [_build/slides] [--screenshots DIR] [--deck NN_topic ...]

The decks are served over http://127.0.0.1 and shown in Debian's Chromium (driven by
Playwright, as tests/browser/check_book.py does) in a 1280x720 window with no network.
Every slide of every deck is shown in turn, and a slide fails when

- its content overflows the slide (taller or wider than 1280x720, footer line included);
- a line of code is cut off (a code block wider than its box);
- it has no speaker notes;
- its text, or its notes, show a raw citation key (``kingma2013autoencoding``), a MyST role
  or directive (``{cite}``, ``{eq}``, ``:::{exercise}``), a raw label or raw TeX;
- MathJax reports an error, an image did not load, or a widget was not drawn.

A deck fails when it lacks a Summary or an Exercises slide, or when a page or console error
or a request for another host occurs. Prints one line per deck (slides, words per slide on
the slides themselves, notes) and every problem; exit status 1 when anything fails.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_book  # noqa: E402
import mystblocks as mb  # noqa: E402

WIDTH, HEIGHT = 1280, 720
DECK_TIMEOUT_MS = 60_000

_INSPECT_JS = r"""
async (keys) => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  for (let i = 0; i < 400 && !(window.Reveal && window.Reveal.isReady && Reveal.isReady()); i++)
    await sleep(50);
  if (!(window.Reveal && Reveal.isReady())) return {error: "reveal.js did not start"};
  for (let i = 0; i < 200 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
    await sleep(50);
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(r => {
    img.addEventListener('load', r); img.addEventListener('error', r); setTimeout(r, 10000);
  })));
  const views = Array.from(document.querySelectorAll(
    'script[type="application/vnd.jupyter.widget-view+json"]'));
  const drawn = v => { const s = v.previousElementSibling;
    return !!(s && s.classList.contains('widget-subarea') && s.querySelector('.lm-Widget, .jupyter-widgets')); };
  for (let i = 0; i < 200 && window.require && views.some(v => !drawn(v)); i++) await sleep(50);
  Reveal.configure({transition: 'none', backgroundTransition: 'none'});
  const myst = /\{(cite|eq|ref|doc|numref|term|math)(:[a-z]+)?\}`|[:`]{3}\{[\w-]+\}|^\([\w-]+\)=/m;
  const label = /\(ch\d\d-[\w-]+\)|\bex-\d\d-[\w-]+/;
  const tex = /\$\$[^$]+\$\$|\$[^\s$][^$\n]*?\$|\\\(|\\\[|\\begin\{/;
  const textOf = (root, withNotes) => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const parts = [];
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!el || el.closest('script,style,mjx-container')) continue;
      if (!withNotes && el.closest('aside.notes')) continue;
      parts.push(n.textContent);
    }
    return parts.join(' ');
  };
  const out = [];
  const slides = Reveal.getSlides();
  for (const s of slides) {
    const idx = Reveal.getIndices(s);
    Reveal.slide(idx.h, idx.v || 0);
    await sleep(30);
    const r = {h: idx.h, v: idx.v || 0, kind: s.dataset.kind || '', problems: []};
    const head = s.querySelector('h2, h1');
    r.heading = head ? head.textContent.trim() : '';
    const over = s.scrollHeight - s.clientHeight, wide = s.scrollWidth - s.clientWidth;
    if (over > 1) r.problems.push(`content ${over} px taller than the slide`);
    if (wide > 1) r.problems.push(`content ${wide} px wider than the slide`);
    const box = s.getBoundingClientRect();
    for (const el of s.querySelectorAll('img, pre, table, mjx-container, li, p, .widget-subarea')) {
      if (el.closest('aside.notes')) continue;
      const b = el.getBoundingClientRect();
      if (b.width === 0 && b.height === 0) continue;
      if (b.bottom > box.bottom + 1 || b.right > box.right + 1) {
        r.problems.push(`<${el.tagName.toLowerCase()}> runs off the slide: ` +
          (el.textContent || el.getAttribute('alt') || '').trim().slice(0, 50));
        break;
      }
    }
    for (const pre of s.querySelectorAll('pre')) {
      if (pre.closest('aside.notes')) continue;
      if (pre.scrollWidth > pre.clientWidth + 1)
        r.problems.push(`code cut off on the right: ${pre.textContent.trim().split('\n')[0].slice(0, 60)}`);
    }
    for (const m of s.querySelectorAll('mjx-container[display="true"]')) {
      const inner = m.querySelector('mjx-math');
      if (inner && inner.getBoundingClientRect().width > box.width - 40)
        r.problems.push(`equation wider than the slide: ${(m.getAttribute('aria-label') || '').slice(0, 50)}`);
    }
    const notes = s.querySelector('aside.notes');
    r.notes = notes ? notes.textContent.trim().split(/\s+/).filter(Boolean).length : 0;
    if (!r.notes) r.problems.push('no speaker notes');
    const visible = textOf(s, false).replace(/\s+/g, ' ');
    const all = textOf(s, true);
    const footer = s.querySelector('.aevae-footer');
    const counted = visible.replace(footer ? footer.textContent : '', ' ');
    r.words = (counted.match(/[\w'’]+/g) || []).length + s.querySelectorAll('mjx-container:not([display="true"])').length;
    for (const key of keys) if (all.includes(key)) { r.problems.push(`raw citation key: ${key}`); break; }
    const m1 = all.match(myst); if (m1) r.problems.push(`raw MyST: ${m1[0]}`);
    const m2 = all.match(label); if (m2) r.problems.push(`raw label: ${m2[0]}`);
    const m3 = visible.match(tex); if (m3) r.problems.push(`raw TeX on the slide: ${m3[0].slice(0, 40)}`);
    const errs = s.querySelectorAll('mjx-merror');
    if (errs.length) r.problems.push(`MathJax error: ${(errs[0].getAttribute('data-mjx-error') || errs[0].textContent).slice(0, 80)}`);
    for (const img of s.querySelectorAll('img'))
      if (!(img.complete && img.naturalWidth > 0)) r.problems.push('an image did not load');
    r.figures = s.querySelectorAll('img').length;
    r.equations = s.querySelectorAll('mjx-container[display="true"]').length;
    for (const v of s.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'))
      if (!drawn(v)) r.problems.push('a widget was not drawn');
    out.push(r);
  }
  Reveal.slide(0, 0);
  return {slides: out};
}
"""


@dataclass
class DeckResult:
    deck: str
    slides: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return bool(self.problems or any(s["problems"] for s in self.slides))

    def words(self) -> tuple[float, int]:
        w = [s["words"] for s in self.slides] or [0]
        return statistics.mean(w), max(w)


def _check_deck(context, base: str, rel: str, keys: list[str], shots: Path | None) -> DeckResult:
    result = DeckResult(rel)
    problems = result.problems
    tab = context.new_page()
    tab.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    tab.on(
        "console",
        lambda msg: msg.type == "error" and problems.append(f"console error: {msg.text[:200]}"),
    )
    tab.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))
    origin = base.rstrip("/")

    def only_local(route):
        url = route.request.url
        if url.startswith(origin) or url.startswith(("data:", "blob:", "about:")):
            return route.continue_()
        problems.append(f"request outside the decks (blocked, no network): {url[:120]}")
        return route.abort()

    tab.route("**/*", only_local)
    start = time.perf_counter()
    try:
        tab.goto(urljoin(base, rel), wait_until="load", timeout=DECK_TIMEOUT_MS)
        info = tab.evaluate(_INSPECT_JS, keys)
        if "error" in info:
            problems.append(info["error"])
        result.slides = info.get("slides", [])
        headings = [s["heading"] for s in result.slides]
        for wanted in ("Summary", "Exercises"):
            if not any(h.startswith(wanted) for h in headings):
                problems.append(f"no {wanted} slide")
        if shots is not None:
            stem = rel.removesuffix(".slides.html")
            for n, s in enumerate(result.slides, 1):
                tab.evaluate(f"Reveal.slide({s['h']}, {s['v']})")
                tab.wait_for_timeout(60)
                tab.screenshot(path=str(shots / f"{stem}-{n:02d}.png"))
    except Exception as exc:  # a timeout or a crash is a finding, not a crash of the check
        problems.append(f"could not check the deck: {type(exc).__name__}: {str(exc)[:200]}")
    finally:
        tab.close()
    result.seconds = time.perf_counter() - start
    return result


def check_decks(
    root: Path, decks: list[str] | None = None, screenshots: Path | None = None
) -> list[DeckResult]:
    """Check the decks in ``root`` (every ``*.slides.html``, or only ``decks``)."""
    from playwright.sync_api import sync_playwright

    root = Path(root).resolve()
    executable = check_book.find_chromium()
    if executable is None:
        raise RuntimeError("Chromium not found: install Debian's `chromium` or set AEVAE_CHROMIUM")
    todo = decks or sorted(p.name for p in root.glob("*.slides.html"))
    keys = sorted(mb.bibliography())
    if screenshots is not None:
        screenshots.mkdir(parents=True, exist_ok=True)
        for old in screenshots.glob("*.png"):
            old.unlink()
    with check_book.serve(root) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=check_book.CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
            return [_check_deck(context, base, d, keys, screenshots) for d in todo]
        finally:
            browser.close()


def report(results: list[DeckResult]) -> int:
    total = 0
    for r in results:
        mean, most = r.words()
        total += len(r.slides)
        notes = sum(s["notes"] for s in r.slides)
        figures = sum(s.get("figures", 0) for s in r.slides)
        print(
            f"{'FAIL' if r.failed else 'ok  '} {r.deck:45s} {len(r.slides):3d} slides  "
            f"{mean:4.0f} words/slide (max {most:3d})  {figures:2d} figures  "
            f"{notes:5d} words of notes  {r.seconds:4.1f} s"
        )
        for p in r.problems:
            print(f"     {r.deck}: {p}")
        for n, s in enumerate(r.slides, 1):
            for p in s["problems"]:
                print(f"     {r.deck} slide {n} ({s['heading'][:40]}): {p}")
    bad = [r for r in results if r.failed]
    print(f"check_slides: {len(results)} decks, {total} slides, {len(bad)} decks with problems")
    return 1 if bad else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", type=Path, default=ROOT / "_build" / "slides")
    parser.add_argument("--deck", action="append", help="only this deck (NN_topic), repeatable")
    parser.add_argument("--screenshots", type=Path, help="save a screenshot of every slide here")
    args = parser.parse_args(argv)
    decks = None
    if args.deck:
        decks = [d if d.endswith(".slides.html") else f"{d}.slides.html" for d in args.deck]
    if not any(args.root.glob("*.slides.html")):
        print(f"check_slides: no decks in {args.root} (run `make slides`)", file=sys.stderr)
        return 2
    return report(check_decks(args.root, decks, args.screenshots))


if __name__ == "__main__":
    sys.exit(main())
