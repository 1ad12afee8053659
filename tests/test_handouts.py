"""tools/handouts.py: the student notebook has no solution, the instructor's has them all,
expanded; both run; a solution that a later cell needs is reported, not silently dropped."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO / "tests"))
import handouts  # noqa: E402
import lecture_cells as lc  # noqa: E402
from test_lecture_cells import chapter  # noqa: E402


def test_student_and_instructor_handouts():
    nb, _ = lc.converted(chapter(), "04")
    student, problems = handouts.handout(nb, student=True)
    assert problems == []
    instructor, problems = handouts.handout(nb, student=False)
    assert problems == []
    s_text = "\n".join(c.source for c in student.cells)
    i_text = "\n".join(c.source for c in instructor.cells)
    for answer in (
        "By Jensen",
        "answer = trained + 1",
        "trained = loss * 2",
        "logsigmoid(-logits)",
    ):
        assert answer not in s_text and answer in i_text
    for question in ("Show that", "Write code.", "def kl_to_prior", "check_kl(kl_to_prior)"):
        assert question in s_text and question in i_text
    assert not any(lc.SOLUTION in lc.tags(c) for c in student.cells)
    assert "claim_checked" not in i_text  # hidden checks of the prose are left out
    assert not any(c.metadata.get(lc.HEADING_COLLAPSED) for c in instructor.cells)
    assert student.cells[0].source == lc.COLAB_SOURCE


def test_a_later_cell_that_needs_a_solution_is_reported():
    nb, _ = lc.converted(chapter(), "04")
    nb.cells.append(new_markdown_cell("## After the exercises"))
    nb.cells.append(new_code_cell("print(answer)  # defined only by a solution"))
    _, problems = handouts.handout(nb, student=True)
    assert len(problems) == 1 and "`answer`" in problems[0] and "removed" in problems[0]
    _, problems = handouts.handout(nb, student=False)
    assert problems == []


def test_names_a_cell_binds_and_reads():
    bound, read = lc.code_names(
        "import numpy as np\nfrom math import pi\nx = np.zeros(3)\n"
        "def f(a):\n    return a + y\n%matplotlib inline\nz = [i for i in range(3)]"
    )
    assert bound == {"np", "pi", "x", "f", "z"}
    assert read == {"y", "range", "get_ipython"}  # the magic, translated


def test_main_writes_both_sets_and_refuses_a_broken_student_notebook(tmp_path, capsys):
    good = tmp_path / "04_good.ipynb"
    nbformat.write(chapter(), good)
    bad_nb = chapter()
    bad_nb.cells.append(new_markdown_cell("## After"))
    bad_nb.cells.append(new_code_cell("print(answer)"))
    bad = tmp_path / "05_bad.ipynb"
    nbformat.write(bad_nb, bad)
    out = tmp_path / "handouts"
    assert handouts.main(["--out", str(out), str(good), str(bad)]) == 1
    printed = capsys.readouterr().out
    assert "05_bad.ipynb (student) would not run" in printed
    assert (out / "student" / "04_good.ipynb").is_file()
    assert (out / "instructor" / "05_bad.ipynb").is_file()
    assert not (out / "student" / "05_bad.ipynb").exists()


@pytest.mark.parametrize("student", [True, False], ids=["student", "instructor"])
def test_the_handouts_run(student):
    from nbclient import NotebookClient

    nb, _ = lc.converted(chapter(), "04")
    out, _ = handouts.handout(nb, student=student)
    NotebookClient(out, timeout=120, kernel_name="python3").execute()
    printed = "".join(
        o.get("text", "") or str(o.get("data", {}).get("text/plain", ""))
        for c in out.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    if student:
        assert "not written yet" in printed and "is right" not in printed
    else:
        assert "kl_to_prior is right" in printed
