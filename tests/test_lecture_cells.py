"""tools/lecture_cells.py: exercises and solutions become cells of their own, solutions are
tagged and stored collapsed (JupyterLab and Colab), every exercise gets teaching metadata, the
auto-checked exercises go after their sections and run, the Colab cell is a no-op elsewhere,
and a second run changes nothing."""

from __future__ import annotations

import copy
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import checked_exercises  # noqa: E402
import lecture_cells as lc  # noqa: E402
import mystblocks as mb  # noqa: E402

SUMMARY_AND_EXERCISES = """\
## Summary

- A point of the chapter.

## Exercises

```{exercise} A derivation
:label: ch04-ex-derive

Show that $\\KL \\ge 0$.
```

```{solution} ch04-ex-derive
:class: dropdown

By Jensen's inequality.
```

```{exercise} An experiment
:label: ch04-ex-train

Train a model and measure its loss.
```

```{solution} ch04-ex-train
:class: dropdown

The code below trains it.
```"""


def chapter() -> nbformat.NotebookNode:
    """A small chapter 04 in the old layout: Summary, Exercises and solutions in one cell, a
    solution that is executed code, and a gated solution."""
    hidden = new_code_cell("claim_checked = loss < 1")
    hidden.metadata["tags"] = ["remove-cell"]
    cells = [
        new_markdown_cell("# The chapter\n\n**You will learn** things."),
        new_code_cell("import torch\nloss = 0.5"),
        new_markdown_cell("## The likelihood\n\nText about $\\pxz$."),
        new_code_cell("likelihood_value = 1.0"),
        new_markdown_cell("## The loss: reconstruction plus KL\n\nText about the KL."),
        new_code_cell("kl_value = 2.0"),
        new_markdown_cell("## Training\n\nMore text."),
        new_markdown_cell(SUMMARY_AND_EXERCISES),
        new_code_cell("trained = loss * 2  # the experiment's solution"),
        hidden,
        new_markdown_cell(
            "```{exercise-start} A gated one\n:label: ch04-ex-gated\n```\n\nWrite code.\n\n"
            "```{exercise-end}\n```\n\n```{solution-start} ch04-ex-gated\n:class: dropdown\n```"
            "\n\nThe answer, with code:"
        ),
        new_code_cell("answer = trained + 1"),
        new_markdown_cell("```{solution-end}\n```"),
    ]
    for k, cell in enumerate(cells):
        cell.id = f"c{k}"
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    return nb


def converted():
    nb = chapter()
    report = lc.convert(nb, "04")
    return nb, report


def by_directive(nb, name):
    return [c for c in nb.cells if lc.directive_name(c) == name]


def test_every_exercise_and_solution_is_a_cell_of_its_own_with_a_colon_fence():
    nb, report = converted()
    assert not report.problems, report.problems
    for name in ("exercise", "solution", "exercise-start", "solution-start", "solution-end"):
        for cell in by_directive(nb, name):
            assert cell.source.startswith(":::{"), cell.source
    assert len(by_directive(nb, "exercise")) == 2 + 2  # two of the chapter, two auto-checked
    headings = [lc.heading_of(c) for c in nb.cells if lc.heading_of(c)]
    assert (2, "Summary") in headings and (2, "Exercises") in headings
    summary = next(c for c in nb.cells if lc.heading_of(c) == (2, "Summary"))
    assert "## Exercises" not in summary.source and "A point" in summary.source
    nbformat.validate(nb)
    ids = [c.id for c in nb.cells]
    assert len(ids) == len(set(ids))


def test_solutions_are_tagged_including_the_code_that_is_their_answer():
    nb, _ = converted()
    tagged = [c for c in nb.cells if lc.SOLUTION in lc.tags(c)]
    sources = "\n".join(c.source for c in tagged)
    assert "By Jensen" in sources
    assert "trained = loss * 2" in sources and "claim_checked" in sources  # code after {solution}
    assert "The answer, with code:" in sources and "answer = trained + 1" in sources  # gated
    assert "solution-end" in sources
    untagged = "\n".join(c.source for c in nb.cells if lc.SOLUTION not in lc.tags(c))
    assert "Show that" in untagged and "Write code." in untagged  # the questions stay
    assert "By Jensen" not in untagged and "answer = trained" not in untagged


def test_solutions_are_stored_collapsed_for_jupyterlab_and_colab():
    nb, _ = converted()
    headings = [c for c in nb.cells if lc.SOLUTION_HEADING in lc.tags(c)]
    assert len(headings) == 5  # the chapter's three solutions, the two auto-checked ones
    for h in headings:
        assert h.source == "##### Solution"
        assert h.metadata[lc.HEADING_COLLAPSED] is True
        assert h.metadata["id"] == h.id
        assert {"remove-cell", lc.SOLUTION} <= lc.tags(h)
    assert nb.metadata["colab"]["collapsed_sections"] == [h.id for h in headings]
    # each collapsed section ends at the next exercise's heading (or a section heading)
    for _start, end in lc.solution_regions(nb.cells):
        if end + 1 < len(nb.cells):
            nxt = nb.cells[end + 1]
            assert lc.EXERCISE_HEADING in lc.tags(nxt) or lc.heading_of(nxt)[0] <= 2
    exercise_headings = [c for c in nb.cells if lc.EXERCISE_HEADING in lc.tags(c)]
    assert [c.source for c in exercise_headings][-3:] == [
        "#### Exercise: A derivation",
        "#### Exercise: An experiment",
        "#### Exercise: A gated one",
    ]


def test_nbstripout_keeps_the_collapse_metadata(tmp_path):
    nb, _ = converted()
    path = tmp_path / "04_x.ipynb"
    nbformat.write(nb, path)
    subprocess.run([sys.executable, "-m", "nbstripout", "--keep-id", str(path)], check=True)
    again = nbformat.read(path, as_version=4)
    assert again.metadata["colab"]["collapsed_sections"]
    assert any(c.metadata.get(lc.HEADING_COLLAPSED) for c in again.cells)


def test_every_exercise_gets_teaching_metadata():
    nb, _ = converted()
    for cell in by_directive(nb, "exercise") + by_directive(nb, "exercise-start"):
        meta = mb.exercise_meta(lc.only_directive(cell))
        assert meta.complete(), cell.source
    found = {e.label: e for e in lc.exercises_of(nb)}
    assert found["ch04-ex-derive"].meta.kind == "derivation"
    assert found["ch04-ex-train"].meta.kind == "experiment"
    assert found["ch04-ex-check-kl"].checked and not found["ch04-ex-derive"].checked
    assert not any(e.estimated for e in found.values())


def test_a_second_run_changes_nothing():
    nb, _ = converted()
    before = copy.deepcopy(nb)
    report = lc.convert(nb, "04")
    assert report.changes == [] and nb == before


def test_the_auto_checked_exercises_go_after_their_sections():
    nb, _ = converted()
    order = [c.source for c in nb.cells]

    def index(text):
        return next(i for i, s in enumerate(order) if text in s)

    assert index("## The likelihood") < index("ch04-ex-check-bernoulli") < index("## The loss")
    assert index("## The loss") < index("ch04-ex-check-kl") < index("## Training")
    stub = index("def kl_to_prior")
    assert "raise NotImplementedError" in order[stub]
    assert "check_kl(kl_to_prior)" in order[stub + 1]


def test_check_and_apply_on_files(tmp_path, capsys):
    path = tmp_path / "04_x.ipynb"
    nbformat.write(chapter(), path)
    assert lc.main(["--check", str(path)]) == 1
    assert "not converted" in capsys.readouterr().out
    assert lc.main(["--apply", str(path)]) == 0
    assert lc.main(["--check", str(path)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_a_solution_followed_by_chapter_text_is_reported():
    nb = chapter()
    nb.cells.append(new_markdown_cell("More chapter text after the last solution."))
    report = lc.convert(nb, "04")
    assert any("would hide it" in p for p in report.problems)


@pytest.mark.parametrize("exercise", checked_exercises.EXERCISES, ids=lambda e: e.label)
def test_each_auto_checked_exercise_runs_as_a_stub_and_as_the_worked_answer(exercise):
    import math

    import torch

    cells = lc.checked_cells(exercise)
    stub, check, answer, assertion = (cells[i].source for i in (1, 2, 5, 6))
    namespace = {"torch": torch, "math": math}
    exec(stub, namespace)
    exec(check.replace(f"\n\n{exercise.checker}(", f"\n\nresult = {exercise.checker}("), namespace)
    assert namespace["result"].status == "not done"
    exec(
        answer.replace(f"\n\n\n{exercise.checker}(", f"\n\n\nresult = {exercise.checker}("),
        namespace,
    )
    assert namespace["result"].passed, str(namespace["result"])
    exec(assertion, namespace)
    for source in (stub, answer):
        assert all(len(line) <= 100 for line in source.splitlines())


def test_the_colab_cell_is_silent_outside_colab_and_installs_on_colab(monkeypatch, capsys):
    source = lc.COLAB_SOURCE
    namespace: dict = {}
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append((a, k)))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(source, namespace)
    assert calls == [] and capsys.readouterr().out == ""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(source, namespace)
    ((args, kwargs),) = calls
    assert args[0][:4] == [sys.executable, "-m", "pip", "install"]
    assert "aevae-lib @ git+https://github.com/aevae-book/aevae-book" in args[0]
    assert kwargs == {"check": True}
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and "Restart" in printed[0]


def test_the_colab_cell_does_nothing_in_a_real_kernel():
    from nbclient import NotebookClient

    nb, _ = converted()
    colab = nb.cells[0]
    assert lc.COLAB_TAG in lc.tags(colab) and "remove-cell" in lc.tags(colab)
    probe = new_code_cell("print(sorted(k for k in globals() if not k.startswith('_')))")
    run = new_notebook(cells=[copy.deepcopy(colab), probe])
    run.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    NotebookClient(run, timeout=60, kernel_name="python3").execute()
    assert run.cells[0].outputs == []  # not a line printed
    names = run.cells[1].outputs[0]["text"]
    assert "'subprocess'" in names and "'sys'" in names  # only its two imports
