"""aevae_lib.gradient_snr: the signal-to-noise ratio against a toy whose gradient
distribution is known in closed form, and the shapes of the bound's gradient samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aevae_lib import gradient_snr
from aevae_lib.gradients import encoder_parameters
from aevae_lib.models import VAE


def test_snr_of_a_toy_with_a_known_gradient():
    # psi(z) = z^2 with z = mu + sigma * eps: the pathwise gradient in mu is 2 (mu + sigma eps),
    # mean 2 mu, sd 2 sigma, so SNR_mu = |mu| / sigma; in sigma it is 2 (mu + sigma eps) eps,
    # mean 2 sigma, sd 2 sqrt(mu^2 + 2 sigma^2), so SNR_sigma = sigma / sqrt(mu^2 + 2 sigma^2).
    mu = torch.tensor(0.6, dtype=torch.float64, requires_grad=True)
    sigma = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)

    def loss():
        return (mu + sigma * torch.randn((), dtype=torch.float64)) ** 2

    samples = gradient_snr.gradient_samples(loss, [mu, sigma], n_repeats=40_000, seed=1)
    assert samples.shape == (40_000, 2)
    snr = gradient_snr.signal_to_noise(samples)
    assert snr[0].item() == pytest.approx(0.6 / 1.5, rel=0.03)
    assert snr[1].item() == pytest.approx(1.5 / math.sqrt(0.36 + 2 * 1.5**2), rel=0.03)


def test_signal_to_noise_matches_numpy_and_marks_noiseless_columns():
    gen = torch.Generator().manual_seed(0)
    samples = torch.randn(50, 4, generator=gen) + torch.tensor([0.0, 1.0, -3.0, 0.0])
    samples[:, 3] = 2.0  # no noise at all
    snr = gradient_snr.signal_to_noise(samples)
    noisy = samples[:, :3].numpy().astype(np.float64)
    ref = np.abs(noisy.mean(0)) / noisy.std(0, ddof=1)
    np.testing.assert_allclose(snr[:3].numpy(), ref, rtol=1e-6)
    assert torch.isnan(snr[3])
    with pytest.raises(ValueError, match="R >= 2"):
        gradient_snr.signal_to_noise(torch.zeros(1, 3))


def test_gradient_samples_leave_the_random_state_and_refuse_one_repeat():
    w = torch.ones(3, requires_grad=True)
    rng = torch.get_rng_state()
    out = gradient_snr.gradient_samples(lambda: (w * torch.randn(3)).sum(), [w], 5, seed=2)
    again = gradient_snr.gradient_samples(lambda: (w * torch.randn(3)).sum(), [w], 5, seed=2)
    assert torch.equal(out, again) and torch.equal(torch.get_rng_state(), rng)
    assert w.grad is None
    with pytest.raises(ValueError, match="n_repeats"):
        gradient_snr.gradient_samples(lambda: w.sum(), [w], 1)


def test_bound_gradient_samples_split_encoder_and_decoder():
    torch.manual_seed(0)
    model = VAE(input_dim=20, latent_dim=2, hidden=[8])
    x = (torch.rand(6, 20, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    out = gradient_snr.bound_gradient_samples(model, x, k=3, n_repeats=4)
    n_enc = sum(p.numel() for p in encoder_parameters(model))
    n_dec = sum(p.numel() for p in gradient_snr.decoder_parameters(model))
    assert out["encoder"].shape == (4, n_enc) and out["decoder"].shape == (4, n_dec)
    assert n_enc + n_dec == sum(p.numel() for p in model.parameters())
    assert out["encoder"].std(0).max() > 0  # fresh codes every repeat
    assert all(p.grad is None for p in model.parameters())
