"""configs: one dataclass per kind of model; the one place that builds a model."""

from __future__ import annotations

import pytest
import torch

from aevae_lib.configs import (
    AEConfig,
    JudgeConfig,
    VAEConfig,
    config_from_dict,
    from_settings,
)
from aevae_lib.models import VAE, Autoencoder, ConvVAE, DigitClassifier


def test_the_defaults_are_the_books_models():
    ae, vae, judge = AEConfig(), VAEConfig(), JudgeConfig()
    assert (ae.latent_dim, ae.hidden, ae.epochs, ae.lr, ae.schedule) == (
        30,
        (512, 256),
        5,
        3e-3,
        "stable-decay",
    )
    assert (vae.latent_dim, vae.hidden, vae.epochs, vae.batch_size, vae.schedule) == (
        20,
        (400,),
        25,
        256,
        "cosine",
    )
    assert (judge.hidden, judge.epochs, judge.schedule) == ((512, 512), 8, "cosine")


def test_build_makes_the_right_model_with_seeded_weights_and_its_config():
    for config, cls in (
        (AEConfig(), Autoencoder),
        (VAEConfig(), VAE),
        (VAEConfig(conv=True), ConvVAE),
        (JudgeConfig(), DigitClassifier),
    ):
        torch.manual_seed(99)
        before = torch.get_rng_state()
        a, b = config.build(), config.build()
        assert isinstance(a, cls) and a.config == config
        assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
        assert torch.equal(torch.get_rng_state(), before)  # torch's generator untouched
    other = VAEConfig(seed=1).build()
    assert not torch.equal(other.mean_layer.weight, VAEConfig().build().mean_layer.weight)


@pytest.mark.parametrize(
    "config", [AEConfig(exclude_digit=4), VAEConfig(beta=4.0), JudgeConfig(dropout=0.3)]
)
def test_to_dict_and_back(config):
    values = config.to_dict()
    assert values["kind"] == config.kind and isinstance(values["hidden"], list)
    assert config_from_dict(values) == config


def test_unknown_settings_get_a_did_you_mean():
    with pytest.raises(
        TypeError,
        match=r"unknown setting\(s\) \['latent'\] \(did you mean "
        r"'latent_dim'\?\)",
    ):
        from_settings(VAEConfig, latent=3)
    with pytest.raises(ValueError, match=r"the vae configuration has unknown setting\(s\)"):
        config_from_dict({"kind": "vae", "colour": "red"})
    with pytest.raises(ValueError, match=r"config\['kind'\] must be one of"):
        config_from_dict({"kind": "gan"})


@pytest.mark.parametrize(
    ("cls", "settings", "message"),
    [
        (AEConfig, {"latent_dim": 0}, "latent_dim must be a positive int"),
        (AEConfig, {"hidden": [16, -1]}, "hidden sizes must be a positive int"),
        (AEConfig, {"exclude_digit": 10}, "exclude_digit must be None or a digit"),
        (AEConfig, {"mask_fraction": 1.0}, "mask_fraction must be a fraction"),
        (AEConfig, {"output": "softmax"}, "output must be 'sigmoid' or 'linear'"),
        (VAEConfig, {"beta": -1}, "beta must be a number >= 0"),
        (VAEConfig, {"likelihood": "poisson"}, "likelihood must be one of"),
        (VAEConfig, {"conv": True, "likelihood": "gaussian"}, "conv=True builds a ConvVAE"),
        (VAEConfig, {"learn_variance": True}, "learn_variance=True needs likelihood='gaussian'"),
        (VAEConfig, {"n_train": 0}, "n_train must be a positive int or None"),
        (VAEConfig, {"epochs": 0}, "epochs must be a positive int"),
        (VAEConfig, {"lr": 0}, "lr must be a number > 0"),
        (VAEConfig, {"schedule": "step"}, "schedule must be one of"),
        (JudgeConfig, {"dropout": 1.0}, "dropout must be a probability"),
        (JudgeConfig, {"hidden": []}, "hidden must be a list of layer sizes"),
    ],
)
def test_bad_settings_name_the_setting(cls, settings, message):
    with pytest.raises(ValueError, match=message):
        from_settings(cls, **settings)


def test_fit_settings_are_what_train_fit_takes():
    assert VAEConfig().fit_settings() == {
        "epochs": 25,
        "batch_size": 256,
        "lr": 3e-3,
        "seed": 0,
        "schedule": "cosine",
    }


def test_fast_mode_shrinks_training_and_the_config_records_it(monkeypatch):
    monkeypatch.setenv("AEVAE_FAST", "1")
    config = from_settings(AEConfig, epochs=5)
    assert (config.epochs, config.n_train) == (3, 10_000)
    assert from_settings(JudgeConfig).epochs == 3
