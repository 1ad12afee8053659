"""The command line: train / evaluate / bench / reproduce on tiny settings, in-process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from aevae_lib import cli, zoo
from aevae_lib.bench.speed import adam_subnormal_ms
from aevae_lib.checkpoint import load_checkpoint, model_from_config, save_checkpoint
from aevae_lib.models import VAE

TINY = ["--n-train", "512", "--epochs", "1", "--n-test", "200", "--k", "5", "--device", "cpu"]


@pytest.fixture
def mnist(real_mnist_root, monkeypatch):
    monkeypatch.setenv("AEVAE_DATA", str(real_mnist_root))
    return real_mnist_root


def run(capsys, *argv) -> dict:
    assert cli.main([*argv, "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1, "stdout must be exactly one JSON line"
    return json.loads(out)


def test_vae_defaults_are_the_chapter_04_model():
    args = cli.build_parser().parse_args(["train", "--model", "vae"])
    given = cli._settings(args, ["latent_dim", "hidden", "epochs", "batch_size", "lr", "n_train"])
    assert given == {}  # nothing overrides zoo.vae_defaults() unless asked
    defaults = zoo.vae_defaults()
    assert zoo.resolve_settings(defaults, given) == zoo.resolve_settings(defaults, {})


def test_train_vae_then_evaluate_gives_the_same_numbers(mnist, capsys, tmp_path):
    path = tmp_path / "vae.pt"
    trained = run(capsys, "train", "--model", "vae", *TINY, "--save", str(path))
    for key in ("train_s", "test_neg_elbo", "test_nll_iw", "k", "bits_per_dim", "config"):
        assert key in trained, key
    assert trained["k"] == 5 and trained["n_test"] == 200
    assert trained["config"]["hidden"] == zoo.vae_defaults()["hidden"]
    assert 0 < trained["test_nll_iw"] <= trained["test_neg_elbo"] + 1.0  # IW bound is tighter
    evaluated = run(capsys, "evaluate", str(path), "--k", "5", "--n-test", "200")
    assert evaluated["test_nll_iw"] == pytest.approx(trained["test_nll_iw"], rel=1e-6)
    assert evaluated["train_s"] == pytest.approx(trained["train_s"])
    entry = torch.load(path, weights_only=True)  # a plain dict: no pickled code
    assert set(entry) == {"config", "state_dict", "history"}


def test_cli_trains_exactly_what_the_zoo_trains(mnist, capsys, tmp_path):
    path = tmp_path / "vae.pt"
    run(capsys, "train", "--model", "vae", *TINY, "--save", str(path))
    from_cli, config, _ = load_checkpoint(path)
    from_zoo, _ = zoo.trained_vae(device="cpu", progress=False, n_train=512, epochs=1)
    for (name, a), b in zip(from_cli.state_dict().items(), from_zoo.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_train_ae_reports_squared_error(mnist, capsys, tmp_path):
    path = tmp_path / "ae.pt"
    trained = run(capsys, "train", "--model", "ae", *TINY, "--save", str(path))
    assert trained["test_sse_per_image"] > 0 and "test_nll_iw" not in trained
    evaluated = run(capsys, "evaluate", str(path), "--n-test", "200")
    assert evaluated["test_sse_per_image"] == pytest.approx(trained["test_sse_per_image"])


def test_checkpoint_of_another_architecture_is_a_clear_error(tmp_path, capsys):
    config = {"kind": "vae", "latent_dim": 20, "hidden": [400], "activation": "relu",
              "likelihood": "bernoulli"}
    other = model_from_config({**config, "latent_dim": 10})
    path = save_checkpoint(tmp_path / "x.pt", other, {**config, "latent_dim": 10})
    entry = torch.load(path, weights_only=True)
    entry["config"]["latent_dim"] = 20  # weights of a 10-d model, config of a 20-d one
    torch.save(entry, path)
    with pytest.raises(ValueError, match="do not fit the architecture"):
        load_checkpoint(path)
    assert cli.main(["evaluate", str(path), "--json"]) == 2
    assert "do not fit the architecture" in capsys.readouterr().err
    with pytest.raises(ValueError, match="holds a 'vae' model, but a 'ae' was asked for"):
        load_checkpoint(save_checkpoint(tmp_path / "y.pt", other, {**config, "latent_dim": 10}), kind="ae")


def test_bare_state_dict_and_missing_file_are_clear_errors(tmp_path):
    path = tmp_path / "bare.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(ValueError, match="not an aevae_lib checkpoint"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_bad_option_values_exit_with_a_message(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--model", "vae", "--hidden", "a,b"])
    assert "--hidden takes sizes like 512,256" in capsys.readouterr().err
    assert cli.main(["train", "--model", "vae", "--epochs", "0", "--json"]) == 2
    assert "epochs must be a positive int" in capsys.readouterr().err


def test_reproduce_on_cpu_with_tiny_settings(mnist, capsys, tmp_path):
    path = tmp_path / "ref.pt"
    result = run(capsys, "reproduce", "--device", "cpu", "--minutes", "0.02", "--k", "5",
                 "--n-test", "100", "--n-val", "500", "--hidden", "64,64", "--latent-dim", "8",
                 "--save", str(path))
    assert result["steps"] > 0 and result["cuda_graphs"] is False
    assert result["comparable_to_target"] is False and result["meets_target"] is False
    assert result["test_nll_iw"] == pytest.approx(
        run(capsys, "evaluate", str(path), "--k", "5", "--n-test", "100")["test_nll_iw"], rel=1e-6
    )
    model, config, history = load_checkpoint(path)
    assert config["hidden"] == [64, 64] and history["reproduce"]["k"] == 5


@pytest.mark.slow
def test_bench_prints_the_required_keys(mnist, capsys):
    result = run(capsys, "bench", "--epochs", "1", "--n-train", "1024", "--no-sweep")
    for key in ("ours_s_per_epoch", "peer_s_per_epoch", "speedup", "flop_limit_s_per_epoch",
                "device", "ours_test_neg_elbo", "peer_test_neg_elbo"):
        assert key in result, key
    assert result["speedup"] > 0 and result["flop_limit_s_per_epoch"] > 0


def test_python_dash_m_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "aevae_lib", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "reproduce" in done.stdout


def test_conv_checkpoint_keeps_its_sizes(tmp_path):
    config = {"kind": "vae", "latent_dim": 4, "conv": True, "channels": 8, "conv_hidden": 16,
              "hidden": [400], "activation": "relu", "likelihood": "bernoulli"}
    model = model_from_config(config)
    assert model.encoder[1].out_channels == 8 and model.mean_layer.in_features == 16
    loaded, _, _ = load_checkpoint(save_checkpoint(tmp_path / "c.pt", model, config))
    for a, b in zip(model.parameters(), loaded.parameters(), strict=True):
        assert torch.equal(a, b)


def test_zoo_builds_conv_vaes_and_free_bits_from_settings(mnist):
    model, history = zoo.trained_vae(device="cpu", progress=False, conv=True, channels=4,
                                     conv_hidden=16, n_train=64, epochs=1, batch_size=32)
    assert model.encoder[1].out_channels == 4 and model.mean_layer.in_features == 16
    _, fb = zoo.trained_vae(device="cpu", progress=False, free_bits=0.5, n_train=64, epochs=1,
                            batch_size=32, hidden=[16])
    assert fb["loss"][0] >= fb["recon"][0] + 20 * 0.5 - 1e-4  # KL floor of 0.5 nats x 20 dims


def test_the_reference_vae_is_none_until_shipped_and_verified_by_its_sha256(tmp_path):
    from aevae_lib.runtime import sha256_file

    assert zoo.reference_vae(path=tmp_path / "reference_vae.pt") is None
    config = {"kind": "vae", "latent_dim": 4, "hidden": [8, 8], "activation": "relu",
              "likelihood": "bernoulli", "binarize": True}
    path = save_checkpoint(tmp_path / "reference_vae.pt", model_from_config(config), config,
                           {"seconds": 1.0, "reference_run": {"best_epoch": 3}})
    with pytest.raises(ValueError, match="has no reference_vae.pt.sha256 beside it"):
        zoo.reference_vae(path=path)
    (tmp_path / "reference_vae.pt.sha256").write_text(f"{sha256_file(path)}  reference_vae.pt\n")
    model, loaded, history = zoo.reference_vae(path=path)
    assert loaded["hidden"] == [8, 8] and history["reference_run"]["best_epoch"] == 3
    data = bytearray(path.read_bytes())
    data[-100] ^= 1  # one flipped bit
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match its SHA-256"):
        zoo.reference_vae(path=path)


def test_bench_threads_must_be_positive(capsys):
    assert cli.main(["bench", "--threads", "0", "--json"]) == 2
    assert "--threads must be >= 1" in capsys.readouterr().err


def test_adam_subnormal_benchmark_times_both_cases_and_leaves_the_model_alone():
    model = VAE(latent_dim=2, hidden=[16])
    before = [p.detach().clone() for p in model.parameters()]
    result = adam_subnormal_ms(model)
    assert set(result) == {"adam_fused_subnormal_moments", "adam_fused_subnormal_flushed"}
    assert all(v > 0 for v in result.values())
    for p, b in zip(model.parameters(), before, strict=True):
        assert torch.equal(p, b) and p.grad is None
    assert (torch.tensor([1e-39]) * 1.0).item() > 0  # flushing switched off again
