"""Chapter 04's complete VAE (the code cell tagged ``complete-vae``) and its schedule numbers.

The cell is the whole VAE in one place: a module with a trunk and two heads, the
reparameterized sample, a summed Bernoulli log-likelihood plus the closed-form KL, and one
epoch of Adam over MNIST. A reader copies it into an empty notebook, so it must run with
nothing but torch and the book's data loader; and the chapter says it is the same thing as
``aevae_lib.models.VAE`` with ``aevae_lib.objectives.elbo_loss``, so its loss must equal
theirs on the same weights, batch and noise.

The chapter also explains its cosine learning-rate schedule with the numbers that
benchmarks/vae_schedule.py saved; the last tests keep that prose and the JSON in agreement.
"""

from __future__ import annotations

import ast
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from aevae_lib import models, objectives
from aevae_lib.configs import VAEConfig
from aevae_lib.data import load_mnist

REPO = Path(__file__).resolve().parents[1]
CHAPTER = REPO / "notebooks" / "04_vae.ipynb"
SCHEDULE_JSON = REPO / "benchmarks" / "results" / "vae_schedule.json"
TAG = "complete-vae"
PRINTED_LOSS = re.compile(r"-ELBO\s+(\S+) nats per image")


def _chapter() -> dict:
    return json.loads(CHAPTER.read_text())


def complete_vae_source() -> str:
    """The source of the one code cell of chapter 04 tagged ``complete-vae``."""
    cells = [
        c
        for c in _chapter()["cells"]
        if c["cell_type"] == "code" and TAG in c["metadata"].get("tags", [])
    ]
    assert len(cells) == 1, f"chapter 04 must have exactly one code cell tagged {TAG!r}"
    return "".join(cells[0]["source"])


def definitions(source: str) -> dict:
    """Execute only the imports, classes and functions of ``source`` (not its training loop)
    and return the namespace."""
    tree = ast.parse(source)
    keep = (ast.Import, ast.ImportFrom, ast.ClassDef, ast.FunctionDef)
    module = ast.Module(
        body=[node for node in tree.body if isinstance(node, keep)], type_ignores=[]
    )
    namespace: dict = {}
    exec(compile(module, "<complete-vae cell>", "exec"), namespace)
    return namespace


def _the_one(namespace: dict, kind, source: str) -> object:
    names = [node.name for node in ast.parse(source).body if isinstance(node, kind)]
    assert len(names) == 1, f"the cell should define exactly one {kind.__name__}: {names}"
    return namespace[names[0]]


def scratch_and_library_losses(source: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The cell's loss and ``objectives.elbo_loss`` of ``models.VAE`` holding the cell's weights,
    on the batch ``x`` with the same noise draw.

    The library bends log-variances smoothly into (-14, 8) (``models.squash_logvar``), a
    safety net the cell leaves out: it is checked here to be the only difference, then
    switched off for the comparison.
    """
    namespace = definitions(source)
    module_class = _the_one(namespace, ast.ClassDef, source)
    loss_fn = _the_one(namespace, ast.FunctionDef, source)
    torch.manual_seed(3)
    scratch = module_class()
    with torch.no_grad():  # move q away from the prior, so that the KL term is large
        scratch.mean_layer.bias.fill_(1.5)
        scratch.logvar_layer.bias.fill_(-2.0)
    library = models.VAE(latent_dim=20, hidden=[400])
    library.load_state_dict(scratch.state_dict())  # same parameter names and shapes
    with torch.no_grad():
        _, mu, logvar = scratch(x)
        lib_mu, lib_logvar = library.encode(x)
        torch.testing.assert_close(lib_mu, mu)
        torch.testing.assert_close(lib_logvar, models.squash_logvar(logvar))
        torch.manual_seed(7)  # the same eps for both
        ours = loss_fn(x, *scratch(x))
        original = models.squash_logvar
        models.squash_logvar = lambda raw: raw
        try:
            torch.manual_seed(7)
            theirs = objectives.elbo_loss(x, library(x))
        finally:
            models.squash_logvar = original
    assert theirs["kl"] > 20, theirs  # the KL term really takes part in the comparison
    return ours, theirs["loss"]


@pytest.fixture
def mnist(real_mnist_root, monkeypatch):
    monkeypatch.setenv("AEVAE_DATA", str(real_mnist_root))
    return real_mnist_root


def fixed_batch(n: int = 256) -> torch.Tensor:
    x, _ = load_mnist("train")
    return torch.bernoulli(x[:n], generator=torch.Generator().manual_seed(0))  # (n, 784)


def test_the_cell_exists_and_fits_the_page():
    source = complete_vae_source()
    lines = source.splitlines()
    assert 25 <= len(lines) <= 45, len(lines)
    assert max(map(len, lines)) <= 100
    imports = [n for n in ast.parse(source).body if isinstance(n, (ast.Import, ast.ImportFrom))]
    modules = {a.name.split(".")[0] for n in imports if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module.split(".")[0] for n in imports if isinstance(n, ast.ImportFrom)}
    assert modules == {"torch", "aevae_lib"}, modules
    from_lib = [
        n for n in imports if isinstance(n, ast.ImportFrom) and n.module == "aevae_lib.data"
    ]
    assert [a.name for n in from_lib for a in n.names] == ["load_mnist"]


@pytest.mark.slow
def test_the_cell_runs_alone_in_a_fresh_python_and_its_loss_falls(mnist, tmp_path):
    script = tmp_path / "complete_vae.py"
    script.write_text(complete_vae_source())
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env={"AEVAE_DATA": str(mnist)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    losses = [float(v) for v in PRINTED_LOSS.findall(done.stdout)]
    assert len(losses) >= 3, done.stdout
    assert all(math.isfinite(v) for v in losses), losses
    assert losses[0] > 400  # an untrained Bernoulli decoder: about 784 ln 2 = 543 nats
    assert losses[-1] < 0.4 * losses[0], losses  # one epoch takes it far down


@pytest.mark.slow
def test_the_cell_computes_the_library_loss_on_the_same_weights_batch_and_noise(mnist):
    ours, theirs = scratch_and_library_losses(complete_vae_source(), fixed_batch())
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-5)


BROKEN = {
    "KL without the -1": ("logvar - 1)", "logvar)"),
    "KL without the 1/2": ("0.5 * (mu", "(mu"),
    "likelihood averaged over pixels": (".sum(1)  # (B,)", ".mean(1)  # (B,)"),
    "likelihood with the wrong sign": ("(kl - log_px_z)", "(kl + log_px_z)"),
}


@pytest.mark.slow
@pytest.mark.parametrize("mistake", sorted(BROKEN))
def test_a_wrong_kl_or_likelihood_in_the_cell_would_be_caught(mnist, mistake):
    old, new = BROKEN[mistake]
    source = complete_vae_source()
    assert old in source, f"the cell no longer contains {old!r}: update BROKEN"
    ours, theirs = scratch_and_library_losses(source.replace(old, new, 1), fixed_batch())
    assert not torch.allclose(ours, theirs, rtol=1e-6, atol=1e-5), mistake


def _schedule() -> dict:
    return json.loads(SCHEDULE_JSON.read_text())


def _markdown() -> str:
    return " ".join(
        " ".join("".join(c["source"]).split())
        for c in _chapter()["cells"]
        if c["cell_type"] == "markdown"
    )


def test_the_schedule_result_was_made_with_the_current_vae_settings():
    result = _schedule()
    assert result["mode"] == "full"
    defaults = VAEConfig().to_dict()
    cosine = result["runs"]["cosine"]
    assert cosine["settings"] == {
        "lr": defaults["lr"],
        "schedule": defaults["schedule"],
        "epochs": defaults["epochs"],
    }
    assert len(cosine["test_neg_elbo_per_epoch"]) == defaults["epochs"]
    assert result["runs"]["stable-decay"]["settings"]["lr"] == defaults["lr"]


def test_chapter_04_quotes_the_saved_schedule_curves():
    result = _schedule()
    runs = result["runs"]
    text = _markdown()
    claim = re.search(
        r"stable-then-decay schedule of chapter 1 reaches a test negative ELBO of ([\d.]+) nats "
        r"per image after (\d+) epochs, the cosine schedule ([\d.]+)\. The cosine schedule is "
        r"ahead for most of the run, in (\d+) of the (\d+) epochs",
        text,
    )
    assert claim, "chapter 04 no longer states the two schedules' results in the checked words"
    stable, epochs, cosine, ahead, total = claim.groups()
    assert float(stable) == round(runs["stable-decay"]["final_test_neg_elbo"], 1)
    assert float(cosine) == round(runs["cosine"]["final_test_neg_elbo"], 1)
    assert int(epochs) == int(total) == len(runs["cosine"]["test_neg_elbo_per_epoch"])
    assert int(ahead) == result["epochs_where_cosine_is_lower"]
    assert 2 * int(ahead) > int(total)  # "most of the run"
    gap = runs["cosine"]["final_test_neg_elbo"] - runs["stable-decay"]["final_test_neg_elbo"]
    assert "ends one nat lower" in text and 0.5 <= gap < 1.5, gap
    assert "about 1 % of the loss" in text
    assert abs(gap / runs["cosine"]["final_test_neg_elbo"] - 0.01) < 0.005


def test_the_cosine_run_is_the_chapters_model():
    """The benchmark's cosine run is zoo.trained_vae's run (same weights, minibatches and noise),
    so its final test -ELBO is the one chapter 04 states for its reference model."""
    final = _schedule()["runs"]["cosine"]["final_test_neg_elbo"]
    stated = re.search(r"The test negative ELBO is ([\d.]+) nats per image", _markdown())
    assert stated, "chapter 04 no longer states its test negative ELBO in the checked words"
    assert abs(float(stated.group(1)) - final) < 0.01, (stated.group(1), final)
