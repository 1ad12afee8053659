"""Runtime helpers, the bottom layer: seeds, device, fast mode, the cache folder, safe writes.

Owns: ``seed_everything``, ``get_device``, ``fast_mode`` with what it shrinks
(``FAST_EPOCHS``, ``FAST_N_TRAIN``, ``fast_epochs``), ``flush_denormals``, ``cache_dir``,
``config_key`` (the hash that names a cached model), ``atomic_write_bytes`` and
``sha256_file``.

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
import json
import os
import random
import sys
import tempfile
from collections.abc import Iterator
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
                f"device must be 'cuda', 'cuda:N', 'mps', 'cpu' or None (the best), got {prefer!r}"
            )
        if prefer.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(
                f"device {prefer!r} was asked for, but no CUDA device is available; use 'cpu'"
            )
        if prefer == "mps" and not _mps_available():
            raise RuntimeError(
                "device 'mps' was asked for, but Apple MPS is not available; use 'cpu'"
            )
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


def _umask() -> int:
    """The process's umask (reading it means setting it; it is put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename,
    so readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private (0600): use the umask
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
