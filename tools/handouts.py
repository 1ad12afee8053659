"""Student and instructor notebooks for every chapter:  python tools/handouts.py [NOTEBOOK...]

    make handouts      # -> _build/handouts/student/NN_topic.ipynb (no solutions)
                       #    _build/handouts/instructor/NN_topic.ipynb (solutions shown)

Both sets start from the chapter converted as ``tools/lecture_cells.py --apply`` converts it
(done in memory, so this works on a chapter that is not converted yet): exercises and
solutions in cells of their own, the auto-checked exercises, the Colab install cell.

- **instructor**: the chapter with its solutions expanded (not collapsed), without the hidden
  cells that check the book's prose (``remove-cell`` code cells) and without ``slide-only``
  cells;
- **student**: the same without the solution cells. An auto-checked exercise keeps its stub
  and its check, which says "not written yet" until the student writes the function.

Removing a cell must not break a later one. Every code cell that is kept is checked against
the cells removed before it: a name that the kept cell reads, that no kept cell before it
defines, and that a removed cell defined, means the handout would fail when run. Such a
handout is not written; the dependency is reported (chapter, cell, names) and the exit
status is 1. Both sets are stored without outputs; CI runs them through nbval.
"""

from __future__ import annotations

import argparse
import builtins
import copy
import shutil
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lecture_cells as lc  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SETS = ("student", "instructor")
README = """\
# Handouts of *Autoencoders and Variational Autoencoders*

Written by `make handouts` (tools/handouts.py) from the chapters in notebooks/.

- student/: the chapters without the solutions to their exercises. Auto-checked exercises
  keep their check: it says "not written yet" until the function is written, then names the
  usual mistakes.
- instructor/: the chapters with every solution shown.

Both need the book's library: `pip install "aevae-lib @ git+https://github.com/aevae-book/aevae-book"`
(the first cell does it on Colab). Text and figures: CC BY 4.0; code: MIT. Credit:
"Adapted from *Autoencoders and Variational Autoencoders* by the AE/VAE book authors,
https://github.com/aevae-book/aevae-book, CC BY 4.0."
"""


def _dropped(cell, student: bool) -> bool:
    tags = lc.tags(cell)
    if "slide-only" in tags:
        return True
    if cell.cell_type == "code" and "remove-cell" in tags and lc.COLAB_TAG not in tags:
        return True
    return student and lc.SOLUTION in tags


def broken_dependencies(cells, dropped: list[bool]) -> list[str]:
    """Kept code cells that read a name only a dropped cell before them defined."""
    problems = []
    defined_by_kept: set[str] = set(dir(builtins)) | {"get_ipython", "display", "In", "Out"}
    defined_by_dropped: dict[str, str] = {}
    for index, (cell, drop) in enumerate(zip(cells, dropped, strict=True)):
        if cell.cell_type != "code":
            continue
        bound, read = lc.code_names(cell.source)
        if drop:
            for name in bound - defined_by_kept:
                defined_by_dropped.setdefault(name, cell.get("id", str(index)))
            continue
        missing = sorted(n for n in read - defined_by_kept if n in defined_by_dropped)
        if missing:
            origin = ", ".join(f"`{n}` (from cell {defined_by_dropped[n]})" for n in missing)
            problems.append(f"cell {cell.get('id', index)} reads {origin}, which is removed")
        defined_by_kept |= bound
    return problems


def handout(nb, student: bool):
    """(the handout, the problems that stop it from running)."""
    nb = copy.deepcopy(nb)
    dropped = [_dropped(cell, student) for cell in nb.cells]
    problems = broken_dependencies(nb.cells, dropped)
    nb.cells = [cell for cell, drop in zip(nb.cells, dropped, strict=True) if not drop]
    if not student:
        for cell in nb.cells:
            cell.metadata.pop(lc.HEADING_COLLAPSED, None)
        nb.metadata.get("colab", {}).pop("collapsed_sections", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    return nb, problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "handouts")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for name in SETS:
        shutil.rmtree(args.out / name, ignore_errors=True)
        (args.out / name).mkdir(parents=True)
    (args.out / "README.md").write_text(README, encoding="utf-8")
    status = 0
    for path in paths:
        nb, report = lc.converted(nbformat.read(path, as_version=4), lc.chapter_prefix(path))
        line = [f"handouts: {path.stem}:"]
        for name in SETS:
            out, problems = handout(nb, student=(name == "student"))
            if problems:
                status = 1
                print(f"handouts: {path.name} ({name}) would not run, so it is not written:")
                for problem in problems:
                    print(f"    {problem}")
                continue
            nbformat.validate(out)
            nbformat.write(out, args.out / name / path.name)
            solutions = sum(lc.SOLUTION in lc.tags(c) for c in out.cells)
            line.append(f"{name} {len(out.cells)} cells ({solutions} solution cells)")
        print(" ".join(line[:1]) + " " + ", ".join(line[1:]))
    print(f"handouts: written to {args.out}/{{student,instructor}}/")
    return status


if __name__ == "__main__":
    sys.exit(main())
