"""The command line: train / evaluate / bench / reproduce on tiny settings, in-process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from aevae_lib import cli, zoo
from aevae_lib.bench.speed import adam_subnormal_ms
from aevae_lib.checkpoint import load_checkpoint, save_checkpoint
from aevae_lib.configs import AEConfig, VAEConfig
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
    assert given == {}  # nothing overrides configs.VAEConfig() unless asked


def test_train_vae_then_evaluate_gives_the_same_numbers(mnist, capsys, tmp_path):
    path = tmp_path / "vae.pt"
    trained = run(capsys, "train", "--model", "vae", *TINY, "--save", str(path))
    for key in ("train_s", "test_neg_elbo", "test_nll_iw", "k", "bits_per_dim", "config"):
        assert key in trained, key
    assert trained["k"] == 5 and trained["n_test"] == 200
    assert trained["config"]["hidden"] == list(VAEConfig().hidden)
    assert 0 < trained["test_nll_iw"] <= trained["test_neg_elbo"] + 1.0  # IW bound is tighter
    evaluated = run(capsys, "evaluate", str(path), "--k", "5", "--n-test", "200")
    assert evaluated["test_nll_iw"] == pytest.approx(trained["test_nll_iw"], rel=1e-6)
    assert evaluated["train_s"] == pytest.approx(trained["train_s"])
    entry = torch.load(path, weights_only=True)  # a plain dict: no pickled code
    assert set(entry) == {"config", "state_dict", "history", "sha256"}


def test_cli_trains_exactly_what_the_zoo_trains(mnist, capsys, tmp_path):
    path = tmp_path / "vae.pt"
    run(capsys, "train", "--model", "vae", *TINY, "--save", str(path))
    from_cli, config, _ = load_checkpoint(path)
    from_zoo, _ = zoo.trained_vae(device="cpu", progress=False, n_train=512, epochs=1)
    for (name, a), b in zip(
        from_cli.state_dict().items(), from_zoo.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name


def test_train_ae_reports_squared_error(mnist, capsys, tmp_path):
    path = tmp_path / "ae.pt"
    trained = run(capsys, "train", "--model", "ae", *TINY, "--save", str(path))
    assert trained["test_sse_per_image"] > 0 and "test_nll_iw" not in trained
    evaluated = run(capsys, "evaluate", str(path), "--n-test", "200")
    assert evaluated["test_sse_per_image"] == pytest.approx(trained["test_sse_per_image"])


def test_bad_option_values_exit_with_a_message(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--model", "vae", "--hidden", "a,b"])
    assert "--hidden: takes layer sizes like 512,256" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["train", "--model", "vae", "--epochs", "0", "--json"])
    assert "--epochs: must be >= 1, got 0" in capsys.readouterr().err


def test_reproduce_on_cpu_with_tiny_settings(mnist, capsys, tmp_path):
    path = tmp_path / "ref.pt"
    result = run(
        capsys,
        "reproduce",
        "--device",
        "cpu",
        "--minutes",
        "0.02",
        "--k",
        "5",
        "--n-test",
        "100",
        "--n-val",
        "500",
        "--hidden",
        "64,64",
        "--latent-dim",
        "8",
        "--save",
        str(path),
    )
    assert result["steps"] > 0 and result["cuda_graphs"] is False
    assert result["comparable_to_target"] is False and result["meets_target"] is False
    assert result["test_nll_iw"] == pytest.approx(
        run(capsys, "evaluate", str(path), "--k", "5", "--n-test", "100")["test_nll_iw"], rel=1e-6
    )
    model, config, history = load_checkpoint(path)
    assert config.hidden == (64, 64) and history["reproduce"]["k"] == 5


@pytest.mark.slow
def test_bench_prints_the_required_keys(mnist, capsys):
    result = run(capsys, "bench", "--epochs", "1", "--n-train", "1024", "--no-sweep")
    for key in (
        "ours_s_per_epoch",
        "peer_s_per_epoch",
        "speedup",
        "flop_limit_s_per_epoch",
        "device",
        "ours_test_neg_elbo",
        "peer_test_neg_elbo",
    ):
        assert key in result, key
    assert result["speedup"] > 0 and result["flop_limit_s_per_epoch"] > 0


def test_python_dash_m_runs_as_a_module():
    done = subprocess.run(
        [sys.executable, "-m", "aevae_lib", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "reproduce" in done.stdout


def test_zoo_builds_conv_vaes_and_free_bits_from_settings(mnist):
    model, history = zoo.trained_vae(
        device="cpu",
        progress=False,
        conv=True,
        channels=4,
        conv_hidden=16,
        n_train=64,
        epochs=1,
        batch_size=32,
    )
    assert model.encoder[1].out_channels == 4 and model.mean_layer.in_features == 16
    _, fb = zoo.trained_vae(
        device="cpu",
        progress=False,
        free_bits=0.5,
        n_train=64,
        epochs=1,
        batch_size=32,
        hidden=[16],
    )
    assert fb["loss"][0] >= fb["recon"][0] + 20 * 0.5 - 1e-4  # KL floor of 0.5 nats x 20 dims


def test_bench_threads_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "--threads", "0", "--json"])
    assert "--threads: must be >= 1, got 0" in capsys.readouterr().err


def test_adam_subnormal_benchmark_times_both_cases_and_leaves_the_model_alone():
    model = VAE(latent_dim=2, hidden=[16])
    before = [p.detach().clone() for p in model.parameters()]
    result = adam_subnormal_ms(model)
    assert set(result) == {"adam_fused_subnormal_moments", "adam_fused_subnormal_flushed"}
    assert all(v > 0 for v in result.values())
    for p, b in zip(model.parameters(), before, strict=True):
        assert torch.equal(p, b) and p.grad is None
    assert (torch.tensor([1e-39]) * 1.0).item() > 0  # flushing switched off again


# ---- every argument is checked before any work (issue: reliability, round two) ---------------


@pytest.fixture
def no_training(monkeypatch):
    """Any training or data loading fails the test: the argument must be refused first."""

    def boom(*args, **kwargs):
        pytest.fail("work started before the arguments were checked")

    monkeypatch.setattr(zoo, "trained_ae", boom)
    monkeypatch.setattr(zoo, "trained_vae", boom)
    monkeypatch.setattr(cli, "mnist_tensors", boom)


def _refused(capsys, argv, message) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--model", "vae", "--k", "0"], "--k: must be between 1 and 1,000,000, got 0"),
        (["evaluate", "m.pt", "--k", "1000000000"], "--k: must be between 1 and 1,000,000"),
        (["evaluate", "m.pt", "--k", "2.5"], "--k: expected a whole number, got '2.5'"),
        (["evaluate", "m.pt", "--n-test", "0"], "--n-test: must be between 1 and 10,000, got 0"),
        (["evaluate", "m.pt", "--n-test", "-5"], "--n-test: must be between 1 and 10,000, got -5"),
        (["evaluate", "m.pt", "--n-test", "10001"], "--n-test: must be between 1 and 10,000"),
        (["train", "--model", "ae", "--latent-dim", "0"], "--latent-dim: must be >= 1, got 0"),
        (["train", "--model", "gan"], "--model: invalid choice: 'gan'"),
        (["train", "--model", "vae", "--hidden", "512,-1"], "--hidden: sizes must be positive"),
        (["train", "--model", "vae", "--hidden", ","], "--hidden: sizes must be positive"),
        (["train", "--model", "vae", "--epochs", "-1"], "--epochs: must be >= 1, got -1"),
        (["train", "--model", "vae", "--batch-size", "0"], "--batch-size: must be >= 1, got 0"),
        (["train", "--model", "vae", "--lr", "0"], "--lr: must be a number > 0, got 0"),
        (["train", "--model", "vae", "--lr", "nan"], "--lr: must be a number > 0, got nan"),
        (["train", "--model", "vae", "--lr", "fast"], "--lr: expected a number, got 'fast'"),
        (["train", "--model", "vae", "--n-train", "0"], "--n-train: must be between 1 and 60,000"),
        (["train", "--model", "vae", "--n-train", "70000"], "--n-train: must be between 1 and 60"),
        (["train", "--model", "vae", "--seed", "-1"], "--seed: must be >= 0, got -1"),
        (
            ["train", "--model", "vae", "--device", "gpu"],
            "--device: must be cpu, cuda, cuda:N or mps, got 'gpu'",
        ),
        (["bench", "--epochs", "0"], "--epochs: must be >= 1, got 0"),
        (["bench", "--sweep-epochs", "0"], "--sweep-epochs: must be >= 1, got 0"),
        (["bench", "--n-train", "0"], "--n-train: must be between 1 and 60,000"),
        (["reference", "--state", "s", "--epochs", "0"], "--epochs: must be >= 1, got 0"),
        (["reference", "--state", "s", "--until-epoch", "0"], "--until-epoch: must be >= 1"),
        (["reference", "--state", "s", "--n-val", "0"], "--n-val: must be between 1 and 59,999"),
        (["reference", "--state", "s", "--eval-every", "0"], "--eval-every: must be >= 1"),
        (["reference", "--state", "s", "--save-every", "-3"], "--save-every: must be a number > 0"),
        (["reference", "--state", "s", "--threads", "0"], "--threads: must be >= 1, got 0"),
        (["reference", "--state", "s", "--activation", "swish"], "--activation: invalid choice"),
        (["reference", "--state", "s", "--schedule", "step"], "--schedule: invalid choice"),
        (["reference"], "the following arguments are required: --state"),
        (["reproduce", "--minutes", "0"], "--minutes: must be a number > 0, got 0"),
        (["reproduce", "--latent-dim", "0"], "--latent-dim: must be >= 1, got 0"),
    ],
)
def test_every_bad_argument_is_refused_in_one_line(capsys, no_training, argv, message):
    _refused(capsys, argv, message)


def test_a_save_path_that_cannot_be_written_is_refused_before_training(
    capsys, no_training, tmp_path
):
    afile = tmp_path / "README.md"
    afile.write_text("a file, not a folder")
    assert cli.main(["train", "--model", "ae", "--save", str(afile / "ae.pt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{afile} is a file, not a folder" in err
    assert cli.main(["train", "--model", "ae", "--save", str(tmp_path)]) == 2
    assert "is a folder; give a file name" in capsys.readouterr().err


def test_the_model_name_is_case_insensitive():
    assert cli.build_parser().parse_args(["train", "--model", "AE"]).model == "ae"


def test_help_shows_defaults_and_no_internal_names(capsys):
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "--help"])
    out = capsys.readouterr().out
    assert "(default: 100)" in out and "(default: 10000)" in out and "prefer" not in out


def test_a_missing_device_is_named_as_the_user_wrote_it(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cli.main(["evaluate", "m.pt", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert "device 'cuda' was asked for, but no CUDA device is available" in err
    assert "prefer" not in err


def test_without_save_the_cli_says_the_model_is_not_kept(mnist, capsys):
    result = run_text(capsys, "train", "--model", "ae", *TINY)
    assert "the trained model is not saved; add --save model.pt to keep it" in result
    assert "JSON" not in result  # the banner says nothing about an output it does not print


def run_text(capsys, *argv) -> str:
    assert cli.main(list(argv)) == 0
    captured = capsys.readouterr()
    return captured.err + captured.out


def test_json_never_holds_nan(capsys, tmp_path, mnist):
    """Regression: a checkpoint without training seconds printed "train_s": NaN."""
    config = AEConfig(latent_dim=2, hidden=(8,))
    path = save_checkpoint(tmp_path / "ae.pt", config.build(), config, {"loss": [1.0]})
    result = run(capsys, "evaluate", str(path), "--n-test", "50")
    assert result["train_s"] is None
    assert cli._finite({"a": [float("nan"), 1.0, float("inf")]}) == {"a": [None, 1.0, None]}


def test_a_long_evaluation_announces_its_cost(capsys, monkeypatch):
    model = VAEConfig(latent_dim=2, hidden=(8,)).build()
    monkeypatch.setattr(cli, "ANNOUNCE_S", 0.0)
    x = (torch.rand(40, 784) < 0.5).float()
    cli._announce_cost(model, x, k=1000, max_rows=50_000)
    err = capsys.readouterr().err
    assert "estimating -log p(x) with k = 1,000 on 40 images: about" in err
