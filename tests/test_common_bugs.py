"""The "Common VAE bugs" page (book/common_bugs.md), as tests.

Each bug is written out below as the buggy function a reader might write; the page shows
these very functions (``literalinclude``). Each test runs one check that the buggy version
fails and the library's version (``aevae_lib``) passes. Tiny tensors, milliseconds.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.distributions import Independent, Normal, kl_divergence

from aevae_lib.models import VAE
from aevae_lib.objectives import (
    bernoulli_log_likelihood,
    continuous_bernoulli_log_likelihood,
    elbo_loss,
    gaussian_kl,
)

D, d = 784, 2  # data and latent dimensions of the tiny model


def _tiny_vae(seed: int = 0) -> VAE:
    torch.manual_seed(seed)
    return VAE(input_dim=D, latent_dim=d, hidden=(16,))


# --- 1. BCE on grayscale data without the normaliser -----------------------------------------


def buggy_grayscale_log_likelihood(x, logits):
    # BUG for grayscale x in [0, 1]: the Bernoulli formula is a probability
    # for x in {0, 1} only; on the interval [0, 1] it does not integrate to 1.
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return -bce.sum(-1)


def _integral_over_one_pixel(log_density, logit: float) -> float:
    """Integrate exp(log p(x)) over x in [0, 1] for a one-pixel image (trapezoid rule)."""
    xs = torch.linspace(0.0, 1.0, 4001, dtype=torch.float64).unsqueeze(1)  # (n, 1)
    logits = torch.full_like(xs, logit)
    return torch.trapezoid(log_density(xs, logits).exp(), xs[:, 0]).item()


def test_bce_on_grayscale_data_is_not_a_density_but_the_continuous_bernoulli_is():
    for logit in (-3.0, 0.0, 2.0):
        buggy = _integral_over_one_pixel(buggy_grayscale_log_likelihood, logit)
        fixed = _integral_over_one_pixel(continuous_bernoulli_log_likelihood, logit)
        assert abs(buggy - 1.0) > 0.1, (logit, buggy)  # 0.5 at logit 0: half the mass missing
        assert abs(fixed - 1.0) < 1e-5, (logit, fixed)
    # the library's Bernoulli likelihood is the same formula, meant for binarized data
    x = torch.rand(3, D, generator=torch.Generator().manual_seed(0))
    logits = torch.randn(3, D, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(
        buggy_grayscale_log_likelihood(x, logits), bernoulli_log_likelihood(x, logits)
    )


# --- 2. mean instead of sum over pixels -------------------------------------------------------


def buggy_loss_mean_reduction(x, out):
    # BUG: reduction="mean" averages over the batch AND the 784 pixels, so the
    # reconstruction term is 784 times too small next to the KL (a sum over z).
    recon = F.binary_cross_entropy_with_logits(out.x_out, x)
    kl = gaussian_kl(out.mu, out.logvar).mean()
    return recon + kl


def test_mean_reduction_weights_the_kl_by_a_factor_d():
    x = torch.bernoulli(torch.full((8, D), 0.3), generator=torch.Generator().manual_seed(0))
    vae = _tiny_vae()
    torch.manual_seed(1)
    out = vae(x)
    right = elbo_loss(x, out)  # sum over pixels, mean over the batch: nats per image
    # the check: the loss is the negative ELBO per image, -log p(x|z) + KL, in nats
    reference = (
        -bernoulli_log_likelihood(x, out.x_out).mean() + gaussian_kl(out.mu, out.logvar).mean()
    )
    torch.testing.assert_close(right["loss"], reference)
    buggy = buggy_loss_mean_reduction(x, out)
    assert not torch.isclose(buggy, reference, rtol=0.1)
    # ... because it is (1 / D) times the loss of a beta-VAE with beta = D = 784
    torch.testing.assert_close(buggy * D, elbo_loss(x, out, beta=D)["loss"])


# --- 3. a log-variance used as a standard deviation -------------------------------------------


def buggy_kl_logvar_as_std(mu, logvar):
    # BUG: the encoder's second output is log(sigma^2), not sigma
    std = logvar
    return 0.5 * (mu.pow(2) + std.pow(2) - torch.log(std.pow(2)) - 1).sum(-1)


def buggy_reparameterize(mu, logvar):
    return mu + logvar * torch.randn_like(mu)  # BUG: sigma is exp(logvar / 2)


def test_std_versus_log_variance_confusion_gives_the_wrong_kl_and_the_wrong_noise():
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(64, d, generator=gen, dtype=torch.float64)
    logvar = torch.randn(64, d, generator=gen, dtype=torch.float64)
    q = Independent(Normal(mu, torch.exp(0.5 * logvar)), 1)
    p = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
    reference = kl_divergence(q, p)  # torch.distributions, an independent implementation
    torch.testing.assert_close(gaussian_kl(mu, logvar), reference)
    assert not torch.allclose(buggy_kl_logvar_as_std(mu, logvar), reference, rtol=0.1)
    # the noise: z's spread around mu must be sigma = exp(logvar / 2)
    mu1, logvar1 = torch.zeros(200_000, 1), torch.full((200_000, 1), math.log(0.25))  # sigma 0.5
    torch.manual_seed(0)
    assert abs(VAE.reparameterize(mu1, logvar1).std().item() - 0.5) < 0.01
    assert abs(buggy_reparameterize(mu1, logvar1).std().item() - 0.5) > 0.5  # |log 0.25| = 1.39


# --- 4. a "generate" cell that reconstructs ---------------------------------------------------


def buggy_generate(model, x):
    with torch.no_grad():
        out = model(x)  # BUG: encodes x, so it reconstructs x: no generation
    return model.mean_image(out.x_out)


def test_generated_images_must_not_depend_on_the_data():
    vae = _tiny_vae()
    gen = torch.Generator().manual_seed(0)
    x_a, x_b = torch.rand(4, D, generator=gen), torch.rand(4, D, generator=gen)
    # the check: with the same random seed, "new" images must not change with the data
    torch.manual_seed(1)
    from_a = buggy_generate(vae, x_a)
    torch.manual_seed(1)
    from_b = buggy_generate(vae, x_b)
    assert not torch.allclose(from_a, from_b)
    samples = vae.sample(4, generator=torch.Generator().manual_seed(1))  # takes no data at all
    z = torch.randn(4, d, generator=torch.Generator().manual_seed(1))  # z ~ p(z) = N(0, I)
    torch.testing.assert_close(samples, torch.sigmoid(vae.decode(z)))


# --- 5. the KL logged with the wrong sign -----------------------------------------------------


def buggy_kl_sign(mu, logvar):
    # BUG: this is -KL, the term the ELBO *adds*; logged as "kl" it is
    # negative, and added to the loss it rewards a far-off posterior.
    return 0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)


def test_kl_is_never_negative():
    gen = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(256, d, generator=gen), torch.randn(256, d, generator=gen)
    assert (buggy_kl_sign(mu, logvar) < 0).all()  # the check fails: a KL below zero
    assert (gaussian_kl(mu, logvar) >= 0).all()
    x = torch.bernoulli(torch.full((8, D), 0.3), generator=gen)
    vae = _tiny_vae()
    terms = elbo_loss(x, vae(x))
    assert terms["kl"] >= 0
    torch.testing.assert_close(terms["loss"], terms["recon"] + terms["kl"])
