"""The training loop's speed-ups keep its results: fused Adam follows the reference update."""

from __future__ import annotations

import pytest
import torch

from aevae_lib import objectives, train
from aevae_lib.models import VAE, Autoencoder


def _two_models():
    torch.manual_seed(0)
    a = VAE(input_dim=64, latent_dim=4, hidden=[32])
    b = VAE(input_dim=64, latent_dim=4, hidden=[32])
    b.load_state_dict(a.state_dict())
    return a, b


def test_adam_uses_the_fused_kernel_on_cpu():
    model = VAE(input_dim=64, latent_dim=4, hidden=[32])
    assert train.adam(model.parameters(), 1e-3).defaults["fused"] is True


def test_fused_adam_matches_reference_adam_over_steps():
    a, b = _two_models()
    opt_a = train.adam(a.parameters(), 3e-3)
    opt_b = torch.optim.Adam(b.parameters(), lr=3e-3)  # the reference, per-tensor loop
    x = (torch.rand(32, 64, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    for step in range(20):
        for model, opt in ((a, opt_a), (b, opt_b)):
            torch.manual_seed(step)  # the same reparameterization noise for both
            loss = objectives.vae_loss()(model, x)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.allclose(pa, pb, atol=1e-5, rtol=1e-4), name


def test_adam_falls_back_when_the_fused_kernel_is_refused(monkeypatch):
    real = torch.optim.Adam

    def no_fused(params, lr, fused=None, **kw):
        if fused:
            raise RuntimeError("`fused=True` requires all the params to be on a supported device")
        return real(params, lr=lr, **kw)

    monkeypatch.setattr(torch.optim, "Adam", no_fused)
    opt = train.adam(VAE(input_dim=64, latent_dim=4, hidden=[32]).parameters(), 1e-3)
    assert not opt.defaults.get("fused")


def test_fit_with_fused_adam_lowers_the_loss():
    torch.manual_seed(0)
    model = VAE(input_dim=64, latent_dim=4, hidden=[32])
    x = torch.rand(256, 64, generator=torch.Generator().manual_seed(2))
    history = train.fit(
        model,
        x,
        loss_fn=objectives.vae_loss(),
        epochs=8,
        batch_size=64,
        lr=3e-3,
        binarize=True,
        progress=False,
    )
    assert history["loss"][-1] < history["loss"][0]


def test_fit_trains_with_subnormals_flushed_and_leaves_the_default_on_exit():
    seen = []

    def loss(model, xb):
        seen.append((torch.tensor([1e-39]) * 1.0).item())  # evaluated during training
        return {"loss": model(xb).x_hat.sub(xb).pow(2).sum(1).mean()}

    x = torch.rand(64, 784)
    train.fit(
        Autoencoder(latent_dim=2, hidden=[8]),
        x,
        loss_fn=loss,
        epochs=1,
        batch_size=32,
        progress=False,
    )
    if torch.set_flush_denormal(False):  # the CPU supports flushing
        assert seen and all(v == 0.0 for v in seen)
    assert (torch.tensor([1e-39]) * 1.0).item() > 0


def _lrs(schedule: str, total_steps: int, lr: float = 2.0) -> list[float]:
    """The learning rate ``fit``'s scheduler gives each of ``total_steps`` optimizer steps."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = train._scheduler(opt, schedule, total_steps)
    rates = []
    for _ in range(total_steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return rates


def test_stable_decay_holds_the_rate_for_four_fifths_then_falls_linearly_to_zero():
    rates = _lrs("stable-decay", 100)
    assert rates[:80] == [2.0] * 80  # the stable part: the full rate
    decay = torch.tensor(rates[80:], dtype=torch.float64)
    expected = 2.0 * (100 - torch.arange(80, 100, dtype=torch.float64)) / 20  # 2.0, 1.9, ..., 0.1
    assert torch.allclose(decay, expected), decay
    assert train.lr_factor("stable-decay", 100)(100) == 0.0  # the step after the last


def test_stable_decay_on_a_run_shorter_than_five_steps_still_ends_below_the_full_rate():
    assert _lrs("stable-decay", 1) == [2.0]  # a single step can only use the full rate
    assert _lrs("stable-decay", 3) == [2.0, 2.0, 2.0 * 1 / 1]  # round(0.6) = 1 decay step
    rates = _lrs("stable-decay", 7)  # round(1.4) = 1 decay step
    assert rates[-1] == 2.0 and train.lr_factor("stable-decay", 7)(7) == 0.0


def test_constant_and_cosine_schedules_keep_their_shapes():
    assert _lrs("constant", 10) == [2.0] * 10
    cosine = _lrs("cosine", 10)
    assert cosine[0] == 2.0 and all(a > b for a, b in zip(cosine, cosine[1:], strict=False))


def test_lr_factor_names_the_known_schedules_for_an_unknown_one():
    message = r"schedule must be one of \('constant', 'cosine', 'stable-decay'\), got 'step'"
    with pytest.raises(ValueError, match=message):
        train.lr_factor("step", 10)


def _tiny_run(callback=None, epochs=3):
    torch.manual_seed(0)
    model = VAE(input_dim=64, latent_dim=4, hidden=[32])
    x = torch.rand(200, 64, generator=torch.Generator().manual_seed(4))
    history = train.fit(
        model,
        x,
        loss_fn=objectives.vae_loss(),
        epochs=epochs,
        batch_size=64,
        lr=3e-3,
        binarize=True,
        progress=False,
        callback=callback,
    )
    return model, history


def test_callback_sees_every_epoch_with_that_epochs_history():
    seen = []

    def watch(model, epoch, history):
        seen.append((epoch, len(history["loss"]), model.training, torch.is_grad_enabled()))

    _tiny_run(watch)
    assert seen == [(1, 1, True, False), (2, 2, True, False), (3, 3, True, False)]


def test_a_callback_that_only_watches_changes_neither_weights_nor_history():
    from aevae_lib import evaluate

    x_watch = (torch.rand(50, 64, generator=torch.Generator().manual_seed(5)) < 0.5).float()
    rates = []

    def watch(model, epoch, history):
        # negative_elbo reseeds torch's global generator and leaves the model in eval mode:
        # fit must undo both, or the next epoch's noise and mode would change
        evaluate.negative_elbo(model, x_watch, seed=123)
        torch.rand(10)
        rates.append(evaluate.kl_per_dimension(model, x_watch))

    plain_model, plain = _tiny_run()
    watched_model, watched = _tiny_run(watch)
    assert len(rates) == 3 and rates[0].shape == (4,)
    for key in ("loss", "recon", "kl"):
        assert plain[key] == watched[key], key
    for (name, a), b in zip(
        plain_model.named_parameters(), watched_model.parameters(), strict=True
    ):
        assert torch.equal(a, b), name


def test_callback_may_log_its_own_history_entries():
    def log_rate(model, epoch, history):
        history.setdefault("epoch_seen", []).append(epoch)

    _, history = _tiny_run(log_rate, epochs=2)
    assert history["epoch_seen"] == [1, 2] and len(history["seconds"]) == 2


def test_callback_must_be_callable():
    with pytest.raises(TypeError, match="callback must be None or a function"):
        _tiny_run(callback="every epoch")
