"""aevae_lib.gradients: both estimators are unbiased; the pathwise one has lower variance."""

from __future__ import annotations

import math

import pytest
import torch

from aevae_lib import gradients, objectives


@pytest.fixture(autouse=True)
def one_thread():
    """Hundreds of tiny backward passes: one thread is faster and immune to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _mean_and_se(samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return samples.mean(0), samples.std(0) / math.sqrt(len(samples))


@pytest.mark.parametrize("estimator", objectives.ESTIMATORS)
def test_toy_estimators_are_unbiased(estimator):
    # E[z^2] = mu^2 + sigma^2 for z ~ N(mu, sigma^2): gradient (2 mu, 2 sigma)
    mu, sigma = 1.5, 0.7
    samples = gradients.toy_gradient_samples(
        lambda z: z**2, mu, sigma, 200_000, estimator, torch.Generator().manual_seed(0)
    )
    assert samples.shape == (200_000, 2)
    mean, se = _mean_and_se(samples)
    exact = torch.tensor([2 * mu, 2 * sigma], dtype=torch.float64)
    assert ((mean - exact).abs() < 4 * se).all(), (mean, se)


def test_toy_pathwise_estimator_has_lower_variance():
    gen = torch.Generator().manual_seed(1)
    path = gradients.toy_gradient_samples(torch.sin, 0.3, 1.0, 20_000, "pathwise", gen)
    score = gradients.toy_gradient_samples(torch.sin, 0.3, 1.0, 20_000, "score", gen)
    assert (path.var(0) < score.var(0)).all()
    # d/dmu E[sin z] = cos(mu) exp(-sigma^2 / 2)
    exact = math.cos(0.3) * math.exp(-0.5)
    for samples in (path, score):
        mean, se = _mean_and_se(samples)
        assert abs(mean[0].item() - exact) < 4 * se[0].item()


def test_encoder_gradient_estimators_agree_in_mean_and_differ_in_variance(tiny_vae):
    vae, x = tiny_vae
    n_params = sum(p.numel() for p in gradients.encoder_parameters(vae))
    path = gradients.encoder_gradient_samples(vae, x, "pathwise", 400, seed=0)
    score = gradients.encoder_gradient_samples(vae, x, "score", 400, seed=1)
    assert path.shape == score.shape == (400, n_params)
    assert path.device.type == score.device.type == "cpu"
    assert gradients.total_variance(score) > 10 * gradients.total_variance(path)
    # same expectation: the difference of the means is within 5 standard errors per coordinate
    se = torch.sqrt(path.var(0) / len(path) + score.var(0) / len(score))
    z = (path.mean(0) - score.mean(0)) / se.clamp_min(1e-12)
    assert z.abs().max() < 5.5 and z.pow(2).mean() < 1.5


def test_bad_arguments_get_clear_errors(tiny_vae):
    vae, x = tiny_vae
    with pytest.raises(ValueError, match="estimator"):
        gradients.encoder_gradient_samples(vae, x, "reinforce", 2)
    with pytest.raises(ValueError, match="sigma"):
        gradients.toy_gradient_samples(torch.sin, 0.0, 0.0, 10, "score", torch.Generator())
    with pytest.raises(ValueError, match="n >= 2"):
        gradients.total_variance(torch.zeros(1, 3))
