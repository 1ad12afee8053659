"""Saved benchmark results and the prose that quotes them agree, and still describe the library.

A chapter may quote a measurement too slow to repeat inside the chapter (it would cost the
reader minutes). Such a number comes from a script in benchmarks/ that saved its JSON in
benchmarks/results/; these tests fail when the prose and the JSON disagree, or when the
library's settings changed after the JSON was made (rerun the script, then update the prose).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from aevae_lib.configs import AEConfig

REPO = Path(__file__).resolve().parents[1]
NUMBER_WORDS = dict(
    enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
)


def _markdown(notebook: str) -> str:
    nb = json.loads((REPO / "notebooks" / notebook).read_text())
    return " ".join(
        " ".join("".join(c["source"]).split()) for c in nb["cells"] if c["cell_type"] == "markdown"
    )


def _schedule_result() -> dict:
    return json.loads((REPO / "benchmarks" / "results" / "ae_schedule.json").read_text())


def test_ae_schedule_result_was_made_with_the_current_book_settings():
    result = _schedule_result()
    assert result["mode"] == "full"
    book = result["runs"]["book"]
    defaults = AEConfig()
    assert book["settings"]["lr"] == defaults.lr
    assert book["settings"]["schedule"] == defaults.schedule
    assert len(book["test_sse_per_epoch"]) == defaults.epochs == 5


def test_chapter_01_quotes_the_constant_rate_epochs_the_schedule_result_measured():
    result = _schedule_result()
    needed = result["constant_epochs_to_match_book"]
    book_epochs = len(result["runs"]["book"]["test_sse_per_epoch"])
    assert needed is not None and needed > book_epochs, result  # the schedule saves epochs
    text = _markdown("01_autoencoder.ipynb")
    claim = re.search(r"a constant rate needs (\w+) epochs to reach the test error", text)
    assert claim, "chapter 01 no longer states how many epochs a constant rate needs"
    assert claim.group(1) == NUMBER_WORDS[needed], (claim.group(1), needed)
    saved = re.findall(r"worth (?:about )?(\w+) epochs", text)  # the section and the Summary
    assert len(saved) == 2, saved
    assert set(saved) == {NUMBER_WORDS[needed - book_epochs]}, saved


def test_chapter_01_schedule_exercise_quotes_the_saved_curves():
    runs = _schedule_result()["runs"]
    book, constant = runs["book"]["test_sse_per_epoch"], runs["constant"]["test_sse_per_epoch"]
    text = _markdown("01_autoencoder.ipynb")
    claim = re.search(
        r"after five epochs the book's run is at ([\d.]+) and a constant 0\.002 at ([\d.]+), "
        r"which needs all (\w+) epochs to get to (\d+\.\d)",
        text,
    )
    assert claim, "the schedule exercise's solution no longer quotes the saved curves"
    assert float(claim.group(1)) == round(book[4], 1)
    assert float(claim.group(2)) == round(constant[4], 1)
    assert claim.group(3) == NUMBER_WORDS[len(constant)]
    assert float(claim.group(4)) == round(constant[-1], 1)
    # "falls sharply in that one epoch, more than in any late epoch of a constant-rate run"
    assert "more than in any late epoch of a constant-rate run" in text
    late_constant_gains = [a - b for a, b in zip(constant[2:], constant[3:], strict=False)]
    assert book[3] - book[4] > max(late_constant_gains), (book, constant)


def _reference_result() -> dict:
    path = REPO / "benchmarks" / "results" / "reference_cpu_run.json"
    return json.loads(path.read_text())


def test_chapter_08_quotes_the_reference_run_as_measured():
    # issue 17: the long evaluations (k = 500, k = 5000) are too slow for the chapter, so it
    # quotes the saved JSON; the prose must say what the JSON says
    result = _reference_result()
    text = _markdown("08_evaluating_vaes.ipynb")
    run = result["run"]
    assert f"for {run['epochs_done']:,} passes" in text
    assert f"over the last {round(0.2 * run['config']['epochs'])}" in text
    for row in result["evaluations"]:
        nll = f"{row['test_nll_iw']:.2f}"
        assert f"With $k = {row['k']}$ on all 10,000 test images it reaches {nll} nats" in text
        assert f"{row['above_target_by'] + row['target'] - 86.76:.2f} above 86.76" in text
    assert run["best_epoch"] == run["epochs_done"]  # "still improving at the last pass"


def test_the_reference_result_describes_the_shipped_weights():
    import hashlib

    result = _reference_result()
    weights = REPO / "aevae_lib" / "weights" / "reference_vae.pt"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert (weights.parent / "reference_vae.pt.sha256").read_text().split()[0] == digest
    assert Path(result["run"]["exported"]).name == weights.name
    assert result["weights_sha256"] == digest, "the JSON was made from other weights: rerun it"
    for row in result["evaluations"]:
        assert row["n_test"] == 10_000 and row["meets_target"] == (
            row["test_nll_iw"] <= row["target"]
        )
