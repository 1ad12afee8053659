"""aevae_lib.amortization: the per-image q climbs to the best diagonal Gaussian's ELBO, known
in closed form for the linear-Gaussian model, and never falls below the encoder's start."""

from __future__ import annotations

import pytest
import torch

from aevae_lib import amortization, toy
from aevae_lib.models import VAE


def _toy_vae():
    model = toy.LinearGaussian.random(D=6, d=2, noise_std=1.0, seed=3)  # correlated posterior
    vae = toy.linear_gaussian_vae(model, exact_encoder=False, dtype=torch.float64)
    _, x = model.sample(5, torch.Generator().manual_seed(4))
    return model, vae, x


def test_local_q_reaches_the_best_diagonal_gaussian_of_the_linear_gaussian_model():
    model, vae, x = _toy_vae()
    result = amortization.optimize_local_q(
        vae, x, steps=600, lr=3e-2, n_samples=32, check_every=50, n_eval=2000
    )
    best = toy.elbo_exact(model, x, toy.best_diagonal_gaussian(model, x))  # the optimum, exact
    reached = toy.elbo_exact(
        model, x, toy.diagonal_gaussian(result.mu, (0.5 * result.logvar).exp())
    )
    assert (best - reached).max() < 0.05
    assert (reached <= best + 1e-9).all()  # nothing diagonal beats the optimum
    gap = toy.elbo_exact(model, x, toy.diagonal_gaussian(*_encoder_q(vae, x)))
    assert (best - gap).min() > 0.1  # the untrained encoder started well below it


def _encoder_q(vae, x):
    mu, logvar = vae.encode(x)
    return mu.detach(), (0.5 * logvar).exp().detach()


def test_the_result_never_falls_below_the_encoders_start():
    torch.manual_seed(0)
    vae = VAE(input_dim=30, latent_dim=3, hidden=[12])
    x = (torch.rand(8, 30, generator=torch.Generator().manual_seed(1)) < 0.4).float()
    before = {k: v.clone() for k, v in vae.state_dict().items()}
    for lr in (1e-2, 10.0):  # a step size far too large cannot make it worse either
        result = amortization.optimize_local_q(vae, x, steps=40, lr=lr, check_every=10)
        assert (result.elbo >= result.elbo_start).all()
        assert result.steps[0] == 0 and result.steps[-1] == 40 and len(result.curve) == 5
        assert result.curve[0] == pytest.approx(result.elbo_start.mean().item())
    small = amortization.optimize_local_q(vae, x, steps=100, lr=3e-2, check_every=20)
    assert small.elbo.mean() > small.elbo_start.mean() + 0.2  # it does climb
    assert all(torch.equal(before[k], v) for k, v in vae.state_dict().items())
    assert all(p.grad is None for p in vae.parameters())


def test_gaps_add_up_and_check_shapes():
    log_px, best, enc = (
        torch.tensor([-90.0, -80.0]),
        torch.tensor([-91.5, -81.0]),
        torch.tensor([-93.0, -81.2]),
    )
    g = amortization.gaps(log_px, best, enc)
    torch.testing.assert_close(g["approximation"], torch.tensor([1.5, 1.0]))
    torch.testing.assert_close(g["amortization"], torch.tensor([1.5, 0.2]))
    torch.testing.assert_close(g["inference"], g["approximation"] + g["amortization"])
    with pytest.raises(ValueError, match="same shape"):
        amortization.gaps(log_px, best[:1], enc)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        amortization.optimize_local_q(
            VAE(input_dim=4, latent_dim=1, hidden=[]), torch.zeros(1, 4), steps=0
        )
