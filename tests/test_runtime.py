"""Tests of aevae_lib.runtime: seeding, device, fast mode, cache folder, config keys, writes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from aevae_lib import runtime
from aevae_lib.runtime import (
    atomic_write_bytes,
    cache_dir,
    config_key,
    fast_mode,
    get_device,
    pick,
    seed_everything,
)


def test_seeding_reproduces_a_torch_result():
    seed_everything(123)
    a = nn.Linear(4, 3)(torch.randn(2, 4))
    seed_everything(123)
    b = nn.Linear(4, 3)(torch.randn(2, 4))
    assert torch.equal(a, b)


def test_seed_returns_a_seeded_generator():
    g1, g2 = seed_everything(7), seed_everything(7)
    assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))


def test_bad_seed_is_refused():
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        seed_everything(-1)


def test_get_device_says_which(capsys):
    device = get_device()
    assert device.type in {"cpu", "cuda", "mps"}
    assert "Using device" in capsys.readouterr().out


def test_get_device_refuses_unknown_names():
    with pytest.raises(ValueError, match="device must be .cuda., .cuda:N., .mps., .cpu. or None"):
        get_device("tpu")


@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_fast_mode_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("AEVAE_FAST", value)
    assert fast_mode() is expected
    assert pick("full", "fast") == ("fast" if expected else "full")


def test_fast_mode_refuses_garbage(monkeypatch):
    monkeypatch.setenv("AEVAE_FAST", "maybe")
    with pytest.raises(ValueError, match="AEVAE_FAST must be"):
        fast_mode()


def test_cache_dir_follows_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("AEVAE_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("AEVAE_CACHE")
    assert cache_dir().name == "aevae"


def test_config_key_is_stable_across_processes():
    config = {"latent_dim": 20, "hidden": [400], "lr": 1e-3, "beta": 1.0}
    code = (
        "from aevae_lib.runtime import config_key;"
        "print(config_key({'beta': 1.0, 'lr': 1e-3, 'hidden': [400], 'latent_dim': 20}))"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == config_key(config)


def test_config_key_changes_when_any_setting_changes():
    base = {"latent_dim": 20, "hidden": [400], "lr": 1e-3, "beta": 1.0, "epochs": 5, "seed": 0}
    variants = {"latent_dim": 21, "hidden": [401], "lr": 2e-3, "beta": 0.5, "epochs": 6, "seed": 1}
    keys = {config_key(base)}
    for name, value in variants.items():
        keys.add(config_key({**base, name: value}))
    assert len(keys) == 1 + len(variants)


def test_config_key_refuses_non_json_values():
    with pytest.raises(TypeError, match="JSON values"):
        config_key({"layer": nn.Linear(1, 1)})


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(runtime.os, "replace", broken_replace)
    with pytest.raises(OSError):
        runtime.atomic_write_bytes(target, b"data")
    assert list(tmp_path.iterdir()) == []


SUBNORMAL = 1e-39  # below float32's smallest normal number, about 1.18e-38


def test_flush_denormals_zeroes_subnormals_inside_and_restores_after():
    tiny = torch.tensor([SUBNORMAL])
    assert (tiny * 1.0).item() > 0  # torch's default: subnormals are kept
    with runtime.flush_denormals() as supported:
        inside = (tiny * 1.0).item()
    if not supported:
        pytest.skip("this CPU cannot flush subnormals")
    assert inside == 0.0
    assert (tiny * 1.0).item() > 0  # restored, even for code that runs after training


def test_flush_denormals_restores_after_an_error():
    with pytest.raises(RuntimeError), runtime.flush_denormals():
        raise RuntimeError("boom")
    assert (torch.tensor([SUBNORMAL]) * 1.0).item() > 0


def test_flush_denormals_flushes_at_least_the_calling_threads_share():
    """Documented limit: torch's intra-op worker threads keep their own setting, so with two
    threads up to half of a large operation's subnormal results can stay subnormal."""
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        t = torch.full((4_000_000,), SUBNORMAL)  # large enough to be split across threads
        with runtime.flush_denormals() as supported:
            products = t * 1.0
    finally:
        torch.set_num_threads(old)
    if not supported:
        pytest.skip("this CPU cannot flush subnormals")
    assert int((products != 0).sum()) <= len(t) // 2


def test_fast_mode_caps_epochs_in_one_place(monkeypatch):
    from aevae_lib.configs import VAEConfig, from_settings
    from aevae_lib.runtime import FAST_EPOCHS, FAST_N_TRAIN, fast_epochs

    monkeypatch.setenv("AEVAE_FAST", "0")
    assert fast_epochs(25) == 25
    full = from_settings(VAEConfig, epochs=7)
    assert (full.epochs, full.n_train) == (7, None)
    monkeypatch.setenv("AEVAE_FAST", "1")
    assert fast_epochs(25) == FAST_EPOCHS and fast_epochs(1) == 1
    fast = from_settings(VAEConfig, epochs=7, n_train=50_000)
    assert (fast.epochs, fast.n_train) == (FAST_EPOCHS, FAST_N_TRAIN)
    assert from_settings(VAEConfig, n_train=500).n_train == 500


def test_atomic_writes_get_the_permissions_of_a_normal_new_file(tmp_path):
    """Regression: files came out 0600 (mkstemp's private mode) whatever the umask."""
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        os.umask(0o077)
        atomic_write_bytes(tmp_path / "b.bin", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.bin").stat().st_mode & 0o777 == 0o600
