"""configs and zoo for the kinds of chapters 12 and 13: ``IWAEConfig`` (a VAE trained with the
IW bound) and ``FlowPriorConfig`` (a flow-matching prior over an autoencoder's codes). The
existing kinds keep their fields, defaults and cache keys; the new ones are checked, cached
and named like the others."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from aevae_lib import configs, zoo
from aevae_lib.configs import FlowPriorConfig, IWAEConfig, VAEConfig, config_from_dict
from aevae_lib.models import VAE
from aevae_lib.prior_flow import FlowPrior


def test_the_vae_configuration_is_unchanged():
    assert [f.name for f in dataclasses.fields(VAEConfig)][:6] == [
        "epochs",
        "batch_size",
        "lr",
        "schedule",
        "seed",
        "device",
    ]
    assert VAEConfig().to_dict()["kind"] == "vae" and "k" not in VAEConfig().to_dict()
    assert VAEConfig().key() == "300b18db809ea77d"  # chapter 04's model keeps its cache entry


def test_iwae_config_is_a_vae_with_k_of_its_own_kind():
    config = IWAEConfig()
    assert config.kind == "iwae" and config.k == 5 and isinstance(config.build(), VAE)
    assert config.key() != VAEConfig().key()
    assert config_from_dict(config.to_dict()) == config
    assert configs.KINDS["iwae"] is IWAEConfig


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"k": 0}, "k must be a positive int"),
        ({"beta": 0.5}, "beta must be 1 and free_bits 0"),
        ({"free_bits": 0.5}, "beta must be 1 and free_bits 0"),
    ],
)
def test_iwae_config_refuses_bad_settings(settings, message):
    with pytest.raises(ValueError, match=message):
        configs.from_settings(IWAEConfig, **settings)


def test_flow_prior_config_builds_a_prior_and_needs_its_source():
    config = FlowPriorConfig(source_key="abc", latent_dim=7, hidden=[32])
    model = config.build()
    assert isinstance(model, FlowPrior) and model.latent_dim == 7 and model.config == config
    assert config.hidden == (32,) and config_from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="source_key must name the model"):
        FlowPriorConfig()
    with pytest.raises(ValueError, match="n_frequencies must be a positive int"):
        FlowPriorConfig(source_key="abc", n_frequencies=0)


@pytest.fixture
def tiny_mnist(monkeypatch):
    gen = torch.Generator().manual_seed(0)
    fake = {
        "x_train": torch.rand(64, 784, generator=gen),
        "y_train": torch.zeros(64).long(),
        "x_test": torch.rand(16, 784, generator=gen),
        "y_test": torch.zeros(16).long(),
    }
    monkeypatch.setattr(zoo, "mnist_tensors", lambda device="cpu", n_train=None: fake)


def test_trained_iwae_trains_once_then_loads(tiny_mnist, capsys):
    settings = dict(latent_dim=2, hidden=[16], epochs=1, batch_size=32, k=3, progress=False)
    m1, h1 = zoo.trained_iwae(**settings)
    assert (
        "Training the IWAE with d = 2 (1 epochs) (not in the model cache yet), about"
        in capsys.readouterr().out
    )
    m2, h2 = zoo.trained_iwae(**settings)
    assert "Loaded the trained IWAE with d = 2" in capsys.readouterr().out
    assert h1 == h2 and set(h1) >= {"loss", "neg_elbo", "seconds"}
    assert m2.config.k == 3 and torch.equal(m1.decoder[0].weight, m2.decoder[0].weight)


def test_trained_flow_prior_is_cached_per_autoencoder(tiny_mnist, capsys):
    ae, _ = zoo.trained_ae(latent_dim=3, hidden=[16], epochs=1, batch_size=32, progress=False)
    other, _ = zoo.trained_ae(
        latent_dim=3, hidden=[16], epochs=1, batch_size=32, seed=1, progress=False
    )
    prior, history = zoo.trained_flow_prior(
        ae, hidden=[16], epochs=2, batch_size=32, progress=False
    )
    assert "Training the flow-matching prior with d = 3 (2 epochs)" in capsys.readouterr().out
    assert prior.config.source_key == ae.config.key() and len(history["loss"]) == 2
    codes = ae.encode(torch.rand(64, 784, generator=torch.Generator().manual_seed(0)))
    torch.testing.assert_close(prior.code_mean, codes.mean(0).detach())  # the training codes
    again, _ = zoo.trained_flow_prior(ae, hidden=[16], epochs=2, batch_size=32, progress=False)
    assert "Loaded the trained flow-matching prior" in capsys.readouterr().out
    assert torch.equal(again.code_std, prior.code_std)
    third, _ = zoo.trained_flow_prior(other, hidden=[16], epochs=2, batch_size=32, progress=False)
    assert third.config.key() != prior.config.key()  # another autoencoder: another prior
    with pytest.raises(ValueError, match="must be a zoo model"):
        zoo.trained_flow_prior(VAE(latent_dim=2), progress=False)
