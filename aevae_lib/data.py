"""Datasets and batching: MNIST from the four IDX files, binarization, minibatches, 8x8 digits.

MNIST look-up order (first folder that holds the file wins):
    1. the ``root`` argument,
    2. the ``AEVAE_DATA`` environment variable,
    3. the user cache (``aevae_lib.runtime.cache_dir() / "data"``),
    4. a download from the public mirrors into the first of these folders.
In each folder the files may sit in a ``mnist/`` sub-folder or directly in it, gzipped or not.
Every file is verified against the widely published MD5 of its *uncompressed* content, so a
truncated, corrupted or wrong file is refused with a message that names it and the fix.

Images come back as float32 in [0, 1] with shape (N, 784); labels as int64 with shape (N,).

Used in: every notebook.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import os
import struct
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from .runtime import cache_dir

#: raw file name -> (MD5 of the uncompressed IDX file, number of items, IDX magic number)
MNIST_FILES: dict[str, tuple[str, int, int]] = {
    "train-images-idx3-ubyte": ("6bbc9ace898e44ae57da46a324031adb", 60000, 2051),
    "train-labels-idx1-ubyte": ("a25bea736e30d166cdddb491f175f624", 60000, 2049),
    "t10k-images-idx3-ubyte": ("2646ac647ad5339dbf082846283269ea", 10000, 2051),
    "t10k-labels-idx1-ubyte": ("27ae3e4e09519cfbb04c329615203637", 10000, 2049),
}

#: Public mirrors tried in order; each serves ``<raw name>.gz``.
MNIST_MIRRORS: list[str] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]

_SPLITS = {"train": "train", "test": "t10k"}


class DataError(RuntimeError):
    """A data file is missing, damaged or cannot be fetched; the message says what to do."""


def _candidate_folders(root: str | os.PathLike | None) -> list[Path]:
    folders = []
    if root is not None:
        folders.append(Path(root).expanduser())
    env = os.environ.get("AEVAE_DATA")
    if env:
        folders.append(Path(env).expanduser())
    folders.append(cache_dir() / "data")
    return folders


def _find(name: str, folders: list[Path]) -> Path | None:
    for folder in folders:
        for sub in (folder / "mnist", folder):
            for candidate in (sub / f"{name}.gz", sub / name):
                if candidate.is_file():
                    return candidate
    return None


def _read_raw(path: Path) -> bytes:
    """Return the uncompressed bytes of ``path`` (gzip or raw IDX)."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(
                f"{path} is not a complete gzip file ({err}); it is probably truncated. "
                f"Delete it and run again to download a fresh copy, or replace it."
            ) from err
    return data


def _header_problem(name: str, raw: bytes) -> str | None:
    """Say how the IDX header differs from what ``name`` should have, or None if it agrees."""
    _, count, magic = MNIST_FILES[name]
    if len(raw) < 8:
        return f"it is only {len(raw)} bytes long, shorter than an IDX header"
    got_magic, got_count = struct.unpack(">II", raw[:8])
    if (got_magic, got_count) == (magic, count):
        return None
    kinds = {2051: "an image file", 2049: "a label file"}
    return (
        f"its header says magic number {got_magic} ({kinds.get(got_magic, 'not an MNIST file')}) "
        f"with {got_count} items, expected magic number {magic} ({kinds.get(magic, '?')}) with {count} items"
    )


def _verify(name: str, raw: bytes, source: str) -> None:
    md5 = MNIST_FILES[name][0]
    got = hashlib.md5(raw).hexdigest()
    header = _header_problem(name, raw)
    if got != md5:
        raise DataError(
            f"{source}: content MD5 {got} does not match the published {md5} of {name} "
            f"(size {len(raw)} bytes"
            + (f"; {header}" if header else "")
            + "). The file is damaged or not MNIST. Delete it and run "
            "again to download a fresh copy, or point AEVAE_DATA at a folder with a good copy."
        )
    if header:  # only with a checksum table that does not describe the files (as in tests)
        raise DataError(
            f"{source}: {header}. The file is not {name}; delete it and run again to "
            "download a fresh copy, or point AEVAE_DATA at a folder with a good copy."
        )


def _parse_idx(raw: bytes) -> np.ndarray:
    magic, count = struct.unpack(">II", raw[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", raw[8:16])
        return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, rows * cols)
    return np.frombuffer(raw, dtype=np.uint8, offset=8)


def fetch(url: str, timeout: float = 60.0) -> bytes:
    """Download ``url`` and return its bytes (the one place that touches the network)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (fixed https mirrors)
        return response.read()


def _download(name: str, folder: Path) -> Path:
    """Fetch ``name``.gz from the mirrors and verify it in memory; only then create
    ``folder/mnist`` and move the file into place (a temporary file and a rename). A failed
    download leaves nothing behind: no file, no half-written file, no new folder."""
    _check_can_create(folder / "mnist")
    errors = []
    for mirror in MNIST_MIRRORS:
        url = mirror + f"{name}.gz"
        try:
            blob = fetch(url)
            _verify(name, gzip.decompress(blob), url)
        except (
            urllib.error.URLError,
            http.client.HTTPException,  # e.g. IncompleteRead: the connection broke midway
            OSError,
            EOFError,
            zlib.error,
            DataError,
        ) as err:
            errors.append(f"{url}: {err}")
            continue
        return _save(blob, folder / "mnist" / f"{name}.gz")
    raise DataError(
        f"could not download {name}.gz from any mirror:\n  " + "\n  ".join(errors) + "\n"
        "If this machine is offline, copy the four MNIST files "
        f"({', '.join(n + '.gz' for n in MNIST_FILES)}) into a folder and set AEVAE_DATA to it."
    )


def _check_can_create(folder: Path) -> None:
    """Fail before any download if files cannot be written in ``folder`` (nothing is created:
    the nearest existing folder above it must be a writable folder)."""
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise DataError(
            f"cannot write to {folder} ({existing} is "
            f"{'not a folder' if not existing.is_dir() else 'not writable'}). Set AEVAE_DATA to "
            "a writable folder (or one that already holds the MNIST files)."
        )


def _save(blob: bytes, target: Path) -> Path:
    """Write a verified file to ``target`` atomically, creating its folders; on failure remove
    the temporary file and every folder this call created."""
    created = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part"
        )
        tmp = Path(tmp_name)
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        return target
    except OSError as err:
        raise DataError(
            f"could not save {target} ({err.strerror or err}); nothing was kept. Free some disk "
            "space or set AEVAE_DATA to a writable folder (or one that already holds the MNIST "
            "files), then run again."
        ) from err
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        if not target.exists():
            for folder in created:  # innermost first; only folders this call made, if empty
                with contextlib.suppress(OSError):
                    folder.rmdir()


def _load_file(name: str, root, download: bool) -> np.ndarray:
    folders = _candidate_folders(root)
    path = _find(name, folders)
    if path is None:
        if not download:
            raise DataError(_missing_message(name, folders))
        env = os.environ.get("AEVAE_DATA")
        if root is None and env and not Path(env).expanduser().is_dir():
            raise DataError(
                f"AEVAE_DATA is set to {env}, which is not a folder, and MNIST file {name}(.gz) "
                "was not found elsewhere. Fix the path (it should name the folder that holds the "
                "four MNIST files, or their mnist/ sub-folder), or unset AEVAE_DATA to download "
                f"them into {cache_dir() / 'data'}."
            )
        path = _download(name, folders[0])
    raw = _read_raw(path)
    _verify(name, raw, str(path))
    return _parse_idx(raw)


def _missing_message(name: str, folders: list[Path]) -> str:
    looked = "\n  ".join(str(f) for f in folders)
    files = ", ".join(n + ".gz" for n in MNIST_FILES)
    env = os.environ.get("AEVAE_DATA")
    hint = (
        f"AEVAE_DATA is already set (to {env}): check that this folder, or its mnist/ "
        f"sub-folder, holds the four files ({files}), or call load_mnist(..., download=True) "
        "with internet."
        if env
        else f"Set the AEVAE_DATA environment variable to a folder holding the four files "
        f"({files}), e.g. AEVAE_DATA=../shared/data, or call load_mnist(..., download=True) "
        "with internet."
    )
    return f"MNIST file {name}(.gz) not found. Looked in (and in a mnist/ sub-folder of):\n  {looked}\n{hint}"


def load_mnist(
    split: str = "train", root: str | os.PathLike | None = None, download: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load an MNIST split as ``(images, labels)``.

    Args:
        split: "train" (60,000 images) or "test" (10,000 images).
        root: a folder to look in first (see the module docstring for the full order).
        download: fetch missing files from the public mirrors (verified by MD5).

    Returns:
        images: float32 tensor (N, 784), pixel intensities in [0, 1].
        labels: int64 tensor (N,), digits 0-9.
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    prefix = _SPLITS[split]
    images = _load_file(f"{prefix}-images-idx3-ubyte", root, download)
    labels = _load_file(f"{prefix}-labels-idx1-ubyte", root, download)
    x = torch.from_numpy(images.astype(np.float32) / 255.0)  # (N, 784) in [0, 1]
    y = torch.from_numpy(labels.astype(np.int64))  # (N,)
    return x, y


def mnist_tensors(device: torch.device | str = "cpu", n_train: int | None = None) -> dict:
    """MNIST as in-memory tensors on ``device``: x_train (N, 784), y_train, x_test, y_test.

    ``n_train`` keeps the first N training images (default: all 60,000).
    """
    if n_train is not None and (
        not isinstance(n_train, int) or isinstance(n_train, bool) or not 0 < n_train <= 60_000
    ):
        raise ValueError(f"n_train must be None or an int in 1..60000, got {n_train!r}")
    x_train, y_train = load_mnist("train")
    x_test, y_test = load_mnist("test")
    if n_train is not None:
        x_train, y_train = x_train[:n_train], y_train[:n_train]
    tensors = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return {k: v.to(device) for k, v in tensors.items()}


def load_digits(test_fraction: float = 0.2, seed: int = 0):
    """scikit-learn's bundled 8x8 digits (1,797 images, offline) as a tiny MNIST stand-in.

    Returns ``(x_train, y_train, x_test, y_test)``; images float32 (N, 64) in [0, 1].
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    from sklearn.datasets import load_digits as _sk_load_digits  # slow import: only when used

    bunch = _sk_load_digits()
    x = torch.tensor(bunch.data, dtype=torch.float32) / 16.0  # (1797, 64), values 0..16 -> [0, 1]
    y = torch.tensor(bunch.target, dtype=torch.int64)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_test = int(round(test_fraction * len(x)))
    test, train = perm[:n_test], perm[n_test:]
    return x[train], y[train], x[test], y[test]


def _check_probabilities(x: torch.Tensor, name: str = "x") -> None:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor of probabilities, got {type(x).__name__}"
            + (f" of dtype {x.dtype}" if isinstance(x, torch.Tensor) else "")
        )
    if x.numel() and not torch.isfinite(x.sum()) and not torch.isfinite(x).all():  # sum: fast
        raise ValueError(
            f"{name} must hold pixel intensities in [0, 1], got {int(torch.isnan(x).sum())} NaN "
            f"and {int(torch.isinf(x).sum())} infinite value(s); check the data"
        )
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(
            f"{name} must hold pixel intensities in [0, 1], got values in "
            f"[{x.min().item():.3g}, {x.max().item():.3g}]; divide uint8 images by 255"
        )


def binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Dynamic binarization: a fresh Bernoulli draw with P(pixel = 1) = intensity.

    Call it on every minibatch so the model sees a new binary image each epoch. Shape kept.
    """
    _check_probabilities(x)
    # u < p with u ~ Uniform[0, 1) is a Bernoulli(p) draw (exact at p = 0 and p = 1). On a CPU
    # it gives bit for bit what torch.bernoulli(x, generator=generator) gives, about 3x faster
    # (torch.bernoulli draws element by element; benchmarks/README.md).
    device = generator.device if generator is not None else x.device
    u = torch.rand(x.shape, generator=generator, device=device, dtype=x.dtype)  # same shape as x
    return (u.to(x.device) < x).to(x.dtype)


def fixed_binarization(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """One seeded Bernoulli draw, the same every call: use it for test sets."""
    return binarize(x, torch.Generator(device=x.device).manual_seed(seed))


def minibatch_indices(
    n: int,
    batch_size: int,
    *,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
    drop_last: bool = False,
) -> Iterator[torch.Tensor]:
    """Index tensors that cover ``range(n)`` once per call (one epoch), shuffled if asked."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]


def minibatches(
    *tensors: torch.Tensor,
    batch_size: int,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Iterate over aligned in-memory tensors in minibatches (one epoch per call).

    Indexing whole tensors is far faster than a per-sample ``DataLoader`` for MNIST-sized
    data (see the ANCHORS note in the book's evaluation chapter).

    Example:
        >>> for xb, yb in minibatches(x, y, batch_size=256, generator=g): ...
    """
    if not tensors:
        raise ValueError("minibatches needs at least one tensor")
    n = len(tensors[0])
    for i, t in enumerate(tensors):
        if len(t) != n:
            raise ValueError(f"tensor {i} has {len(t)} rows but tensor 0 has {n}; they must align")
    for idx in minibatch_indices(
        n, batch_size, shuffle=shuffle, generator=generator, drop_last=drop_last
    ):
        yield tuple(t[idx] for t in tensors)
