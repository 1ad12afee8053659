"""The book's reference models, trained once and cached by a hash of their full configuration.

A chapter asks for a model by its settings; if any chapter (or the command line) trained the
same configuration before, the cached weights are loaded, otherwise it is trained here. So
chapters reuse each other's models, yet each still runs on its own.

Fast mode (``AEVAE_FAST=1``) is applied here, not in the chapters: every configuration is
cut to at most ``runtime.FAST_EPOCHS`` epochs on the first ``runtime.FAST_N_TRAIN`` training
images. The configuration (and so the cache key) records the values actually used.

Used in: notebooks/01_autoencoder.ipynb (trained_ae) and 04_vae.ipynb (trained_vae) onwards.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import torch

from .checkpoint import load_checkpoint
from .data import load_mnist
from .models import VAE, Autoencoder, ConvVAE
from .runtime import FAST_N_TRAIN, cached, fast_epochs, fast_mode, get_device, sha256_file
from .train import ae_loss, check_fit_settings, denoising_ae_loss, fit, vae_loss


def mnist_tensors(device: torch.device | str = "cpu", n_train: int | None = None) -> dict:
    """MNIST as in-memory tensors on ``device``: x_train (N, 784), y_train, x_test, y_test."""
    x_train, y_train = load_mnist("train")
    x_test, y_test = load_mnist("test")
    if n_train is not None:
        x_train, y_train = x_train[:n_train], y_train[:n_train]
    return {
        k: v.to(device)
        for k, v in dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test).items()
    }


#: The settings of a model's configuration that ``train.fit`` takes as they are.
FIT_KEYS = ("epochs", "batch_size", "lr", "seed", "schedule")


def fit_settings(config: dict) -> dict:
    """The keyword arguments of ``train.fit`` (and ``check_fit_settings``) in ``config``."""
    return {key: config[key] for key in FIT_KEYS}


def resolve_settings(defaults: dict, overrides: dict) -> dict:
    """``defaults`` updated by ``overrides``, checked before any data is loaded: unknown names
    (with a did-you-mean hint) and bad training settings raise an error naming the setting."""
    unknown = set(overrides) - set(defaults)
    if unknown:
        raise TypeError(unknown_settings_message(unknown, defaults))
    config = {**defaults, **overrides}
    # fail before any data is loaded or a model is built
    check_fit_settings(**fit_settings(config))
    if fast_mode():  # shorter runs on less data; the config records what is used
        config["epochs"] = fast_epochs(config["epochs"])
        if "n_train" in config:
            n = config["n_train"]
            config["n_train"] = FAST_N_TRAIN if n is None else min(n, FAST_N_TRAIN)
    n_train = config.get("n_train")
    if n_train is not None and (not isinstance(n_train, int) or n_train <= 0):
        raise ValueError(f"n_train must be a positive int or None (all 60,000), got {n_train!r}")
    beta = config.get("beta", 1.0)
    if not isinstance(beta, (int, float)) or isinstance(beta, bool) or not beta >= 0:
        raise ValueError(f"beta must be a number >= 0, got {beta!r}")
    if config.get("conv") and (config["likelihood"] != "bernoulli" or config["learn_variance"]):
        raise ValueError(
            "conv=True builds a ConvVAE, which has a Bernoulli likelihood only; got "
            f"likelihood={config['likelihood']!r}, learn_variance={config['learn_variance']!r}"
        )
    config["hidden"] = (
        list(config["hidden"])
        if isinstance(config.get("hidden"), (list, tuple))
        else config.get("hidden")
    )
    return config


def unknown_settings_message(unknown, valid) -> str:
    """The TypeError message: unknown setting(s) ['x'] (did you mean 'y'?); valid: [...]."""
    hints = [m for name in sorted(unknown) for m in difflib.get_close_matches(name, valid, n=1)]
    hint = f" (did you mean {', '.join(map(repr, hints))}?)" if hints else ""
    return f"unknown setting(s) {sorted(unknown)}{hint}; valid: {sorted(valid)}"


def ae_defaults() -> dict:
    """Settings of the book's MLP autoencoder (chapter 01).

    Tuned for a CPU budget (measured in benchmarks/README.md): Adam at 3e-3 held for four
    epochs and decayed linearly to 0 over the fifth ("stable-decay") reaches a test squared
    error of about 5.3 per image (PCA: 13.87); a constant 2e-3 needed 8 epochs for 5.2 and
    reaches 6.2 after 5, and a cosine decay was worse at this budget.

    ``noise_std``/``mask_fraction`` > 0 train a denoising autoencoder
    (``train.denoising_ae_loss``); ``exclude_digit`` leaves one digit out of the training set
    (anomaly detection, chapter 02).
    """
    return dict(
        latent_dim=30,
        hidden=[512, 256],
        activation="relu",
        output="sigmoid",
        epochs=5,
        batch_size=128,
        lr=3e-3,
        schedule="stable-decay",
        seed=0,
        n_train=None,
        noise_std=0.0,
        mask_fraction=0.0,
        exclude_digit=None,
    )


def vae_defaults() -> dict:
    """Settings of the book's MLP VAE (chapter 04): 784-400-20, Bernoulli, dynamic binarization.

    ``conv=True`` builds a ``ConvVAE`` with ``channels`` and ``conv_hidden``; ``free_bits`` > 0
    trains with the free-bits objective of ``train.vae_loss`` (chapter 09).
    """
    return dict(
        latent_dim=20,
        hidden=[400],
        activation="relu",
        likelihood="bernoulli",
        learn_variance=False,
        beta=1.0,
        conv=False,
        channels=32,
        conv_hidden=256,
        free_bits=0.0,
        epochs=25,
        batch_size=256,
        lr=3e-3,
        schedule="cosine",
        seed=0,
        binarize=True,
        n_train=None,
    )


def trained_ae(*, device=None, progress: bool = True, use_cache: bool = True, **settings):
    """A trained ``Autoencoder`` and its history for ``ae_defaults()`` updated by ``settings``."""
    config = resolve_settings(ae_defaults(), settings)
    digit = config["exclude_digit"]
    if digit is not None and (isinstance(digit, bool) or digit not in range(10)):
        raise ValueError(f"exclude_digit must be None or a digit 0-9, got {digit!r}")
    denoising_ae_loss(config["noise_std"], config["mask_fraction"])  # checks the levels
    device = torch.device(device) if device is not None else get_device(verbose=False)
    config["kind"], config["device"] = "ae", device.type

    def build():
        torch.manual_seed(config["seed"])  # the initial weights too follow from the config
        return Autoencoder(
            latent_dim=config["latent_dim"],
            hidden=config["hidden"],
            activation=config["activation"],
            output=config["output"],
        ).to(device)

    def train(model):
        data = mnist_tensors(device, config["n_train"])
        x, x_val = data["x_train"], data["x_test"]
        if config["exclude_digit"] is not None:  # train (and validate) on the other nine digits
            x = x[data["y_train"] != config["exclude_digit"]]
            x_val = x_val[data["y_test"] != config["exclude_digit"]]
        denoising = config["noise_std"] > 0 or config["mask_fraction"] > 0
        return fit(
            model,
            x,
            loss_fn=denoising_ae_loss(config["noise_std"], config["mask_fraction"])
            if denoising
            else ae_loss,
            x_val=x_val,  # logs the test loss after every epoch as history["val_loss"]
            progress=progress,
            desc=f"AE d={config['latent_dim']}",
            **fit_settings(config),
        )

    return _load_or_train(config, build, train, use_cache)


def trained_vae(*, device=None, progress: bool = True, use_cache: bool = True, **settings):
    """A trained ``VAE`` (or ``ConvVAE`` with ``conv=True``) and its history.

    ``use_cache=False`` trains afresh and neither reads nor writes the model cache.
    """
    config = resolve_settings(vae_defaults(), settings)
    device = torch.device(device) if device is not None else get_device(verbose=False)
    config["kind"], config["device"] = "vae", device.type

    def build():
        torch.manual_seed(config["seed"])  # the initial weights too follow from the config
        if config["conv"]:
            return ConvVAE(
                latent_dim=config["latent_dim"],
                channels=config["channels"],
                hidden=config["conv_hidden"],
            ).to(device)
        return VAE(
            latent_dim=config["latent_dim"],
            hidden=config["hidden"],
            activation=config["activation"],
            likelihood=config["likelihood"],
            learn_variance=config["learn_variance"],
        ).to(device)

    def train(model):
        data = mnist_tensors(device, config["n_train"])
        return fit(
            model,
            data["x_train"],
            loss_fn=vae_loss(config["likelihood"], config["beta"], free_bits=config["free_bits"]),
            binarize=config["binarize"],
            progress=progress,
            desc=f"VAE d={config['latent_dim']}",
            **fit_settings(config),
        )

    return _load_or_train(config, build, train, use_cache)


def _load_or_train(config: dict, build, train, use_cache: bool):
    """``runtime.cached(config, build, train)``; with ``use_cache=False`` train afresh without
    reading or writing the cache (e.g. `python -m aevae_lib train` timing a run)."""
    if not use_cache:
        model = build()
        return model, train(model)
    return cached(config, build, train)


#: The long-trained reference VAE shipped with the library, and its SHA-256 beside it
#: (``python -m aevae_lib reference``; benchmarks/README.md).
REFERENCE_WEIGHTS = Path(__file__).resolve().parent / "weights" / "reference_vae.pt"


def reference_vae(device: torch.device | str = "cpu", path=None):
    """The shipped reference VAE as ``(model, config, history)``, or None if it is not shipped.

    The file's SHA-256 must match the ``.sha256`` file beside it, so a damaged or altered
    file is refused before it is read. ``history["reference_run"]`` holds the run's summary
    (settings, epochs, times, learning curve). Used in: notebooks/08_evaluating_vaes.ipynb.
    """
    path = Path(path) if path is not None else REFERENCE_WEIGHTS
    if not path.is_file():
        return None
    sidecar = Path(f"{path}.sha256")
    if not sidecar.is_file():
        raise ValueError(f"{path} has no {sidecar.name} beside it: cannot verify the weights")
    expected = sidecar.read_text().split()[0]
    if sha256_file(path) != expected:
        raise ValueError(
            f"{path} does not match its SHA-256 ({sidecar.name}): the file is damaged or was "
            "altered; reinstall the package or run `python -m aevae_lib reference` to rebuild it"
        )
    return load_checkpoint(path, device, kind="vae")
