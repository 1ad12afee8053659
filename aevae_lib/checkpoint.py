"""Checkpoints: the one file format for a trained model, used by the model cache and the CLI.

A checkpoint is a plain dict saved with ``torch.save``::

    {"config": config.to_dict(), "state_dict": {...}, "history": {...}, "sha256": "..."}

``config`` is the model's configuration (``configs``), so the file rebuilds its model without
pickled code: it is read with ``torch.load(path, weights_only=True)``, which loads only tensors
and plain values, and a file that needs anything else is refused in one line. ``sha256`` covers
the config, the history and every weight, so a flipped byte, which ``torch.load`` does not
notice, is detected. The weights' shapes are checked against the configuration on the meta
device (no memory) before the model is allocated, so a file whose config asks for a huge
model is refused before it costs anything. The model cache stores exactly these files, named
by ``config.key()`` (``zoo``).

Owns: ``save_checkpoint``, ``load_checkpoint``, ``digest``, ``train_seconds``.

Used in: ``zoo`` (the model cache), ``python -m aevae_lib train|evaluate|reference``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import pickle
from pathlib import Path

import torch
from torch import nn

from .configs import ModelConfig, config_from_dict
from .runtime import atomic_write_bytes


def digest(entry: dict) -> str:
    """SHA-256 of a checkpoint's config, history and weights (names, dtypes, shapes, bytes)."""
    h = hashlib.sha256()
    h.update(json.dumps([entry["config"], entry["history"]], sort_keys=True, default=repr).encode())
    for name in sorted(entry["state_dict"]):
        t = entry["state_dict"][name].detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}:{t.dtype}:{t.numel()};".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _plain(value, where: str):
    """``value`` as JSON values (a tuple becomes a list); NaN and infinities are kept as floats."""
    try:
        return json.loads(json.dumps(value, allow_nan=True))
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{where} must hold only JSON values (numbers, strings, lists, dicts): {err}"
        ) from None


def save_checkpoint(
    path, model: nn.Module, config: ModelConfig | dict | None = None, history: dict | None = None
) -> Path:
    """Write ``model``'s weights with its configuration and history to ``path``, atomically.

    ``config`` defaults to ``model.config`` (set by ``config.build()``). The file is written
    through a temporary file and a rename, with the permissions of a normal new file (the
    user's umask).
    """
    if config is None:
        config = getattr(model, "config", None)
        if config is None:
            raise ValueError(
                "save_checkpoint needs the model's configuration: pass config=, or "
                "build the model with config.build()"
            )
    if isinstance(config, dict):
        config = config_from_dict(config)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    entry = {
        "config": config.to_dict(),
        "state_dict": state,
        "history": _plain(dict(history or {}), "history"),
    }
    entry["sha256"] = digest(entry)
    buf = io.BytesIO()
    torch.save(entry, buf)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path


def load_checkpoint(
    path,
    device: torch.device | str = "cpu",
    kind: str | None = None,
    expect: ModelConfig | None = None,
):
    """Load a checkpoint; return ``(model, config, history)`` with the model in eval mode.

    Args:
        kind: if given ("ae", "vae" or "judge"), refuse a checkpoint of another kind.
        expect: if given, refuse a checkpoint whose configuration differs from it.

    Raises:
        FileNotFoundError; ValueError in one line that says what is wrong: not a safe
        checkpoint, damaged (SHA-256), another kind or configuration, weights that do not fit
        the configuration, or a history that is not a dict of JSON values.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    entry = _read(path)
    config = _config(entry, path)
    if kind is not None and config.kind != kind:
        raise ValueError(f"{path} holds a {config.kind!r} model, but a {kind!r} was asked for")
    if expect is not None and config != expect:
        differ = sorted(k for k, v in expect.to_dict().items() if config.to_dict().get(k) != v)
        raise ValueError(f"{path} holds another configuration ({', '.join(differ)} differ)")
    history = entry.get("history", {})
    if not isinstance(history, dict):
        raise ValueError(
            f"{path} has a history of type {type(history).__name__}, not a dict: "
            "the file is not a checkpoint this library wrote"
        )
    if "sha256" in entry and entry["sha256"] != digest(entry):
        raise ValueError(f"{path} is damaged: its weights or history do not match their SHA-256")
    _check_shapes(entry["state_dict"], config, path)  # before any memory is allocated
    model = config.build()
    model.load_state_dict(entry["state_dict"])
    return model.to(device).eval(), config, history


def _read(path: Path) -> dict:
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ValueError(
            f"{path} is not a safe checkpoint: it needs code to load (pickled "
            "objects), and only weights and plain values are accepted"
        ) from None
    except Exception as err:  # truncated, not a torch file at all, ...
        raise ValueError(f"{path} is not a readable checkpoint ({type(err).__name__})") from None
    if not isinstance(entry, dict) or not {"config", "state_dict"} <= set(entry):
        found = sorted(entry)[:6] if isinstance(entry, dict) else type(entry).__name__
        raise ValueError(
            f"{path} is not an aevae_lib checkpoint: expected a dict with 'config' and "
            f"'state_dict', found {found}; save a model with aevae_lib.checkpoint.save_checkpoint"
        )
    if not isinstance(entry["state_dict"], dict) or not all(
        isinstance(v, torch.Tensor) for v in entry["state_dict"].values()
    ):
        raise ValueError(
            f"{path} is not an aevae_lib checkpoint: its state_dict is not a dict of tensors"
        )
    return entry


def _config(entry: dict, path: Path) -> ModelConfig:
    try:
        return config_from_dict(entry["config"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path} has a configuration this library cannot build: {err}") from None


def _check_shapes(state: dict, config: ModelConfig, path: Path) -> None:
    """Compare the file's weights with the model ``config`` describes, built on the meta device."""
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in config.build().state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items()}
    if expected == found:
        return
    missing, extra = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    wrong = [
        f"{k}: {found[k]} in the file, {expected[k]} in the model"
        for k in sorted(set(expected) & set(found))
        if expected[k] != found[k]
    ]
    details = "; ".join(
        [
            *wrong[:2],
            *(f"missing {k}" for k in missing[:2]),
            *(f"unexpected {k}" for k in extra[:2]),
        ]
    )
    summary = {k: v for k, v in config.to_dict().items() if k in ("kind", "latent_dim", "hidden")}
    raise ValueError(
        f"the weights in {path} do not fit the model its config describes {summary}: {details}"
    )


def train_seconds(history: dict) -> float | None:
    """Total training time recorded in a history (the sum of per-epoch seconds), or None
    when the history does not record it."""
    seconds = history.get("seconds") if isinstance(history, dict) else None
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
        return float(seconds) if math.isfinite(seconds) else None
    if (
        isinstance(seconds, list)
        and seconds
        and all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in seconds)
    ):
        return float(sum(seconds))
    return None
