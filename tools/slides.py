"""Lecture decks, one per chapter, usable offline:  python tools/slides.py [NOTEBOOK...]

    make slides              # every chapter -> _build/slides/NN_topic.slides.html (+ index.html)
    make slides NB=04        # one chapter
    make slides CODE=1       # with the code cells on slides of their own

A deck is built for lecturing, not as the notebook cut into pieces:

- a **title slide** (chapter title, book title, credit line and licence from
  LICENSE-CONTENT.md), then **You will learn** as bullets;
- one slide per ``##`` section (a ``###`` subsection gets a slide below it) with its
  heading, its **labelled equations** (numbered as in the book), its **figures**, tables and
  widgets from the executed chapter, and at most a few short bullets; a section with more
  figures or equations than fit continues on slides below it;
- the **prose goes to the speaker notes** (reveal.js notes: press ``s``), every sentence of
  it, so that a lecturer can teach from the speaker view;
- code is hidden (``--code`` puts each code cell on a slide of its own);
- **Summary** and **Exercises** slides (the exercises' titles, kind and time; questions in
  the notes; never the solutions), and a **References** slide with the full entries of
  every work the chapter cites, which the slides cite as "Kingma and Welling (2013)".

A lecturer steers a deck with cell tags (JupyterLab: the property inspector, "Cell Tags"):

    slide-skip     leave the cell out of the deck (its text goes nowhere, its figure neither)
    slide-only     a Markdown cell shown on the slides as it is written (a slide of its own
                   when it starts with a heading); tag it remove-cell as well, so that the
                   book and the handouts leave it out
    slide-code     show this code cell on a slide even without --code
    slide-output   show what this code cell prints (its text output) on a slide
    slide-notes    keep this Markdown cell's text in the notes only (no bullets from it)

Figures come from the executed chapter: the book's execution cache (_build/.jupyter_cache,
filled by ``make book``) when it holds a run of exactly this code, else this tool runs the
chapter itself with nbclient (trained models load from the model cache) and keeps the run in
_build/slides/.executed/ for the next time; ``--no-execute`` skips that, and the deck then
says that it has no outputs. reveal.js, MathJax, require.js and the widget manager are
copied from _vendor/ (``make vendor``) next to the decks: the folder works offline.
tools/check_slides.py checks every slide of every deck in headless Chromium.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import html
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lecture_cells as lc  # noqa: E402
import mystblocks as mb  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "slides_template"
VENDOR = "vendor"  # the decks' folder of scripts, next to them
BOOK_TITLE = "Autoencoders and Variational Autoencoders"

#: The slide, in CSS pixels; tools/check_slides.py loads the decks in a window of this size.
WIDTH, HEIGHT = 1280, 720
PAD_Y, FOOTER = 36, 34  # vertical padding of a slide, and its footer line
HEADING_PX = 78
BULLET_LINE_PX, BULLET_CHARS = 40, 78  # one line of a bullet, and the characters it holds
EQUATION_LINE_PX = 52
MIN_FIGURE_PX = 260
MAX_BULLETS = 3
MAX_BULLET_WORDS = 20
CODE_LINES_PER_SLIDE = 24

SKIP, ONLY, CODE, NOTES = "slide-skip", "slide-only", "slide-code", "slide-notes"
OUTPUT = "slide-output"
NOTE_DIRECTIVES = {
    "note", "tip", "important", "warning", "hint", "seealso", "attention", "caution",
    "danger", "error", "admonition", "dropdown", "toggle", "margin", "sidebar", "epigraph",
}  # fmt: skip
_LABELLED = re.compile(r"^\$\$(?P<tex>.*?)\$\$[ \t]*(?:\((?P<label>[\w:-]+)\))?[ \t]*$", re.S)
_TARGET = re.compile(r"^\(([\w:-]+)\)=\s*$")


# --- the chapter as a list of sections and items --------------------------------------------


@dataclass
class Item:
    kind: str  # prose, list, equation, figure, table, widget, code, output, exercise, only
    text: str = ""  # Markdown (prose, list, equation, table, only), or code, or plain text
    lines: int = 1  # equation / code / table lines, list items
    data: dict = field(default_factory=dict)  # figure: {mime: b64}; widget: the output
    notes_only: bool = False
    meta: object = None  # an exercise's lecture_cells.Exercise


@dataclass
class Section:
    title: str
    level: int
    items: list[Item] = field(default_factory=list)


@dataclass
class Slide:
    heading: str
    new_section: bool = True  # a new horizontal slide (else below the previous one)
    bullets: list[str] = field(default_factory=list)
    equations: list[Item] = field(default_factory=list)
    visual: Item | None = None
    notes: list[str] = field(default_factory=list)
    html: str = ""  # a special slide's body (title, exercises, references)
    kind: str = "content"

    def used_px(self) -> int:
        px = 2 * PAD_Y + FOOTER + HEADING_PX
        for b in self.bullets:
            px += BULLET_LINE_PX * (1 + len(_visible_text(b)) // BULLET_CHARS) + 8
        for e in self.equations:
            px += EQUATION_LINE_PX * e.lines + 28
        return px


def _visible_text(markdown: str) -> str:
    text = re.sub(r"\$[^$]+\$", "xxxx", markdown)
    return re.sub(r"[*_`]", "", text)


class Context:
    """What the text of one chapter refers to: citations, equation numbers, labels, pages."""

    def __init__(self, nb, chapter: int, notebooks_dir: Path):
        self.chapter = chapter
        self.refs = mb.bibliography()
        self.cited: list[str] = []
        self.equations: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self.notebooks_dir = notebooks_dir
        pending = None
        for cell in nb.cells:
            if cell.cell_type != "markdown":
                continue
            for line in cell.source.split("\n"):
                m = _TARGET.match(line.strip())
                if m:
                    pending = m.group(1)
                    continue
                h = re.match(r"^#{1,6}\s+(.*)$", line)
                if h and pending:
                    self.labels[pending] = h.group(1).strip()
                if line.strip():
                    pending = None
            for block in mb.directives(cell.source, {"exercise", "exercise-start"}):
                if block.options.get("label"):
                    title = block.arg.strip()
                    self.labels[block.options["label"]] = (
                        f"the exercise “{title}”" if title else "an exercise"
                    )
            for m in re.finditer(r"\$\$.*?\$\$[ \t]*\(([\w:-]+)\)", cell.source, re.S):
                self.equations.setdefault(m.group(1), f"{chapter}.{len(self.equations) + 1}")

    def role(self, m: re.Match) -> str:
        name, sub, content = m.group("name"), m.group("sub"), m.group("content")
        titled = re.match(r"^(.*?)\s*<([^>]*)>$", content, re.S)
        if name == "cite":
            keys = [k.strip() for k in content.split(",") if k.strip()]
            self.cited += [k for k in keys if k not in self.cited and k in self.refs]
            return mb.cite_text(content, sub, self.refs)
        if titled:
            return titled.group(1)
        if name == "eq":
            return f"({self.equations.get(content, '?')})"
        if name in ("ref", "numref"):
            return self.labels.get(content, content.replace("-", " "))
        if name == "doc":
            return self.page_title(content)
        if name == "math":
            return f"${content}$"
        return content

    def page_title(self, target: str) -> str:
        stem = target.rstrip("/").rsplit("/", 1)[-1]
        m = re.match(r"(\d\d)_", stem)
        path = self.notebooks_dir / f"{stem}.ipynb"
        if m and path.is_file():
            nb = nbformat.read(path, as_version=4)
            title = next(
                (t for c in nb.cells if c.cell_type == "markdown"
                 for lvl, t in mb.headings(c.source) if lvl == 1), "",
            )  # fmt: skip
            return f"chapter {int(m.group(1))}" + (f" ({title})" if title else "")
        page = ROOT / "book" / f"{stem}.md"
        if page.is_file():
            for level, title in mb.headings(page.read_text(encoding="utf-8")):
                if level == 1:
                    return f"the {title[0].lower() + title[1:]} page"
        return stem.replace("_", " ")

    def text(self, markdown: str) -> str:
        """MyST Markdown as plain Markdown: roles resolved, targets and comments dropped."""
        lines = []
        for line in markdown.split("\n"):
            if _TARGET.match(line.strip()) or re.match(r"^%", line):
                continue
            lines.append(line)
        text = "\n".join(lines)
        text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
        text = mb.ROLE.sub(self.role, text)
        # "({eq}`a`)" and "({eq}`a`, {eq}`b`)" read "(4.1)" and "(4.1, 4.2)", not "((4.1))"
        return re.sub(
            r"\((\(\d+\.[\d?]+\)(?:,\s*(?:and\s+)?\(\d+\.[\d?]+\))*)\)",
            lambda m: "(" + re.sub(r"[()]", "", m.group(1)) + ")",
            text,
        )


def _paragraphs(text: str) -> list[str]:
    """Split a text block into paragraphs, display math and lists kept whole."""
    out: list[str] = []
    current: list[str] = []
    lines = text.split("\n")
    i = 0

    def flush():
        if any(line.strip() for line in current):
            out.append("\n".join(current).strip("\n"))
        current.clear()

    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("$$"):
            flush()
            block = [line]
            closed = line.strip() != "$$" and line.strip().count("$$") >= 2
            while not closed and i + 1 < len(lines):
                i += 1
                block.append(lines[i])
                closed = "$$" in lines[i]
            out.append("\n".join(block))
            i += 1
            continue
        if not line.strip():
            flush()
        else:
            current.append(line)
        i += 1
    flush()
    return out


def _is_list(paragraph: str) -> bool:
    return bool(re.match(r"^\s*([-*+]|\d+[.)])\s", paragraph))


def _list_items(paragraph: str) -> list[str]:
    items: list[str] = []
    for line in paragraph.split("\n"):
        if re.match(r"^([-*+]|\d+[.)])\s", line):
            items.append(re.sub(r"^([-*+]|\d+[.)])\s+", "", line))
        elif items:
            items[-1] += " " + line.strip()
    return items


def markdown_items(source: str, ctx: Context, notes_only: bool = False) -> list:
    """Items and section breaks ("heading", level, title) of one Markdown cell."""
    out: list = []
    for block in mb.blocks(source):
        if block.kind == "directive":
            name = block.name
            if name in mb.SOLUTION_DIRECTIVES or name in ("exercise-end",):
                continue
            if name in ("exercise", "exercise-start"):
                out.append(Item("exercise", ctx.text(block.body), data={"block": block}))
            elif name == "math":
                label = block.options.get("label")
                out.append(_equation(block.body, label, ctx))
            elif name in ("figure", "image", "code-cell", "eval-rst", "raw"):
                continue
            else:
                body = ctx.text(block.body)
                if body.strip():
                    title = block.arg.strip() or name.capitalize()
                    out.append(Item("prose", f"**{ctx.text(title)}.** {body}", notes_only=True))
            continue
        if block.kind == "code":
            out.append(Item("prose", block.text, notes_only=True))
            continue
        text_block = "\n".join(
            line
            for line in block.text.split("\n")
            if not _TARGET.match(line.strip()) and not line.startswith("%")
        )
        for para in _paragraphs(text_block):
            h = re.match(r"^(#{1,6})\s+(.*?)\s*$", para.split("\n", 1)[0])
            if h:
                out.append(("heading", len(h.group(1)), ctx.text(h.group(2))))
                rest = para.split("\n", 1)[1] if "\n" in para else ""
                if rest.strip():
                    out += markdown_items(rest, ctx, notes_only)
                continue
            if para.strip().startswith("$$"):
                m = _LABELLED.match(para.strip())
                if m:
                    out.append(_equation(m.group("tex"), m.group("label"), ctx))
                continue
            text = ctx.text(para)
            if not text.strip():
                continue
            if text.lstrip().startswith("|"):
                rows = [r for r in text.strip().split("\n") if r.strip().startswith("|")]
                out.append(Item("table", text.strip(), lines=len(rows) - 1, notes_only=notes_only))
            elif _is_list(text):
                out.append(Item("list", text, lines=len(_list_items(text)), notes_only=notes_only))
            else:
                out.append(Item("prose", text, notes_only=notes_only))
    return out


def _equation(tex: str, label: str | None, ctx: Context) -> Item:
    tex = tex.strip("\n")
    rows = 1 + tex.count("\\\\")
    if label:
        number = ctx.equations.setdefault(label, f"{ctx.chapter}.{len(ctx.equations) + 1}")
        body = f"$$\n{tex}\n\\tag{{{number}}}\n$$"
    else:
        body = f"$$\n{tex}\n$$"
    return Item("equation", body, lines=rows, notes_only=not label)


def _image(output) -> Item | None:
    data = output.get("data", {})
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            b64 = data[mime] if isinstance(data[mime], str) else "".join(data[mime])
            meta = output.get("metadata", {}).get(mime, {})
            return Item("figure", data={"mime": mime, "b64": b64.replace("\n", ""), **meta})
    if "image/svg+xml" in data:
        svg = data["image/svg+xml"]
        svg = svg if isinstance(svg, str) else "".join(svg)
        b64 = base64.b64encode(svg.encode()).decode()
        return Item("figure", data={"mime": "image/svg+xml", "b64": b64})
    return None


def output_items(cell) -> list[Item]:
    items: list[Item] = []
    tags = lc.tags(cell)
    if tags & {"remove-output", "hide-output"}:
        return items
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            text = output.get("text", "")
            if text.strip() and output.get("name") == "stdout":
                items.append(Item("output", text.rstrip("\n"), lines=text.count("\n") + 1))
            continue
        if kind not in ("display_data", "execute_result"):
            continue
        data = output.get("data", {})
        if "application/vnd.jupyter.widget-view+json" in data:
            items.append(Item("widget", data={"output": output}))
            continue
        image = _image(output)
        if image:
            items.append(image)
        elif "text/markdown" in data:
            text = data["text/markdown"]
            text = text if isinstance(text, str) else "".join(text)
            rows = [r for r in text.strip().split("\n") if r.strip().startswith("|")]
            items.append(Item("table", text.strip(), lines=max(1, len(rows) - 1)))
        elif "text/html" in data:
            text = data["text/html"]
            text = text if isinstance(text, str) else "".join(text)
            items.append(Item("table", text, lines=max(1, text.count("<tr") - 1), data={"html": 1}))
        elif kind == "execute_result" and "text/plain" in data:
            text = data["text/plain"]
            text = text if isinstance(text, str) else "".join(text)
            items.append(Item("output", text, lines=text.count("\n") + 1))
    return items


def split_code(source: str, limit: int = CODE_LINES_PER_SLIDE) -> list[str]:
    """A code cell in pieces of at most ``limit`` lines, cut at blank lines where possible."""
    lines = source.rstrip("\n").split("\n")
    chunks: list[str] = []
    while len(lines) > limit:
        blanks = [i for i in range(limit // 2, limit) if not lines[i].strip()]
        cut = blanks[-1] if blanks else limit
        chunks.append("\n".join(lines[:cut]).strip("\n"))
        lines = lines[cut:]
    chunks.append("\n".join(lines).strip("\n"))
    return [c for c in chunks if c.strip()]


def parse(nb, ctx: Context, show_code: bool) -> tuple[str, list[Item], list[Section]]:
    """(chapter title, the items of the opening, the sections) of a converted notebook."""
    title = ""
    opening: list[Item] = []
    sections: list[Section] = []
    current: list[Item] = opening
    exercises = {e.cell: e for e in lc.exercises_of(nb)}
    for index, cell in enumerate(nb.cells):
        tags = lc.tags(cell)
        if SKIP in tags or lc.SOLUTION in tags or lc.COLAB_TAG in tags:
            continue
        if "remove-cell" in tags and ONLY not in tags:
            continue
        if not cell.source.strip():
            continue
        if cell.cell_type == "markdown":
            if ONLY in tags:
                h = re.match(r"^(#{1,3})\s+(.*?)\s*$", cell.source.lstrip().split("\n", 1)[0])
                if h and len(h.group(1)) >= 2:
                    sections.append(Section(ctx.text(h.group(2)), len(h.group(1))))
                    current = sections[-1].items
                    rest = cell.source.lstrip().split("\n", 1)
                    body = rest[1] if len(rest) > 1 else ""
                else:
                    body = cell.source
                if body.strip():
                    current.append(Item("only", ctx.text(body)))
                continue
            for entry in markdown_items(cell.source, ctx, notes_only=NOTES in tags):
                if isinstance(entry, tuple):
                    _, level, heading = entry
                    if level == 1:
                        title = title or heading
                        continue
                    sections.append(Section(heading, level))
                    current = sections[-1].items
                else:
                    if entry.kind == "exercise":
                        entry.meta = exercises.get(index)
                    current.append(entry)
            continue
        if cell.cell_type != "code":
            continue
        if (show_code or CODE in tags) and not tags & {"remove-input", "hide-input"}:
            for chunk in split_code(cell.source):
                current.append(Item("code", chunk, lines=chunk.count("\n") + 1))
        for item in output_items(cell):
            if item.kind == "output" and not (show_code or tags & {CODE, OUTPUT}):
                continue
            if item.kind == "widget" and not _widget_stored(nb, item):
                continue  # no state to draw it from: the chapter's static figure stands in
            current.append(item)
    return title, opening, sections


def _widget_stored(nb, item: Item) -> bool:
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    view = item.data["output"].get("data", {}).get("application/vnd.jupyter.widget-view+json", {})
    return view.get("model_id") in state.get("state", {})


# --- bullets: short sentences from the prose ------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(*$`“\"])")


def sentences(text: str) -> list[str]:
    """Sentences of a paragraph; math, code and parentheses are never cut."""
    protected: list[str] = []

    def keep(m):
        protected.append(m.group(0))
        return f"\x00{len(protected) - 1}\x00"

    flat = " ".join(text.split())
    flat = re.sub(r"\$\$.*?\$\$|\$[^$]+\$|`[^`]*`|\([^()]*\)", keep, flat)
    flat = re.sub(
        r"\b(e\.g|i\.e|cf|vs|et al|Fig|Eq|eq)\.", lambda m: m.group(0)[:-1] + "\x01", flat
    )
    parts = _SENTENCE_END.split(flat)

    def restore(s: str) -> str:
        s = s.replace("\x01", ".")
        return re.sub(r"\x00(\d+)\x00", lambda m: protected[int(m.group(1))], s)

    return [restore(p).strip() for p in parts if p.strip()]


def _words(text: str) -> int:
    text = re.sub(r"\$[^$]+\$", " m ", text)
    return len(re.findall(r"[\w'’]+", text))


def _chars(text: str) -> int:
    """About how many characters' width ``text`` takes on a slide (TeX shrinks when typeset)."""
    math = sum(int(0.45 * len(m)) for m in re.findall(r"\$[^$]+\$", text))
    rest = re.sub(r"\$[^$]+\$", "", text)
    return math + len(re.sub(r"[*_`]", "", rest))


MAX_BULLET_CHARS = 150  # two lines on a slide


def shorten(sentence: str, limit: int = MAX_BULLET_WORDS) -> str:
    """A sentence cut down to a bullet: parenthetical citations dropped, then its first
    clause when it is long."""
    s = re.sub(
        r"\s*\((?:[A-Z][\w\-’' ]+(?: et al\.)?(?: and [A-Z][\w\-’' ]+)?, \d{4}[a-z]?;? ?)+\)",
        "",
        sentence,
    )
    s = " ".join(s.split()).rstrip(";,: ")
    if _words(s) <= limit and _chars(s) <= MAX_BULLET_CHARS:
        return s
    protected: list[str] = []

    def keep(m):
        protected.append(m.group(0))
        return f"\x00{len(protected) - 1}\x00"

    flat = re.sub(r"\$[^$]+\$|`[^`]*`|\([^()]*\)", keep, s)
    for sep in (": ", "; ", " — ", " – ", ", which ", ", so ", ", but ", ", while "):
        head = flat.split(sep)[0]
        restored = re.sub(r"\x00(\d+)\x00", lambda m: protected[int(m.group(1))], head)
        if 4 <= _words(restored) <= limit and _chars(restored) <= MAX_BULLET_CHARS:
            return restored.rstrip(",;:") + ("." if not restored.endswith((".", "?", "!")) else "")
    words = flat.split(" ")
    out: list[str] = []
    for w in words:
        candidate = " ".join(out + [w])
        restored = re.sub(r"\x00(\d+)\x00", lambda m: protected[int(m.group(1))], candidate)
        if _words(restored) > limit - 2 or _chars(restored) > MAX_BULLET_CHARS - 10:
            break
        out.append(w)
    head = re.sub(r"\x00(\d+)\x00", lambda m: protected[int(m.group(1))], " ".join(out))
    return head.rstrip(",;:") + " …"


def _strip_emphasis_lead(item: str) -> str:
    """A list item "**Denoising.** A denoising autoencoder ..." -> "**Denoising:** ..."."""
    return re.sub(r"^\*\*([^*]+?)[.:]\*\*\s*", r"**\1:** ", item)


def bullets_from(items: list[Item], room: int) -> list[str]:
    """At most ``room`` short bullets for a slide, from its list items, else from the
    sentences that define something (bold), else from its first sentence."""
    if room <= 0:
        return []
    for item in items:
        if item.kind == "list" and not item.notes_only:
            return [shorten(_strip_emphasis_lead(sentences(x)[0] if sentences(x) else x))
                    for x in _list_items(item.text)[:room]]  # fmt: skip
    prose = [i for i in items if i.kind == "prose" and not i.notes_only]
    defining = [s for i in prose for s in sentences(i.text) if "**" in s]
    chosen = defining[:room]
    if not chosen and prose:
        first = sentences(prose[0].text)
        chosen = first[:1]
    return [shorten(_strip_emphasis_lead(s)) for s in chosen]


# --- packing items into slides --------------------------------------------------------------


def _notes_text(item: Item) -> str:
    if item.kind == "equation":
        return item.text
    if item.kind == "exercise":
        return ""
    return item.text


def _equation_chunks(items: list[Item], per: int = 2) -> list[list[Item]]:
    """Split a run of prose and labelled equations into pieces of at most ``per`` equations,
    each with the prose around them (prose after the last equation stays with it)."""
    chunks: list[list[Item]] = [[]]
    count = 0
    for item in items:
        is_eq = item.kind == "equation" and not item.notes_only
        if is_eq and count == per:
            # the prose since the previous equation introduces this one: move it along
            tail: list[Item] = []
            while chunks[-1] and not (
                chunks[-1][-1].kind == "equation" and not chunks[-1][-1].notes_only
            ):
                tail.insert(0, chunks[-1].pop())
            chunks.append(tail)
            count = 0
        chunks[-1].append(item)
        count += is_eq
    return [c for c in chunks if c]


def _is_key_equation(item: Item) -> bool:
    return item.kind == "equation" and not item.notes_only


def _notes_of(items: list[Item]) -> list[str]:
    return [_notes_text(i) for i in items if _notes_text(i)]


def section_slides(section: Section) -> list[Slide]:
    """The slides of one section: its figures, tables and labelled equations in order, two
    equations at most per slide, bullets from the prose, and the prose itself in the notes of
    the slide it belongs to."""
    visuals = ("figure", "table", "widget", "code", "output", "only")
    groups: list[tuple[list[Item], Item | None]] = []  # (prose and equations, the visual after)
    run: list[Item] = []
    for item in section.items:
        if item.kind in visuals:
            groups.append((run, item))
            run = []
        else:
            run.append(item)
    if run or not groups:
        groups.append((run, None))
    slides: list[Slide] = []
    for items, visual in groups:
        chunks = _equation_chunks(items)
        host: list[Item] = []  # what shares the visual's slide
        if visual is not None and chunks:
            last = chunks[-1]
            equations = [i for i in last if _is_key_equation(i)]
            if not equations or (visual.kind == "figure" and len(equations) == 1):
                host = chunks.pop()
            else:  # the prose after the last equation introduces the visual
                k = max(j for j, i in enumerate(last) if _is_key_equation(i))
                host, chunks[-1] = last[k + 1 :], last[: k + 1]
        for chunk in chunks:
            equations = [i for i in chunk if _is_key_equation(i)]
            prose = [i for i in chunk if not _is_key_equation(i)]
            if equations:
                slide = Slide(section.title, equations=equations, notes=_notes_of(chunk))
                slide.bullets = bullets_from(prose, 2 if len(equations) == 1 else 1)
                slides.append(slide)
            elif visual is None and slides:
                slides[-1].notes += _notes_of(chunk)  # what the last figure showed
            else:
                slide = Slide(section.title, notes=_notes_of(chunk))
                slide.bullets = bullets_from(prose, MAX_BULLETS)
                slides.append(slide)
        if visual is not None:
            slide = Slide(section.title, visual=visual, notes=_notes_of(host))
            slide.equations = [i for i in host if _is_key_equation(i)]
            slide.bullets = bullets_from([i for i in host if not _is_key_equation(i)], 1)
            slides.append(slide)
    for k, slide in enumerate(slides):
        slide.new_section = k == 0
        if k:
            slide.heading = f"{section.title} (continued)"
        if not slide.notes:
            slide.notes = [_describe(slide)]
    return slides


def _describe(slide: Slide) -> str:
    """Notes for a slide whose section has no prose of its own near it."""
    if slide.visual is not None:
        return {"figure": "The figure from the chapter's code.",
                "table": "The table the chapter's code prints.",
                "widget": "A live demo: in JupyterLab or Colab the sliders move the picture.",
                "code": "The chapter's code for this step.",
                "output": "What the chapter's code prints.",
                "only": "A slide of the lecturer's own (tagged slide-only)."}[slide.visual.kind]  # fmt: skip
    return "See the chapter for the full text."


def fit(slide: Slide) -> None:
    """Keep a slide within the 1280x720 window: fewer bullets, then a smaller figure."""
    while slide.bullets and slide.visual is not None and (HEIGHT - slide.used_px() < MIN_FIGURE_PX):
        slide.bullets.pop()
    while len(slide.bullets) > 0 and slide.visual is None and slide.used_px() > HEIGHT:
        slide.bullets.pop()


def figure_max_px(slide: Slide) -> int:
    return max(MIN_FIGURE_PX - 40, HEIGHT - slide.used_px() - 16)


# --- special slides -------------------------------------------------------------------------


def credit() -> dict[str, str]:
    """The credit line and the licence, from LICENSE-CONTENT.md ("For material used unchanged")."""
    text = (ROOT / "LICENSE-CONTENT.md").read_text(encoding="utf-8")
    m = re.search(r"For material used unchanged:\s*\n\s*\n((?:>.*\n?)+)", text)
    quote = " ".join(line.lstrip("> ").strip() for line in m.group(1).splitlines()) if m else ""
    quote = quote or f"From *{BOOK_TITLE}* by the AE/VAE book authors, CC BY 4.0."
    short = re.search(
        r"On a slide, a short line is enough, e\.g\. \"([^\"]+)\"", " ".join(text.split())
    )
    return {
        "full": quote,
        "short": short.group(1) if short else f"*{BOOK_TITLE}*, CC BY 4.0",
        "licence": "Text and figures: CC BY 4.0; code: MIT.",
    }


def title_slide(title: str, chapter: int, opening: list[Item], ctx: Context) -> list[Slide]:
    c = credit()
    lines = [
        f'<p class="aevae-kicker">Chapter {chapter}</p>' if chapter else "",
        f'<h1 class="aevae-title">{_md_inline(title)}</h1>',
        f'<p class="aevae-book">from <em>{html.escape(BOOK_TITLE)}</em></p>',
        f'<p class="aevae-credit">{_md_inline(c["full"])}</p>',
        f'<p class="aevae-credit">{html.escape(c["licence"])}</p>',
    ]
    notes = [i.text for i in opening if i.kind in ("prose", "list")]
    slides = [Slide(title, html="\n".join(x for x in lines if x), kind="title",
                    notes=notes or [f"Chapter {chapter}: {title}."])]  # fmt: skip
    opening_text = "\n\n".join(i.text for i in opening if i.kind in ("prose", "list"))
    learn = _field(opening_text, "You will learn")
    prereq = _field(opening_text, "Prerequisites")
    if learn:
        bullets = [shorten(p[0].upper() + p[1:], 16) for p in goals(learn)][:5]
        s = Slide("You will learn", new_section=False, bullets=bullets, kind="goals")
        if prereq:
            s.html = (
                f'<p class="aevae-prereq">{_md_inline(shorten(prereq.replace("**", ""), 26))}</p>'
            )
        s.notes = [learn] + ([prereq] if prereq else [])
        slides.append(s)
    return slides


def _field(text: str, name: str) -> str:
    """The text of a bold-led field of a chapter's opening ("**You will learn** ...")."""
    m = re.search(
        rf"\*\*{name}[^*]*\*\*:?\s*(.*?)(?=\n\s*\*\*[A-Z][^*]*\*\*|\n\s*\n|\Z)", text, re.S
    )
    return " ".join(m.group(1).split()) if m else ""


def goals(learn: str) -> list[str]:
    """The learning goals in a "You will learn" sentence: its clauses that start with what,
    how, why, when or which (or are separated by semicolons)."""
    parts = []
    for sentence in sentences(learn):
        sentence = re.sub(r"^You will\s+", "", sentence)
        pieces = re.split(
            r";\s+(?:and\s+)?|,\s+(?:and\s+)?(?=(?:what|how|why|when|which|to)\b)", sentence
        )
        parts += [re.sub(r"^and\s+", "", p).strip().rstrip(".") for p in pieces if p.strip()]
    return parts


def _md_inline(text: str) -> str:
    """Minimal inline Markdown to HTML for special slides (emphasis, links, code)."""
    math: list[str] = []

    def keep(m):
        math.append(m.group(0))
        return f"\x00{len(math) - 1}\x00"

    out = html.escape(re.sub(r"\$[^$]+\$", keep, text), quote=False)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"\*(.+?)\*", r"<em>\1</em>", out)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"(https?://[^\s),]+?)(?=[.,;:]?(?:\s|$|\)))", r'<a href="\1">\1</a>', out)
    return re.sub(r"\x00(\d+)\x00", lambda m: html.escape(math[int(m.group(1))]), out)


def summary_slides(section: Section) -> list[Slide]:
    items = [x for i in section.items if i.kind == "list" for x in _list_items(i.text)]
    prose = [i.text for i in section.items if i.kind in ("prose", "list", "equation")]
    if not items:
        items = [s for i in section.items if i.kind == "prose" for s in sentences(i.text)]
    slides = []
    per = 4
    pages = max(1, -(-len(items) // per))
    for k in range(pages):
        chunk = items[k * per : (k + 1) * per]
        heading = "Summary" if pages == 1 else f"Summary ({k + 1}/{pages})"
        bullets = [shorten(_strip_emphasis_lead(sentences(x)[0] if sentences(x) else x))
                   for x in chunk]  # fmt: skip
        s = Slide(heading, new_section=k == 0, bullets=bullets, kind="summary")
        s.notes = [f"- {x}" for x in chunk] if items else prose
        slides.append(s)
    return slides


def exercises_slides(exercises: list[Item], ctx: Context) -> list[Slide]:
    rows = []
    notes = []
    for n, item in enumerate(exercises, 1):
        e = item.meta
        block = item.data.get("block")
        title = ctx.text(block.arg.strip()) if block and block.arg.strip() else ""
        if not title:
            title = shorten(sentences(item.text)[0] if sentences(item.text) else "", 10)
        facts = []
        if e is not None and e.meta.kind:
            facts.append(e.meta.kind)
        if e is not None and e.meta.minutes:
            facts.append(f"{e.meta.minutes} min")
        if e is not None and e.meta.level:
            facts.append("★" * e.meta.level + "☆" * (3 - e.meta.level))
        if e is not None and e.checked:
            facts.append("auto-checked")
        rows.append((title, ", ".join(facts)))
        notes.append(f"**Exercise {n}: {title}.** {item.text}")
    slides = []
    per = 6
    pages = max(1, -(-len(rows) // per))
    for k in range(pages):
        chunk = rows[k * per : (k + 1) * per]
        heading = "Exercises" if pages == 1 else f"Exercises ({k + 1}/{pages})"
        body = "\n".join(
            f"<li><span class='aevae-ex-title'>{_md_inline(t)}</span>"
            + (f" <span class='aevae-ex-facts'>{html.escape(f)}</span>" if f else "")
            + "</li>"
            for t, f in chunk
        )
        start = k * per + 1
        s = Slide(heading, new_section=k == 0, kind="exercises",
                  html=f"<ol class='aevae-exercises' start='{start}'>\n{body}\n</ol>")  # fmt: skip
        if not rows:
            s.html = "<p>This chapter has no exercises yet.</p>"
        s.notes = notes[k * per : (k + 1) * per] or ["No exercises yet."]
        s.notes.append("Solutions: in the chapter (collapsed) and in the instructor handouts.")
        slides.append(s)
    return slides


def references_slides(ctx: Context) -> list[Slide]:
    refs = sorted((ctx.refs[k] for k in ctx.cited), key=lambda r: (r.authors, r.year))
    c = credit()
    slides = []
    per = 7
    pages = max(1, -(-len(refs) // per))
    for k in range(pages):
        chunk = refs[k * per : (k + 1) * per]
        items = "\n".join(f"<li>{_md_inline(r.full)}</li>" for r in chunk)
        heading = "References" if pages == 1 else f"References ({k + 1}/{pages})"
        body = f"<ul class='aevae-references'>\n{items}\n</ul>" if chunk else ""
        if k == pages - 1:
            body += f"<p class='aevae-credit'>Slides and figures: {_md_inline(c['full'])}</p>"
        s = Slide(heading, new_section=k == 0, kind="references", html=body)
        s.notes = ["The works this chapter cites, and the credit line for these slides."]
        slides.append(s)
    return slides


# --- the deck ---------------------------------------------------------------------------------


@dataclass
class Deck:
    name: str
    title: str
    slides: list[Slide]
    has_outputs: bool
    widgets: dict | None = None


def build_slides(nb, name: str, show_code: bool = False, notebooks_dir: Path | None = None):
    """The slides of a chapter (``nb`` executed or not, converted or not)."""
    m = re.match(r"(\d\d)_", name)
    chapter = int(m.group(1)) if m else 0
    nb, _ = lc.converted(nb, m.group(1) if m else "")
    ctx = Context(nb, chapter, notebooks_dir or ROOT / "notebooks")
    title, opening, sections = parse(nb, ctx, show_code)
    slides = title_slide(title or name, chapter, opening, ctx)
    setup = [i for i in opening if i.kind in ("code", "figure", "table", "widget", "output")]
    if setup:
        sections.insert(0, Section("Setup", 2, setup))
    exercises: list[Item] = []
    summary_done = False
    for section in sections:
        exercises += [i for i in section.items if i.kind == "exercise"]
        section.items = [i for i in section.items if i.kind != "exercise"]
        if section.title.lower() == "exercises":
            continue
        if section.title.lower() == "summary":
            slides += summary_slides(section)
            summary_done = True
            continue
        if section.title.lower() == "setup" and not any(
            i.kind in ("figure", "table", "widget", "code") for i in section.items
        ):
            continue
        if not section.items:
            continue
        new = section_slides(section)
        if section.level >= 3:
            for s in new:
                s.new_section = False
        slides += new
    if not summary_done:
        slides.append(Slide("Summary", kind="summary", bullets=[],
                            notes=["This chapter has no summary yet."]))  # fmt: skip
    slides += exercises_slides(exercises, ctx)
    slides += references_slides(ctx)
    for s in slides:
        fit(s)
    return title or name, slides


def _slide_markdown(slide: Slide, footer: str = "") -> str:
    parts = [f"## {slide.heading}"] if slide.kind != "title" else []
    if slide.html:
        parts.append(slide.html)
    if slide.bullets:
        parts.append("\n".join(f"- {b}" for b in slide.bullets))
    for eq in slide.equations:
        parts.append(eq.text)
    v = slide.visual
    if v is not None and v.kind == "figure":
        px = figure_max_px(slide)
        src = f"data:{v.data['mime']};base64,{v.data['b64']}"
        parts.append(
            f'<div class="aevae-figure"><img src="{src}" alt="figure" '
            f'style="max-height: {px}px"></div>'
        )
    elif v is not None and v.kind == "table":
        parts.append(f'<div class="aevae-table">{v.text}</div>' if v.data.get("html") else v.text)
    elif v is not None and v.kind == "only":
        parts.append(v.text)
    if footer:
        parts.append(f'<p class="aevae-footer">{footer}</p>')
    return "\n\n".join(parts)


def deck_notebook(slides: list[Slide], widgets: dict | None, title: str = "", footer: str = ""):
    """The slides as a notebook for nbconvert's reveal.js exporter."""
    cells = []
    for k, slide in enumerate(slides):
        kind = "slide" if slide.new_section or k == 0 else "subslide"
        md = nbformat.v4.new_markdown_cell(_slide_markdown(slide, footer))
        md.metadata["slideshow"] = {"slide_type": kind, "data": {"kind": slide.kind}}
        cells.append(md)
        v = slide.visual
        if v is not None and v.kind in ("widget", "code", "output"):
            if v.kind == "widget":
                cell = nbformat.v4.new_code_cell("")
                cell.outputs = [v.data["output"]]
                cell.metadata["tags"] = ["remove-input"]
            elif v.kind == "code":
                cell = nbformat.v4.new_code_cell(v.text)
            else:
                cell = nbformat.v4.new_markdown_cell(
                    "<pre class='aevae-output'>" + html.escape(v.text) + "</pre>"
                )
            cell.metadata["slideshow"] = {"slide_type": "-"}
            cells.append(cell)
        notes = nbformat.v4.new_markdown_cell("\n\n".join(slide.notes))
        notes.metadata["slideshow"] = {"slide_type": "notes"}
        cells.append(notes)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    if widgets:
        nb.metadata["widgets"] = widgets
    if title:
        nb.metadata["title"] = title
    return nb


def mathjax_config() -> str:
    """MathJax 3 configuration: $...$ inline math and the book's macros from _config.yml."""
    from macros import load_macros

    return json.dumps(
        {
            "tex": {
                "inlineMath": [["$", "$"], ["\\(", "\\)"]],
                "displayMath": [["$$", "$$"], ["\\[", "\\]"]],
                "processEscapes": True,
                "macros": load_macros(),
                "tags": "none",
            },
            "chtml": {"fontURL": f"{VENDOR}/mathjax/es5/output/chtml/fonts/woff-v2"},
        }
    )


def render(deck_nb, name: str, out_dir: Path) -> Path:
    """Write ``out_dir/<name>.slides.html`` from a deck notebook."""
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_input_tags = {"remove-input"}
    exporter = SlidesExporter(
        config=config,
        template_name="aevae_reveal",
        extra_template_basedirs=[str(TEMPLATES)],
        reveal_url_prefix=f"{VENDOR}/reveal.js",
        reveal_scroll=False,
        reveal_theme="white",  # its fonts ship with reveal.js (simple, sky, ... load Google's)
        reveal_width=str(WIDTH),
        reveal_height=str(HEIGHT),
        reveal_number="c/t",
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
    body, _ = exporter.from_notebook_node(deck_nb, resources=resources)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.slides.html"
    target.write_text(body, encoding="utf-8")
    return target


def build_deck(nb, name: str, out_dir: Path, show_code: bool = False) -> Path:
    """Write ``out_dir/<name>.slides.html`` for the chapter ``nb`` (executed or not)."""
    title, slides = build_slides(nb, name, show_code)
    widgets = nb.metadata.get("widgets")
    m = re.match(r"(\d\d)_", name)
    footer = _md_inline(credit()["short"].replace("Figure: ", ""))
    deck = deck_notebook(slides, widgets, f"{int(m.group(1))}. {title}" if m else title, footer)
    return render(deck, name, out_dir)


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
    optional = {"anywidget": vendor / "site" / "vendor" / "anywidget"}
    sources.update({k: v for k, v in optional.items() if v.is_dir()})
    for name, source in sources.items():
        shutil.rmtree(out_dir / VENDOR / name, ignore_errors=True)
        shutil.copytree(source, out_dir / VENDOR / name)


# --- outputs: the book's execution cache, or a run of our own -------------------------------


def has_outputs(nb) -> bool:
    return any(c.get("outputs") for c in nb.cells if c.cell_type == "code")


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


def code_hash(nb) -> str:
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    return hashlib.sha256(json.dumps(code).encode()).hexdigest()[:16]


def execute(nb, path: Path, store: Path, timeout: int = 1800):
    """Run the chapter with nbclient in its folder (as the book does); keep the run in
    ``store`` under the hash of its code, and reuse a stored run of the same code."""
    store.mkdir(parents=True, exist_ok=True)
    target = store / f"{path.stem}.{code_hash(nb)}.ipynb"
    if target.is_file():
        return nbformat.read(target, as_version=4), "a run kept from an earlier make slides"
    from nbclient import NotebookClient

    os.environ.pop("MPLBACKEND", None)  # Agg would drop every figure (see the Makefile)
    run = copy.deepcopy(nb)
    start = time.perf_counter()
    NotebookClient(
        run,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    for old in store.glob(f"{path.stem}.*.ipynb"):
        old.unlink()
    nbformat.write(run, target)
    return run, f"ran it now ({time.perf_counter() - start:.0f} s)"


def write_index(out_dir: Path) -> Path:
    decks = sorted(out_dir.glob("*.slides.html"))
    items = []
    for d in decks:
        m = re.search(r"<title>(.*?)</title>", d.read_text(encoding="utf-8"), re.S)
        label = html.escape(m.group(1).strip() if m else d.name, quote=False)
        items.append(f'<li><a href="{d.name}">{label}</a></li>')
    c = credit()
    index = out_dir / "index.html"
    index.write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Slides: {BOOK_TITLE}</title>"
        "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto;line-height:1.5}"
        "</style></head><body>"
        f"<h1>Lecture slides: <em>{BOOK_TITLE}</em></h1>"
        f"<ol>\n{''.join(items)}\n</ol>"
        "<p>Keys: arrows or space to move, <kbd>s</kbd> for the speaker view with the notes "
        "and a timer, <kbd>Esc</kbd> for an overview, <kbd>f</kbd> for full screen. To print "
        "a deck or save it as PDF, add <code>?print-pdf</code> to its address in Chrome.</p>"
        f"<p>{_md_inline(c['full'])} {html.escape(c['licence'])}</p></body></html>",
        encoding="utf-8",
    )
    return index


def deck_stats(slides: list[Slide]) -> str:
    words = [
        _words(" ".join([s.heading, *s.bullets, re.sub(r"<[^>]+>", " ", s.html)])) for s in slides
    ]
    return f"{len(slides)} slides, {sum(words) / max(1, len(words)):.0f} words per slide on average"


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
    parser.add_argument("--code", action="store_true", help="show the code cells on slides")
    parser.add_argument(
        "--no-execute", action="store_true", help="never run a chapter: no figures without a book"
    )
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    copy_vendor(args.out)
    status = 0
    for notebook in notebooks:
        nb = nbformat.read(notebook, as_version=4)
        nb, found = with_outputs(nb, args.cache)
        source = "outputs from the book's execution cache"
        if not found and not has_outputs(nb) and not args.no_execute:
            try:
                nb, source = execute(nb, notebook, args.out / ".executed")
            except Exception as exc:  # report, and still write a deck without figures
                source = f"running it failed: {type(exc).__name__}: {str(exc)[:300]}"
                status = 1
        elif has_outputs(nb) and not found:
            source = "outputs stored in the notebook"
        _, slides = build_slides(nb, notebook.stem, args.code)
        deck = build_deck(nb, notebook.stem, args.out, args.code)
        note = "" if has_outputs(nb) else "  (no outputs: the deck has no figures)"
        print(f"slides: {deck.relative_to(args.out.parent)}: {deck_stats(slides)}; {source}{note}")
    print(f"slides: open {write_index(args.out)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
