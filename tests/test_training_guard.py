"""The training guard and the log-variance range: training fails loudly, never silently.

``train.fit`` stops on a non-finite loss with the epoch, the step and the usual causes;
the VAE's log-variances pass through ``models.squash_logvar``, so exp(logvar) can neither
overflow nor underflow to a zero standard deviation, whatever the weights are.
"""

from __future__ import annotations

import math

import pytest
import torch

from aevae_lib import models, objectives, train
from aevae_lib.models import LOGVAR_MAX, LOGVAR_MIN, VAE, Autoencoder, squash_logvar


def _data(n: int = 8, d: int = 4) -> torch.Tensor:
    return torch.rand(n, d, generator=torch.Generator().manual_seed(0))


def _loss_that_breaks(at_call: int, value: float):
    """``ae_loss``, except that call number ``at_call`` (0-based) returns ``value``."""
    calls = []

    def loss_fn(model, x):
        terms = objectives.ae_loss(model, x)
        if len(calls) == at_call:
            terms["loss"] = terms["loss"] * 0 + value
        calls.append(1)
        return terms

    return loss_fn, calls


def _params(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


# ---- the guard -------------------------------------------------------------------------


def test_nan_loss_at_step_3_stops_with_epoch_step_and_causes():
    model = Autoencoder(input_dim=4, latent_dim=2, hidden=())
    loss_fn, calls = _loss_that_breaks(at_call=3, value=float("nan"))
    with pytest.raises(FloatingPointError) as info:
        train.fit(model, _data(24), loss_fn=loss_fn, epochs=2, batch_size=4, progress=False)
    message = str(info.value)
    assert "non-finite loss (nan) at epoch 1, step 3" in message
    for cause in ("learning rate", "NaN/inf", "log-variance"):
        assert cause in message
    assert len(calls) == 4  # stopped at once, did not run on
    assert all(torch.isfinite(p).all() for p in model.parameters())  # the bad step was not taken


def test_inf_loss_in_second_epoch_names_that_epoch():
    model = Autoencoder(input_dim=4, latent_dim=2, hidden=())
    loss_fn, _ = _loss_that_breaks(at_call=3, value=float("inf"))  # 2 steps per epoch
    with pytest.raises(FloatingPointError, match=r"non-finite loss \(inf\) at epoch 2, step 1"):
        train.fit(model, _data(8), loss_fn=loss_fn, epochs=3, batch_size=4, progress=False)


def test_the_failed_step_leaves_the_weights_as_they_were():
    torch.manual_seed(0)
    model = Autoencoder(input_dim=4, latent_dim=2, hidden=())
    loss_fn, _ = _loss_that_breaks(at_call=0, value=float("nan"))
    before = _params(model)
    with pytest.raises(FloatingPointError, match="epoch 1, step 0"):
        train.fit(model, _data(8), loss_fn=loss_fn, epochs=1, batch_size=4, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, _params(model), strict=True))


def test_a_learning_rate_far_too_high_is_caught_not_trained_through():
    """A linear-output AE with lr=1e12 overflows float32 within a few steps."""
    torch.manual_seed(0)
    model = Autoencoder(input_dim=4, latent_dim=2, hidden=(), output="linear")
    with pytest.raises(FloatingPointError, match=r"at epoch 1, step \d+\. .*learning rate"):
        train.fit(
            model,
            _data(64),
            loss_fn=objectives.ae_loss,
            epochs=5,
            batch_size=4,
            lr=1e12,
            progress=False,
        )


def test_weights_that_turn_nan_midway_are_caught():
    model = Autoencoder(input_dim=4, latent_dim=2, hidden=())
    calls = []

    def loss_fn(m, x):
        if len(calls) == 2:  # e.g. a diverged optimizer step elsewhere
            with torch.no_grad():
                m.encoder[0].weight[0, 0] = float("nan")
        calls.append(1)
        return objectives.ae_loss(m, x)

    with pytest.raises(FloatingPointError, match=r"non-finite loss \(nan\) at epoch 1, step 2"):
        train.fit(model, _data(16), loss_fn=loss_fn, epochs=1, batch_size=4, progress=False)


def test_nan_in_the_training_data_is_refused_before_the_first_step():
    x = _data(16)
    x[5, 2] = float("nan")
    x[9, 0] = float("inf")
    model = Autoencoder(input_dim=4, latent_dim=2, hidden=())
    before = _params(model)
    with pytest.raises(
        ValueError, match=r"NaN or infinite values in 2 of 16 examples \(first: row 5\)"
    ):
        train.fit(model, x, loss_fn=objectives.ae_loss, epochs=1, batch_size=4, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, _params(model), strict=True))


def test_nan_fed_to_a_model_mid_training_is_named_by_the_model():
    """A loss function that corrupts its batch (here: at step 3) meets the model's input check."""
    calls = []

    def loss_fn(m, x):
        if len(calls) == 3:
            x = x * float("nan")
        calls.append(1)
        return objectives.vae_loss()(m, x)

    model = VAE(input_dim=4, latent_dim=2, hidden=(8,))
    with pytest.raises(ValueError, match=r"x must be finite, got 16 NaN"):
        train.fit(model, _data(32), loss_fn=loss_fn, epochs=1, batch_size=4, progress=False)


# ---- the log-variance is kept in range by design --------------------------------------------


def test_squash_logvar_stays_in_range_for_any_input():
    raw = torch.tensor([-1e30, -1e4, -50.0, -14.0, 0.0, 8.0, 50.0, 1e4, 1e30])
    out = squash_logvar(raw)
    assert torch.isfinite(out).all()
    assert (out >= LOGVAR_MIN).all() and (out <= LOGVAR_MAX).all()
    assert torch.all(out[1:] >= out[:-1])  # monotonic
    assert math.isfinite(math.exp(LOGVAR_MAX)) and math.exp(0.5 * LOGVAR_MIN) > 0
    assert torch.exp(torch.tensor(0.5 * LOGVAR_MIN, dtype=torch.float32)) > 0


def test_squash_logvar_is_near_identity_for_ordinary_values():
    raw = torch.linspace(-1, 1, 21, requires_grad=True)
    out = squash_logvar(raw)
    assert (out - raw).abs().max() < 0.2
    (grad,) = torch.autograd.grad(out.sum(), raw)
    assert (grad > 0.85).all() and (grad <= 1.0).all()  # trains like the raw value near 0


def _blown_up_vae(likelihood: str = "bernoulli", learn_variance: bool = False) -> VAE:
    torch.manual_seed(0)
    vae = VAE(
        input_dim=16,
        latent_dim=3,
        hidden=(8,),
        likelihood=likelihood,
        learn_variance=learn_variance,
    )
    with torch.no_grad():  # the heads that produce log-variances get absurd weights
        vae.logvar_layer.weight.mul_(1e6)
        vae.logvar_layer.bias.fill_(1e6)
        vae.decoder[-1].weight.mul_(1e6)
    return vae


def test_huge_encoder_weights_still_give_finite_kl_and_gradients():
    vae = _blown_up_vae()
    x = torch.rand(5, 16, generator=torch.Generator().manual_seed(1)).round()
    raw = vae.logvar_layer(vae.encoder(x))
    assert torch.isinf(torch.exp(raw)).any()  # without the squash exp(logvar) would overflow
    out = vae(x)
    assert (out.logvar >= LOGVAR_MIN).all() and (out.logvar <= LOGVAR_MAX).all()
    terms = objectives.elbo_loss(x, out)
    assert torch.isfinite(terms["kl"]) and torch.isfinite(terms["loss"])
    terms["loss"].backward()
    for name, p in vae.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_huge_weights_keep_a_learned_decoder_variance_finite():
    vae = _blown_up_vae("gaussian", learn_variance=True)
    x = torch.rand(5, 16, generator=torch.Generator().manual_seed(1))
    out = vae(x)
    assert (out.x_logvar >= LOGVAR_MIN).all() and (out.x_logvar <= LOGVAR_MAX).all()
    loss = objectives.elbo_loss(x, out, likelihood="gaussian")["loss"]
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in vae.parameters() if p.grad is not None)


def test_conv_vae_uses_the_same_squash():
    vae = models.ConvVAE(latent_dim=2, channels=2, hidden=8)
    with torch.no_grad():
        vae.logvar_layer.bias.fill_(1e9)
    _, logvar = vae.encode(torch.rand(2, 784))
    assert torch.allclose(logvar, torch.full_like(logvar, LOGVAR_MAX))


# ---- the non-finite check itself -------------------------------------------------------------


def test_has_nonfinite_finds_nan_and_inf_and_ignores_an_overflowing_sum():
    big = torch.full((4,), 3e38)  # finite values whose float32 sum overflows to inf
    assert torch.isinf(big.sum()) and not objectives.has_nonfinite(big)
    assert objectives.has_nonfinite(torch.tensor([1.0, float("nan")]))
    assert objectives.has_nonfinite(torch.tensor([float("inf"), float("-inf")]))  # sum is NaN
    assert not objectives.has_nonfinite(torch.rand(3, 5))
    assert not objectives.has_nonfinite(torch.zeros(0, 784))


def test_large_finite_inputs_are_not_mistaken_for_infinite():
    x = torch.full((2, 4), 3e38)
    model = Autoencoder(input_dim=4, latent_dim=2, hidden=(), output="linear")
    assert model(x).x_hat.shape == (2, 4)  # no "must be finite" error
