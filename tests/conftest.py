"""Shared fixtures: tiny fake MNIST files, a local HTTP mirror, isolated caches."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_mnist() -> Path | None:
    """The real MNIST folder (AEVAE_DATA, else ../shared/data), or None."""
    for folder in (os.environ.get("AEVAE_DATA"), REPO.parent / "shared" / "data"):
        if folder and (Path(folder) / "mnist" / "train-images-idx3-ubyte.gz").is_file():
            return Path(folder)
    return None


@pytest.fixture
def real_mnist_root() -> Path:
    root = shared_mnist()
    if root is None:
        pytest.skip("real MNIST files not available (set AEVAE_DATA)")
    return root


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own empty cache folder and no AEVAE_DATA / AEVAE_FAST."""
    monkeypatch.setenv("AEVAE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("AEVAE_DATA", raising=False)
    monkeypatch.delenv("AEVAE_FAST", raising=False)
    return tmp_path / "cache"


def idx_images(n: int, seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    return struct.pack(">IIII", 2051, n, 28, 28) + pixels.tobytes()


def idx_labels(n: int, seed: int = 0) -> bytes:
    labels = np.random.default_rng(seed).integers(0, 10, size=n, dtype=np.uint8)
    return struct.pack(">II", 2049, n) + labels.tobytes()


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch):
    """Write small, valid IDX files (7 train, 3 test) and register their MD5s.

    Returns (folder, raw) where raw maps each file name to its uncompressed bytes.
    """
    from aevae_lib import data

    raw = {
        "train-images-idx3-ubyte": idx_images(7, 1),
        "train-labels-idx1-ubyte": idx_labels(7, 2),
        "t10k-images-idx3-ubyte": idx_images(3, 3),
        "t10k-labels-idx1-ubyte": idx_labels(3, 4),
    }
    table = {}
    for name, blob in raw.items():
        magic, count = struct.unpack(">II", blob[:8])
        table[name] = (hashlib.md5(blob).hexdigest(), count, magic)
    monkeypatch.setattr(data, "MNIST_FILES", table)
    folder = tmp_path / "fake"
    (folder / "mnist").mkdir(parents=True)
    for name, blob in raw.items():
        (folder / "mnist" / f"{name}.gz").write_bytes(gzip.compress(blob))
    return folder, raw


@pytest.fixture
def http_mirror(tmp_path):
    """Serve a folder over http://127.0.0.1 (a local stand-in for a public mirror).

    Yields (folder, base_url); put files into ``folder`` before requesting them.
    """
    folder = tmp_path / "mirror"
    folder.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def tiny_vae():
    """A small untrained VAE on the 8x8 digits (64 pixels, 2-D codes) and 32 binarized images."""
    import torch

    from aevae_lib.data import fixed_binarization, load_digits
    from aevae_lib.models import VAE

    torch.manual_seed(0)
    x_train, _, _, _ = load_digits()
    return VAE(input_dim=64, latent_dim=2, hidden=(16,)), fixed_binarization(x_train[:32])


@pytest.fixture(scope="module")
def chromium() -> str:
    """Headless Chromium for the browser suites (tests/browser); the test is skipped, with the
    fix, when it or Playwright is missing."""
    pytest.importorskip("playwright.sync_api")
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "browser"))
    import check_book

    path = check_book.find_chromium()
    if path is None:
        pytest.skip("Chromium not installed (apt-get install chromium)")
    return path
