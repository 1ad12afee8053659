"""Make the chapters teachable from JupyterLab and Colab: exercises as cells, hidden solutions,
auto-checked exercises and a Colab install cell.

    python tools/lecture_cells.py --check [NOTEBOOK...]   # list what is not converted; exit 1 if any
    python tools/lecture_cells.py --apply [NOTEBOOK...]   # convert (idempotent), then report

Default: every chapter, notebooks/NN_*.ipynb. The conversion, in order:

1. **Auto-checked exercises** (tools/checked_exercises.py) are inserted in chapters 04, 06
   and 07 at the end of the section their anchor names, once (found again by their label).
2. **One cell per block.** A Markdown cell that holds an ``{exercise}`` or ``{solution}``
   block (plain or gated: ``exercise-start``, ``solution-start``, ...) together with anything
   else is split so that each such block is a cell of its own; such a cell is also split at
   its ``#``/``##`` headings (``## Summary`` and ``## Exercises`` become separate cells). The
   blocks get a colon fence, ``:::{exercise}``: Colab and JupyterLab without jupyterlab-myst
   then show the question as Markdown, math and all, not as a grey code box.
3. **Solutions are tagged** ``solution``: a ``{solution}`` cell and the code cells right after
   it (a solution that is executed code), or every cell from ``solution-start`` to
   ``solution-end``.
4. **Solutions are hidden until asked for.** Before each exercise goes a heading cell
   "#### Exercise: <title>", before each solution a heading cell "##### Solution" whose section
   is stored collapsed: ``jp-MarkdownHeadingCollapsed`` for JupyterLab, the notebook's
   ``colab.collapsed_sections`` (with the cell's ``metadata.id``) for Colab. Both heading cells
   are tagged ``remove-cell``: the book shows neither and keeps its own dropdowns.
5. **Teaching metadata**: every exercise's ``:class:`` gets a kind (``kind-derivation``,
   ``kind-code``, ``kind-experiment``), a time (``time-<minutes>``) and a difficulty
   (``level-1`` easy to ``level-3`` hard) when it has none: the estimates below for the
   exercises of the book, a guess from the text otherwise (check it). book/problem_sets.md is
   generated from them (tools/problem_sets.py).
6. **Colab**: the first cell installs the book's library when, and only when, the notebook
   runs on Colab (tagged ``remove-cell``; a silent no-op elsewhere).

``--check`` also reports what ``--apply`` cannot fix: a solution followed by chapter content
that its collapsed section would hide, or an anchor heading that is missing.
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import checked_exercises  # noqa: E402
import mystblocks as mb  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

EXERCISE_HEADING = "exercise-heading"
SOLUTION_HEADING = "solution-heading"
SOLUTION = "solution"
COLAB_TAG = "colab-install"
HEADING_COLLAPSED = "jp-MarkdownHeadingCollapsed"

#: Written as ``ruff format`` leaves it, so that formatting the notebooks never changes it.
COLAB_SOURCE = """\
# On Google Colab this installs the book's library (about a minute); anywhere else it does
# nothing. If Colab then asks you to restart the session, restart it and run the notebook again.
import subprocess
import sys

if "google.colab" in sys.modules:
    package = "aevae-lib @ git+https://github.com/aevae-book/aevae-book"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", package], check=True)
    print("Installed aevae-lib. If an import below fails: Runtime > Restart session, run again.")"""

#: Estimates for the exercises of the book: (kind, minutes, level 1-3).
ESTIMATES = {
    "ch01-ex-bottleneck": ("derivation", 10, 1),
    "ch01-ex-symmetry": ("derivation", 15, 2),
    "ch01-ex-bce": ("experiment", 25, 2),
    "ch01-ex-schedule": ("experiment", 20, 2),
    "ch01-ex-code-size": ("code", 20, 2),
    "ch02-ex-posterior-mean": ("derivation", 20, 2),
    "ch02-ex-auc": ("derivation", 15, 1),
    "ch02-ex-other-digits": ("experiment", 20, 1),
    "ch02-ex-noise-range": ("experiment", 30, 2),
    "ch02-ex-code-score": ("code", 20, 2),
    "ch03-ex-invariance": ("derivation", 15, 2),
    "ch03-ex-mixture": ("experiment", 15, 1),
    "ch03-ex-moment-penalty": ("experiment", 40, 3),
    "ch03-ex-box-volume": ("derivation", 15, 2),
    "ex-04-logvar": ("derivation", 10, 1),
    "ex-04-gaussian": ("experiment", 30, 2),
    "ex-04-kl-prior": ("code", 20, 2),
    "ex-06-baseline": ("derivation", 20, 2),
    "ex-06-offset": ("experiment", 15, 1),
    "ex-06-code": ("experiment", 40, 3),
    "ex-07-iw-monotone": ("derivation", 30, 3),
    "ex-07-sharp": ("experiment", 25, 2),
    "ex-07-full-cov": ("experiment", 40, 3),
    "ch08-ex-ess": ("code", 20, 2),
    "ch08-ex-binarization": ("experiment", 30, 2),
    "ch08-ex-variance": ("experiment", 25, 3),
    "ex-08-rate-bound": ("derivation", 25, 3),
    "ex-08-warmup": ("experiment", 35, 2),
    "ex-08-conv-longer": ("experiment", 60, 1),
    "ex-08-fixed-variance": ("experiment", 30, 2),
}
DEFAULT_MINUTES = {"derivation": 15, "code": 20, "experiment": 30}


# --- reading a notebook's structure ---------------------------------------------------------


def tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def add_tags(cell, *names: str) -> None:
    current = list(cell.metadata.get("tags", []))
    for name in names:
        if name not in current:
            current.append(name)
    cell.metadata["tags"] = current


def only_directive(cell) -> mb.Block | None:
    """The directive a Markdown cell consists of, if it is nothing else."""
    if cell.cell_type != "markdown":
        return None
    parts = [b for b in mb.blocks(cell.source) if b.kind != "text" or b.text.strip()]
    return parts[0] if len(parts) == 1 and parts[0].kind == "directive" else None


def directive_name(cell) -> str | None:
    block = only_directive(cell)
    return block.name if block else None


def heading_of(cell) -> tuple[int, str] | None:
    """(level, title) when the cell starts with a heading."""
    if cell.cell_type != "markdown":
        return None
    found = mb.headings(cell.source.lstrip())
    first = cell.source.lstrip().split("\n", 1)[0]
    return found[0] if found and first.startswith("#") else None


def solution_regions(cells) -> list[tuple[int, int]]:
    """(first, last) cell index of every solution in a notebook whose blocks are in cells of
    their own. A solution is a ``{solution}`` cell with the code cells right after it, or the
    cells from ``solution-start`` to ``solution-end`` with the hidden (``remove-cell``) code
    cells right after it, which check its numbers; its hidden heading, when there is one just
    before it, belongs to it."""
    regions = []
    i = 0
    while i < len(cells):
        name = directive_name(cells[i])
        if name in ("solution", "solution-start"):
            start = i - 1 if i and SOLUTION_HEADING in tags(cells[i - 1]) else i
            end = i
            if name == "solution":
                while end + 1 < len(cells) and cells[end + 1].cell_type == "code":
                    end += 1
            else:
                while end + 1 < len(cells) and directive_name(cells[end]) != "solution-end":
                    end += 1
            # hidden checks of the solution's numbers, right after it, belong to it
            while (
                end + 1 < len(cells)
                and cells[end + 1].cell_type == "code"
                and "remove-cell" in tags(cells[end + 1])
            ):
                end += 1
            regions.append((start, end))
            i = end + 1
        else:
            i += 1
    return regions


def exercise_cells(cells) -> list[int]:
    return [i for i, c in enumerate(cells) if directive_name(c) in ("exercise", "exercise-start")]


def code_names(source: str) -> tuple[set[str], set[str]]:
    """(names bound at the top level of a code cell, names it reads before binding them).

    IPython syntax (magics) is translated first; a cell that does not parse binds and reads
    nothing."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(source)
    except ImportError:
        pass
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(), set()
    bound: set[str] = set()
    read: set[str] = set()
    local: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
                if a is not None:
                    local.add(a.arg)
        if isinstance(node, ast.comprehension):
            for t in ast.walk(node.target):
                if isinstance(t, ast.Name):
                    local.add(t.id)
    for stmt in tree.body:
        for node in ast.walk(stmt):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node in tree.body:
                    bound.add(node.name)
                else:
                    local.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    bound.add((alias.asname or alias.name).split(".")[0])
            elif isinstance(node, ast.Name):
                if isinstance(node.ctx, (ast.Store, ast.Del)):
                    bound.add(node.id)
                elif node.id not in bound:
                    read.add(node.id)
    return bound - local, read - local - bound


@dataclass
class Exercise:
    """One exercise of a chapter, as the lecture-kit tools see it."""

    label: str
    title: str
    question: str  # the directive's body: Markdown
    meta: mb.ExerciseMeta  # from its :class:, else estimated (see ``estimated``)
    estimated: bool  # True when the metadata is not in the notebook yet
    checked: bool  # an aevae_lib.exercises checker runs on the learner's answer
    cell: int  # index of its cell


_CHECKER_CALL = re.compile(r"\bcheck_\w+\(")


def exercises_of(nb) -> list[Exercise]:
    """Every exercise of a notebook, in order, whether or not it is converted yet."""
    found = []
    cells = nb.cells
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        for block in mb.directives(cell.source, {"exercise", "exercise-start"}):
            meta = mb.exercise_meta(block)
            estimated = not meta.complete()
            if estimated:
                kind, minutes, level = ESTIMATES.get(block.options.get("label", "")) or guess_meta(
                    block.text
                )
                meta = mb.ExerciseMeta(
                    meta.kind or kind, meta.minutes or minutes, meta.level or level
                )
            checked = False
            for later in cells[i + 1 :]:
                if later.cell_type == "markdown" and (
                    directive_name(later) in ("exercise", "exercise-start")
                    or mb.directives(later.source, {"exercise", "exercise-start"})
                    or (heading_of(later) and EXERCISE_HEADING not in tags(later))
                ):
                    break
                if (
                    later.cell_type == "code"
                    and SOLUTION not in tags(later)
                    and _CHECKER_CALL.search(later.source)
                    and "aevae_lib.exercises" in later.source
                ):
                    checked = True
            found.append(
                Exercise(
                    label=block.options.get("label", ""),
                    title=block.arg.strip(),
                    question=block.body,
                    meta=meta,
                    estimated=estimated,
                    checked=checked,
                    cell=i,
                )
            )
    return found


# --- the conversion -------------------------------------------------------------------------


@dataclass
class Report:
    notebook: str
    changes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _new_markdown(source: str, cell_id: str, tag_names=(), metadata=None):
    cell = nbformat.v4.new_markdown_cell(source)
    cell.id = cell_id
    if metadata:
        cell.metadata.update(metadata)
    if tag_names:
        add_tags(cell, *tag_names)
    return cell


def _new_code(source: str, cell_id: str, tag_names=()):
    cell = nbformat.v4.new_code_cell(source)
    cell.id = cell_id
    if tag_names:
        add_tags(cell, *tag_names)
    return cell


def _id(text: str) -> str:
    """A cell id from a readable stem (the label of an exercise)."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)[:64]


def _section_end(cells, anchors) -> int | None:
    """Index just after the section whose ``##`` heading matches the first anchor that
    matches, i.e. of the next heading of level 2 or above; None when no anchor matches."""
    for pattern in anchors:
        for i, cell in enumerate(cells):
            h = heading_of(cell)
            if h and h[0] == 2 and re.search(pattern, h[1], re.I):
                for j in range(i + 1, len(cells)):
                    hj = heading_of(cells[j])
                    if hj and hj[0] <= 2:
                        return j
                return len(cells)
    return None


def _exercises_start(cells) -> int | None:
    for i, cell in enumerate(cells):
        if cell.cell_type == "markdown" and re.search(r"^## Exercises\s*$", cell.source, re.M):
            if heading_of(cell) == (2, "Exercises"):
                return i + 1
            return i + 1  # a cell that still holds Summary and Exercises together
    return None


def checked_cells(ex: checked_exercises.CheckedExercise) -> list:
    """The cells of one auto-checked exercise (exercise, stub, check, gated solution)."""
    question = (
        f":::{{exercise}} {ex.title}\n:label: {ex.label}\n:class: {ex.meta}\n\n{ex.question}\n:::"
    )
    check = f"from aevae_lib.exercises import {ex.checker}\n\n{ex.checker}({ex.function})"
    base = _id(ex.label)
    return [
        _new_markdown(question, base),
        _new_code(ex.stub, f"{base}-stub"),
        _new_code(check, f"{base}-check", ["remove-output"]),
        _new_markdown(f":::{{solution-start}} {ex.label}\n:class: dropdown\n:::", f"{base}-sol"),
        _new_markdown(ex.solution_text, f"{base}-sol-text"),
        _new_code(f"{ex.answer}\n\n\n{ex.checker}({ex.function})", f"{base}-answer"),
        _new_code(
            f"assert {ex.checker}({ex.function}).passed, {ex.checker}({ex.function})",
            f"{base}-assert",
            ["remove-cell"],
        ),
        _new_markdown(":::{solution-end}\n:::", f"{base}-sol-end"),
    ]


def insert_checked(nb, prefix: str, report: Report) -> None:
    labels = {
        b.options.get("label")
        for c in nb.cells
        if c.cell_type == "markdown"
        for b in mb.directives(c.source, mb.EXERCISE_DIRECTIVES)
    }
    defined = set()
    for c in nb.cells:
        if c.cell_type == "code":
            defined |= code_names(c.source)[0]
    for ex in checked_exercises.for_chapter(prefix):
        if ex.label in labels:
            continue
        if ex.function in defined:
            report.problems.append(
                f"cannot insert {ex.label}: the chapter already defines `{ex.function}`"
            )
            continue
        at = _section_end(nb.cells, ex.anchors)
        where = "the end of its section"
        if at is None:
            at = _exercises_start(nb.cells)
            where = "the start of ## Exercises (no heading matches " + " or ".join(ex.anchors) + ")"
            report.problems.append(f"{ex.label}: anchor heading not found; placed at {where}")
        if at is None:
            report.problems.append(f"cannot insert {ex.label}: no anchor and no ## Exercises")
            continue
        nb.cells[at:at] = checked_cells(ex)
        report.changes.append(f"insert the auto-checked exercise {ex.label} at {where}")


def _split_source(source: str) -> list[str] | None:
    """The pieces a Markdown cell must be split into, or None when it may stay as it is."""
    parts = mb.blocks(source)
    family = mb.EXERCISE_DIRECTIVES | mb.SOLUTION_DIRECTIVES
    has_family = any(b.kind == "directive" and b.name in family for b in parts)
    headed = bool(re.search(r"^## Exercises\s*$", source, re.M))
    if not (has_family or headed):
        return None
    pieces: list[str] = []
    current: list[str] = []

    def flush():
        text = "\n".join(current).strip("\n")
        if text.strip():
            pieces.append(text)
        current.clear()

    for b in parts:
        if b.kind == "directive" and b.name in family:
            flush()
            pieces.append(mb.colon_fenced(b).strip("\n"))
        elif b.kind == "text":
            for line in b.text.split("\n"):
                if re.match(r"^#{1,2} ", line):
                    flush()
                current.append(line)
        else:
            current.append(b.text)
    flush()
    if len(pieces) == 1 and pieces[0] == source.strip("\n"):
        return None
    return pieces


def split_cells(nb, report: Report) -> None:
    out = []
    for cell in nb.cells:
        pieces = _split_source(cell.source) if cell.cell_type == "markdown" else None
        if not pieces:
            out.append(cell)
            continue
        if len(pieces) > 1:
            report.changes.append(f"split cell {cell.id} into {len(pieces)} cells")
        else:
            report.changes.append(f"colon-fence the exercise blocks of cell {cell.id}")
        for k, piece in enumerate(pieces):
            if k == 0:
                cell.source = piece
                out.append(cell)
            else:
                out.append(_new_markdown(piece, _id(f"{cell.id}-{k}")))
    nb.cells = out


def ensure_meta(nb, report: Report) -> None:
    for cell in nb.cells:
        block = only_directive(cell)
        if not block or block.name not in ("exercise", "exercise-start"):
            continue
        meta = mb.exercise_meta(block)
        if meta.complete():
            continue
        label = block.options.get("label", "")
        kind, minutes, level = ESTIMATES.get(label) or guess_meta(cell.source, nb, cell)
        meta.kind = meta.kind or kind
        meta.minutes = meta.minutes or minutes
        meta.level = meta.level or level
        cell.source = mb.with_meta(block, meta)
        report.changes.append(f"teaching metadata for {label or 'an exercise'}: {meta.classes()}")


def guess_meta(source: str, nb=None, cell=None) -> tuple[str, int, int]:
    """Kind, minutes and level guessed from an exercise's text (an author should check them)."""
    text = source.lower()
    if re.search(r"\b(train|measure|repeat|plot|fit|run)\b", text):
        kind = "experiment"
    elif re.search(r"\b(write a function|implement|write the|code|complete `)", text):
        kind = "code"
    else:
        kind = "derivation"
    return kind, DEFAULT_MINUTES[kind], 2


def tag_solutions(nb, report: Report) -> None:
    for start, end in solution_regions(nb.cells):
        for cell in nb.cells[start : end + 1]:
            if SOLUTION not in tags(cell):
                add_tags(cell, SOLUTION)
                report.changes.append(f"tag cell {cell.id} as a solution")


def _exercise_title(cell) -> str:
    """An exercise's title, or the start of its question when it has none."""
    block = only_directive(cell)
    if not block:
        return ""
    if block.arg.strip():
        return block.arg.strip()
    return short_question(block.body)


def short_question(text: str, words: int = 8) -> str:
    """The first words of a question, MyST roles and labels reduced to their text."""
    text = re.sub(r"\{eq\}`[^`]*`", "the equation", text)
    text = re.sub(r"\{[a-z:]+\}`([^`<]*?)(?:\s*<[^>]*>)?`", r"\1", text)
    first = re.split(r"(?<=[.?!])\s", " ".join(text.split()), maxsplit=1)[0]
    parts = first.split(" ")
    if len(parts) <= words:
        return first
    head = " ".join(parts[:words])
    if head.count("$") % 2:  # do not cut a formula in two
        head = head[: head.rfind("$")].rstrip()
    return head.rstrip(",;:") + " …"


def ensure_headings(nb, report: Report) -> None:
    """The hidden headings that end each solution's collapsed section and open the next."""
    cells = nb.cells
    # exercise headings
    for i in reversed(exercise_cells(cells)):
        title = _exercise_title(cells[i])
        text = f"#### Exercise: {title}" if title else "#### Exercise"
        prev = cells[i - 1] if i else None
        if prev is not None and EXERCISE_HEADING in tags(prev):
            if prev.source != text:
                prev.source = text
                report.changes.append(f"update the heading of exercise {title!r}")
            continue
        label = (only_directive(cells[i]).options.get("label") or cells[i].id) + "-heading"
        cells.insert(i, _new_markdown(text, _id(label), ["remove-cell", EXERCISE_HEADING]))
        report.changes.append(f"add a heading before exercise {title!r}")
    # solution headings, collapsed
    for start, _ in reversed(solution_regions(cells)):
        if SOLUTION_HEADING in tags(cells[start]):
            continue
        block = only_directive(cells[start])
        label = (block.arg.split()[0] if block and block.arg else cells[start].id) + "-solution"
        heading = _new_markdown(
            "##### Solution", _id(label), ["remove-cell", SOLUTION, SOLUTION_HEADING]
        )
        cells.insert(start, heading)
        report.changes.append(f"add a collapsed heading before the solution of {label[:-9]}")
    ids = []
    for cell in cells:
        if SOLUTION_HEADING in tags(cell):
            if (
                cell.metadata.get(HEADING_COLLAPSED) is not True
                or cell.metadata.get("id") != cell.id
            ):
                cell.metadata[HEADING_COLLAPSED] = True
                cell.metadata["id"] = cell.id  # Colab names cells by metadata.id
                report.changes.append(f"collapse the solution heading {cell.id}")
            ids.append(cell.id)
    colab = nb.metadata.setdefault("colab", {})
    if colab.get("collapsed_sections") != ids:
        colab["collapsed_sections"] = ids
        report.changes.append("list the solution headings in colab.collapsed_sections")


def check_sections(nb, report: Report) -> None:
    """A collapsed solution hides everything up to the next heading of level 5 or above."""
    cells = nb.cells
    for _start, end in solution_regions(cells):
        if end + 1 >= len(cells):
            continue
        nxt = cells[end + 1]
        h = heading_of(nxt)
        if EXERCISE_HEADING in tags(nxt) or (h and h[0] <= 5):
            continue
        report.problems.append(
            f"the solution ending at cell {cells[end].id} is followed by cell {nxt.id}, which is "
            "not a heading: its collapsed section would hide it (move the solution to the end "
            "of a section)"
        )


def ensure_colab_cell(nb, report: Report) -> None:
    found = [i for i, c in enumerate(nb.cells) if COLAB_TAG in tags(c)]
    if found and found[0] == 0 and nb.cells[0].source == COLAB_SOURCE:
        return
    for i in reversed(found):
        del nb.cells[i]
    nb.cells.insert(0, _new_code(COLAB_SOURCE, "colab-install", ["remove-cell", COLAB_TAG]))
    report.changes.append("add the Colab install cell" if not found else "update the Colab cell")


def convert(nb, prefix: str, report: Report | None = None):
    """Apply every step to ``nb`` in place; returns the report."""
    report = report or Report(prefix)
    insert_checked(nb, prefix, report)
    split_cells(nb, report)
    ensure_meta(nb, report)
    tag_solutions(nb, report)
    ensure_headings(nb, report)
    tag_solutions(nb, report)
    check_sections(nb, report)
    ensure_colab_cell(nb, report)
    return report


def converted(nb, prefix: str = "") -> tuple[nbformat.NotebookNode, Report]:
    """A converted copy of ``nb`` (the original is untouched)."""
    nb = copy.deepcopy(nb)
    return nb, convert(nb, prefix)


def summary(changes: list[str]) -> list[str]:
    """One line per kind of change, with its count (the first words of each change)."""
    counts: dict[str, int] = {}
    for change in changes:
        key = re.split(r" (?:cell|of|for|before|at|in|the solution heading) ", change, maxsplit=1)[
            0
        ]
        key = re.sub(r" \S*\d\S*$", "", key)
        counts[key] = counts.get(key, 0) + 1
    return [f"{key} (x{n})" if n > 1 else key for key, n in counts.items()]


def chapter_prefix(path: Path) -> str:
    m = re.match(r"(\d\d)_", path.name)
    return m.group(1) if m else ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="report; exit 1 if not converted")
    mode.add_argument("--apply", action="store_true", help="convert the notebooks in place")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every change")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    status = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        report = convert(nb, chapter_prefix(path), Report(path.name))
        if args.apply and report.changes:
            nbformat.validate(nb)
            nbformat.write(nb, path)
        verb = "converted" if args.apply else "not converted"
        if report.changes:
            print(f"{path.name}: {verb}: {len(report.changes)} change(s)")
            for change in report.changes if args.verbose else summary(report.changes):
                print(f"    {change}")
            status = status or (0 if args.apply else 1)
        else:
            print(f"{path.name}: up to date")
        for problem in report.problems:
            print(f"    PROBLEM: {problem}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
