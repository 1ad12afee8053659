"""aevae_lib.toy: the linear-Gaussian model against Bayes' rule, numerical integration and
torch.distributions, and the ELBO identities chapter 07 builds on."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import MultivariateNormal, kl_divergence

from aevae_lib import toy
from aevae_lib.models import squash_logvar


@pytest.fixture
def model():
    return toy.LinearGaussian.random(D=5, d=2, noise_std=0.5, seed=0)


@pytest.fixture
def x(model):
    return model.sample(8, torch.Generator().manual_seed(1))[1]  # (8, 5)


def test_marginal_matches_numerical_integration_over_z():
    model = toy.LinearGaussian.random(D=3, d=2, noise_std=0.7, seed=2)
    x = model.sample(4, torch.Generator().manual_seed(0))[1]
    g = torch.linspace(-8, 8, 401, dtype=torch.float64)
    z = torch.cartesian_prod(g, g)  # (G, 2)
    log_joint = model.log_joint(x.unsqueeze(1), z)  # (4, G)
    brute = torch.logsumexp(log_joint, dim=1) + 2 * math.log(g[1] - g[0])
    torch.testing.assert_close(model.log_marginal(x), brute, atol=1e-6, rtol=0)


def test_posterior_is_bayes_rule(model, x):
    z = torch.randn(8, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    # log p(z | x) = log p(x, z) - log p(x), at arbitrary z
    expected = model.log_joint(x, z) - model.log_marginal(x)
    torch.testing.assert_close(model.posterior(x).log_prob(z), expected)


def test_marginal_samples_have_the_closed_form_covariance(model):
    _, xs = model.sample(200_000, torch.Generator().manual_seed(4))
    cov = torch.cov(xs.T)
    torch.testing.assert_close(cov, model.marginal().covariance_matrix, atol=0.05, rtol=0.02)


def test_full_covariance_kl_matches_torch(model, x):
    post = model.posterior(x)
    ours = toy.gaussian_kl_full(post.mean, post.covariance_matrix)
    prior = MultivariateNormal(
        torch.zeros(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64)
    )
    torch.testing.assert_close(ours, kl_divergence(post, prior))


def test_general_gaussian_kl_matches_torch(model, x):
    gen = torch.Generator().manual_seed(8)
    mean, std = torch.randn(8, 2, generator=gen), torch.rand(8, 2, generator=gen) + 0.2
    q = toy.diagonal_gaussian(mean, std)
    q_full = MultivariateNormal(q.mean, torch.diag_embed(q.variance))
    post = model.posterior(x)
    torch.testing.assert_close(toy.gaussian_kl_general(q, post), kl_divergence(q_full, post))
    torch.testing.assert_close(toy.gaussian_kl_general(post, q), kl_divergence(post, q_full))
    torch.testing.assert_close(
        toy.gaussian_kl_general(post, post), torch.zeros(8, dtype=torch.float64)
    )


def test_elbo_equals_evidence_minus_kl_to_the_posterior(model, x):
    gen = torch.Generator().manual_seed(5)
    q = toy.diagonal_gaussian(
        torch.randn(8, 2, generator=gen), torch.rand(8, 2, generator=gen) + 0.2
    )
    gap = toy.gaussian_kl_general(q, model.posterior(x))
    elbo = toy.elbo_exact(model, x, q)
    torch.testing.assert_close(elbo, model.log_marginal(x) - gap)
    assert (elbo < model.log_marginal(x)).all()


def test_elbo_is_the_evidence_at_the_true_posterior(model, x):
    torch.testing.assert_close(toy.elbo_exact(model, x, model.posterior(x)), model.log_marginal(x))


def test_monte_carlo_elbo_agrees_with_the_closed_form(model, x):
    q = toy.diagonal_gaussian(torch.zeros(8, 2), torch.ones(8, 2))  # q = the prior
    samples = toy.elbo_monte_carlo(model, x, q, 20_000, torch.Generator().manual_seed(6))
    mean, se = samples.mean(0), samples.std(0) / math.sqrt(len(samples))
    assert ((mean - toy.elbo_exact(model, x, q)).abs() < 4 * se).all()


def test_iw_bound_climbs_to_the_evidence(model, x):
    q = toy.diagonal_gaussian(torch.zeros(8, 2), torch.ones(8, 2))
    gen = torch.Generator().manual_seed(7)
    exact = model.log_marginal(x)
    gaps = []
    for k in (1, 10, 100, 1000):
        draws = torch.stack([toy.iw_bound(model, x, q, k, gen) for _ in range(30)])  # (30, 8)
        gaps.append((exact - draws.mean(0)).mean().item())
    assert all(a > b for a, b in zip(gaps[:-1], gaps[1:], strict=True)), gaps
    assert gaps[-1] > -0.05 and gaps[0] > 1.0


def test_iw_bound_is_exact_for_every_k_at_the_true_posterior(model, x):
    post = model.posterior(x)
    for k in (1, 7):
        bound = toy.iw_bound(model, x, post, k, torch.Generator().manual_seed(k))
        torch.testing.assert_close(bound, model.log_marginal(x))


def test_posterior_precision_is_the_inverse_posterior_covariance(model, x):
    torch.testing.assert_close(model.posterior_precision(), model.posterior(x).precision_matrix[0])


def test_best_diagonal_gaussian_minimizes_the_kl_numerically(model, x):
    """Against scipy's optimizer on torch.distributions' KL(q || p(z | x)), one point."""
    from scipy.optimize import minimize

    post = model.posterior(x[:1])

    def kl(params):
        p = torch.as_tensor(params, dtype=torch.float64)
        q = MultivariateNormal(p[:2], torch.diag(p[2:].exp() ** 2))
        return kl_divergence(q, post).item()

    found = minimize(
        kl,
        [0.0, 0.0, 0.0, 0.0],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20_000},
    )
    best = toy.best_diagonal_gaussian(model, x[:1])
    torch.testing.assert_close(best.mean[0], torch.as_tensor(found.x[:2]), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        best.stddev[0], torch.as_tensor(found.x[2:]).exp(), atol=1e-5, rtol=0
    )
    assert toy.gaussian_kl_general(best, post).item() <= found.fun + 1e-12


def test_best_diagonal_gap_is_minus_half_log_one_minus_rho_squared(model, x):
    S = model.posterior_cov()
    rho = S[0, 1] / S.diagonal().prod().sqrt()
    gap = toy.gaussian_kl_general(toy.best_diagonal_gaussian(model, x), model.posterior(x))
    torch.testing.assert_close(gap, (-0.5 * torch.log1p(-(rho**2))).expand(8))
    # and it is narrower than the posterior along both axes
    assert (toy.best_diagonal_gaussian(model, x).variance[0] < S.diagonal()).all()


def test_orthogonal_loadings_give_a_diagonal_posterior():
    model = toy.LinearGaussian.random(D=6, d=3, noise_std=1.0, seed=0, orthogonal=True)
    S = model.posterior_cov()
    torch.testing.assert_close(S, torch.diag(torch.diagonal(S)), atol=1e-12, rtol=0)
    torch.testing.assert_close(
        model.W.norm(dim=0), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    )


def test_inverse_squash_logvar_inverts_squash_logvar():
    target = torch.linspace(-13.0, 7.0, 41, dtype=torch.float64)
    torch.testing.assert_close(squash_logvar(toy.inverse_squash_logvar(target)), target)


def test_linear_gaussian_vae_reproduces_the_exact_encoder(x):
    model = toy.LinearGaussian.random(D=5, d=2, noise_std=1.0, seed=0, orthogonal=True)
    vae = toy.linear_gaussian_vae(model, dtype=torch.float64)
    mu, logvar = vae.encode(x)
    post = model.posterior(x)
    torch.testing.assert_close(mu, post.mean)
    torch.testing.assert_close(
        logvar.exp(), torch.diagonal(post.covariance_matrix, dim1=-2, dim2=-1)
    )


def test_bad_arguments_get_clear_errors(model):
    with pytest.raises(ValueError, match="noise_std"):
        toy.LinearGaussian(torch.zeros(3, 2), torch.zeros(3), 0.0)
    with pytest.raises(ValueError, match="b must have shape"):
        toy.LinearGaussian(torch.zeros(3, 2), torch.zeros(2), 1.0)
    with pytest.raises(ValueError, match="noise_std=1.0"):
        toy.linear_gaussian_vae(model)
    with pytest.raises(ValueError, match="not diagonal"):
        toy.linear_gaussian_vae(toy.LinearGaussian.random(noise_std=1.0, seed=0))
    with pytest.raises(TypeError, match="MultivariateNormal"):
        toy.elbo_exact(model, torch.zeros(1, 5), torch.distributions.Normal(0.0, 1.0))
