"""Tests of aevae_lib.latent: encoding a dataset, k-NN, random codes, distances, paths."""

from __future__ import annotations

import pytest
import torch

from aevae_lib import latent
from aevae_lib.models import VAE, Autoencoder


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_encode_all_matches_encode_for_ae_and_gives_mu_for_vae():
    torch.manual_seed(0)
    x = torch.rand(2500, 64, generator=gen())
    ae = Autoencoder(input_dim=64, latent_dim=3, hidden=(16,))
    assert torch.allclose(
        latent.encode_all(ae, x, batch_size=1000), ae.encode(x).detach(), atol=1e-6
    )
    vae = VAE(input_dim=64, latent_dim=3, hidden=(16,))
    mu = vae.encode(x)[0].detach()
    assert torch.allclose(latent.encode_all(vae, x), mu, atol=1e-6)


def test_knn_accuracy_is_perfect_on_separated_clusters_and_chance_on_noise():
    centres = torch.tensor([[0.0, 0.0], [10.0, 10.0]])
    y = torch.arange(400) % 2
    z = centres[y] + 0.1 * torch.randn(400, 2, generator=gen())
    assert latent.knn_accuracy(z[:300], y[:300], z[300:], y[300:]) == 1.0
    noise = torch.randn(2000, 2, generator=gen(1))
    y = torch.randint(0, 2, (2000,), generator=gen(2))
    assert 0.4 < latent.knn_accuracy(noise[:1000], y[:1000], noise[1000:], y[1000:]) < 0.6
    with pytest.raises(ValueError, match="k must"):
        latent.knn_accuracy(z, y[:400], z, y[:400], k=0)


def test_fitted_gaussian_recovers_mean_and_covariance_and_samples_from_it():
    cov = torch.tensor([[2.0, 0.8], [0.8, 1.0]])
    mean = torch.tensor([1.0, -2.0])
    z = latent.sample_gaussian(mean, cov, 200_000, gen())
    m, c = latent.fit_gaussian(z)
    assert torch.allclose(m, mean, atol=0.02) and torch.allclose(c, cov, atol=0.03)
    reference = torch.distributions.MultivariateNormal(mean, cov).sample((200_000,))
    assert torch.allclose(reference.mean(0), z.mean(0), atol=0.03)


def test_box_samples_stay_in_the_box_and_fill_it():
    z = torch.tensor([[0.0, -1.0], [2.0, 5.0], [1.0, 0.0]])
    s = latent.sample_box(z, 10_000, gen())
    assert s.shape == (10_000, 2)
    assert (
        (s[:, 0] >= 0).all()
        and (s[:, 0] <= 2).all()
        and (s[:, 1] >= -1).all()
        and (s[:, 1] <= 5).all()
    )
    assert abs(s[:, 1].mean().item() - 2.0) < 0.1


def test_nearest_code_distance_matches_brute_force_in_all_dimensions():
    z = torch.randn(37, 5, generator=gen())
    reference = torch.randn(1203, 5, generator=gen(1))
    brute = torch.tensor([min((zi - r).norm().item() for r in reference) for zi in z])
    got = latent.nearest_code_distance(z, reference, chunk=10)
    assert got.shape == (37,)
    assert torch.allclose(got, brute, atol=1e-5)
    assert torch.allclose(latent.nearest_code_distance(reference[:4], reference), torch.zeros(4))
    # a point far off one axis is far although each 1-D marginal looks covered
    corner = torch.tensor([[3.0, 3.0]])
    cross = torch.tensor([[3.0, 0.0], [0.0, 3.0], [0.0, 0.0]])
    assert latent.nearest_code_distance(corner, cross).item() == pytest.approx(3.0)
    with pytest.raises(ValueError, match="same d"):
        latent.nearest_code_distance(z, reference[:, :4])
    with pytest.raises(ValueError, match="at least one"):
        latent.nearest_code_distance(z, reference[:0])


def test_interpolate_runs_from_z0_to_z1():
    z0, z1 = torch.zeros(4), torch.ones(4)
    path = latent.interpolate(z0, z1, steps=5)
    assert path.shape == (5, 4)
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)
    assert torch.allclose(path[2], torch.full((4,), 0.5))
    with pytest.raises(ValueError):
        latent.interpolate(z0, z1, steps=1)
