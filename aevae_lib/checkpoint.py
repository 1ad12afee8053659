"""Checkpoints: a trained model saved as a plain dict, loadable with ``weights_only=True``.

A checkpoint is ``{"config": dict, "state_dict": dict, "history": dict}``, saved with
``torch.save``. ``config`` holds every setting needed to rebuild the model (the settings of
``zoo.ae_defaults()`` / ``zoo.vae_defaults()``, plus ``"kind"``: "ae" or "vae"), so a file
written by ``python -m aevae_lib train`` or ``reproduce`` can be evaluated anywhere without
pickled code: ``torch.load(path, weights_only=True)`` reads only tensors and plain values.

Used in: notebooks/08_evaluating_vaes.ipynb (the reference model), ``python -m aevae_lib``.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import torch
from torch import nn

from .models import VAE, Autoencoder, ConvVAE
from .runtime import atomic_write_bytes

KINDS = ("ae", "vae")


def model_from_config(config: dict) -> nn.Module:
    """Build the untrained model a checkpoint's ``config`` describes (same code path as ``zoo``)."""
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    kind = config.get("kind")
    if kind not in KINDS:
        raise ValueError(f"config['kind'] must be one of {KINDS}, got {kind!r}")
    try:
        if kind == "ae":
            return Autoencoder(
                latent_dim=config["latent_dim"],
                hidden=config["hidden"],
                activation=config["activation"],
                output=config["output"],
            )
        if config.get("conv", False):
            return ConvVAE(
                latent_dim=config["latent_dim"],
                channels=config.get("channels", 32),
                hidden=config.get("conv_hidden", 256),
            )
        return VAE(
            latent_dim=config["latent_dim"],
            hidden=config["hidden"],
            activation=config["activation"],
            likelihood=config["likelihood"],
            learn_variance=config.get("learn_variance", False),
        )
    except KeyError as err:
        raise ValueError(f"config for kind {kind!r} lacks the setting {err}") from None


def save_checkpoint(path, model: nn.Module, config: dict, history: dict | None = None) -> Path:
    """Write ``{config, state_dict, history}`` to ``path`` atomically (weights moved to CPU)."""
    model_from_config(config)  # refuse a config that could not be loaded again
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    entry = {"config": dict(config), "state_dict": state, "history": dict(history or {})}
    buf = io.BytesIO()
    torch.save(entry, buf)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path


def load_checkpoint(path, device: torch.device | str = "cpu", kind: str | None = None):
    """Load a checkpoint; return ``(model, config, history)`` with the model in eval mode.

    Args:
        kind: if given ("ae" or "vae"), refuse a checkpoint of the other kind.

    Raises:
        FileNotFoundError, or ValueError with a message that says what does not match
        (not a checkpoint dict, a different kind, or weights that do not fit the config).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"{path} is not a readable checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(entry, dict) or not {"config", "state_dict"} <= set(entry):
        found = sorted(entry)[:6] if isinstance(entry, dict) else type(entry).__name__
        raise ValueError(
            f"{path} is not an aevae_lib checkpoint: expected a dict with 'config' and "
            f"'state_dict' (and 'history'), found {found}. A bare state dict needs its config: "
            "save it with aevae_lib.checkpoint.save_checkpoint"
        )
    config, history = entry["config"], entry.get("history", {})
    if kind is not None and config.get("kind") != kind:
        raise ValueError(f"{path} holds a {config.get('kind')!r} model, but a {kind!r} was asked for")
    model = model_from_config(config)
    try:
        model.load_state_dict(entry["state_dict"])
    except RuntimeError as err:
        summary = {k: config.get(k) for k in ("kind", "latent_dim", "hidden", "conv") if k in config}
        first = str(err).splitlines()[1:3]
        raise ValueError(
            f"the weights in {path} do not fit the architecture its config describes {summary}: "
            + " ".join(line.strip() for line in first)
        ) from None
    return model.to(device).eval(), config, history


def train_seconds(history: dict) -> float:
    """Total training time recorded in a history (sum of per-epoch seconds; NaN if absent)."""
    seconds = history.get("seconds") if isinstance(history, dict) else None
    if isinstance(seconds, (int, float)):
        return float(seconds)
    return float(sum(seconds)) if seconds else math.nan
