"""Tests of aevae_lib.corrupt and the denoising loss."""

from __future__ import annotations

import pytest
import torch

from aevae_lib.corrupt import corrupt, gaussian_noise, mask_pixels
from aevae_lib.models import Autoencoder
from aevae_lib.objectives import denoising_ae_loss
from aevae_lib.train import fit


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_gaussian_noise_has_the_requested_spread_and_stays_in_range():
    x = torch.full((200, 784), 0.5)
    noisy = gaussian_noise(x, 0.1, gen())
    assert noisy.shape == x.shape and noisy.min() >= 0 and noisy.max() <= 1
    assert abs((noisy - x).std().item() - 0.1) < 0.005  # 0.5 +- 0.1 is rarely clipped
    assert torch.equal(gaussian_noise(x, 0.1, gen(3)), gaussian_noise(x, 0.1, gen(3)))


def test_mask_pixels_zeroes_about_the_requested_fraction():
    x = torch.ones(100, 784)
    masked = mask_pixels(x, 0.3, gen())
    assert set(masked.unique().tolist()) == {0.0, 1.0}
    assert abs((masked == 0).float().mean().item() - 0.3) < 0.01
    assert torch.equal(mask_pixels(x, 0.0, gen()), x)


def test_corrupt_with_both_levels_gives_each_image_one_kind():
    x = torch.full((400, 784), 0.5)
    out = corrupt(x, noise_std=0.2, mask_fraction=0.5, generator=gen())
    masked_rows = ((out == 0) | (out == 0.5)).all(dim=1)  # masking leaves 0 or the old value
    assert 150 < masked_rows.sum() < 250  # about half the images
    noisy_rows = ~masked_rows
    assert ((out[noisy_rows] - 0.5).abs() > 0).float().mean() > 0.99


@pytest.mark.parametrize(
    "kwargs", [dict(noise_std=-0.1), dict(mask_fraction=1.5), dict(noise_std=True)]
)
def test_bad_levels_are_refused(kwargs):
    with pytest.raises(ValueError):
        corrupt(torch.rand(2, 4), **kwargs)
    with pytest.raises(ValueError):
        denoising_ae_loss(**kwargs)


def test_denoising_loss_compares_with_the_clean_input():
    torch.manual_seed(0)
    model = Autoencoder(input_dim=16, latent_dim=4, hidden=(8,))
    x = torch.rand(32, 16, generator=gen())
    clean = {"loss": (model(x).x_hat - x).pow(2).sum(1).mean()}
    assert torch.allclose(denoising_ae_loss()(model, x)["loss"], clean["loss"])  # no corruption
    torch.manual_seed(1)
    noisy = denoising_ae_loss(noise_std=0.5)(model, x)["loss"]
    assert not torch.allclose(noisy, clean["loss"])


def test_fit_logs_validation_loss_and_a_denoiser_learns():
    torch.manual_seed(0)
    x = torch.rand(256, 16, generator=gen()).round()
    model = Autoencoder(input_dim=16, latent_dim=8, hidden=(32,))
    history = fit(
        model,
        x,
        loss_fn=denoising_ae_loss(mask_fraction=0.2),
        epochs=15,
        batch_size=32,
        lr=3e-3,
        progress=False,
        x_val=x[:64],
    )
    assert len(history["val_loss"]) == 15 and "loss" in history
    assert history["val_loss"][-1] < 0.7 * history["val_loss"][0]
    assert not model.training
