"""Tests of aevae_lib.data: look-up, integrity, download, binarization, batching, digits."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
import sys

import pytest
import torch

from aevae_lib import data
from aevae_lib.data import (
    DataError,
    binarize,
    fixed_binarization,
    load_digits,
    load_mnist,
    minibatch_indices,
    minibatches,
)

# ---- the real files ---------------------------------------------------------------------


@pytest.mark.slow
def test_real_mnist_loads_with_published_md5s_and_label_counts(real_mnist_root):
    x, y = load_mnist("train", root=real_mnist_root, download=False)
    xt, yt = load_mnist("test", root=real_mnist_root, download=False)
    assert x.shape == (60000, 784) and xt.shape == (10000, 784)
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert torch.bincount(y).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert torch.bincount(yt).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    for name, (md5, _, _) in data.MNIST_FILES.items():
        raw = gzip.decompress((real_mnist_root / "mnist" / f"{name}.gz").read_bytes())
        assert hashlib.md5(raw).hexdigest() == md5


@pytest.mark.slow
def test_aevae_data_variable_is_used(real_mnist_root, monkeypatch):
    monkeypatch.setenv("AEVAE_DATA", str(real_mnist_root))
    x, y = load_mnist("test", download=False)
    assert x.shape == (10000, 784) and y.shape == (10000,)


# ---- look-up order and the offline error -----------------------------------------------


def test_fake_files_load_from_root(fake_mnist):
    folder, raw = fake_mnist
    x, y = load_mnist("train", root=folder, download=False)
    assert x.shape == (7, 784)
    assert torch.equal(
        (x * 255).round().to(torch.uint8).flatten(),
        torch.frombuffer(bytearray(raw["train-images-idx3-ubyte"][16:]), dtype=torch.uint8),
    )
    assert y.tolist() == list(raw["train-labels-idx1-ubyte"][8:])


def test_root_wins_over_environment(fake_mnist, tmp_path, monkeypatch):
    folder, _ = fake_mnist
    other = tmp_path / "other" / "mnist"
    other.mkdir(parents=True)
    for f in (folder / "mnist").iterdir():
        other.joinpath(f.name).write_bytes(b"not a gzip file")
    monkeypatch.setenv("AEVAE_DATA", str(other.parent))
    x, _ = load_mnist("test", root=folder, download=False)  # the good copy in root is used
    assert x.shape == (3, 784)
    with pytest.raises(DataError):  # without root, the damaged copy in AEVAE_DATA is found
        load_mnist("test", download=False)


def test_uncompressed_files_in_folder_root_are_found(fake_mnist, tmp_path):
    folder, raw = fake_mnist
    flat = tmp_path / "flat"
    flat.mkdir()
    for name, blob in raw.items():
        (flat / name).write_bytes(blob)
    x, _ = load_mnist("test", root=flat, download=False)
    assert x.shape == (3, 784)


def test_offline_error_names_variable_and_files(tmp_path):
    with pytest.raises(DataError) as info:
        load_mnist("train", root=tmp_path / "empty", download=False)
    message = str(info.value)
    assert "AEVAE_DATA" in message
    for name in data.MNIST_FILES:
        assert f"{name}.gz" in message


def test_bad_split_is_refused():
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        load_mnist("validation")


# ---- integrity ---------------------------------------------------------------------------


def test_truncated_gzip_is_refused_with_file_name(fake_mnist):
    folder, _ = fake_mnist
    path = folder / "mnist" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz") as info:
        load_mnist("test", root=folder, download=False)
    assert "Delete it" in str(info.value)


def test_flipped_byte_is_refused(fake_mnist):
    folder, raw = fake_mnist
    blob = bytearray(raw["t10k-images-idx3-ubyte"])
    blob[500] ^= 0xFF  # one pixel changes; the gzip is valid, the content is not
    (folder / "mnist" / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(bytes(blob)))
    with pytest.raises(DataError, match="does not match the published"):
        load_mnist("test", root=folder, download=False)


# ---- download through a local mirror -----------------------------------------------------


def test_download_fetches_verifies_and_renames(fake_mnist, http_mirror, tmp_path, monkeypatch):
    folder, _ = fake_mnist
    mirror_dir, url = http_mirror
    for f in (folder / "mnist").iterdir():
        shutil.copy(f, mirror_dir / f.name)
    monkeypatch.setattr(data, "MNIST_MIRRORS", [url + "missing/", url])  # first mirror 404s
    target = tmp_path / "downloads"
    x, y = load_mnist("test", root=target, download=True)
    assert x.shape == (3, 784)
    files = sorted(p.name for p in (target / "mnist").iterdir())
    assert files == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]  # no .part left


def test_corrupt_download_leaves_nothing_behind(fake_mnist, http_mirror, tmp_path, monkeypatch):
    folder, _ = fake_mnist
    mirror_dir, url = http_mirror
    for f in (folder / "mnist").iterdir():
        shutil.copy(f, mirror_dir / f.name)
    bad = mirror_dir / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[: len(bad.read_bytes()) // 2])  # truncated on the server
    monkeypatch.setattr(data, "MNIST_MIRRORS", [url])
    target = tmp_path / "downloads"
    with pytest.raises(DataError, match="could not download t10k-images"):
        load_mnist("test", root=target, download=True)
    assert not target.exists()  # not even an empty folder


def test_download_goes_to_user_cache_when_nothing_is_set(
    fake_mnist, http_mirror, isolated_cache, monkeypatch
):
    folder, _ = fake_mnist
    mirror_dir, url = http_mirror
    for f in (folder / "mnist").iterdir():
        shutil.copy(f, mirror_dir / f.name)
    monkeypatch.setattr(data, "MNIST_MIRRORS", [url])
    x, _ = load_mnist("train")
    assert x.shape == (7, 784)
    assert (isolated_cache / "data" / "mnist" / "train-images-idx3-ubyte.gz").is_file()


def test_fetch_can_be_replaced_for_tests(fake_mnist, tmp_path, monkeypatch):
    folder, _ = fake_mnist
    calls = []

    def fake_fetch(url, timeout=60.0):
        calls.append(url)
        return (folder / "mnist" / url.rsplit("/", 1)[1]).read_bytes()

    monkeypatch.setattr(data, "fetch", fake_fetch)
    x, _ = load_mnist("test", root=tmp_path / "dl")
    assert x.shape == (3, 784) and len(calls) == 2


def test_import_touches_neither_network_nor_cache(tmp_path):
    code = (
        "import socket, urllib.request\n"
        "def boom(*a, **k): raise SystemExit('network used at import')\n"
        "socket.socket.connect = boom; urllib.request.urlopen = boom\n"
        "import aevae_lib, aevae_lib.data, aevae_lib.runtime, aevae_lib.models, aevae_lib.objectives\n"
        "import aevae_lib.train, aevae_lib.evaluate, aevae_lib.zoo, aevae_lib.judge\n"
    )
    cache = tmp_path / "never"
    env = {"AEVAE_CACHE": str(cache), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    assert not cache.exists()


# ---- binarization ------------------------------------------------------------------------


def test_dynamic_binarization_mean_matches_intensity():
    x = torch.linspace(0, 1, 11).repeat(20000, 1)  # (20000, 11)
    b = binarize(x, torch.Generator().manual_seed(0))
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    assert torch.allclose(b.mean(0), x[0], atol=0.01)


def test_dynamic_binarization_is_exact_at_0_and_1_and_keeps_dtype_and_shape():
    x = torch.tensor([[0.0, 1.0]]).repeat(5000, 1).double()  # (5000, 2)
    b = binarize(x, torch.Generator().manual_seed(1))
    assert b.dtype == torch.float64 and b.shape == x.shape
    assert torch.equal(b, x)


def test_dynamic_binarization_equals_torch_bernoulli_on_cpu():
    """The fast u < p form draws the same bits as torch.bernoulli from the same generator."""
    x = torch.rand(300, 784, generator=torch.Generator().manual_seed(0))
    fast = binarize(x, torch.Generator().manual_seed(5))
    assert torch.equal(fast, torch.bernoulli(x, generator=torch.Generator().manual_seed(5)))


def test_dynamic_binarization_draws_fresh_values_and_is_seeded():
    x = torch.full((100, 784), 0.5)
    g = torch.Generator().manual_seed(3)
    first, second = binarize(x, g), binarize(x, g)
    assert not torch.equal(first, second)
    assert torch.equal(first, binarize(x, torch.Generator().manual_seed(3)))


def test_fixed_binarization_is_the_same_every_call():
    x = torch.rand(50, 784, generator=torch.Generator().manual_seed(0))
    assert torch.equal(fixed_binarization(x), fixed_binarization(x))
    assert not torch.equal(fixed_binarization(x, seed=0), fixed_binarization(x, seed=1))


def test_binarize_refuses_values_outside_unit_interval():
    with pytest.raises(ValueError, match=r"in \[0, 1\].*divide uint8 images by 255"):
        binarize(torch.tensor([[0.0, 255.0]]))


# ---- minibatches -------------------------------------------------------------------------


@pytest.mark.parametrize("n,batch", [(10, 3), (12, 4), (1, 5), (257, 128)])
def test_each_example_once_per_epoch(n, batch):
    seen = torch.cat(list(minibatch_indices(n, batch, generator=torch.Generator().manual_seed(0))))
    assert sorted(seen.tolist()) == list(range(n))


def test_drop_last_drops_only_the_incomplete_batch():
    sizes = [len(b) for b in minibatch_indices(10, 3, drop_last=True)]
    assert sizes == [3, 3, 3]


def test_same_seed_same_batches_and_epochs_differ():
    def epoch(g):
        return [b.tolist() for b in minibatch_indices(20, 6, generator=g)]

    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert epoch(g1) == epoch(g2)
    assert epoch(g1) != epoch(torch.Generator().manual_seed(6))


def test_minibatches_keep_tensors_aligned():
    x = torch.arange(10).float().unsqueeze(1)
    y = torch.arange(10)
    for xb, yb in minibatches(x, y, batch_size=4, generator=torch.Generator().manual_seed(0)):
        assert torch.equal(xb.squeeze(1).long(), yb)


def test_minibatches_refuse_bad_arguments():
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        list(minibatches(torch.zeros(3), batch_size=0))
    with pytest.raises(ValueError, match="tensor 1 has 2 rows but tensor 0 has 3"):
        list(minibatches(torch.zeros(3), torch.zeros(2), batch_size=2))


# ---- 8x8 digits --------------------------------------------------------------------------


def test_digits_are_a_small_offline_split():
    x, y, xt, yt = load_digits()
    assert x.shape[1] == 64 and len(x) + len(xt) == 1797
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert set(y.unique().tolist()) == set(range(10))
