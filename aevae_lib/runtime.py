"""Runtime helpers: seeds, device, fast mode, cache folder and a cache of trained models.

Nothing here runs at import time. Every function reads the environment when it is called,
so a notebook can set ``AEVAE_FAST`` or ``AEVAE_CACHE`` before using the library.

Environment variables
---------------------
AEVAE_FAST   "1" (or "true", "yes") shrinks epochs and data for quick local iteration.
AEVAE_CACHE  folder for trained models and downloads; default: the user cache folder.

Used in: every notebook (setup cell).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}

#: Bumped whenever a change to the library invalidates every cached model.
CACHE_VERSION = 1


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch; return a ``torch.Generator`` seeded with ``seed``.

    The returned generator is what library functions take for their own randomness
    (shuffling, binarization), so a result depends only on the seeds passed in.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (seeding the legacy global is the point)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def get_device(prefer: str | None = None, verbose: bool = True) -> torch.device:
    """Pick CUDA, then Apple MPS, then CPU (or ``prefer`` if given) and say which.

    Args:
        prefer: "cuda", "mps" or "cpu" to force a device; None picks the best available.
        verbose: print one line naming the device.
    """
    if prefer is not None:
        if prefer not in {"cuda", "mps", "cpu"} and not prefer.startswith("cuda:"):
            raise ValueError(
                f"prefer must be 'cuda', 'cuda:N', 'mps', 'cpu' or None, got {prefer!r}"
            )
        if prefer.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError("prefer='cuda' but no CUDA device is available; use 'cpu'")
        if prefer == "mps" and not _mps_available():
            raise RuntimeError("prefer='mps' but Apple MPS is not available; use 'cpu'")
        device = torch.device(prefer)
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    elif _mps_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    if verbose:
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type.upper()
        extra = f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""
        print(f"Using device: {name}{extra}")
    return device


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def fast_mode() -> bool:
    """True when ``AEVAE_FAST`` asks for quick, shrunken runs."""
    value = os.environ.get("AEVAE_FAST", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"AEVAE_FAST must be 1/0 (or true/false), got {value!r}; unset it for full mode"
    )


#: What fast mode shrinks, in one place: every training run lasts at most FAST_EPOCHS epochs,
#: and the zoo's models train on the first FAST_N_TRAIN images. Chapters never mention it.
FAST_EPOCHS = 3
FAST_N_TRAIN = 10_000


def fast_epochs(epochs: int) -> int:
    """``epochs``, or at most ``FAST_EPOCHS`` of them in fast mode."""
    return min(epochs, FAST_EPOCHS) if fast_mode() else epochs


def pick(full: Any, fast: Any) -> Any:
    """Return ``fast`` in fast mode, else ``full`` (e.g. ``epochs = pick(20, 2)``)."""
    return fast if fast_mode() else full


@contextmanager
def flush_denormals() -> Iterator[bool]:
    """Treat subnormal floats as zero on the CPU while the block runs; yields whether it could.

    Adam's first-moment estimates of weights that rarely receive a gradient (those of MNIST's
    nearly always blank border pixels, say) decay geometrically into the subnormal range,
    below about 1e-38, where arithmetic is slow: the fused Adam step of the 784-400-20 VAE
    took 1.02 ms with a third of its moments subnormal and 0.48 ms with them flushed (one
    thread; ``bench.adam_subnormal_ms``, benchmarks/results/step_breakdown.json). Restores
    torch's default (off) on exit.

    The setting belongs to the calling thread only (x86 keeps it per thread, and torch's
    intra-op worker threads keep theirs): with two threads, a large elementwise operation
    flushes the calling thread's half of the elements and not the other half (measured:
    2,000,000 of 4,000,000 subnormal products stayed subnormal). So the gain is partial with
    several threads; results are the same either way to the printed decimals.
    """
    supported = torch.set_flush_denormal(True)
    try:
        yield supported
    finally:
        if supported:
            torch.set_flush_denormal(False)


def cache_dir() -> Path:
    """The library's cache folder: ``AEVAE_CACHE`` or the user cache (created on demand)."""
    env = os.environ.get("AEVAE_CACHE")
    if env:
        root = Path(env).expanduser()
    elif sys.platform == "win32":
        root = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "aevae"
    elif sys.platform == "darwin":
        root = Path.home() / "Library" / "Caches" / "aevae"
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "aevae"
    return root


def config_key(config: dict) -> str:
    """A stable hash of a JSON-able configuration (same in every process and Python run)."""
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    try:
        text = json.dumps({"cache_version": CACHE_VERSION, **config}, sort_keys=True)
    except TypeError as err:
        raise TypeError(
            f"config must hold only JSON values (str, int, float, bool, list, dict): {err}"
        ) from err
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename,
    so readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def entry_digest(entry: dict) -> str:
    """SHA-256 of a cache entry's config, history and weights (names, dtypes, shapes, bytes).

    Stored with the entry, so a flipped byte in the weights, which ``torch.load`` does not
    notice, is detected on loading.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps([entry["config"], entry["history"]], sort_keys=True, default=repr).encode())
    for name in sorted(entry["state_dict"]):
        t = entry["state_dict"][name].detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{t.dtype}:{t.numel()};".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def cached(
    config: dict,
    build: Callable[[], torch.nn.Module],
    train: Callable[[torch.nn.Module], dict],
    *,
    folder: str = "models",
    verbose: bool = True,
) -> tuple[torch.nn.Module, dict]:
    """Return a trained model for ``config``, training it only if no valid cache entry exists.

    ``build()`` makes an untrained model; ``train(model)`` trains it in place and returns a
    JSON-able history. The entry is keyed by :func:`config_key`, so every setting in
    ``config`` that changes the result must be in it. Weights load with ``weights_only=True``;
    a corrupted entry is reported with a warning and retrained.

    Used in: every chapter that trains a model, so later chapters reuse earlier ones.
    """
    key = config_key(config)
    config = json.loads(json.dumps(config))  # stored as JSON values: a tuple comes back a list
    path = cache_dir() / folder / f"{key}.pt"
    model = build()
    if path.exists():
        try:
            entry = torch.load(path, map_location="cpu", weights_only=True)
            if "sha256" in entry and entry["sha256"] != entry_digest(entry):  # none: older entry
                raise ValueError("its weights or history do not match their SHA-256 (damaged file)")
            model.load_state_dict(entry["state_dict"])
            if entry.get("config") != config:
                raise ValueError("stored config differs from the requested one")
            if verbose:
                print(f"Loaded the trained model {key} from the model cache")
            return model, entry["history"]
        except Exception as err:  # any damage: warn, retrain, overwrite
            warnings.warn(
                f"cache entry {path} is unreadable or does not match ({' '.join(str(err).split())}); "
                "retraining it",
                RuntimeWarning,
                stacklevel=2,
            )
            model = build()
    history = train(model)
    entry = {"config": config, "history": history, "state_dict": model.state_dict()}
    try:
        entry["sha256"] = entry_digest(entry)
        buf = io.BytesIO()
        torch.save(entry, buf)
        atomic_write_bytes(path, buf.getvalue())
    except OSError as err:
        warnings.warn(
            f"could not write the model cache at {path} ({err}); the model is trained but not "
            "cached. Set AEVAE_CACHE to a writable folder to keep trained models.",
            RuntimeWarning,
            stacklevel=2,
        )
    return model, history
