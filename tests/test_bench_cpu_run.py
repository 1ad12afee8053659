"""The CPU reference run (aevae_lib.bench.cpu_run): exact resume, settings checks, export."""

from __future__ import annotations

import json

import pytest
import torch

from aevae_lib import cli
from aevae_lib.bench import cpu_run
from aevae_lib.checkpoint import load_checkpoint

SMALL = dict(
    hidden=[32, 32], latent_dim=4, batch_size=50, epochs=4, n_val=200, n_train=300, eval_every=1
)


@pytest.fixture
def mnist(real_mnist_root, monkeypatch):
    monkeypatch.setenv("AEVAE_DATA", str(real_mnist_root))
    return real_mnist_root


def _same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _without_times(history: dict) -> dict:
    return {k: v for k, v in history.items() if k != "seconds"}


@pytest.mark.slow
def test_a_run_cut_in_two_ends_bit_identical_to_one_run(mnist, tmp_path):
    lines = []
    whole = cpu_run.run(SMALL, state_path=tmp_path / "whole.state", progress=lines.append)
    first = cpu_run.run(SMALL, state_path=tmp_path / "cut.state", until_epoch=2, progress=print)
    assert first["epoch"] == 2
    resumed = cpu_run.run(SMALL, state_path=tmp_path / "cut.state", progress=lines.append)
    assert any(line.startswith("resuming") for line in lines)
    assert resumed["epoch"] == whole["epoch"] == 4
    assert _same_tensors(resumed["model"], whole["model"])
    assert _same_tensors(resumed["best"]["state_dict"], whole["best"]["state_dict"])
    assert _without_times(resumed["history"]) == _without_times(whole["history"])
    assert torch.equal(resumed["rng"]["data"], whole["rng"]["data"])
    # the optimizer's moments too
    for a, b in zip(
        resumed["optimizer"]["state"].values(), whole["optimizer"]["state"].values(), strict=True
    ):
        assert _same_tensors(a, b)


@pytest.mark.slow
def test_progress_reports_epoch_validation_and_time_to_go(mnist, tmp_path):
    lines = []
    cpu_run.run(SMALL, state_path=tmp_path / "s.state", until_epoch=2, progress=lines.append)
    assert lines[0].startswith("epoch 1/4") and "val -ELBO" in lines[0] and "to go" in lines[0]


@pytest.mark.slow
def test_the_state_is_saved_on_a_stop_request(mnist, tmp_path, monkeypatch):
    real = cpu_run._train_epoch

    def epoch_then_sigterm(*args, **kwargs):
        result = real(*args, **kwargs)
        import os
        import signal

        os.kill(os.getpid(), signal.SIGTERM)  # as `kill` from a shell would
        return result

    monkeypatch.setattr(cpu_run, "_train_epoch", epoch_then_sigterm)
    lines = []
    state = cpu_run.run(
        SMALL, state_path=tmp_path / "s.state", save_every_s=1e9, progress=lines.append
    )
    assert state["epoch"] == 1 and "stopped after epoch 1" in lines[-1]
    assert cpu_run.load_state(tmp_path / "s.state")["epoch"] == 1


@pytest.mark.slow
def test_resuming_with_other_settings_is_refused(mnist, tmp_path):
    cpu_run.run(SMALL, state_path=tmp_path / "s.state", until_epoch=1, progress=print)
    with pytest.raises(ValueError, match=r"other settings \(lr differ"):
        cpu_run.run({**SMALL, "lr": 5e-3}, state_path=tmp_path / "s.state", progress=print)


def test_a_file_that_is_not_a_state_is_refused(tmp_path):
    path = tmp_path / "x.state"
    torch.save({"epoch": 3}, path)
    with pytest.raises(ValueError, match="not a reference-run state file"):
        cpu_run.load_state(path)
    path.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a readable reference-run state"):
        cpu_run.load_state(path)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"epochs": 0}, "epochs must be a positive int"),
        ({"hidden": [200, 0]}, "hidden must be a list of positive ints"),
        ({"latent_dim": 0}, "latent_dim must be a positive int"),
        ({"n_val": 0}, "n_val must be an int between 1 and 59,999"),
        ({"n_train": 56_000}, "n_train must be None"),
        ({"schedule": "linear"}, "schedule must be one of"),
        ({"activation": "sigmoid"}, "activation must be one of"),
        ({"epoch": 3}, r"unknown setting\(s\) \['epoch'\]"),
    ],
)
def test_bad_settings_are_refused_before_any_work(settings, message):
    with pytest.raises((ValueError, TypeError), match=message):
        cpu_run.check_settings(settings)


@pytest.mark.slow
def test_export_writes_a_checkpoint_and_its_sha256(mnist, tmp_path):
    state = cpu_run.run(SMALL, state_path=tmp_path / "s.state", progress=print)
    path = cpu_run.export(state, tmp_path / "ref.pt")
    digest, name = (tmp_path / "ref.pt.sha256").read_text().split()
    assert name == "ref.pt" and digest == cpu_run.sha256_file(path)
    model, config, history = load_checkpoint(path)
    assert config.binarize and tuple(config.hidden) == (32, 32)
    assert _same_tensors(model.state_dict(), state["best"]["state_dict"])
    assert history["reference_run"]["best_epoch"] == state["best"]["epoch"]


@pytest.mark.slow
def test_the_command_line_runs_resumes_and_exports(mnist, tmp_path, capsys):
    argv = [
        "reference",
        "--state",
        str(tmp_path / "s.state"),
        "--hidden",
        "32,32",
        "--latent-dim",
        "4",
        "--batch-size",
        "50",
        "--epochs",
        "2",
        "--n-val",
        "200",
        "--n-train",
        "300",
        "--eval-every",
        "1",
        "--export",
        str(tmp_path / "r.pt"),
        "--json",
    ]
    assert cli.main([*argv, "--until-epoch", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["epochs_done"] == 1
    assert cli.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["epochs_done"] == 2 and result["exported"].endswith("r.pt")
    assert len(result["curve"]["loss"]) == 2


@pytest.mark.slow
def test_a_stable_run_may_change_its_length_and_ends_as_a_run_of_that_length(mnist, tmp_path):
    """Shortened from 20 to 5 epochs after epoch 2 (still at the full rate in both schedules),
    the run ends bit for bit where a 5-epoch run ends."""
    five = {**SMALL, "epochs": 5}
    direct = cpu_run.run(five, state_path=tmp_path / "direct.state", progress=print)
    lines = []
    cpu_run.run(
        {**SMALL, "epochs": 20}, state_path=tmp_path / "long.state", until_epoch=2, progress=print
    )
    changed = cpu_run.run(five, state_path=tmp_path / "long.state", progress=lines.append)
    assert any("changes from 20 to 5 epochs after epoch 2" in line for line in lines)
    assert _same_tensors(changed["model"], direct["model"])
    assert _without_times(changed["history"]) == _without_times(direct["history"])
    assert cpu_run.summary(changed)["horizon_changes"] == [{"after_epoch": 2, "from": 20, "to": 5}]


@pytest.mark.slow
def test_a_run_that_began_to_decay_cannot_change_its_length(mnist, tmp_path):
    cpu_run.run(SMALL, state_path=tmp_path / "s.state", until_epoch=4, progress=print)  # decayed
    with pytest.raises(ValueError, match="cannot change epochs from 4 to 40 after epoch 4"):
        cpu_run.run({**SMALL, "epochs": 40}, state_path=tmp_path / "s.state", progress=print)
    cosine = {**SMALL, "schedule": "cosine"}
    cpu_run.run(cosine, state_path=tmp_path / "c.state", until_epoch=1, progress=print)
    with pytest.raises(ValueError, match="only a stable-decay run"):
        cpu_run.run({**cosine, "epochs": 40}, state_path=tmp_path / "c.state", progress=print)
