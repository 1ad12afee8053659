"""checkpoint: one file format for trained models, read without running code, checked before
anything is allocated, and refused in one clear line when it is not what it claims."""

from __future__ import annotations

import os
import pickle

import pytest
import torch
from torch import nn

from aevae_lib import checkpoint, configs
from aevae_lib.checkpoint import load_checkpoint, save_checkpoint, train_seconds
from aevae_lib.configs import AEConfig, VAEConfig

SMALL = VAEConfig(latent_dim=3, hidden=(8,))


def _same(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_round_trip_of_model_config_and_history(tmp_path):
    model = SMALL.build()
    path = save_checkpoint(tmp_path / "m.pt", model, history={"loss": [3.0, 2.0]})
    loaded, config, history = load_checkpoint(path)
    assert _same(model, loaded) and config == SMALL and loaded.config == SMALL
    assert history == {"loss": [3.0, 2.0]} and not loaded.training
    entry = torch.load(path, weights_only=True)
    assert set(entry) == {"config", "state_dict", "history", "sha256"}


def test_conv_checkpoint_keeps_its_sizes(tmp_path):
    config = VAEConfig(latent_dim=4, conv=True, channels=8, conv_hidden=16)
    model = config.build()
    assert model.encoder[1].out_channels == 8 and model.mean_layer.in_features == 16
    loaded, _, _ = load_checkpoint(save_checkpoint(tmp_path / "c.pt", model))
    assert _same(model, loaded)


def test_an_entry_written_before_sha256_and_configs_still_loads(tmp_path):
    """The cache's older entries: a plain dict config, no sha256 field."""
    model = SMALL.build()
    entry = {"config": SMALL.to_dict(), "history": {}, "state_dict": model.state_dict()}
    torch.save(entry, tmp_path / "old.pt")
    loaded, config, _ = load_checkpoint(tmp_path / "old.pt")
    assert _same(model, loaded) and config == SMALL


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (_touch, (self.marker,))


def _touch(marker):
    open(marker, "w").close()


def test_an_unsafe_file_is_refused_in_one_line_and_its_code_never_runs(tmp_path):
    """Regression: the refusal was 3-6 lines and passed on torch's advice to retry with
    weights_only=False, which is wrong advice for an untrusted file."""
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    torch.save(
        {"config": SMALL.to_dict(), "state_dict": {}, "history": _Payload(str(marker))}, path
    )
    with pytest.raises(ValueError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert (
        message == f"{path} is not a safe checkpoint: it needs code to load (pickled "
        "objects), and only weights and plain values are accepted"
    )
    assert "\n" not in message and "weights_only=False" not in message
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError):  # the check is real: torch refuses it too
        torch.load(path, weights_only=True)


def test_the_shapes_are_checked_on_the_meta_device_before_anything_is_allocated(
    tmp_path, monkeypatch
):
    """Regression: a config asking for hidden=[400000] allocated 2.7 GB before the weights
    were found not to fit."""
    path = save_checkpoint(tmp_path / "m.pt", SMALL.build())
    entry = torch.load(path, weights_only=True)
    entry["config"]["hidden"] = [400_000]
    entry.pop("sha256")
    torch.save(entry, path)
    devices = []
    real_build = VAEConfig.build

    def spying_build(self):
        devices.append(torch.get_default_device().type)
        return real_build(self)

    monkeypatch.setattr(VAEConfig, "build", spying_build)
    with pytest.raises(ValueError, match=r"do not fit the model its config describes .*400000"):
        load_checkpoint(path)
    assert devices == ["meta"]  # built once, on the meta device, and never for real


def test_damage_is_detected_by_the_sha256(tmp_path):
    model = SMALL.build()
    path = save_checkpoint(tmp_path / "m.pt", model)
    blob = bytearray(path.read_bytes())
    weight = model.decoder[0].weight.detach().contiguous().numpy().tobytes()
    at = bytes(blob).find(weight)
    blob[at + 3] ^= 0x10
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="is damaged: its weights or history do not match"):
        load_checkpoint(path)


@pytest.mark.parametrize("history", [[1, 2], "seconds", 3.0])
def test_a_history_that_is_not_a_dict_is_a_clear_error(tmp_path, history):
    """Regression: a bad history gave "unsupported operand type(s)"."""
    path = save_checkpoint(tmp_path / "m.pt", SMALL.build())
    entry = torch.load(path, weights_only=True)
    entry["history"] = history
    entry.pop("sha256")
    torch.save(entry, path)
    with pytest.raises(ValueError, match=f"has a history of type {type(history).__name__}, not a"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    ("history", "seconds"),
    [
        ({"seconds": [1.0, 2.5]}, 3.5),
        ({"seconds": 4.0}, 4.0),
        ({}, None),
        ({"seconds": ["a", 1]}, None),
        ({"seconds": float("nan")}, None),
        ({"seconds": []}, None),
    ],
)
def test_train_seconds_is_none_when_the_history_does_not_record_it(history, seconds):
    assert train_seconds(history) == seconds


def test_kind_and_expected_configuration_are_checked(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", SMALL.build())
    with pytest.raises(ValueError, match="holds a 'vae' model, but a 'ae' was asked for"):
        load_checkpoint(path, kind="ae")
    with pytest.raises(ValueError, match=r"holds another configuration \(latent_dim differ"):
        load_checkpoint(path, expect=VAEConfig(latent_dim=4, hidden=(8,)))


def test_not_a_checkpoint_and_missing_files_are_clear_errors(tmp_path):
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "bare.pt")
    with pytest.raises(ValueError, match="not an aevae_lib checkpoint"):
        load_checkpoint(tmp_path / "bare.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(ValueError, match="is not a readable checkpoint"):
        load_checkpoint(tmp_path / "text.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"config": {"kind": "gan"}, "state_dict": {}}, tmp_path / "gan.pt")
    with pytest.raises(ValueError, match="configuration this library cannot build.*'gan'"):
        load_checkpoint(tmp_path / "gan.pt")


def test_files_are_written_with_the_users_umask(tmp_path):
    """Regression: checkpoints were written with mode 0600."""
    old = os.umask(0o022)
    try:
        path = save_checkpoint(tmp_path / "m.pt", AEConfig(latent_dim=2, hidden=(4,)).build())
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_save_needs_a_configuration(tmp_path):
    with pytest.raises(ValueError, match="needs the model's configuration"):
        save_checkpoint(tmp_path / "m.pt", nn.Linear(2, 2))
    with pytest.raises(ValueError, match="history must hold only JSON values"):
        save_checkpoint(tmp_path / "m.pt", SMALL.build(), history={"x": object()})


def test_digest_covers_config_history_and_weights():
    model = SMALL.build()
    entry = {"config": SMALL.to_dict(), "history": {}, "state_dict": model.state_dict()}
    base = checkpoint.digest(entry)
    assert checkpoint.digest({**entry, "history": {"a": 1}}) != base
    assert checkpoint.digest({**entry, "config": configs.VAEConfig(seed=1).to_dict()}) != base
