"""aevae_lib.objectives against independent references (torch.distributions) and by behaviour."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import (
    Bernoulli,
    ContinuousBernoulli,
    Independent,
    Normal,
    kl_divergence,
)

from aevae_lib import objectives as obj
from aevae_lib.models import VAE, VAEOutput
from aevae_lib.train import fit


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def test_gaussian_kl_matches_torch_distributions(gen):
    mu = 2 * torch.randn(64, 20, generator=gen, dtype=torch.float64)
    logvar = 3 * torch.randn(64, 20, generator=gen, dtype=torch.float64)
    q = Independent(Normal(mu, torch.exp(0.5 * logvar)), 1)
    p = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
    ours = obj.gaussian_kl(mu, logvar)
    assert ours.shape == (64,)
    torch.testing.assert_close(ours, kl_divergence(q, p), rtol=1e-10, atol=1e-10)


def test_gaussian_kl_is_zero_at_the_prior_and_positive_elsewhere(gen):
    zeros = torch.zeros(3, 5)
    assert obj.gaussian_kl(zeros, zeros).abs().max() == 0
    mu, logvar = torch.randn(100, 5, generator=gen), torch.randn(100, 5, generator=gen)
    assert (obj.gaussian_kl(mu, logvar) > 0).all()


def test_gaussian_kl_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        obj.gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 4))


def test_log_normal_and_standard_normal_match_torch(gen):
    z = torch.randn(7, 4, 3, generator=gen, dtype=torch.float64)
    mu = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    logvar = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    reference = Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
    torch.testing.assert_close(obj.log_normal(z, mu, logvar), reference)  # broadcasts to (7, 4)
    torch.testing.assert_close(obj.log_standard_normal(z), Normal(0.0, 1.0).log_prob(z).sum(-1))


def test_bernoulli_log_likelihood_matches_torch(gen):
    logits = 4 * torch.randn(16, 784, generator=gen, dtype=torch.float64)
    x = torch.bernoulli(torch.full((16, 784), 0.3, dtype=torch.float64), generator=gen)
    reference = Bernoulli(logits=logits).log_prob(x).sum(-1)
    torch.testing.assert_close(obj.bernoulli_log_likelihood(x, logits), reference)


def test_bernoulli_log_likelihood_is_minus_summed_bce(gen):
    probs = torch.rand(5, 10, generator=gen).clamp(0.01, 0.99)
    x = torch.rand(5, 10, generator=gen)
    bce = torch.nn.functional.binary_cross_entropy(probs, x, reduction="none").sum(-1)
    torch.testing.assert_close(obj.bernoulli_log_likelihood(x, torch.logit(probs)), -bce)


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan")])
def test_bernoulli_log_likelihood_rejects_values_outside_unit_interval(bad):
    x = torch.zeros(2, 3)
    x[0, 0] = bad
    with pytest.raises(ValueError, match=r"\[0, 1\]|NaN"):
        obj.bernoulli_log_likelihood(x, torch.zeros(2, 3))


@pytest.mark.parametrize("logvar", [0.0, -1.3, "per-pixel", "per-example"])
def test_gaussian_log_likelihood_matches_torch(gen, logvar):
    x = torch.rand(8, 30, generator=gen, dtype=torch.float64)
    mean = torch.rand(8, 30, generator=gen, dtype=torch.float64)
    if logvar == "per-pixel":
        logvar = torch.randn(30, generator=gen, dtype=torch.float64)
    elif logvar == "per-example":
        logvar = torch.randn(8, 30, generator=gen, dtype=torch.float64)
    std = torch.exp(0.5 * torch.as_tensor(logvar, dtype=torch.float64))
    reference = Normal(mean, std).log_prob(x).sum(-1)
    torch.testing.assert_close(obj.gaussian_log_likelihood(x, mean, logvar), reference)


def test_gaussian_log_likelihood_is_scaled_mse_plus_constant(gen):
    x, mean = torch.rand(4, 10, generator=gen), torch.rand(4, 10, generator=gen)
    s2 = 0.25
    expected = -((x - mean) ** 2).sum(-1) / (2 * s2) - 10 / 2 * math.log(2 * math.pi * s2)
    torch.testing.assert_close(obj.gaussian_log_likelihood(x, mean, math.log(s2)), expected)


def test_continuous_bernoulli_matches_torch_including_near_one_half(gen):
    logits = torch.cat(
        [
            6 * torch.randn(4, 50, generator=gen, dtype=torch.float64),
            1e-3 * torch.randn(4, 50, generator=gen, dtype=torch.float64),  # lambda near 1/2
            # saturated pixels; beyond |logit| ~ 36 torch clamps probabilities and is the inexact one
            (20 * torch.randn(4, 50, generator=gen, dtype=torch.float64)).clamp(-30, 30),
        ]
    )
    x = torch.rand(12, 50, generator=gen, dtype=torch.float64)
    reference = ContinuousBernoulli(logits=logits).log_prob(x).sum(-1)
    torch.testing.assert_close(
        obj.continuous_bernoulli_log_likelihood(x, logits), reference, rtol=1e-6, atol=1e-6
    )


def test_continuous_bernoulli_normaliser_for_saturated_logits():
    # C(lambda) = logit / tanh(logit / 2) -> |logit| as |logit| grows
    logits = torch.tensor([-200.0, -60.0, 60.0, 200.0], dtype=torch.float64)
    torch.testing.assert_close(obj.continuous_bernoulli_log_norm(logits), logits.abs().log())


def test_continuous_bernoulli_is_a_normalised_density():
    # integrate p(x) over [0, 1] numerically for a few lambdas, one pixel each
    xs = torch.linspace(0, 1, 20001, dtype=torch.float64).unsqueeze(1)  # (n, 1)
    for logit in (-5.0, -0.7, 0.0, 0.003, 2.0):
        logits = torch.full_like(xs, logit)
        density = obj.continuous_bernoulli_log_likelihood(xs, logits).exp()
        assert torch.trapezoid(density, xs.squeeze(1)).item() == pytest.approx(1.0, abs=1e-6)


def test_log_likelihood_dispatches_and_rejects_unknown_names(gen):
    x, out = torch.rand(3, 4, generator=gen), torch.randn(3, 4, generator=gen)
    torch.testing.assert_close(
        obj.log_likelihood("bernoulli", x, out), obj.bernoulli_log_likelihood(x, out)
    )
    torch.testing.assert_close(
        obj.log_likelihood("gaussian", x, out, 0.5), obj.gaussian_log_likelihood(x, out, 0.5)
    )
    with pytest.raises(ValueError, match="likelihood must be one of"):
        obj.log_likelihood("poisson", x, out)


def _fake_output(gen, batch=6, D=12, d=3):
    return VAEOutput(
        x_out=torch.randn(batch, D, generator=gen),
        mu=torch.randn(batch, d, generator=gen),
        logvar=torch.randn(batch, d, generator=gen),
        z=torch.randn(batch, d, generator=gen),
    )


def test_elbo_loss_returns_named_terms_with_positive_kl(gen):
    out = _fake_output(gen)
    x = torch.bernoulli(torch.full((6, 12), 0.5), generator=gen)
    terms = obj.elbo_loss(x, out)
    assert set(terms) == {"loss", "recon", "kl"}
    assert all(t.dim() == 0 for t in terms.values())
    assert terms["kl"] > 0 and terms["recon"] > 0
    torch.testing.assert_close(terms["loss"], terms["recon"] + terms["kl"])
    expected_recon = -obj.bernoulli_log_likelihood(x, out.x_out).mean()
    torch.testing.assert_close(terms["recon"], expected_recon)


def test_elbo_loss_beta_weights_only_the_kl(gen):
    out = _fake_output(gen)
    x = torch.rand(6, 12, generator=gen)
    t1, t3 = obj.elbo_loss(x, out, beta=1.0), obj.elbo_loss(x, out, beta=3.0)
    torch.testing.assert_close(t3["loss"], t1["recon"] + 3.0 * t1["kl"])
    torch.testing.assert_close(obj.elbo_loss(x, out, beta=0)["loss"], t1["recon"])
    for bad in (-1.0, float("nan"), "1", True):
        with pytest.raises(ValueError, match="beta"):
            obj.elbo_loss(x, out, beta=bad)


def test_elbo_loss_uses_the_decoder_log_variance_when_present(gen):
    out = _fake_output(gen)
    out.x_logvar = torch.full((6, 12), -2.0)
    x = torch.rand(6, 12, generator=gen)
    terms = obj.elbo_loss(x, out, likelihood="gaussian")
    expected = -obj.gaussian_log_likelihood(x, out.x_out, -2.0).mean()
    torch.testing.assert_close(terms["recon"], expected)


def test_iw_bound_is_the_log_mean_of_weights(gen):
    log_w = torch.randn(50, 4, generator=gen, dtype=torch.float64)
    expected = torch.log(torch.exp(log_w).mean(0))
    torch.testing.assert_close(obj.iw_bound(log_w), expected)
    torch.testing.assert_close(obj.iw_bound(log_w[:1]), log_w[0])  # k = 1: the ELBO sample
    assert (obj.iw_bound(log_w) >= log_w.mean(0)).all()  # Jensen: log mean >= mean log


def test_iw_bound_is_stable_for_very_negative_log_weights():
    log_w = torch.tensor([[-1e4, -1e4 - math.log(3.0)]]).T.repeat(1, 2)  # (2, 2)
    assert torch.isfinite(obj.iw_bound(log_w)).all()


def test_iw_bound_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(k, B\)"):
        obj.iw_bound(torch.zeros(5))
    with pytest.raises(ValueError, match=r"\(k, B\)"):
        obj.iw_bound(torch.zeros(0, 3))


def test_bits_per_dim():
    assert obj.bits_per_dim(100.0) == pytest.approx(100 / (784 * math.log(2)))
    assert obj.bits_per_dim(64 * math.log(2), dims=64) == pytest.approx(1.0)


# --- Training losses (the loss functions train.fit minimizes) ---------------------------------


def test_kl_per_dimension_matches_torch_distributions_and_sums_to_the_kl(gen):
    mu, logvar = torch.randn(5, 4, generator=gen), torch.randn(5, 4, generator=gen)
    q = Normal(mu, (0.5 * logvar).exp())
    reference = kl_divergence(q, Normal(torch.zeros(4), torch.ones(4)))  # (5, 4)
    torch.testing.assert_close(obj.gaussian_kl_per_dim(mu, logvar), reference)
    torch.testing.assert_close(obj.gaussian_kl(mu, logvar), reference.sum(-1))


def test_free_bits_objective_is_recon_plus_clamped_per_dimension_kl():
    torch.manual_seed(0)
    model = VAE(input_dim=64, latent_dim=6, hidden=[32])
    x = (torch.rand(16, 64, generator=torch.Generator().manual_seed(3)) < 0.4).float()
    torch.manual_seed(1)
    terms = obj.vae_loss(free_bits=0.3)(model, x)
    torch.manual_seed(1)
    out = model(x)
    kl_dims = 0.5 * (out.mu**2 + out.logvar.exp() - out.logvar - 1).mean(0)  # (6,), by hand
    plain = obj.vae_loss()
    torch.manual_seed(1)
    reference = plain(model, x)
    torch.testing.assert_close(terms["recon"], reference["recon"])
    torch.testing.assert_close(terms["kl"], reference["kl"])  # the logged KL is the true one
    torch.testing.assert_close(terms["loss"], reference["recon"] + kl_dims.clamp(min=0.3).sum())


def test_free_bits_stops_the_kl_gradient_of_dimensions_below_the_floor():
    torch.manual_seed(0)
    model = VAE(input_dim=64, latent_dim=6, hidden=[32])
    x = (torch.rand(16, 64, generator=torch.Generator().manual_seed(3)) < 0.4).float()
    h = model.encoder(x)
    mu, logvar = model.mean_layer(h), model.logvar_layer(h)
    kl_dims = 0.5 * (mu**2 + logvar.exp() - logvar - 1).mean(0)
    floor = float(kl_dims.max().detach()) + 1.0  # every dimension below the floor
    grad = torch.autograd.grad(kl_dims.clamp(min=floor).sum(), model.mean_layer.weight)[0]
    assert torch.count_nonzero(grad) == 0


def test_free_bits_must_be_a_non_negative_number():
    with pytest.raises(ValueError, match="free_bits must be a number >= 0"):
        obj.vae_loss(free_bits=-0.1)


def test_elbo_surrogate_matches_the_negative_elbo_in_value(tiny_vae):
    vae, x = tiny_vae
    torch.manual_seed(3)
    terms = obj.elbo_surrogate(vae, x, "pathwise")
    torch.testing.assert_close(terms["loss"], terms["neg_elbo"])
    torch.testing.assert_close(terms["neg_elbo"], terms["recon"] + terms["kl"])


def test_estimator_loss_trains_with_fit(tiny_vae):
    vae, x = tiny_vae
    history = fit(
        vae, x, loss_fn=obj.estimator_loss("score"), epochs=3, batch_size=16, progress=False
    )
    assert {"loss", "neg_elbo", "recon", "kl"} <= set(history)


def test_an_unknown_estimator_is_refused_by_name(tiny_vae):
    vae, x = tiny_vae
    with pytest.raises(ValueError, match=r"estimator must be one of \('pathwise', 'score'\)"):
        obj.elbo_surrogate(vae, x, "reinforce")
    with pytest.raises(ValueError, match="estimator must be one of"):
        obj.estimator_loss("reinforce")
