"""Read the MyST Markdown of the chapters: fenced blocks, directives, roles, exercises, citations.

Shared by the lecture-kit tools (slides.py, lecture_cells.py, handouts.py, problem_sets.py).
Only what those tools need is parsed, the way MyST parses it:

- a fence opens with three or more backticks, tildes or colons (up to three spaces indented)
  and closes with a line of the same character, at least as long, and nothing else; inside a
  block, a shorter fence is content. A fence whose info string is ``{name} argument`` is a
  directive, with ``:key: value`` option lines (or a ``---`` YAML block) before its body;
- roles are ``{name}`content``` or ``{name:sub}`content```;
- an exercise's teaching metadata lives in its ``:class:`` option (sphinx-exercise passes the
  classes through to the page): ``kind-derivation`` / ``kind-code`` / ``kind-experiment``,
  ``time-<minutes>`` and ``level-<1, 2 or 3>`` (easy, medium, hard).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIB = ROOT / "book" / "references.bib"

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
_DIRECTIVE_INFO = re.compile(r"^\{(?P<name>[\w:.-]+)\}[ \t]*(?P<arg>.*?)\s*$")
_HEADING = re.compile(r"^(?P<hashes>#{1,6})[ \t]+(?P<title>.*?)[ \t]*#*[ \t]*$")
#: A MyST role: {name}`content` or {name:sub}`content`.
ROLE = re.compile(r"\{(?P<name>[a-z]+)(?::(?P<sub>[a-z]+))?\}`(?P<content>[^`]*)`")

#: The directives of sphinx-exercise (plain and gated).
EXERCISE_DIRECTIVES = {"exercise", "exercise-start", "exercise-end"}
SOLUTION_DIRECTIVES = {"solution", "solution-start", "solution-end"}
KINDS = ("derivation", "code", "experiment")
LEVELS = {1: "easy", 2: "medium", 3: "hard"}


@dataclass
class Block:
    """One top-level piece of a Markdown cell: prose ("text"), a fenced code block ("code")
    or a directive ("directive"). ``text`` is the exact source of the piece."""

    kind: str
    text: str
    name: str = ""  # directive name, e.g. "exercise"
    arg: str = ""  # directive argument: a title, or the label a solution belongs to
    options: dict = field(default_factory=dict)
    body: str = ""  # directive content after the options
    fence: str = ""  # the opening fence, e.g. "```" or ":::"


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return (
        len(stripped) >= len(fence)
        and set(stripped) == {fence[0]}
        and len(line) - len(line.lstrip(" ")) <= 3
    )


def _parse_options(lines: list[str]) -> tuple[dict, list[str]]:
    options: dict[str, str] = {}
    if lines and lines[0].strip() == "---":  # a YAML block
        for end in range(1, len(lines)):
            if lines[end].strip() == "---":
                for line in lines[1:end]:
                    if ":" in line:
                        key, value = line.split(":", 1)
                        options[key.strip()] = value.strip()
                return options, lines[end + 1 :]
        return options, lines
    i = 0
    while i < len(lines):
        m = re.match(r"^:([\w-]+):(.*)$", lines[i])
        if not m:
            break
        options[m.group(1)] = m.group(2).strip()
        i += 1
    return options, lines[i:]


def blocks(source: str) -> list[Block]:
    """The top-level pieces of a Markdown cell, in order; joined, they give ``source`` back."""
    lines = source.split("\n")
    out: list[Block] = []
    text: list[str] = []

    def flush():
        if text:
            out.append(Block("text", "\n".join(text)))
            text.clear()

    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m and not (m.group("fence")[0] == "`" and "`" in m.group("info")):
            fence = m.group("fence")
            end = i + 1
            while end < len(lines) and not _closes(lines[end], fence):
                end += 1
            inner = lines[i + 1 : end]
            chunk = "\n".join(lines[i : min(end + 1, len(lines))])
            flush()
            d = _DIRECTIVE_INFO.match(m.group("info").strip())
            if d:
                options, body = _parse_options(inner)
                out.append(
                    Block(
                        "directive",
                        chunk,
                        name=d.group("name"),
                        arg=d.group("arg"),
                        options=options,
                        body="\n".join(body).strip("\n"),
                        fence=fence,
                    )
                )
            else:
                out.append(Block("code", chunk, fence=fence))
            i = end + 1
            continue
        text.append(lines[i])
        i += 1
    flush()
    return out


def join(parts: list[Block]) -> str:
    return "\n".join(b.text for b in parts)


def headings(source: str) -> list[tuple[int, str]]:
    """(level, title) of every heading outside fenced blocks."""
    found = []
    for block in blocks(source):
        if block.kind != "text":
            continue
        for line in block.text.split("\n"):
            m = _HEADING.match(line)
            if m:
                found.append((len(m.group("hashes")), m.group("title")))
    return found


def directives(source: str, names: set[str] | None = None) -> list[Block]:
    return [
        b for b in blocks(source) if b.kind == "directive" and (names is None or b.name in names)
    ]


# --- exercises ------------------------------------------------------------------------------


@dataclass
class ExerciseMeta:
    kind: str | None = None  # derivation, code, experiment
    minutes: int | None = None
    level: int | None = None  # 1 easy, 2 medium, 3 hard

    @classmethod
    def from_classes(cls, classes: str) -> ExerciseMeta:
        meta = cls()
        for name in classes.split():
            if name.startswith("kind-") and name[5:] in KINDS:
                meta.kind = name[5:]
            elif re.fullmatch(r"time-\d+", name):
                meta.minutes = int(name[5:])
            elif re.fullmatch(r"level-[123]", name):
                meta.level = int(name[6:])
        return meta

    def classes(self) -> list[str]:
        out = []
        if self.kind:
            out.append(f"kind-{self.kind}")
        if self.minutes:
            out.append(f"time-{self.minutes}")
        if self.level:
            out.append(f"level-{self.level}")
        return out

    def complete(self) -> bool:
        return bool(self.kind and self.minutes and self.level)


def is_meta_class(name: str) -> bool:
    return bool(re.fullmatch(r"kind-\w+|time-\d+|level-\d", name))


def exercise_meta(block: Block) -> ExerciseMeta:
    return ExerciseMeta.from_classes(block.options.get("class", ""))


def with_meta(block: Block, meta: ExerciseMeta) -> str:
    """The directive's source with its ``:class:`` option set to ``meta`` (other classes kept)."""
    kept = [c for c in block.options.get("class", "").split() if not is_meta_class(c)]
    classes = " ".join(kept + meta.classes())
    lines = block.text.split("\n")
    for i, line in enumerate(lines[1:], start=1):
        if re.match(r"^:class:", line):
            lines[i] = f":class: {classes}"
            return "\n".join(lines)
        if not re.match(r"^:[\w-]+:", line):
            break
    # insert after the last option line (after :label: when there is one)
    at = 1
    while at < len(lines) and re.match(r"^:[\w-]+:", lines[at]):
        at += 1
    lines.insert(at, f":class: {classes}")
    return "\n".join(lines)


def colon_fenced(block: Block) -> str:
    """The directive ``block`` written with a colon fence (``:::{name}``): plain Markdown
    renderers (Colab, JupyterLab without jupyterlab-myst) then show its content as Markdown,
    math included, instead of a grey code box. The book renders both fences alike."""
    if block.kind != "directive" or block.fence.startswith(":"):
        return block.text
    lines = block.text.split("\n")
    inner = [
        len(m.group("fence"))
        for line in lines[1:]
        if (m := _FENCE.match(line)) and m.group("fence")[0] == ":"
    ]
    fence = ":" * max([3] + [n + 1 for n in inner])
    head = lines[0].strip()[len(block.fence) :]
    closed = len(lines) > 1 and _closes(lines[-1], block.fence)
    body = lines[1:-1] if closed else lines[1:]
    return "\n".join([fence + head, *body, fence])


# --- citations ------------------------------------------------------------------------------


@dataclass
class Reference:
    key: str
    authors: str  # "Kingma and Welling", "Rezende et al."
    year: str
    full: str  # the whole entry as one line of plain text


def _plain(text: str) -> str:
    """BibTeX's LaTeX as plain text: accents decoded, braces and commands dropped."""
    import codecs

    try:
        import latexcodec  # noqa: F401  (a dependency of pybtex: registers the codec)

        text = codecs.decode(text, "ulatex")
    except (ImportError, LookupError, ValueError):
        pass
    text = re.sub(r"\\[a-zA-Z]+\s*\{([^{}]*)\}", r"\1", text)  # \emph{x} -> x
    text = text.replace("{", "").replace("}", "").replace("--", "–")
    return re.sub(r"\s+", " ", text).strip()


@cache
def bibliography(path: Path = BIB) -> dict[str, Reference]:
    """Every entry of ``book/references.bib`` with its author-year label and full text."""
    from pybtex.database import parse_file

    refs = {}
    for key, entry in parse_file(str(path)).entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        last = [_plain(" ".join(p.prelast_names + p.last_names)) for p in people]
        if len(last) == 1:
            short = last[0]
        elif len(last) == 2:
            short = f"{last[0]} and {last[1]}"
        else:
            short = f"{last[0]} et al." if last else key
        names = []
        for p in people:
            initials = " ".join(f"{_plain(n)[0]}." for n in p.first_names + p.middle_names if n)
            surname = _plain(" ".join(p.prelast_names + p.last_names))
            names.append(f"{surname}, {initials}".strip().rstrip(","))
        if len(names) > 6:
            authors = ", ".join(names[:6]) + " et al."
        elif len(names) > 1:
            authors = ", ".join(names[:-1]) + " and " + names[-1]
        else:
            authors = names[0] if names else ""
        f = entry.fields
        year = f.get("year", "n.d.")
        venue = f.get("journal") or f.get("booktitle") or f.get("publisher") or ""
        if not venue and f.get("eprint"):
            venue = f"arXiv:{f['eprint']}"
        note = f.get("note", "")
        parts = [f"{authors} ({year}).", f"{_plain(f.get('title', ''))}."]
        if venue:
            parts.append(f"{_plain(venue)}.")
        if note and _plain(note) not in parts[-1]:
            parts.append(f"{_plain(note)}.")
        if f.get("eprint") and not venue.startswith("arXiv"):
            parts.append(f"arXiv:{f['eprint']}.")
        refs[key] = Reference(key, short, year, " ".join(parts))
    return refs


def cite_text(keys: str, sub: str | None, refs: dict[str, Reference] | None = None) -> str:
    """{cite:t}`a,b` -> "Kingma and Welling (2013) and Rezende et al. (2014)";
    {cite}`a,b` / {cite:p} -> "(Kingma and Welling, 2013; Rezende et al., 2014)"."""
    refs = bibliography() if refs is None else refs
    entries = [refs.get(k.strip()) for k in keys.split(",") if k.strip()]
    known = [e for e in entries if e is not None]
    if not known:
        return "(reference)"
    if sub == "t":
        texts = [f"{e.authors} ({e.year})" for e in known]
        return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " and " + texts[-1]
    return "(" + "; ".join(f"{e.authors}, {e.year}" for e in known) + ")"


def cited_keys(source: str) -> list[str]:
    keys = []
    for m in ROLE.finditer(source):
        if m.group("name") == "cite":
            keys += [k.strip() for k in m.group("content").split(",") if k.strip()]
    return keys
