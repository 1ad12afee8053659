"""tools/problem_sets.py: book/problem_sets.md lists every exercise of the chapters, and this
test fails when the page is stale (regenerate it with `python tools/problem_sets.py`)."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO / "tests"))
import lecture_cells as lc  # noqa: E402
import problem_sets  # noqa: E402
from test_lecture_cells import chapter  # noqa: E402


def test_the_problem_set_page_is_up_to_date():
    assert problem_sets.main(["--check"]) == 0, (
        "book/problem_sets.md is stale: run `python tools/problem_sets.py` and commit it"
    )


def test_the_page_lists_kind_time_difficulty_and_checkers(tmp_path):
    raw = tmp_path / "04_raw.ipynb"
    nbformat.write(chapter(), raw)
    text = problem_sets.render([raw])
    assert "## Chapter 4: The chapter" in text
    assert "{ref}`A derivation <ch04-ex-derive>`" in text
    assert "\\*" in text  # the estimates of an unconverted chapter are marked
    converted, _ = lc.converted(chapter(), "04")
    done = tmp_path / "04_done.ipynb"
    nbformat.write(converted, done)
    text = problem_sets.render([done])
    row = next(line for line in text.splitlines() if "ch04-ex-check-kl" in line)
    assert "| code | 10 min | ★☆☆ easy | yes |" in row
    row = next(line for line in text.splitlines() if "ch04-ex-train" in line)
    assert "| experiment | 30 min | ★★☆ medium |  |" in row
    assert "\\*" not in text.split("## Chapter")[1]
    assert "2 of them are auto-checked" in text


def test_check_fails_on_a_stale_page(tmp_path):
    path = tmp_path / "04_raw.ipynb"
    nbformat.write(chapter(), path)
    page = tmp_path / "page.md"
    assert problem_sets.main(["--out", str(page), str(path)]) == 0
    assert problem_sets.main(["--check", "--out", str(page), str(path)]) == 0
    page.write_text(page.read_text() + "\nedited by hand\n")
    assert problem_sets.main(["--check", "--out", str(page), str(path)]) == 1
