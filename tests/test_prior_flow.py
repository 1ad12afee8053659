"""aevae_lib.prior_flow: the sampler with the exact velocity field of Gaussian codes carries
N(0, I) to the codes' distribution, the exact field minimizes the flow-matching loss, training
lowers the loss, and a prior survives a checkpoint round trip with its code statistics."""

from __future__ import annotations

import math

import pytest
import torch

from aevae_lib import configs, objectives
from aevae_lib.checkpoint import load_checkpoint, save_checkpoint
from aevae_lib.prior_flow import FlowPrior, flow_matching_fit_loss, time_features
from aevae_lib.train import fit


def exact_velocity(u: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """E[u1 - eps | u_a = u] for u1, eps ~ N(0, I) independent and u_a = (1 - a) eps + a u1:
    a linear regression, Cov(u1 - eps, u_a) / Var(u_a) = (2a - 1) / ((1 - a)^2 + a^2)."""
    return (2 * a - 1) / ((1 - a) ** 2 + a**2) * u


class ExactPrior(FlowPrior):
    def forward(self, u, a):
        return exact_velocity(u, a.expand(len(u), 1))


def test_sampler_with_the_exact_velocity_reproduces_gaussian_codes():
    gen = torch.Generator().manual_seed(0)
    mean, std = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.5, 3.0, 1.0])
    codes = mean + std * torch.randn(50_000, 3, generator=gen, dtype=torch.float32)
    prior = ExactPrior(3, hidden=(4,))
    prior.set_code_statistics(codes)
    z, path = prior.sample(
        20_000, steps=200, generator=torch.Generator().manual_seed(1), return_path=True
    )
    assert z.shape == (20_000, 3) and path.shape == (201, 20_000, 3)
    torch.testing.assert_close(z.mean(0), mean, atol=0.05, rtol=0)
    torch.testing.assert_close(z.std(0), std, rtol=0.03, atol=0)
    torch.testing.assert_close(path[-1], prior.standardize(z))


def test_the_exact_velocity_minimizes_the_flow_matching_loss():
    gen = torch.Generator().manual_seed(2)
    u1, eps = torch.randn(200_000, 2, generator=gen), torch.randn(200_000, 2, generator=gen)
    a = torch.rand(200_000, 1, generator=gen)
    u_a = (1 - a) * eps + a * u1
    best = objectives.flow_matching_loss(exact_velocity(u_a, a), u1 - eps)
    for scale in (0.9, 1.1):
        assert objectives.flow_matching_loss(scale * exact_velocity(u_a, a), u1 - eps) > best
    # the exact minimum: E Var(u1 - eps | u_a) = sum over 2 dims of E_a[2 - (2a-1)^2 / c(a)]
    a_grid = torch.linspace(0, 1, 100_001, dtype=torch.float64)
    per_dim = (2 - (2 * a_grid - 1) ** 2 / ((1 - a_grid) ** 2 + a_grid**2)).mean()
    assert best.item() == pytest.approx(2 * per_dim.item(), rel=0.01)


def test_flow_matching_loss_by_hand_and_shape_check():
    v, t = torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    assert objectives.flow_matching_loss(v, t).item() == pytest.approx((5 + 25) / 2)
    with pytest.raises(ValueError, match="must match"):
        objectives.flow_matching_loss(v, t[:, :1])


def test_time_features():
    f = time_features(torch.tensor([[0.0], [0.25]]), 3)
    assert f.shape == (2, 6)
    torch.testing.assert_close(f[0], torch.tensor([0.0, 0, 0, 1, 1, 1]))
    torch.testing.assert_close(f[1, :3], torch.sin(math.pi * 0.25 * torch.tensor([1.0, 2, 4])))


@pytest.mark.slow
def test_training_lowers_the_loss_and_the_samples_follow_the_codes():
    gen = torch.Generator().manual_seed(3)
    centres = torch.tensor([[4.0, 0.0], [-4.0, 0.0]])
    codes = centres[torch.randint(0, 2, (4000,), generator=gen)] + 0.3 * torch.randn(
        4000, 2, generator=gen
    )
    torch.manual_seed(0)
    prior = FlowPrior(2, hidden=(64, 64))
    prior.set_code_statistics(codes)
    history = fit(
        prior,
        codes,
        loss_fn=flow_matching_fit_loss,
        epochs=15,
        batch_size=128,
        lr=3e-3,
        progress=False,
    )
    assert history["loss"][-1] < 0.8 * history["loss"][0]
    z = prior.sample(2000, steps=50, generator=torch.Generator().manual_seed(4))
    near = torch.cdist(z, centres).min(1).values < 1.0
    assert near.float().mean() > 0.8  # samples land on the two clusters, not between them
    assert 0.3 < (z[:, 0] > 0).float().mean() < 0.7  # and on both


def test_bad_inputs_are_refused():
    prior = FlowPrior(3, hidden=(8,))
    with pytest.raises(ValueError, match="shape \\(N >= 2, 3\\)"):
        prior.set_code_statistics(torch.zeros(5, 2))
    with pytest.raises(ValueError, match="shape \\(B, 3\\)"):
        prior(torch.zeros(4, 2), torch.zeros(4, 1))
    with pytest.raises(ValueError, match="steps must be a positive int"):
        prior.sample(3, steps=0)


def test_a_prior_survives_a_checkpoint_with_its_code_statistics(tmp_path):
    config = configs.from_settings(
        configs.FlowPriorConfig, source_key="abc", latent_dim=3, hidden=[8]
    )
    model = config.build()
    model.set_code_statistics(torch.randn(10, 3) * 5 + 2)
    save_checkpoint(tmp_path / "p.pt", model, history={"loss": [1.0]})
    loaded, loaded_config, history = load_checkpoint(tmp_path / "p.pt", kind="flow_prior")
    assert loaded_config == config and history == {"loss": [1.0]}
    torch.testing.assert_close(loaded.code_std, model.code_std)
    torch.testing.assert_close(loaded.code_mean, model.code_mean)
