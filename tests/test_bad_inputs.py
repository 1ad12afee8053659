"""Every bad input gets a clear error: the argument, what was expected and what came.

One row per bad input; each row is a test (``test_bad_input[<id>]``). The message must match
the row's regular expression, which names the argument, the expectation and the value given.
``test_table_lists_every_row`` keeps this table and ``ROWS`` in step.

| id                          | call                                              | error        |
|-----------------------------|---------------------------------------------------|--------------|
| ae_x_wrong_width            | Autoencoder()(x of shape (2, 783))                | ValueError   |
| ae_x_uint8                  | Autoencoder()(uint8 images)                       | TypeError    |
| ae_x_numpy                  | Autoencoder()(a NumPy array)                      | TypeError    |
| ae_x_inf                    | Autoencoder()(x holding +inf)                     | ValueError   |
| vae_x_image_shape           | VAE()(x of shape (2, 1, 28, 28))                  | ValueError   |
| vae_x_nan                   | VAE()(x holding NaN)                              | ValueError   |
| vae_decode_wrong_z          | VAE(latent_dim=20).decode(z of shape (2, 2))      | ValueError   |
| convvae_x_unflattened       | ConvVAE()(x of shape (2, 28, 28))                 | ValueError   |
| classifier_x_wrong_width    | DigitClassifier()(8x8 digits, shape (2, 64))      | ValueError   |
| classifier_x_int64          | DigitClassifier()(int64 images)                   | TypeError    |
| ae_latent_zero              | Autoencoder(latent_dim=0)                         | ValueError   |
| vae_latent_negative         | VAE(latent_dim=-2)                                | ValueError   |
| convvae_latent_float        | ConvVAE(latent_dim=2.5)                           | ValueError   |
| vae_unknown_likelihood      | VAE(likelihood="poisson")                         | ValueError   |
| vae_learn_variance_bernoulli| VAE(learn_variance=True) with a Bernoulli         | ValueError   |
| ae_unknown_activation       | Autoencoder(activation="swish")                   | ValueError   |
| ae_unknown_output           | Autoencoder(output="softmax")                     | ValueError   |
| classifier_no_hidden        | DigitClassifier(hidden=())                        | ValueError   |
| classifier_dropout_one      | DigitClassifier(dropout=1.0)                      | ValueError   |
| bernoulli_x_0_255           | bernoulli_log_likelihood(x in [0, 255], logits)   | ValueError   |
| cont_bernoulli_negative_x   | continuous_bernoulli_log_likelihood(x - 1, ...)   | ValueError   |
| bernoulli_x_nan             | bernoulli_log_likelihood(x holding NaN, logits)   | ValueError   |
| gaussian_x_inf              | gaussian_log_likelihood(x holding inf, mean)      | ValueError   |
| bernoulli_shape_mismatch    | bernoulli_log_likelihood((2, 784), (2, 783))      | ValueError   |
| kl_shape_mismatch           | gaussian_kl(mu (2, 3), logvar (2, 4))             | ValueError   |
| elbo_beta_negative          | elbo_loss(x, out, beta=-1)                        | ValueError   |
| elbo_tuple_output           | elbo_loss(x, (x_out, mu, logvar))                 | TypeError    |
| elbo_unknown_likelihood     | elbo_loss(x, out, likelihood="poisson")           | ValueError   |
| iw_bound_k_zero             | iw_bound(log weights of shape (0, 5))             | ValueError   |
| iw_bound_one_dim            | iw_bound(log weights of shape (5,))               | ValueError   |
| iw_ll_k_zero                | iw_log_likelihood(vae, x, k=0)                    | ValueError   |
| iw_ll_k_float               | iw_log_likelihood(vae, x, k=2.5)                  | ValueError   |
| iw_ll_on_autoencoder        | iw_log_likelihood(Autoencoder(), x)               | TypeError    |
| neg_elbo_batch_zero         | negative_elbo(vae, x, batch_size=0)               | ValueError   |
| pca_zero_components         | PCA(0)                                            | ValueError   |
| vae_loss_beta_negative      | vae_loss(beta=-0.1)                               | ValueError   |
| vae_loss_unknown_likelihood | vae_loss("poisson")                               | ValueError   |
| fit_epochs_zero             | fit(..., epochs=0)                                | ValueError   |
| fit_batch_size_zero         | fit(..., batch_size=0)                            | ValueError   |
| fit_batch_size_float        | fit(..., batch_size=32.0)                         | ValueError   |
| fit_lr_zero                 | fit(..., lr=0)                                    | ValueError   |
| fit_lr_string               | fit(..., lr="1e-3")                               | ValueError   |
| fit_unknown_schedule        | fit(..., schedule="linear")                       | ValueError   |
| fit_seed_negative           | fit(..., seed=-1)                                 | ValueError   |
| fit_x_nan                   | fit(model, x with NaN in row 3)                   | ValueError   |
| fit_x_uint8                 | fit(model, uint8 images)                          | TypeError    |
| fit_x_empty                 | fit(model, x of shape (0, 4))                     | ValueError   |
| fit_y_misaligned            | fit(model, x (8 rows), y=5 labels)                | ValueError   |
| fit_loss_fn_not_dict        | fit(..., loss_fn returning a bare tensor)         | TypeError    |
| zoo_unknown_setting         | trained_vae(latent=3)                             | TypeError    |
| zoo_ae_has_no_beta          | trained_ae(beta=1.0)                              | TypeError    |
| judge_unknown_setting       | zoo.trained_judge(epoch=3)                        | TypeError    |
| zoo_epochs_zero             | trained_vae(epochs=0)                             | ValueError   |
| zoo_batch_size_negative     | trained_ae(batch_size=-1)                         | ValueError   |
| zoo_lr_negative             | trained_vae(lr=-1e-3)                             | ValueError   |
| zoo_beta_negative           | trained_vae(beta=-1)                              | ValueError   |
| zoo_unknown_likelihood      | trained_vae(likelihood="poisson")                 | ValueError   |
| zoo_unknown_activation      | trained_ae(activation="swish")                    | ValueError   |
| zoo_unknown_schedule        | trained_vae(schedule="step")                      | ValueError   |
| zoo_conv_gaussian           | trained_vae(conv=True, likelihood="gaussian")     | ValueError   |
| judge_epochs_zero           | zoo.trained_judge(epochs=0)                       | ValueError   |
| cache_other_architecture    | the cache holds weights of another architecture   | RuntimeWarning (retrains) |
| checkpoint_other_architecture | load_checkpoint(config says d=20, weights d=10) | ValueError   |
| checkpoint_wrong_kind       | load_checkpoint(a VAE checkpoint, kind="ae")      | ValueError   |
| checkpoint_bare_state_dict  | load_checkpoint(a bare state dict)                | ValueError   |
| checkpoint_unknown_kind     | config_from_dict({"kind": "gan"})                 | ValueError   |
| checkpoint_missing          | load_checkpoint("no-such-checkpoint.pt")          | FileNotFoundError |
| cli_unknown_model           | python -m aevae_lib train --model gan             | CLIError (exit 2) |
| cli_bad_hidden              | python -m aevae_lib train --model vae --hidden 512,-1 | CLIError (exit 2) |
| cli_epochs_zero             | python -m aevae_lib train --model ae --epochs 0   | CLIError (exit 2) |
| cli_checkpoint_other_architecture | python -m aevae_lib evaluate <weights d=10, config d=20> | CLIError (exit 2) |
| cli_checkpoint_missing      | python -m aevae_lib evaluate no-such-checkpoint.pt | CLIError (exit 2) |
| config_not_json             | config_key({"layer": nn.Linear(1, 1)})            | TypeError    |
| seed_negative               | seed_everything(-1)                               | ValueError   |
| seed_float                  | seed_everything(1.5)                              | ValueError   |
| seed_string                 | seed_everything("0")                              | ValueError   |
| fast_mode_garbage           | AEVAE_FAST=maybe, then pick(20, 2)                | ValueError   |
| fast_mode_number            | AEVAE_FAST=2, then fast_mode()                    | ValueError   |
| device_unknown              | get_device("tpu")                                 | ValueError   |
| mnist_bad_split             | load_mnist("validation")                          | ValueError   |
| mnist_missing_offline       | load_mnist(root=<empty>, download=False)          | DataError    |
| binarize_uint8              | binarize(uint8 images)                            | TypeError    |
| binarize_0_255              | binarize(x in [0, 255])                           | ValueError   |
| binarize_nan                | binarize(x holding NaN)                           | ValueError   |
| minibatches_batch_zero      | minibatches(x, batch_size=0)                      | ValueError   |
| digits_bad_fraction         | load_digits(test_fraction=1.0)                    | ValueError   |
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pytest
import torch
from torch import nn

from aevae_lib import configs, data, evaluate, models, objectives, runtime, train, zoo
from aevae_lib.data import DataError


class Row(NamedTuple):
    id: str
    call: Callable[[], object]
    error: type[BaseException] | type[Warning]
    match: str  # regex the message must match: argument, expectation, what came
    env: dict[str, str] | None = None


def _x(b: int = 2, d: int = 784) -> torch.Tensor:
    return torch.rand(b, d, generator=torch.Generator().manual_seed(0))


def _with(t: torch.Tensor, value: float, index=(0, 3)) -> torch.Tensor:
    t = t.clone()
    t[index] = value
    return t


def _vae_out(b: int = 2, d: int = 4, k: int = 3) -> models.VAEOutput:
    z = torch.zeros(b, k)
    return models.VAEOutput(x_out=torch.zeros(b, d), mu=z, logvar=z, z=z)


def _fit(x=None, **kwargs):
    model = models.Autoencoder(input_dim=4, latent_dim=2, hidden=())
    args = dict(loss_fn=objectives.ae_loss, epochs=1, batch_size=4, progress=False)
    return train.fit(model, _x(8, 4) if x is None else x, **{**args, **kwargs})


def _cache_for_other_architecture():
    """An entry holding a 2-d VAE's weights under the key (and config) of a 3-d VAE."""
    from aevae_lib.checkpoint import save_checkpoint

    config = configs.VAEConfig(latent_dim=3, hidden=(8,))
    small = configs.VAEConfig(latent_dim=2, hidden=(8,)).build()
    path = save_checkpoint(zoo.cache_path(config), small, config)  # saves what it is given
    assert path.exists()
    zoo.load_or_train(config, lambda m: {"v": 1}, device=torch.device("cpu"), say=lambda t: None)


def _checkpoint():
    """aevae_lib.checkpoint (the command line's loader), or skip the row if it is not there."""
    return pytest.importorskip("aevae_lib.checkpoint", reason="aevae_lib.checkpoint not present")


def _vae_checkpoint(state_dict=None, with_config: bool = True):
    """A checkpoint file for the default VAE under the isolated cache folder; returns its path."""
    config = configs.VAEConfig().to_dict()
    state = models.VAE().state_dict() if state_dict is None else state_dict
    path = runtime.cache_dir() / "checkpoint.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"config": config, "state_dict": state, "history": {}} if with_config else state
    torch.save(entry, path)
    return path


class CLIError(Exception):
    """The command line exited with an error; the message is what it printed on stderr."""


def _cli(*argv: str) -> None:
    """Run ``python -m aevae_lib ARGV`` in this process; raise CLIError on a non-zero exit."""
    cli = pytest.importorskip("aevae_lib.cli", reason="aevae_lib.cli not present")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(argv))
        except SystemExit as exit_:  # argparse refuses the arguments
            code = exit_.code
    if code:
        raise CLIError(f"exit {code}: {err.getvalue()}")


_POS_INT = r"must be a positive int, got "
_FINITE = r"x must be finite, got "

ROWS = [
    # ---- models: shapes, dtypes, non-finite values -----------------------------------------
    Row("ae_x_wrong_width", lambda: models.Autoencoder()(_x(2, 783)), ValueError,
        r"x must have shape \(B, 784\), got \(2, 783\)"),
    Row("ae_x_uint8", lambda: models.Autoencoder()(torch.zeros(2, 784, dtype=torch.uint8)),
        TypeError, r"x must be a floating-point tensor, got dtype torch\.uint8; use x\.float\(\)"),
    Row("ae_x_numpy", lambda: models.Autoencoder()(np.zeros((2, 784), np.float32)), TypeError,
        r"x must be a torch\.Tensor, got ndarray"),
    Row("ae_x_inf", lambda: models.Autoencoder()(_with(_x(), float("inf"))), ValueError,
        _FINITE + r"0 NaN and 1 infinite value"),
    Row("vae_x_image_shape", lambda: models.VAE()(torch.rand(2, 1, 28, 28)), ValueError,
        r"x must have shape \(B, 784\), got \(2, 1, 28, 28\); flatten images"),
    Row("vae_x_nan", lambda: models.VAE()(_with(_x(), float("nan"))), ValueError,
        _FINITE + r"1 NaN and 0 infinite value"),
    Row("vae_decode_wrong_z", lambda: models.VAE(latent_dim=20).decode(torch.zeros(2, 2)),
        ValueError, r"z must have shape \(B, 20\), got \(2, 2\)"),
    Row("convvae_x_unflattened", lambda: models.ConvVAE()(torch.rand(2, 28, 28)), ValueError,
        r"x must have shape \(B, 784\), got \(2, 28, 28\)"),
    Row("classifier_x_wrong_width", lambda: models.DigitClassifier()(_x(2, 64)), ValueError,
        r"x must have shape \(B, 784\), got \(2, 64\)"),
    Row("classifier_x_int64",
        lambda: models.DigitClassifier()(torch.zeros(2, 784, dtype=torch.int64)), TypeError,
        r"x must be a floating-point tensor, got dtype torch\.int64"),
    # ---- models: constructor arguments -----------------------------------------------------
    Row("ae_latent_zero", lambda: models.Autoencoder(latent_dim=0), ValueError,
        r"latent_dim " + _POS_INT + "0"),
    Row("vae_latent_negative", lambda: models.VAE(latent_dim=-2), ValueError,
        r"latent_dim " + _POS_INT + "-2"),
    Row("convvae_latent_float", lambda: models.ConvVAE(latent_dim=2.5), ValueError,
        r"latent_dim " + _POS_INT + r"2\.5"),
    Row("vae_unknown_likelihood", lambda: models.VAE(likelihood="poisson"), ValueError,
        r"likelihood must be one of \('bernoulli', 'gaussian', 'continuous_bernoulli'\), "
        r"got 'poisson'"),
    Row("vae_learn_variance_bernoulli", lambda: models.VAE(learn_variance=True), ValueError,
        r"learn_variance=True needs likelihood='gaussian', got likelihood='bernoulli'"),
    Row("ae_unknown_activation", lambda: models.Autoencoder(activation="swish"), ValueError,
        r"activation must be one of \[.*'relu'.*\], got 'swish'"),
    Row("ae_unknown_output", lambda: models.Autoencoder(output="softmax"), ValueError,
        r"output must be 'sigmoid' or 'linear', got 'softmax'"),
    Row("classifier_no_hidden", lambda: models.DigitClassifier(hidden=()), ValueError,
        r"hidden must list at least one layer size, got \(\)"),
    Row("classifier_dropout_one", lambda: models.DigitClassifier(dropout=1.0), ValueError,
        r"dropout must be a probability in \[0, 1\), got 1\.0"),
    # ---- objectives --------------------------------------------------------------------------
    Row("bernoulli_x_0_255",
        lambda: objectives.bernoulli_log_likelihood(_x() * 255, torch.zeros(2, 784)), ValueError,
        r"x must lie in \[0, 1\] for a Bernoulli likelihood, got values in \[0\.\d+, 25\d\.?\d*\]"
        r"; scale images to \[0, 1\]"),
    Row("cont_bernoulli_negative_x",
        lambda: objectives.continuous_bernoulli_log_likelihood(_x() - 1, torch.zeros(2, 784)),
        ValueError, r"x must lie in \[0, 1\] for a Bernoulli likelihood, got values in \[-"),
    Row("bernoulli_x_nan",
        lambda: objectives.bernoulli_log_likelihood(_with(_x(), float("nan")), torch.zeros(2, 784)),
        ValueError, _FINITE + r"1 NaN and 0 infinite value\(s\) among 1568"),
    Row("gaussian_x_inf",
        lambda: objectives.gaussian_log_likelihood(_with(_x(), float("-inf")), torch.zeros(2, 784)),
        ValueError, _FINITE + r"0 NaN and 1 infinite value\(s\) among 1568"),
    Row("bernoulli_shape_mismatch",
        lambda: objectives.bernoulli_log_likelihood(_x(), torch.zeros(2, 783)), ValueError,
        r"x has shape \(2, 784\) but logits has \(2, 783\); they must match"),
    Row("kl_shape_mismatch", lambda: objectives.gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 4)),
        ValueError, r"mu has shape \(2, 3\) but logvar has \(2, 4\)"),
    Row("elbo_beta_negative", lambda: objectives.elbo_loss(_x(2, 4), _vae_out(), beta=-1),
        ValueError, r"beta must be a number >= 0, got -1"),
    Row("elbo_tuple_output",
        lambda: objectives.elbo_loss(_x(2, 4), tuple(_vae_out().__dict__.values())[:3]), TypeError,
        r"out must be the VAEOutput that VAE\.forward returns .*got tuple"),
    Row("elbo_unknown_likelihood",
        lambda: objectives.elbo_loss(_x(2, 4), _vae_out(), likelihood="poisson"), ValueError,
        r"likelihood must be one of \(.*\), got 'poisson'"),
    Row("iw_bound_k_zero", lambda: objectives.iw_bound(torch.zeros(0, 5)), ValueError,
        r"log_weights must have shape \(k, B\) with k >= 1, got \(0, 5\)"),
    Row("iw_bound_one_dim", lambda: objectives.iw_bound(torch.zeros(5)), ValueError,
        r"log_weights must have shape \(k, B\) with k >= 1, got \(5,\)"),
    # ---- evaluate ----------------------------------------------------------------------------
    Row("iw_ll_k_zero", lambda: evaluate.iw_log_likelihood(models.VAE(), _x(), k=0), ValueError,
        r"k \(number of importance samples\) must be an int >= 1, got 0"),
    Row("iw_ll_k_float", lambda: evaluate.iw_log_likelihood(models.VAE(), _x(), k=2.5),
        ValueError, r"k \(number of importance samples\) must be an int >= 1, got 2\.5"),
    Row("iw_ll_on_autoencoder", lambda: evaluate.iw_log_likelihood(models.Autoencoder(), _x()),
        TypeError, r"model must be a VAE \(encode -> \(mu, logvar\), a likelihood\), got Autoencoder"),
    Row("neg_elbo_batch_zero", lambda: evaluate.negative_elbo(models.VAE(), _x(), batch_size=0),
        ValueError, r"batch_size " + _POS_INT + "0"),
    Row("pca_zero_components", lambda: evaluate.PCA(0), ValueError,
        r"n_components " + _POS_INT + "0"),
    # ---- train -------------------------------------------------------------------------------
    Row("vae_loss_beta_negative", lambda: objectives.vae_loss(beta=-0.1), ValueError,
        r"beta must be a number >= 0, got -0\.1"),
    Row("vae_loss_unknown_likelihood", lambda: objectives.vae_loss("poisson"), ValueError,
        r"likelihood must be one of \(.*\), got 'poisson'"),
    Row("fit_epochs_zero", lambda: _fit(epochs=0), ValueError, r"epochs " + _POS_INT + "0"),
    Row("fit_batch_size_zero", lambda: _fit(batch_size=0), ValueError,
        r"batch_size " + _POS_INT + "0"),
    Row("fit_batch_size_float", lambda: _fit(batch_size=32.0), ValueError,
        r"batch_size " + _POS_INT + r"32\.0"),
    Row("fit_lr_zero", lambda: _fit(lr=0), ValueError, r"lr must be a number > 0 .*, got 0"),
    Row("fit_lr_string", lambda: _fit(lr="1e-3"), ValueError,
        r"lr must be a number > 0 .*, got '1e-3'"),
    Row("fit_unknown_schedule", lambda: _fit(schedule="linear"), ValueError,
        r"schedule must be one of \('constant', 'cosine', 'stable-decay'\), got 'linear'"),
    Row("fit_seed_negative", lambda: _fit(seed=-1), ValueError,
        r"seed must be a non-negative int, got -1"),
    Row("fit_x_nan", lambda: _fit(x=_with(_x(8, 4), float("nan"), (3, 1))), ValueError,
        r"x must be finite, got NaN or infinite values in 1 of 8 examples \(first: row 3\)"),
    Row("fit_x_uint8", lambda: _fit(x=torch.zeros(8, 4, dtype=torch.uint8)), TypeError,
        r"x must be a floating-point torch\.Tensor \(N, D\), got dtype torch\.uint8"),
    Row("fit_x_empty", lambda: _fit(x=torch.zeros(0, 4)), ValueError,
        r"x must hold at least one example, got shape \(0, 4\)"),
    Row("fit_y_misaligned", lambda: _fit(y=torch.zeros(5, dtype=torch.long)), ValueError,
        r"y must have one label per example of x: x has 8, y has 5"),
    Row("fit_loss_fn_not_dict", lambda: _fit(loss_fn=lambda m, x: m(x).x_hat.sum()), TypeError,
        r"loss_fn must return a dict with a 'loss' entry .*got Tensor"),
    # ---- zoo and judge: settings are checked before any data is loaded ------------------------
    Row("zoo_unknown_setting", lambda: zoo.trained_vae(latent=3), TypeError,
        r"unknown setting\(s\) \['latent'\] \(did you mean 'latent_dim'\?\); valid: \[.*'beta'"),
    Row("zoo_ae_has_no_beta", lambda: zoo.trained_ae(beta=1.0), TypeError,
        r"unknown setting\(s\) \['beta'\]; valid: \['activation'"),
    Row("judge_unknown_setting", lambda: zoo.trained_judge(epoch=3), TypeError,
        r"unknown setting\(s\) \['epoch'\] \(did you mean 'epochs'\?\)"),
    Row("zoo_epochs_zero", lambda: zoo.trained_vae(epochs=0), ValueError,
        r"epochs " + _POS_INT + "0"),
    Row("zoo_batch_size_negative", lambda: zoo.trained_ae(batch_size=-1), ValueError,
        r"batch_size " + _POS_INT + "-1"),
    Row("zoo_lr_negative", lambda: zoo.trained_vae(lr=-1e-3), ValueError,
        r"lr must be a number > 0 .*, got -0\.001"),
    Row("zoo_beta_negative", lambda: zoo.trained_vae(beta=-1), ValueError,
        r"beta must be a number >= 0, got -1"),
    Row("zoo_unknown_likelihood", lambda: zoo.trained_vae(likelihood="poisson"), ValueError,
        r"likelihood must be one of \(.*\), got 'poisson'"),
    Row("zoo_unknown_activation", lambda: zoo.trained_ae(activation="swish"), ValueError,
        r"activation must be one of \[.*\], got 'swish'"),
    Row("zoo_unknown_schedule", lambda: zoo.trained_vae(schedule="step"), ValueError,
        r"schedule must be one of \('constant', 'cosine', 'stable-decay'\), got 'step'"),
    Row("zoo_conv_gaussian", lambda: zoo.trained_vae(conv=True, likelihood="gaussian"),
        ValueError, r"conv=True builds a ConvVAE, which has a Bernoulli likelihood only; "
        r"got likelihood='gaussian'"),
    Row("judge_epochs_zero", lambda: zoo.trained_judge(epochs=0), ValueError,
        r"epochs " + _POS_INT + "0"),
    # ---- runtime -----------------------------------------------------------------------------
    Row("cache_other_architecture", _cache_for_other_architecture, RuntimeWarning,
        r"the cached VAE with d = 3 .* could not be used \(the weights in .*\.pt do not fit the "
        r"model its config describes .*'latent_dim': 3.*: \(8, 2\) in the file, \(8, 3\) in the "
        r"model.*\); training it again"),
    Row("checkpoint_other_architecture",
        lambda: _checkpoint().load_checkpoint(_vae_checkpoint(models.VAE(latent_dim=10).state_dict())),
        ValueError, r"the weights in .*checkpoint\.pt do not fit the model its config describes "
        r".*'latent_dim': 20.*: \(400, 10\) in the file, \(400, 20\) in the model"),
    Row("checkpoint_wrong_kind", lambda: _checkpoint().load_checkpoint(_vae_checkpoint(), kind="ae"),
        ValueError, r"checkpoint\.pt holds a 'vae' model, but a 'ae' was asked for"),
    Row("checkpoint_bare_state_dict",
        lambda: _checkpoint().load_checkpoint(_vae_checkpoint(with_config=False)), ValueError,
        r"checkpoint\.pt is not an aevae_lib checkpoint: expected a dict with 'config' and "
        r"'state_dict', found \['decoder\."),
    Row("checkpoint_unknown_kind", lambda: configs.config_from_dict({"kind": "gan"}),
        ValueError, r"config\['kind'\] must be one of \['ae', .*'vae'.*\], got 'gan'"),
    Row("checkpoint_missing", lambda: _checkpoint().load_checkpoint("no-such-checkpoint.pt"),
        FileNotFoundError, r"no checkpoint at no-such-checkpoint\.pt"),
    Row("cli_unknown_model", lambda: _cli("train", "--model", "gan"), CLIError,
        r"(?s)exit 2: .*argument --model: invalid choice: 'gan' \(choose from '?ae'?, '?vae'?\)"),
    Row("cli_bad_hidden", lambda: _cli("train", "--model", "vae", "--hidden", "512,-1"), CLIError,
        r"(?s)exit 2: .*--hidden: sizes must be positive, like 512,256, got '512,-1'"),
    Row("cli_epochs_zero", lambda: _cli("train", "--model", "ae", "--epochs", "0"), CLIError,
        r"(?s)exit 2: .*--epochs: must be >= 1, got 0"),
    Row("cli_checkpoint_other_architecture",
        lambda: _cli("evaluate", str(_vae_checkpoint(models.VAE(latent_dim=10).state_dict()))),
        CLIError, r"exit 2: error: the weights in .*checkpoint\.pt do not fit the model its "
        r"config describes .*in the file"),
    Row("cli_checkpoint_missing", lambda: _cli("evaluate", "no-such-checkpoint.pt"), CLIError,
        r"exit 2: error: no checkpoint at no-such-checkpoint\.pt"),
    Row("config_not_json", lambda: runtime.config_key({"layer": nn.Linear(1, 1)}), TypeError,
        r"config must hold only JSON values .*Linear"),
    Row("seed_negative", lambda: runtime.seed_everything(-1), ValueError,
        r"seed must be a non-negative int, got -1"),
    Row("seed_float", lambda: runtime.seed_everything(1.5), ValueError,
        r"seed must be a non-negative int, got 1\.5"),
    Row("seed_string", lambda: runtime.seed_everything("0"), ValueError,
        r"seed must be a non-negative int, got '0'"),
    Row("fast_mode_garbage", lambda: runtime.pick(20, 2), ValueError,
        r"AEVAE_FAST must be 1/0 \(or true/false\), got 'maybe'; unset it", {"AEVAE_FAST": "maybe"}),
    Row("fast_mode_number", runtime.fast_mode, ValueError,
        r"AEVAE_FAST must be 1/0 \(or true/false\), got '2'", {"AEVAE_FAST": "2"}),
    Row("device_unknown", lambda: runtime.get_device("tpu", verbose=False), ValueError,
        r"device must be 'cuda', 'cuda:N', 'mps', 'cpu' or None \(the best\), got 'tpu'"),
    # ---- data --------------------------------------------------------------------------------
    Row("mnist_bad_split", lambda: data.load_mnist("validation"), ValueError,
        r"split must be 'train' or 'test', got 'validation'"),
    Row("mnist_missing_offline",
        lambda: data.load_mnist(root="no-such-folder-aevae", download=False), DataError,
        r"(?s)MNIST file train-images-idx3-ubyte\(\.gz\) not found.*no-such-folder-aevae.*"
        r"Set the AEVAE_DATA environment variable"),
    Row("binarize_uint8", lambda: data.binarize(torch.zeros(2, 3, dtype=torch.uint8)), TypeError,
        r"x must be a floating-point tensor of probabilities, got Tensor of dtype torch\.uint8"),
    Row("binarize_0_255", lambda: data.binarize(torch.tensor([[0.0, 255.0]])), ValueError,
        r"x must hold pixel intensities in \[0, 1\], got values in \[0, 255\]; divide uint8"),
    Row("binarize_nan", lambda: data.binarize(torch.tensor([[0.5, float("nan")]])), ValueError,
        r"x must hold pixel intensities in \[0, 1\], got 1 NaN and 0 infinite value"),
    Row("minibatches_batch_zero", lambda: list(data.minibatches(_x(), batch_size=0)), ValueError,
        r"batch_size " + _POS_INT + "0"),
    Row("digits_bad_fraction", lambda: data.load_digits(test_fraction=1.0), ValueError,
        r"test_fraction must be in \(0, 1\), got 1\.0"),
]  # fmt: skip


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """No row may reach MNIST or the network: every check must fire before any data is read."""

    def refuse(*args, **kwargs):
        raise AssertionError("a bad-input row tried to load MNIST; the check must come first")

    monkeypatch.setattr(data, "fetch", refuse)
    monkeypatch.setattr(zoo, "mnist_tensors", refuse)
    monkeypatch.setattr(data, "mnist_tensors", refuse)


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input(row: Row, monkeypatch):
    for name, value in (row.env or {}).items():
        monkeypatch.setenv(name, value)
    if issubclass(row.error, Warning):
        with pytest.warns(row.error, match=row.match):
            row.call()
    else:
        with pytest.raises(row.error, match=row.match):
            row.call()


def test_table_lists_every_row():
    documented = re.findall(r"^\| (\w+)\s*\|", __doc__, flags=re.MULTILINE)
    documented = [name for name in documented if name != "id"]
    assert documented == [row.id for row in ROWS]
    assert len(ROWS) >= 20 and len({row.id for row in ROWS}) == len(ROWS)
