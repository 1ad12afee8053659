"""zoo: the model cache (damage is detected and retrained, loading runs no pickled code, the
key changes with every setting that changes the result), the line said before training, and
the shipped reference VAE.

Keys are computed without training: ``zoo.load_or_train`` is replaced by a spy that records
the configuration each public function would cache under.
"""

from __future__ import annotations

import glob
import os
import pickle

import pytest
import torch
from torch import nn

from aevae_lib import configs, runtime, zoo
from aevae_lib.checkpoint import save_checkpoint
from aevae_lib.runtime import cache_dir, config_key, sha256_file

# ---- damage is detected ------------------------------------------------------------------


@pytest.fixture
def tiny_mnist(monkeypatch):
    """zoo trains on 64 random 'images' instead of MNIST; counts the training runs."""
    gen = torch.Generator().manual_seed(0)
    fake = {
        "x_train": torch.rand(64, 784, generator=gen),
        "y_train": torch.randint(0, 10, (64,), generator=gen),
        "x_test": torch.rand(16, 784, generator=gen),
        "y_test": torch.randint(0, 10, (16,), generator=gen),
    }
    runs = []
    real_fit = zoo.fit

    def counting_fit(*args, **kwargs):
        runs.append(1)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(zoo, "mnist_tensors", lambda device="cpu", n_train=None: fake)
    monkeypatch.setattr(zoo, "fit", counting_fit)
    return runs


SMALL_AE = dict(latent_dim=2, hidden=[16], epochs=1, batch_size=32)


def _entry_path():
    (path,) = glob.glob(str(cache_dir() / "models" / "*.pt"))
    return path


def _same(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_zoo_trains_once_then_loads(tiny_mnist, capsys):
    m1, h1 = zoo.trained_ae(progress=False, **SMALL_AE)
    first = capsys.readouterr().out
    m2, h2 = zoo.trained_ae(progress=False, **SMALL_AE)
    assert len(tiny_mnist) == 1 and h1 == h2 and _same(m1, m2)
    assert m1.config == m2.config == configs.from_settings(configs.AEConfig, **SMALL_AE)
    assert (
        "Training the autoencoder with d = 2 (1 epochs) (not in the model cache yet), about"
        in first
    )
    assert (
        "Loaded the trained autoencoder with d = 2 (1 epochs) from the model cache"
        in capsys.readouterr().out
    )


@pytest.mark.parametrize(
    "trainer, settings",
    [
        (zoo.trained_ae, SMALL_AE),
        (zoo.trained_vae, dict(latent_dim=2, hidden=[16], epochs=2, batch_size=16)),
        (zoo.trained_cvae, dict(latent_dim=2, hidden=[16], epochs=2, batch_size=16)),
        (zoo.trained_vqvae, dict(n_slots=4, n_codes=8, hidden=[16], epochs=2, batch_size=16)),
        (zoo.trained_iwae, dict(latent_dim=2, hidden=[16], epochs=2, batch_size=16)),
    ],
    ids=["ae", "vae", "cvae", "vqvae", "iwae"],
)
def test_training_twice_gives_the_same_weights_bit_for_bit(tiny_mnist, trainer, settings):
    """The chapters assert numbers to a few digits; that needs training that does not depend on
    the order in which threads add gradients."""
    m1, h1 = trainer(progress=False, use_cache=False, **settings)
    m2, h2 = trainer(progress=False, use_cache=False, **settings)
    h1.pop("seconds"), h2.pop("seconds")  # wall time: the one entry allowed to differ
    assert len(tiny_mnist) == 2 and h1 == h2 and _same(m1, m2)


def test_the_time_estimate_leaves_the_model_and_the_random_state_alone(tiny_mnist):
    config = configs.from_settings(configs.AEConfig, **SMALL_AE)
    model = config.build()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    text = zoo._estimate(model, config, zoo._x_train, torch.device("cpu"))
    assert text.startswith(", about ") and text.endswith((" s", " min"))
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_zoo_retrains_a_truncated_entry_with_a_warning(tiny_mnist):
    m1, _ = zoo.trained_ae(progress=False, **SMALL_AE)
    path = _entry_path()
    with open(path, "r+b") as fh:
        fh.truncate(os.path.getsize(path) // 2)
    with pytest.warns(
        RuntimeWarning, match=r"could not be used \(.*not a readable checkpoint.*; training it"
    ):
        m2, _ = zoo.trained_ae(progress=False, **SMALL_AE)
    assert len(tiny_mnist) == 2 and _same(m1, m2)  # retrained, to the same weights
    zoo.trained_ae(progress=False, **SMALL_AE)  # and the new entry is good
    assert len(tiny_mnist) == 2


def test_zoo_retrains_an_entry_with_one_flipped_weight_byte(tiny_mnist):
    """torch.load does not notice a flipped byte in tensor data; the stored SHA-256 does."""
    m1, _ = zoo.trained_ae(progress=False, **SMALL_AE)
    path = _entry_path()
    with open(path, "rb") as fh:
        blob = bytearray(fh.read())
    weight = m1.decoder[0].weight.detach().contiguous().numpy().tobytes()
    at = bytes(blob).find(weight)
    assert at > 0, "the decoder's weights should be stored verbatim in the file"
    blob[at + 5] ^= 0x40
    with open(path, "wb") as fh:
        fh.write(bytes(blob))
    assert torch.load(path, weights_only=True)  # still loads: only the checksum can tell
    with pytest.warns(RuntimeWarning, match=r"is damaged: its weights or history do not match"):
        m2, _ = zoo.trained_ae(progress=False, **SMALL_AE)
    assert len(tiny_mnist) == 2 and _same(m1, m2)


def test_an_entry_for_another_architecture_is_retrained(tiny_mnist):
    """E.g. the library changed a layer but not CACHE_VERSION: the old weights do not fit."""
    zoo.trained_ae(progress=False, **SMALL_AE)
    path = _entry_path()
    entry = torch.load(path, weights_only=True)
    entry["state_dict"] = nn.Linear(3, 2).state_dict()
    entry.pop("sha256")
    torch.save(entry, path)
    with pytest.warns(
        RuntimeWarning, match=r"do not fit the model its config describes.*training it"
    ):
        zoo.trained_ae(progress=False, **SMALL_AE)
    assert len(tiny_mnist) == 2


def test_an_entry_stored_under_the_wrong_key_is_retrained(tiny_mnist):
    zoo.trained_ae(progress=False, **SMALL_AE)
    other = configs.from_settings(configs.AEConfig, **{**SMALL_AE, "seed": 5})
    (cache_dir() / "models" / f"{other.key()}.pt").parent.mkdir(exist_ok=True)
    os.rename(_entry_path(), zoo.cache_path(other))  # a copy gone astray
    with pytest.warns(RuntimeWarning, match=r"holds another configuration \(seed differ"):
        zoo.trained_ae(progress=False, **{**SMALL_AE, "seed": 5})
    assert len(tiny_mnist) == 2


# ---- weights_only: no pickled code runs ---------------------------------------------------


def _record_call(marker_path):  # what a malicious pickle would call
    with open(marker_path, "w") as fh:
        fh.write("code from the cache file ran")


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (_record_call, (self.marker,))


def test_a_pickle_with_an_arbitrary_object_is_refused_and_never_run(tiny_mnist, tmp_path):
    marker = tmp_path / "ran"
    config = configs.from_settings(configs.AEConfig, **SMALL_AE)
    path = zoo.cache_path(config)
    path.parent.mkdir(parents=True)
    entry = {"config": config.to_dict(), "history": _Payload(str(marker)), "state_dict": {}}
    torch.save(entry, path)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        torch.load(path, weights_only=True)  # what loading a checkpoint does
    assert not marker.exists()
    with pytest.warns(RuntimeWarning, match=r"is not a safe checkpoint.*training it"):
        _, history = zoo.trained_ae(progress=False, **SMALL_AE)
    assert history["loss"] and not marker.exists() and len(tiny_mnist) == 1
    torch.load(path, weights_only=True)  # overwritten by a clean entry


def test_the_check_is_real_an_unsafe_load_would_run_the_code(tmp_path):
    """So the test above is not vacuous: the payload does run when weights_only is off."""
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    torch.save({"x": _Payload(str(marker))}, path)
    torch.load(path, weights_only=False)
    assert marker.exists()


# ---- the key covers every setting ------------------------------------------------------------

#: Two values for each setting; the test uses the one that differs from the default.
#: A new setting without an entry here fails the test below, so it cannot be forgotten.
ALTERNATIVES = {
    "latent_dim": (7, 8),
    "hidden": ([123], [124]),
    "activation": ("tanh", "elu"),
    "output": ("linear", "sigmoid"),
    "epochs": (1, 2),  # below runtime.FAST_EPOCHS, which caps fast runs
    "batch_size": (99, 100),
    "lr": (5e-4, 6e-4),
    "schedule": ("cosine", "constant"),
    "seed": (1, 2),
    "n_train": (1234, 1235),
    "likelihood": ("gaussian", "continuous_bernoulli"),
    "learn_variance": (True, False),
    "beta": (0.5, 2.0),
    "conv": (True, False),
    "binarize": (False, True),
    "dropout": (0.3, 0.4),
    "noise_std": (0.3, 0.4),
    "mask_fraction": (0.25, 0.5),
    "exclude_digit": (3, 4),
    "channels": (16, 8),
    "conv_hidden": (128, 64),
    "free_bits": (0.5, 1.0),
}

#: Settings that only make sense together with another change.
COMPANIONS = {
    "learn_variance": {"likelihood": "gaussian"},
    "channels": {"conv": True},
    "conv_hidden": {"conv": True},
}


@pytest.fixture
def cache_spy(monkeypatch):
    """Replace ``zoo.load_or_train``: record each config, build the model, do not train."""
    seen = []

    def spy(config, train, **kwargs):
        seen.append(config)
        return config.build(), {}

    monkeypatch.setattr(zoo, "load_or_train", spy)
    return seen


TRAINERS = {
    "ae": (zoo.trained_ae, configs.AEConfig),
    "vae": (zoo.trained_vae, configs.VAEConfig),
    "judge": (zoo.trained_judge, configs.JudgeConfig),
}


def _defaults(cls) -> dict:
    return {k: v for k, v in cls().to_dict().items() if k not in ("kind", "device")}


def _key(cache_spy, trainer, **settings) -> str:
    trainer(device="cpu", progress=False, **settings)
    return cache_spy[-1].key()


@pytest.mark.parametrize("fast", ["0", "1"])
@pytest.mark.parametrize("kind", sorted(TRAINERS))
def test_flipping_any_setting_changes_the_cache_key(kind, fast, cache_spy, monkeypatch):
    monkeypatch.setenv("AEVAE_FAST", fast)
    trainer, cls = TRAINERS[kind]
    base = _key(cache_spy, trainer)
    keys = {"defaults": base}
    for name, value in _defaults(cls).items():
        assert name in ALTERNATIVES, f"add an alternative value for the new setting {name!r}"
        other = next(v for v in ALTERNATIVES[name] if v != value)
        keys[name] = _key(cache_spy, trainer, **{**COMPANIONS.get(name, {}), name: other})
        assert keys[name] != base, f"changing {name} does not change the {kind} cache key"
    assert len(set(keys.values())) == len(keys), "two different settings share a key"


@pytest.mark.parametrize("kind", sorted(TRAINERS))
def test_the_same_settings_give_the_same_key(kind, cache_spy):
    trainer, cls = TRAINERS[kind]
    explicit = {k: tuple(v) if isinstance(v, list) else v for k, v in _defaults(cls).items()}
    assert _key(cache_spy, trainer) == _key(cache_spy, trainer, **explicit)  # tuple == list


def test_fast_and_full_mode_models_never_share_an_entry(cache_spy, monkeypatch):
    for kind, (trainer, _) in TRAINERS.items():
        monkeypatch.setenv("AEVAE_FAST", "0")
        full = _key(cache_spy, trainer)
        monkeypatch.setenv("AEVAE_FAST", "1")
        assert _key(cache_spy, trainer) != full, kind


def test_the_key_records_kind_device_and_cache_version(cache_spy):
    keys = {kind: _key(cache_spy, trainer) for kind, (trainer, _) in TRAINERS.items()}
    assert len(set(keys.values())) == 3
    assert all(c.device == "cpu" and c.kind in TRAINERS for c in cache_spy)
    config = cache_spy[-1].to_dict()
    before = config_key(config)
    runtime.CACHE_VERSION += 1
    try:
        assert config_key(config) != before
    finally:
        runtime.CACHE_VERSION -= 1


def test_the_keys_of_the_book_models_are_those_of_the_last_release(cache_spy):
    """A model cached before configs.py existed is still found: same settings, same key."""
    assert _key(cache_spy, zoo.trained_ae) == config_key(
        {
            "latent_dim": 30,
            "hidden": [512, 256],
            "activation": "relu",
            "output": "sigmoid",
            "epochs": 5,
            "batch_size": 128,
            "lr": 3e-3,
            "schedule": "stable-decay",
            "seed": 0,
            "n_train": None,
            "noise_std": 0.0,
            "mask_fraction": 0.0,
            "exclude_digit": None,
            "kind": "ae",
            "device": "cpu",
        }
    )
    assert _key(cache_spy, zoo.trained_vae) == config_key(
        {
            "latent_dim": 20,
            "hidden": [400],
            "activation": "relu",
            "likelihood": "bernoulli",
            "learn_variance": False,
            "beta": 1.0,
            "conv": False,
            "channels": 32,
            "conv_hidden": 256,
            "free_bits": 0.0,
            "epochs": 25,
            "batch_size": 256,
            "lr": 3e-3,
            "schedule": "cosine",
            "seed": 0,
            "binarize": True,
            "n_train": None,
            "kind": "vae",
            "device": "cpu",
        }
    )


# ---- the shipped reference VAE --------------------------------------------------------------


def test_the_reference_vae_is_none_until_shipped_and_verified_by_its_sha256(tmp_path):
    assert zoo.reference_vae(path=tmp_path / "reference_vae.pt") is None
    config = configs.VAEConfig(latent_dim=4, hidden=(8, 8))
    path = save_checkpoint(
        tmp_path / "reference_vae.pt",
        config.build(),
        config,
        {"seconds": 1.0, "reference_run": {"best_epoch": 3}},
    )
    with pytest.raises(ValueError, match="has no reference_vae.pt.sha256 beside it"):
        zoo.reference_vae(path=path)
    (tmp_path / "reference_vae.pt.sha256").write_text(f"{sha256_file(path)}  reference_vae.pt\n")
    model, loaded, history = zoo.reference_vae(path=path)
    assert loaded.hidden == (8, 8) and history["reference_run"]["best_epoch"] == 3
    data = bytearray(path.read_bytes())
    data[-100] ^= 1  # one flipped bit
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match its SHA-256"):
        zoo.reference_vae(path=path)
