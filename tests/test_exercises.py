"""aevae_lib.exercises: every checker passes a right answer, names the typical mistakes, says
"not done" for the exercise's stub and reports an exception readably, without raising."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal

from aevae_lib import exercises as ex


def _stub(*args):
    raise NotImplementedError


def _verdict(check, fn, status, *phrases):
    result = check(fn)
    assert isinstance(result, ex.CheckResult)
    assert result.status == status, str(result)
    for phrase in phrases:
        assert phrase.lower() in result.message.lower(), str(result)
    return result


@pytest.mark.parametrize(
    "check",
    [
        ex.check_kl,
        ex.check_bernoulli_log_likelihood,
        ex.check_reparameterize,
        ex.check_pathwise_gradient,
        ex.check_iw_bound,
        ex.check_toy_elbo,
    ],
)
def test_a_stub_is_not_done_and_an_exception_is_reported_readably(check):
    result = _verdict(check, _stub, "not done", "not written yet", "NotImplementedError")
    assert not result and str(result).startswith("…")

    def broken(*args):
        return args[0] / "a string"

    result = _verdict(check, broken, "error", "broken raised TypeError", "called as broken(")
    assert "\n" in str(result) and str(result).startswith("✗")


# --- chapter 4 ------------------------------------------------------------------------------


def test_kl_right_answers_pass():
    def kl_to_prior(mu, logvar):
        return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(dim=-1)

    result = _verdict(ex.check_kl, kl_to_prior, "passed", "kl_to_prior is right")
    assert result and str(result).startswith("✓")

    def with_distributions(mu, logvar):  # another right way
        q = Normal(mu, (0.5 * logvar).exp())
        return torch.distributions.kl_divergence(q, Normal(0.0, 1.0)).sum(-1)

    _verdict(ex.check_kl, with_distributions, "passed")


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (lambda mu, lv: (mu**2 + lv.exp() - lv - 1).sum(-1), "factor 1/2"),
        (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1).sum(), "summed over the batch"),
        (
            lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1).sum(-1).mean(),
            "averaged over the batch",
        ),
        (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1), "one value per dimension"),
        (lambda mu, lv: 0.5 * (mu**2 + (0.5 * lv).exp() - lv - 1).sum(-1), "standard deviation"),
        (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1).mean(-1), "averaged over the d latent"),
        (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv).sum(-1), "the -1"),
        (lambda mu, lv: -0.5 * (mu**2 + lv.exp() - lv - 1).sum(-1), "sign is flipped"),
    ],
)
def test_kl_typical_mistakes_get_their_hint(wrong, phrase):
    _verdict(ex.check_kl, wrong, "wrong", "hint", phrase)


def test_kl_an_unknown_mistake_shows_an_example():
    result = _verdict(ex.check_kl, lambda mu, lv: mu.sum(-1), "wrong", "for mu = ")
    assert "the right values are" in result.message


def test_bernoulli_right_answers_pass():
    def log_bernoulli(x, logits):
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=-1)

    _verdict(ex.check_bernoulli_log_likelihood, log_bernoulli, "passed", "log_bernoulli is right")

    def with_logsigmoid(x, logits):
        return (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(-1)

    _verdict(ex.check_bernoulli_log_likelihood, with_logsigmoid, "passed")


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (lambda x, l: F.binary_cross_entropy_with_logits(l, x, reduction="none").sum(-1), "sign"),
        (
            lambda x, l: -F.binary_cross_entropy_with_logits(l, x, reduction="none").mean(-1),
            "averaged over the pixels",
        ),
        (
            lambda x, l: -F.binary_cross_entropy_with_logits(l, x, reduction="sum"),
            "summed over the batch",
        ),
        (lambda x, l: (x * F.logsigmoid(l)).sum(-1), "(1 - x)"),
        (
            lambda x, l: (
                -F.binary_cross_entropy_with_logits(torch.sigmoid(l), x, reduction="none").sum(-1)
            ),
            "sigmoid twice",
        ),
        (
            lambda x, l: (x * torch.sigmoid(l).log() + (1 - x) * (1 - torch.sigmoid(l)).log()).sum(
                -1
            ),
            "logsigmoid",
        ),
    ],
)
def test_bernoulli_typical_mistakes_get_their_hint(wrong, phrase):
    _verdict(ex.check_bernoulli_log_likelihood, wrong, "wrong", phrase)


def test_bernoulli_probabilities_given_to_the_wrong_loss_get_a_hint():
    def wrong(x, logits):  # logits are not probabilities: BCE raises on values outside [0, 1]
        return -F.binary_cross_entropy(logits, x, reduction="none").sum(-1)

    _verdict(ex.check_bernoulli_log_likelihood, wrong, "error", "binary_cross_entropy_with_logits")


# --- chapter 6 ------------------------------------------------------------------------------


def test_reparameterize_right_answers_pass():
    def draw_z(mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + std * torch.randn_like(std)

    _verdict(ex.check_reparameterize, draw_z, "passed", "draw_z is right")
    _verdict(
        ex.check_reparameterize, lambda mu, lv: Normal(mu, (0.5 * lv).exp()).rsample(), "passed"
    )


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (lambda mu, lv: Normal(mu, (0.5 * lv).exp()).sample(), "rsample"),
        (
            lambda mu, lv: mu + lv.exp() * torch.randn_like(mu),
            "variance exp(logvar) as the standard",
        ),
        (lambda mu, lv: mu + (0.5 * lv).exp() * torch.rand_like(mu), "torch.rand"),
        (lambda mu, lv: mu + (0.5 * lv).exp() * torch.randn(1), "same z"),
        (lambda mu, lv: mu + (0.5 * lv).exp() * torch.randn(len(mu), 1), "move together"),
        (lambda mu, lv: mu.clone(), "does not depend on logvar"),
        (lambda mu, lv: (mu + (0.5 * lv).exp() * torch.randn_like(mu)).detach(), "no gradient"),
    ],
)
def test_reparameterize_typical_mistakes_get_their_hint(wrong, phrase):
    _verdict(ex.check_reparameterize, wrong, "wrong", phrase)


def test_reparameterize_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ex.check_reparameterize(lambda mu, lv: mu + (0.5 * lv).exp() * torch.randn_like(mu))
    assert torch.equal(torch.rand(3), expected)


def _pathwise(psi, mu, sigma, n):
    mu = torch.tensor(mu, requires_grad=True)
    sigma = torch.tensor(sigma, requires_grad=True)
    z = mu + sigma * torch.randn(n)
    psi(z).mean().backward()
    return torch.stack([mu.grad, sigma.grad])


def test_pathwise_gradient_right_answers_pass():
    _verdict(ex.check_pathwise_gradient, _pathwise, "passed", "_pathwise is right")

    def with_rsample(psi, mu, sigma, n):
        params = torch.tensor([mu, sigma], requires_grad=True)
        z = Normal(params[0], params[1]).rsample((n,))
        (grad,) = torch.autograd.grad(psi(z).mean(), params)
        return grad

    _verdict(ex.check_pathwise_gradient, with_rsample, "passed")


def _with_sample(psi, mu, sigma, n):
    mu = torch.tensor(mu, requires_grad=True)
    sigma = torch.tensor(sigma, requires_grad=True)
    psi(Normal(mu, sigma).sample((n,))).mean().backward()
    return torch.stack([mu.grad, sigma.grad])


def _at_the_mean(psi, mu, sigma, n):
    mu = torch.tensor(mu, requires_grad=True)
    psi(mu).backward()
    return torch.stack([mu.grad, torch.tensor(0.0)])


def _no_eps(psi, mu, sigma, n):
    mu_t, sigma_t = torch.tensor(mu, requires_grad=True), torch.tensor(sigma)
    z = mu_t + sigma_t * torch.randn(n)
    psi(z).mean().backward()
    return torch.stack([mu_t.grad, mu_t.grad])


def _summed(psi, mu, sigma, n):
    mu = torch.tensor(mu, requires_grad=True, dtype=torch.float64)
    sigma = torch.tensor(sigma, requires_grad=True, dtype=torch.float64)
    psi(mu + sigma * torch.randn(n, dtype=torch.float64)).sum().backward()
    return torch.stack([mu.grad, sigma.grad])


def _log_sigma(psi, mu, sigma, n):
    mu = torch.tensor(mu, requires_grad=True)
    log_sigma = torch.tensor(math.log(sigma), requires_grad=True)
    psi(mu + log_sigma.exp() * torch.randn(n)).mean().backward()
    return torch.stack([mu.grad, log_sigma.grad])


def _per_sample(psi, mu, sigma, n):
    mu_t = torch.full((n,), mu, requires_grad=True)
    sigma_t = torch.full((n,), sigma, requires_grad=True)
    psi(mu_t + sigma_t * torch.randn(n)).sum().backward()
    return torch.stack([mu_t.grad, sigma_t.grad], dim=1)


@pytest.mark.parametrize(
    "wrong, status, phrase",
    [
        (_with_sample, "error", "rsample"),
        (_at_the_mean, "wrong", "psi at z = mu"),
        (_no_eps, "wrong", "dz/dsigma = eps"),
        (_summed, "wrong", "summed over the samples"),
        (_log_sigma, "wrong", "log sigma"),
        (_per_sample, "wrong", "average them over the samples"),
    ],
)
def test_pathwise_gradient_typical_mistakes_get_their_hint(wrong, status, phrase):
    _verdict(ex.check_pathwise_gradient, wrong, status, phrase)


# --- chapter 7 ------------------------------------------------------------------------------


def test_iw_bound_right_answers_pass():
    def iw_estimate(log_w):
        return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])

    _verdict(ex.check_iw_bound, iw_estimate, "passed", "iw_estimate is right")

    def by_hand(log_w):  # subtract the maximum, then average the weights
        top = log_w.max(dim=0).values
        return top + (log_w - top).exp().mean(0).log()

    _verdict(ex.check_iw_bound, by_hand, "passed")


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (lambda lw: lw.mean(0), "averaged the log weights"),
        (lambda lw: torch.logsumexp(lw, 0), "-log k is missing"),
        (lambda lw: torch.logsumexp(lw, 0) + math.log(lw.shape[0]), "wrong sign"),
        (lambda lw: lw.exp().mean(0).log(), "underflows"),
        (lambda lw: torch.logsumexp(lw, 1) - math.log(lw.shape[1]), "dim=0"),
        (lambda lw: lw.max(0).values, "largest weight"),
    ],
)
def test_iw_bound_typical_mistakes_get_their_hint(wrong, phrase):
    _verdict(ex.check_iw_bound, wrong, "wrong", phrase)


def test_toy_elbo_right_answers_pass():
    from aevae_lib import toy

    def toy_elbo(model, x, q_mean, q_std):
        return toy.elbo_exact(model, x, toy.diagonal_gaussian(q_mean, q_std))

    _verdict(ex.check_toy_elbo, toy_elbo, "passed", "toy_elbo is right")

    def by_hand(model, x, q_mean, q_std):
        s2 = model.noise_std**2
        resid = (x - q_mean @ model.W.T - model.b).pow(2).sum(-1)
        trace = (q_std**2 * model.W.pow(2).sum(0)).sum(-1)
        expected = -0.5 * model.D * math.log(2 * math.pi * s2) - (resid + trace) / (2 * s2)
        kl = 0.5 * (q_mean**2 + q_std**2 - 2 * q_std.log() - 1).sum(-1)
        return expected - kl

    _verdict(ex.check_toy_elbo, by_hand, "passed")


def _toy_variant(trace=True, kl_sign=-1, normalizer=True):
    def toy_elbo(model, x, q_mean, q_std):
        s2 = model.noise_std**2
        resid = (x - q_mean @ model.W.T - model.b).pow(2).sum(-1)
        tr = (q_std**2 * model.W.pow(2).sum(0)).sum(-1) if trace else 0
        const = -0.5 * model.D * math.log(2 * math.pi * s2) if normalizer else 0
        kl = 0.5 * (q_mean**2 + q_std**2 - 2 * q_std.log() - 1).sum(-1)
        return const - (resid + tr) / (2 * s2) + kl_sign * kl

    return toy_elbo


def _toy_monte_carlo(model, x, q_mean, q_std):
    from aevae_lib import toy

    q = toy.diagonal_gaussian(q_mean, q_std)
    z = q.rsample((20_000,))
    return (model.log_joint(x, z) - q.log_prob(z)).mean(0)


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (_toy_variant(trace=False), "trace term"),
        (_toy_variant(kl_sign=+1), "minus sign"),
        (_toy_variant(normalizer=False), "normalizing constant"),
        (_toy_monte_carlo, "monte carlo"),
    ],
)
def test_toy_elbo_typical_mistakes_get_their_hint(wrong, phrase):
    _verdict(ex.check_toy_elbo, wrong, "wrong", phrase)


def test_a_result_prints_as_one_verdict():
    result = ex.check_iw_bound(lambda lw: torch.logsumexp(lw, 0) - math.log(lw.shape[0]))
    assert repr(result) == str(result) and str(result).startswith("✓ <lambda> is right")
