"""Determinism on CPU: the same training twice gives the same numbers, bit for bit.

The unit tests train tiny models on the 8x8 digits; the slow test runs two chapters twice
through tools/determinism_check.py and compares everything they print.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
import torch
from conftest import REPO, shared_mnist

from aevae_lib import evaluate, objectives, train
from aevae_lib.data import fixed_binarization, load_digits
from aevae_lib.models import VAE, Autoencoder

# read before the autouse fixture replaces them for each test
MNIST_ROOT = shared_mnist()
USER_CACHE = os.environ.get("AEVAE_CACHE")


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    x_train, _, _, _ = load_digits()
    return x_train[:256]


def _train(make, x, **kwargs):
    torch.manual_seed(0)
    model = make()
    history = train.fit(model, x, epochs=2, batch_size=64, progress=False, **kwargs)
    history.pop("seconds")  # wall time is the one thing allowed to differ
    return model, history


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _vae():
    return VAE(input_dim=64, latent_dim=4, hidden=(32,))


def test_vae_training_twice_gives_identical_history_and_weights(digits):
    kwargs = dict(loss_fn=objectives.vae_loss(), binarize=True, lr=3e-3, schedule="cosine", seed=3)
    m1, h1 = _train(_vae, digits, **kwargs)
    m2, h2 = _train(_vae, digits, **kwargs)
    assert h1 == h2 and len(h1["loss"]) == 2
    assert _same_weights(m1, m2)


def test_autoencoder_training_twice_gives_identical_history_and_weights(digits):
    def make():
        return Autoencoder(input_dim=64, latent_dim=3, hidden=(16,))

    m1, h1 = _train(make, digits, loss_fn=objectives.ae_loss)
    m2, h2 = _train(make, digits, loss_fn=objectives.ae_loss)
    assert h1 == h2 and _same_weights(m1, m2)


def test_a_different_seed_gives_a_different_run(digits):
    """So the two tests above are not vacuous: the seed does reach the shuffling and noise."""
    _, h1 = _train(_vae, digits, loss_fn=objectives.vae_loss(), binarize=True, seed=0)
    _, h2 = _train(_vae, digits, loss_fn=objectives.vae_loss(), binarize=True, seed=1)
    assert h1 != h2


def test_global_random_state_does_not_leak_into_fit(digits):
    """fit seeds what it uses: random draws made before it do not change its result."""
    kwargs = dict(loss_fn=objectives.vae_loss(), binarize=True, seed=0)
    m1, h1 = _train(_vae, digits, **kwargs)
    torch.manual_seed(0)
    model = _vae()
    torch.rand(1000)  # someone else used the global generator in between
    h2 = train.fit(model, digits, epochs=2, batch_size=64, progress=False, **kwargs)
    h2.pop("seconds")
    assert h1 == h2 and _same_weights(m1, model)


def test_evaluation_metrics_are_reproducible(digits):
    torch.manual_seed(0)
    vae = _vae()
    x = fixed_binarization(digits[:32])
    assert evaluate.negative_elbo(vae, x) == evaluate.negative_elbo(vae, x)
    first = evaluate.iw_log_likelihood(vae, x, k=8, seed=5)
    assert torch.equal(first, evaluate.iw_log_likelihood(vae, x, k=8, seed=5))


# ---- the chapter-level check -----------------------------------------------------------------


def _load_check_module():
    spec = importlib.util.spec_from_file_location(
        "determinism_check", REPO / "tools" / "determinism_check.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_comparison_ignores_progress_bars_timings_addresses_and_the_cache_path():
    check = _load_check_module()
    text = (
        "epoch 3: loss 91.25\n"
        "training:  40%|####      | 2/5 [00:01<00:02,  1.50it/s]\r"
        "training: 100%|##########| 5/5 [00:03<00:00,  1.52it/s]\n"
        "trained in 12.3 s\n"
        "CPU times: user 1.2 s, sys: 10 ms\n"
        "Loaded cached model 3fa2 from /tmp/aevae-determinism-x/models\n"
        "<Figure at 0x7f3a2b4c5d60>\n"
    )
    assert check.normalise(text, "/tmp/aevae-determinism-x") == [
        "epoch 3: loss 91.25",
        "Loaded cached model 3fa2 from <AEVAE_CACHE>/models",
        "<Figure at 0x...>",
    ]


def test_default_notebooks_are_two_chapters():
    check = _load_check_module()
    chosen = check.default_notebooks()
    assert len(chosen) == min(2, len(list((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))))
    if (REPO / "notebooks" / "01_autoencoder.ipynb").exists():
        assert chosen[0].name.startswith("01_")


@pytest.mark.slow
def test_two_chapters_print_identical_metrics_twice(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"AEVAE_DATA", "AEVAE_CACHE"}}
    if MNIST_ROOT is not None:
        env["AEVAE_DATA"] = str(MNIST_ROOT)
    if USER_CACHE:  # where CI keeps a downloaded MNIST; the runs still train into fresh caches
        env["AEVAE_CACHE"] = USER_CACHE
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "determinism_check.py")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=3600,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    assert "2 of 2 notebook(s) identical" in result.stdout


def test_mnist_folder_prefers_aevae_data(monkeypatch):
    check = _load_check_module()
    monkeypatch.setenv("AEVAE_DATA", "/some/where")
    assert check.mnist_folder() == "/some/where"


def test_mnist_folder_offline_without_files_warns_and_goes_on(tmp_path, monkeypatch, capsys):
    import urllib.error

    from aevae_lib import data

    check = _load_check_module()
    monkeypatch.setattr(check, "REPO", tmp_path / "repo")  # no ../shared/data beside it

    def offline(url, timeout=60.0):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(data, "fetch", offline)
    assert check.mnist_folder() is None
    assert "MNIST not available" in capsys.readouterr().out


@pytest.mark.slow
def test_mnist_folder_falls_back_to_the_user_cache(tmp_path, monkeypatch):
    if MNIST_ROOT is None:
        pytest.skip("real MNIST files not available (set AEVAE_DATA)")
    check = _load_check_module()
    monkeypatch.setattr(check, "REPO", tmp_path / "repo")
    (tmp_path / "cache" / "data").mkdir(parents=True)
    (tmp_path / "cache" / "data" / "mnist").symlink_to(MNIST_ROOT / "mnist")
    monkeypatch.setenv("AEVAE_CACHE", str(tmp_path / "cache"))
    assert check.mnist_folder() == str(tmp_path / "cache" / "data")
