"""Behaviour tests of aevae_lib.models: names and shapes, gradients, training, save/load, errors."""

from __future__ import annotations

import io

import pytest
import torch

from aevae_lib import models
from aevae_lib.data import fixed_binarization, load_digits
from aevae_lib.models import VAE, Autoencoder, ConvVAE, DigitClassifier, VAEOutput
from aevae_lib.objectives import elbo_loss, vae_loss
from aevae_lib.train import fit


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


@pytest.fixture
def vae():
    torch.manual_seed(0)
    return VAE(input_dim=64, latent_dim=4, hidden=(32,))


def test_vae_output_names_and_shapes(vae, gen):
    x = torch.rand(5, 64, generator=gen)
    out = vae(x)
    assert isinstance(out, VAEOutput)
    assert out.x_out.shape == (5, 64)
    assert out.mu.shape == out.logvar.shape == out.z.shape == (5, 4)
    assert out.x_logvar is None
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (5, 4)
    assert vae.decode(out.z).shape == (5, 64)


def test_default_vae_is_the_784_400_20_network():
    vae = VAE()
    assert [m.out_features for m in vae.modules() if isinstance(m, torch.nn.Linear)] == [
        400,  # encoder trunk
        20,  # mean layer
        20,  # log-variance layer
        400,  # decoder hidden
        784,  # decoder output (logits)
    ]
    assert models.count_parameters(vae) == (784 * 400 + 400) + 2 * (400 * 20 + 20) + (
        20 * 400 + 400
    ) + (400 * 784 + 784)


def test_learned_variance_gaussian_returns_a_decoder_log_variance(gen):
    vae = VAE(input_dim=10, latent_dim=2, hidden=(8,), likelihood="gaussian", learn_variance=True)
    out = vae(torch.rand(3, 10, generator=gen))
    assert out.x_out.shape == out.x_logvar.shape == (3, 10)
    assert (out.x_logvar >= models.LOGVAR_MIN).all() and (out.x_logvar <= models.LOGVAR_MAX).all()


def test_reparameterize_has_the_right_moments_and_gradients():
    torch.manual_seed(0)
    mu = torch.tensor([[1.5, -2.0]]).repeat(100_000, 1).requires_grad_()
    logvar = torch.tensor([[0.0, 2 * torch.log(torch.tensor(0.3)).item()]]).repeat(100_000, 1)
    logvar.requires_grad_()
    z = VAE.reparameterize(mu, logvar)
    torch.testing.assert_close(z.mean(0), torch.tensor([1.5, -2.0]), atol=0.02, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([1.0, 0.3]), atol=0.01, rtol=0)
    z.sum().backward()
    assert torch.all(mu.grad == 1)  # dz/dmu = 1: the path from z back to mu exists
    assert logvar.grad.abs().sum() > 0


def test_squash_logvar_keeps_log_variance_in_range_and_is_smooth():
    raw = torch.tensor([-1e6, -100.0, -20.0, -3.0, 0.0, 5.0, 30.0, 1e6])
    out = models.squash_logvar(raw)
    assert (out >= models.LOGVAR_MIN).all() and (out <= models.LOGVAR_MAX).all()
    assert torch.isfinite(torch.exp(out)).all() and (torch.exp(0.5 * out) > 0).all()
    assert (out.diff() >= 0).all()  # monotone
    grid = torch.linspace(-7.0, 1.0, 81, requires_grad=True)
    models.squash_logvar(grid).sum().backward()
    assert (grid.grad > 0.8).all()  # close to the identity in the usual range of log sigma^2
    assert (models.squash_logvar(grid) - grid).abs().max() < 0.2


def test_encoder_log_variance_stays_in_range_for_extreme_inputs(vae):
    with torch.no_grad():
        vae.logvar_layer.weight.fill_(1e3)
    _, logvar = vae.encode(torch.ones(2, 64))
    assert (logvar >= models.LOGVAR_MIN).all() and (logvar <= models.LOGVAR_MAX).all()


def test_one_optimizer_step_changes_every_weight(vae, gen):
    # (seed 1: a Bernoulli draw seeded like the uniforms it thresholds would give all zeros)
    x = fixed_binarization(torch.rand(16, 64, generator=gen), seed=1)
    assert 0.3 < x.mean() < 0.7
    before = {k: v.clone() for k, v in vae.state_dict().items()}
    optimizer = torch.optim.Adam(vae.parameters(), lr=1e-3)
    elbo_loss(x, vae(x))["loss"].backward()
    optimizer.step()
    for name, value in vae.state_dict().items():
        assert not torch.equal(value, before[name]), f"{name} did not change"


def test_loss_decreases_on_the_digits_dataset():
    x_train, _, _, _ = load_digits()
    x = fixed_binarization(x_train[:512])
    torch.manual_seed(0)
    vae = VAE(input_dim=64, latent_dim=4, hidden=(64,))
    history = fit(vae, x, loss_fn=vae_loss(), epochs=15, batch_size=64, lr=3e-3, progress=False)
    assert set(history) >= {"loss", "recon", "kl", "seconds"} and len(history["loss"]) == 15
    assert history["loss"][-1] < 0.8 * history["loss"][0]
    assert history["kl"][-1] > 0


def test_save_load_round_trip(vae, gen):
    buffer = io.BytesIO()
    torch.save(vae.state_dict(), buffer)
    buffer.seek(0)
    clone = VAE(input_dim=64, latent_dim=4, hidden=(32,))
    clone.load_state_dict(torch.load(buffer, weights_only=True))
    x = torch.rand(3, 64, generator=gen)
    for a, b in zip(vae.encode(x), clone.encode(x), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    z = torch.randn(3, 4, generator=gen)
    torch.testing.assert_close(vae.decode(z), clone.decode(z), rtol=0, atol=0)


def test_sample_is_reproducible_and_in_pixel_range(vae):
    a = vae.sample(6, generator=torch.Generator().manual_seed(1))
    b = vae.sample(6, generator=torch.Generator().manual_seed(1))
    assert a.shape == (6, 64) and torch.equal(a, b)
    assert (a >= 0).all() and (a <= 1).all()


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: VAE(likelihood="poisson"), ValueError, "likelihood must be one of"),
        (lambda: VAE(learn_variance=True), ValueError, "learn_variance"),
        (lambda: VAE(latent_dim=0), ValueError, "latent_dim"),
        (lambda: VAE(activation="swish"), ValueError, "activation"),
        (lambda: Autoencoder(output="softmax"), ValueError, "output"),
    ],
)
def test_bad_settings_get_clear_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_inputs_get_clear_errors(vae):
    with pytest.raises(ValueError, match=r"shape \(B, 64\)"):
        vae.encode(torch.zeros(2, 1, 8, 8))
    with pytest.raises(TypeError, match="floating-point"):
        vae.encode(torch.zeros(2, 64, dtype=torch.uint8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        vae.encode([[0.0] * 64])
    with pytest.raises(ValueError, match=r"shape \(B, 4\)"):
        vae.decode(torch.zeros(2, 5))


def test_autoencoder_conv_vae_and_classifier_shapes(gen):
    ae = Autoencoder(input_dim=64, latent_dim=3, hidden=(16,))
    out = ae(torch.rand(4, 64, generator=gen))
    assert out.z.shape == (4, 3) and out.x_hat.shape == (4, 64)
    assert (out.x_hat >= 0).all() and (out.x_hat <= 1).all()
    conv = ConvVAE(latent_dim=5, channels=4, hidden=16)
    cout = conv(torch.rand(2, 784, generator=gen))
    assert cout.x_out.shape == (2, 784) and cout.mu.shape == (2, 5)
    assert DigitClassifier(hidden=(32,))(torch.rand(3, 784, generator=gen)).shape == (3, 10)
