"""Tests of aevae_lib.cvae: the conditional VAE, its loss, sampling and configuration."""

from __future__ import annotations

import pytest
import torch

from aevae_lib.configs import CVAEConfig, config_from_dict
from aevae_lib.cvae import ConditionalVAE, cvae_loss, one_hot
from aevae_lib.objectives import bernoulli_log_likelihood, gaussian_kl


def test_one_hot_and_its_checks():
    torch.testing.assert_close(
        one_hot(torch.tensor([2, 0]), 3), torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    )
    with pytest.raises(ValueError, match="0..9"):
        one_hot(torch.tensor([10]))
    with pytest.raises(TypeError):
        one_hot(torch.tensor([1.0]))


def test_the_label_reaches_encoder_and_decoder():
    torch.manual_seed(0)
    model = ConditionalVAE(latent_dim=4, hidden=(32,))
    x = torch.rand(3, 784)
    mu_a, _ = model.encode(x, torch.tensor([0, 0, 0]))
    mu_b, _ = model.encode(x, torch.tensor([5, 5, 5]))
    assert not torch.allclose(mu_a, mu_b)
    z = torch.randn(3, 4)
    assert not torch.allclose(
        model.decode(z, torch.tensor([1, 1, 1])), model.decode(z, torch.tensor([7, 7, 7]))
    )
    # the label enters as a one-hot block appended to the input: the first layer's columns
    # 784..793 (encoder) and d..d+9 (decoder) are the labels' weights
    assert model.encoder[0].in_features == 794 and model.decoder[0].in_features == 14


def test_cvae_loss_is_the_conditional_negative_elbo():
    torch.manual_seed(0)
    model = ConditionalVAE(latent_dim=3, hidden=(16,))
    x, y = torch.rand(5, 784).round(), torch.arange(5)
    torch.manual_seed(1)
    terms = cvae_loss(model, x, y)
    torch.manual_seed(1)
    out = model(x, y)
    recon = -bernoulli_log_likelihood(x, out.x_out)
    kl = gaussian_kl(out.mu, out.logvar)
    torch.testing.assert_close(terms["loss"], (recon + kl).mean())
    torch.testing.assert_close(terms["kl"], kl.mean())


def test_sample_gives_one_image_per_label_in_the_unit_interval():
    model = ConditionalVAE(latent_dim=2, hidden=(8,))
    images = model.sample(torch.arange(10), torch.Generator().manual_seed(0))
    assert images.shape == (10, 784) and images.min() >= 0 and images.max() <= 1
    with pytest.raises(ValueError, match="one label per row"):
        model.decode(torch.zeros(2, 2), torch.tensor([1]))


def test_config_round_trip_and_build():
    config = CVAEConfig(latent_dim=8, epochs=2)
    assert config_from_dict(config.to_dict()) == config
    assert isinstance(config.build(), ConditionalVAE)
    assert config.key() != CVAEConfig().key()
