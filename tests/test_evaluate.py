"""aevae_lib.evaluate against brute-force integration, closed forms and scikit-learn."""

from __future__ import annotations

import math

import pytest
import torch

from aevae_lib import evaluate, toy
from aevae_lib.models import VAE, Autoencoder
from aevae_lib.objectives import log_likelihood, log_standard_normal


def _random_bernoulli_vae(latent_dim: int, seed: int = 0) -> VAE:
    torch.manual_seed(seed)
    vae = VAE(input_dim=8, latent_dim=latent_dim, hidden=(16,)).double()
    with torch.no_grad():  # a sharper decoder, so that q (random) is far from the posterior
        for p in vae.decoder.parameters():
            p.mul_(3.0)
    return vae


def _binary_batch(n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.bernoulli(torch.full((n, 8), 0.5, dtype=torch.float64), generator=gen)


@torch.no_grad()
def _brute_force_log_px(vae: VAE, x: torch.Tensor, half_width: float, points: int) -> torch.Tensor:
    """log p(x) = log integral p(x|z) N(z; 0, I) dz on a regular grid (d = 1 or 2), (B,)."""
    g = torch.linspace(-half_width, half_width, points, dtype=torch.float64)
    z = g.unsqueeze(1) if vae.latent_dim == 1 else torch.cartesian_prod(g, g)  # (G, d)
    logits = vae.decode(z)  # (G, D)
    log_joint = torch.stack(
        [log_likelihood("bernoulli", xi.expand_as(logits), logits) for xi in x]
    ) + log_standard_normal(z)  # (B, G)
    cell = vae.latent_dim * math.log(g[1] - g[0])
    return torch.logsumexp(log_joint, dim=1) + cell


@pytest.mark.parametrize(("latent_dim", "points"), [(1, 8001), (2, 301)])
def test_iw_bound_converges_to_the_numerically_integrated_evidence(latent_dim, points):
    vae, x = _random_bernoulli_vae(latent_dim), _binary_batch(6, seed=3)
    exact = _brute_force_log_px(vae, x, half_width=9.0, points=points)
    # k = 20000 in chunks of 3000 rows: also exercises the chunked path
    estimate = evaluate.iw_log_likelihood(vae, x, k=20_000, max_rows=3000)
    assert (estimate - exact).abs().max() < 0.05
    elbo = evaluate.iw_log_likelihood(vae, x, k=1)
    assert (exact - elbo).mean() > 0.5  # the single-sample ELBO is visibly below


def test_iw_bound_increases_with_k_on_average():
    vae, x = _random_bernoulli_vae(2, seed=1), _binary_batch(200, seed=4)
    means = [evaluate.iw_log_likelihood(vae, x, k=k, seed=k).mean().item() for k in (1, 10, 100)]
    assert means[0] < means[1] < means[2], means


def test_iw_bound_matches_the_linear_gaussian_closed_form():
    lg = toy.LinearGaussian.random(D=6, d=2, noise_std=1.0, seed=0, orthogonal=True)
    x = lg.sample(50, torch.Generator().manual_seed(0))[1]
    exact = lg.log_marginal(x)
    # encoder = the exact posterior: every importance weight equals p(x), so even k = 1 is exact
    vae = toy.linear_gaussian_vae(lg, exact_encoder=True, dtype=torch.float64)
    torch.testing.assert_close(evaluate.iw_log_likelihood(vae, x, k=1), exact)
    # a mismatched, wider encoder: clearly below the evidence for k = 1, close for k = 2000
    with torch.no_grad():
        vae.mean_layer.weight.mul_(0.8)
        vae.logvar_layer.bias.add_(0.5)
    gap_1 = exact - evaluate.iw_log_likelihood(vae, x, k=1)
    gap_2000 = exact - evaluate.iw_log_likelihood(vae, x, k=2000)
    assert gap_1.mean() > 0.1
    assert gap_2000.mean().abs() < 0.01 and gap_2000.abs().max() < 0.1


def test_negative_elbo_terms_and_agreement_with_the_k1_bound():
    vae, x = _random_bernoulli_vae(2), _binary_batch(400, seed=5)
    result = evaluate.negative_elbo(vae, x, batch_size=64)
    assert set(result) == {"neg_elbo", "recon", "kl"}
    assert result["neg_elbo"] == pytest.approx(result["recon"] + result["kl"])
    assert result["kl"] > 0
    kl_dims = evaluate.kl_per_dimension(vae, x)
    assert kl_dims.shape == (2,) and kl_dims.sum().item() == pytest.approx(result["kl"], rel=1e-6)
    # both estimate E[-ELBO] with one sample per image: close on 400 images
    k1 = -evaluate.iw_log_likelihood(vae, x, k=1).mean().item()
    assert k1 == pytest.approx(result["neg_elbo"], rel=0.05)
    assert evaluate.test_nll(vae, x, k=50) < result["neg_elbo"]


def test_negative_elbo_leaves_the_callers_generator_alone():
    # issue 16, fault 7: it called torch.manual_seed(seed), resetting the caller's generator
    vae, x = _random_bernoulli_vae(2), _binary_batch(100, seed=5)
    torch.manual_seed(123)
    torch.rand(3)  # the caller is somewhere in its own random stream
    state = torch.get_rng_state()
    first = evaluate.negative_elbo(vae, x, seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    assert evaluate.negative_elbo(vae, x, seed=7) == first  # still reproducible by its seed


def test_active_units_counts_dimensions_that_vary_with_x():
    torch.manual_seed(0)
    vae = VAE(input_dim=8, latent_dim=4, hidden=(16,))
    with torch.no_grad():
        vae.mean_layer.weight[2:].zero_()  # dims 2 and 3 ignore x
        vae.mean_layer.weight[:2].mul_(10.0)
    x = torch.rand(500, 8, generator=torch.Generator().manual_seed(0))
    assert evaluate.active_units(vae, x) == 2


def test_reconstruct_and_squared_error():
    torch.manual_seed(0)
    x = torch.rand(10, 8, generator=torch.Generator().manual_seed(1))
    vae, ae = VAE(input_dim=8, latent_dim=2, hidden=(4,)), Autoencoder(8, 2, hidden=(4,))
    for model in (vae, ae):
        x_hat = evaluate.reconstruct(model, x, batch_size=3)
        assert x_hat.shape == x.shape and (x_hat >= 0).all() and (x_hat <= 1).all()
    assert evaluate.sse_per_image(x, x) == 0
    assert evaluate.sse_per_image(x, torch.zeros_like(x)) == pytest.approx(
        x.pow(2).sum(1).mean().item()
    )
    with pytest.raises(ValueError, match="shape"):
        evaluate.sse_per_image(x, x[:5])


def test_pca_matches_scikit_learn():
    from sklearn.decomposition import PCA as SkPCA

    x = torch.rand(200, 12, generator=torch.Generator().manual_seed(0)) @ torch.rand(
        12, 12, generator=torch.Generator().manual_seed(1)
    )
    ours = evaluate.PCA(4).fit(x)
    ref = SkPCA(4).fit(x.double().numpy())
    torch.testing.assert_close(
        ours.explained_variance, torch.from_numpy(ref.explained_variance_), rtol=1e-6, atol=1e-9
    )
    angles = evaluate.principal_angles(ours.components.T, torch.from_numpy(ref.components_).T)
    assert angles.max() < 1e-6
    full = evaluate.PCA(12).fit(x)
    torch.testing.assert_close(full.reconstruct(x), x, atol=1e-4, rtol=0)


def test_kl_check_is_tiny():
    gen = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(32, 20, generator=gen), torch.randn(32, 20, generator=gen)
    assert evaluate.kl_check(mu, logvar) < 1e-4


def test_k_must_be_a_positive_int():
    vae = _random_bernoulli_vae(1)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="k"):
            evaluate.iw_log_likelihood(vae, _binary_batch(2, 0), k=bad)
