"""The book's trained models: each trained once, then loaded from the model cache.

A chapter asks for a model by its settings, ``trained_vae(latent_dim=2)``. The settings
become a configuration (``configs``), whose hash names a checkpoint in the cache folder
(``runtime.cache_dir() / "models"``). If any chapter, or the command line, trained the same
configuration before, the checkpoint is loaded; otherwise the model is trained here, and a
line says so first: what is trained, why, and about how long it will take on this machine.
So chapters reuse each other's models, yet each still runs on its own.

Fast mode (``AEVAE_FAST=1``) is applied by ``configs.from_settings``: at most
``runtime.FAST_EPOCHS`` epochs on the first ``runtime.FAST_N_TRAIN`` images.

Owns: ``trained_ae``, ``trained_vae``, ``trained_judge``, ``trained_cvae``, ``trained_vqvae``,
``trained_code_prior``, ``trained_iwae``, ``trained_flow_prior`` (each returns the model, which carries
its configuration as ``model.config``, and the training history), ``load_or_train`` (the cache),
``cache_path`` (where a configuration's checkpoint lives), ``vq_train_indices`` (the VQ-VAE's
codes of the training images, for its prior), and ``reference_vae``, the
long-trained VAE shipped with the library.

Used in: every chapter that trains a model; ``python -m aevae_lib train``.
"""

from __future__ import annotations

import copy
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn

from .checkpoint import load_checkpoint, save_checkpoint
from .configs import (
    AEConfig,
    CodePriorConfig,
    CVAEConfig,
    FlowPriorConfig,
    IWAEConfig,
    JudgeConfig,
    ModelConfig,
    VAEConfig,
    VQVAEConfig,
    from_settings,
)
from .data import binarize as _binarize
from .data import mnist_tensors
from .objectives import ae_loss, classifier_loss, denoising_ae_loss, vae_loss
from .runtime import cache_dir, get_device, sha256_file
from .train import adam, fit


def _device(device) -> torch.device:
    return torch.device(device) if device is not None else get_device(verbose=False)


def trained_ae(*, device=None, progress: bool = True, use_cache: bool = True, **settings):
    """A trained ``Autoencoder`` and its history, for ``AEConfig`` updated by ``settings``.

    The test loss of every epoch is logged as ``history["val_loss"]``. With ``exclude_digit``
    the model trains (and is validated) on the other nine digits.
    """
    device = _device(device)
    config = from_settings(AEConfig, device.type, **settings)

    def train(model):
        data = mnist_tensors(device, config.n_train)
        x, x_val = data["x_train"], data["x_test"]
        if config.exclude_digit is not None:
            x = x[data["y_train"] != config.exclude_digit]
            x_val = x_val[data["y_test"] != config.exclude_digit]
        loss = (
            denoising_ae_loss(config.noise_std, config.mask_fraction)
            if config.denoising
            else ae_loss
        )
        return fit(
            model,
            x,
            loss_fn=loss,
            x_val=x_val,
            progress=progress,
            desc=f"AE d={config.latent_dim}",
            **config.fit_settings(),
        )

    return load_or_train(config, train, device=device, use_cache=use_cache, data_fn=_x_train)


def trained_vae(*, device=None, progress: bool = True, use_cache: bool = True, **settings):
    """A trained ``VAE`` (``ConvVAE`` with ``conv=True``) and its history, for ``VAEConfig``
    updated by ``settings``. ``use_cache=False`` trains afresh without reading or writing the
    cache (the command line does that to time a run)."""
    device = _device(device)
    config = from_settings(VAEConfig, device.type, **settings)

    def train(model):
        data = mnist_tensors(device, config.n_train)
        return fit(
            model,
            data["x_train"],
            binarize=config.binarize,
            progress=progress,
            loss_fn=vae_loss(config.likelihood, config.beta, free_bits=config.free_bits),
            desc=f"VAE d={config.latent_dim}",
            **config.fit_settings(),
        )

    return load_or_train(config, train, device=device, use_cache=use_cache, data_fn=_x_train)


def trained_judge(*, device=None, progress: bool = True, use_cache: bool = True, **settings):
    """The judge classifier of chapter 03 (``JudgeConfig``) and its history, which records
    ``test_accuracy``. The judge's metrics are in ``judge``."""
    from .judge import accuracy

    device = _device(device)
    config = from_settings(JudgeConfig, device.type, **settings)

    def train(model):
        data = mnist_tensors(device)
        history = fit(
            model,
            data["x_train"],
            y=data["y_train"],
            loss_fn=classifier_loss,
            progress=progress,
            desc="judge",
            **config.fit_settings(),
        )
        history["test_accuracy"] = accuracy(model, data["x_test"], data["y_test"])
        return history

    return load_or_train(config, train, device=device, use_cache=use_cache, data_fn=_x_train)


def _x_train(config: ModelConfig, device):
    """``(x, y, n)``: a minibatch of the data ``config`` trains on (y only for the judge), and
    the number of training images, for timing a step."""
    data = mnist_tensors(device, getattr(config, "n_train", None))
    x = data["x_train"][: config.batch_size]
    if getattr(config, "binarize", False):
        x = _binarize(x, torch.Generator(device=x.device).manual_seed(0))
    y = data["y_train"][: config.batch_size] if config.kind == "judge" else None
    return x, y, len(data["x_train"])


def cache_path(config: ModelConfig) -> Path:
    """Where the model cache keeps the checkpoint of ``config``."""
    return cache_dir() / "models" / f"{config.key()}.pt"


def load_or_train(
    config: ModelConfig, train, *, device, use_cache: bool = True, data_fn=None, say=None
):
    """The model of ``config`` and its history: from the cache when it holds it, else trained.

    ``train(model)`` trains the freshly built model in place and returns its history. A cache
    entry that is damaged or holds another configuration is reported with a warning and
    trained again. Before training, one line says what is trained, why and (with
    ``data_fn``) about how long it will take, timed on this machine.
    """
    say = say or (lambda text: print(text, file=sys.stdout, flush=True))
    path = cache_path(config)
    if use_cache and path.exists():
        try:
            model, _, history = load_checkpoint(path, device, expect=config)
            say(f"Loaded the trained {_name(config)} from the model cache")
            return model, history
        except (ValueError, OSError, RuntimeError) as err:
            warnings.warn(
                f"the cached {_name(config)} could not be used ({err}); training it again",
                RuntimeWarning,
                stacklevel=3,
            )
    model = config.build().to(device)
    why = "not in the model cache yet" if use_cache else "the model cache is not used"
    estimate = _estimate(model, config, data_fn, device) if data_fn is not None else ""
    say(f"Training the {_name(config)} ({why}){estimate}")
    history = train(model)
    model.eval()
    if use_cache:
        try:
            save_checkpoint(path, model, config, history)
        except OSError as err:
            warnings.warn(
                f"could not write the model cache at {path} ({err}); the model is trained but "
                "not cached. Set AEVAE_CACHE to a writable folder to keep trained models.",
                RuntimeWarning,
                stacklevel=3,
            )
    return model, history


def _name(config: ModelConfig) -> str:
    names = {"ae": "autoencoder", "vae": "VAE", "judge": "judge classifier"}
    what = names.get(config.kind) or getattr(config, "title", config.kind)
    size = f" with d = {config.latent_dim}" if hasattr(config, "latent_dim") else ""
    return f"{what}{size} ({config.epochs} epochs)"


def _estimate(model: nn.Module, config: ModelConfig, data_fn, device) -> str:
    """ ", about N s": two optimizer steps of a copy of ``model`` timed on this machine (the
    model's weights and torch's random state are left as they were), times the steps to go."""
    try:
        x, y, n = data_fn(config, device)
    except Exception:  # no data yet: the training itself will say what is missing
        return ""
    trial = copy.deepcopy(model).train()
    optimizer = adam(trial.parameters(), config.lr)
    with torch.random.fork_rng(devices=[]):
        for step in range(3):  # the first step warms up; the other two are timed
            if step == 1:
                start = time.perf_counter()
            if hasattr(config, "trial_loss"):  # a kind that says how to take one step
                loss = config.trial_loss(trial, x, y)
            else:
                out = trial(x)
                if y is not None:
                    loss = nn.functional.cross_entropy(out, y)
                elif hasattr(out, "x_out"):
                    loss = out.x_out.square().mean() + out.mu.square().mean()
                else:
                    loss = out.x_hat.square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        per_step = (time.perf_counter() - start) / 2
    seconds = per_step * config.epochs * -(-n // config.batch_size)
    return f", about {seconds:.0f} s" if seconds < 120 else f", about {seconds / 60:.0f} min"


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


def trained_cvae(*, device=None, progress: bool = True, use_cache: bool = True, **settings):
    """The conditional VAE of chapter 10 (``CVAEConfig`` updated by ``settings``) and its
    history, trained on the images and their labels. Used in: notebooks/10_conditional_vae.ipynb."""
    from .cvae import cvae_loss

    device = _device(device)
    config = from_settings(CVAEConfig, device.type, **settings)

    def train(model):
        data = mnist_tensors(device, config.n_train)
        return fit(
            model,
            data["x_train"],
            y=data["y_train"],
            loss_fn=cvae_loss,
            binarize=config.binarize,
            progress=progress,
            desc=f"CVAE d={config.latent_dim}",
            **config.fit_settings(),
        )

    return load_or_train(config, train, device=device, use_cache=use_cache, data_fn=_xy_train)


def _xy_train(config: ModelConfig, device):
    """``(x, y, n)`` for timing a labelled model's steps: a binarized minibatch, its labels."""
    x, _, n = _x_train(config, device)
    return x, mnist_tensors(device, config.n_train)["y_train"][: len(x)], n


def trained_vqvae(*, device=None, progress: bool = True, use_cache: bool = True, **settings):
    """The VQ-VAE of chapter 11 (``VQVAEConfig`` updated by ``settings``) and its history.

    After every epoch the codebook's use on the first 2,000 test images (binarized once) is
    logged: ``history["used_codes"]`` (codes chosen at least once) and
    ``history["test_perplexity"]``. Used in: notebooks/11_vq_vae.ipynb.
    """
    from .data import fixed_binarization
    from .vq import perplexity, vq_vae_loss

    device = _device(device)
    config = from_settings(VQVAEConfig, device.type, **settings)

    def train(model):
        data = mnist_tensors(device, config.n_train)
        x_watch = fixed_binarization(data["x_test"][:2000])

        def watch(model, epoch, history):  # how many codes the test images use
            model.eval()
            indices = model.code_indices(x_watch)
            history.setdefault("used_codes", []).append(int(indices.unique().numel()))
            history.setdefault("test_perplexity", []).append(perplexity(indices, config.n_codes))

        return fit(
            model,
            data["x_train"],
            loss_fn=vq_vae_loss(config.commitment),
            binarize=config.binarize,
            progress=progress,
            callback=watch,
            desc=f"VQ-VAE K={config.n_codes}",
            **config.fit_settings(),
        )

    return load_or_train(config, train, device=device, use_cache=use_cache, data_fn=_x_train)


def vq_train_indices(vqvae: nn.Module) -> torch.Tensor:
    """The code indices (N, M) of the training images a VQ-VAE was trained on, each image
    binarized once with a fixed seed (``data.fixed_binarization``)."""
    from .data import fixed_binarization

    device = next(vqvae.parameters()).device
    x = fixed_binarization(mnist_tensors(device, vqvae.config.n_train)["x_train"])
    vqvae.eval()
    with torch.no_grad():
        return torch.cat([vqvae.code_indices(xb) for xb in x.split(2000)])


def trained_code_prior(
    vqvae: nn.Module, *, device=None, progress: bool = True, use_cache: bool = True, **settings
):
    """The autoregressive prior over ``vqvae``'s indices (``CodePriorConfig``), fitted to the
    indices of its training images, and its history. Used in: notebooks/11_vq_vae.ipynb."""
    from .code_prior import code_prior_loss

    device = _device(device)
    vq_config = vqvae.config
    config = from_settings(
        CodePriorConfig,
        device.type,
        vq_key=vq_config.key(),
        n_slots=vq_config.n_slots,
        n_codes=vq_config.n_codes,
        **settings,
    )

    def train(model):
        indices = vq_train_indices(vqvae).float()  # fit needs floats; exact for small ints
        return fit(
            model,
            indices,
            loss_fn=code_prior_loss,
            progress=progress,
            desc="code prior",
            **config.fit_settings(),
        )

    def data_fn(config, device):
        n = vq_config.n_train or 60_000
        return torch.zeros(config.batch_size, config.n_slots, device=device), None, n

    return load_or_train(config, train, device=device, use_cache=use_cache, data_fn=data_fn)


def trained_iwae(*, device=None, progress: bool = True, use_cache: bool = True, **settings):
    """A ``VAE`` trained with the importance-weighted bound (``IWAEConfig``: the VAE's settings
    and ``k``), and its history. Used in: notebooks/12_tighter_bounds.ipynb."""
    from .iwae import iwae_fit_loss

    device = _device(device)
    config = from_settings(IWAEConfig, device.type, **settings)

    def train(model):
        data = mnist_tensors(device, config.n_train)
        return fit(
            model,
            data["x_train"],
            binarize=config.binarize,
            progress=progress,
            loss_fn=iwae_fit_loss(config.k),
            desc=f"IWAE k={config.k}",
            **config.fit_settings(),
        )

    def data_fn(config, device):  # a step decodes k codes per image: time k times the images
        x, y, n = _x_train(config, device)
        return x.repeat(config.k, 1), y, n

    return load_or_train(config, train, device=device, use_cache=use_cache, data_fn=data_fn)


def trained_flow_prior(
    autoencoder: nn.Module,
    *,
    device=None,
    progress: bool = True,
    use_cache: bool = True,
    **settings,
):
    """A flow-matching prior (``FlowPriorConfig``) over the codes of ``autoencoder``'s training
    images, and its history: an ``Autoencoder``'s codes f(x), or a VAE's posterior means. The
    autoencoder must carry its configuration (every zoo model does); its cache key becomes the
    prior's ``source_key``. Used in: notebooks/13_latent_diffusion.ipynb."""
    from .latent import encode_all
    from .prior_flow import flow_matching_fit_loss

    source = getattr(autoencoder, "config", None)
    if source is None:
        raise ValueError(
            "autoencoder must be a zoo model (built from a configuration, with "
            ".config), so that its prior can be cached under its key"
        )
    device = _device(device)
    config = from_settings(
        FlowPriorConfig,
        device.type,
        source_key=source.key(),
        latent_dim=autoencoder.latent_dim,
        **settings,
    )

    def train(model):
        data = mnist_tensors(device, config.n_train)
        codes = encode_all(autoencoder, data["x_train"]).to(device)  # (N, d)
        model.set_code_statistics(codes)
        return fit(
            model,
            codes,
            loss_fn=flow_matching_fit_loss,
            progress=progress,
            desc=f"flow prior d={config.latent_dim}",
            **config.fit_settings(),
        )

    return load_or_train(config, train, device=device, use_cache=use_cache)
