"""Two ways to differentiate an expectation E_{z ~ N(mu, sigma^2)}[psi(z)] by sampling.

pathwise (reparameterization):  z = mu + sigma * eps,  grad = d psi(mu + sigma * eps) / d(mu, sigma)
score function (REINFORCE):     grad = psi(z) * u,  u = d log N(z; mu, sigma^2) / d(mu, sigma)

Both are unbiased; their variances differ, often by orders of magnitude (Williams 1992;
Kingma and Welling 2013; Mohamed et al. 2020). This module returns *per-sample* gradient
estimates, so a notebook can average them, put error bars on them and measure their variance,
both on a one-dimensional toy and on the encoder of a trained VAE.

Owns: ``toy_gradient_samples``, ``encoder_parameters``, ``encoder_gradient_samples``,
``total_variance``. The loss whose gradient they sample, ``elbo_surrogate``, is in ``objectives``.

Used in: notebooks/06_reparameterization_trick.ipynb.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .objectives import check_estimator, elbo_surrogate


def toy_gradient_samples(
    psi: Callable[[torch.Tensor], torch.Tensor],
    mu: float,
    sigma: float,
    n: int,
    estimator: str,
    generator: torch.Generator,
) -> torch.Tensor:
    """n independent single-sample estimates of d/d(mu, sigma) E_{N(mu, sigma^2)}[psi(z)]: (n, 2).

    Column 0 estimates the derivative in mu, column 1 the derivative in sigma. ``psi`` maps a
    tensor of z values elementwise to psi(z) and must be written in torch (for autograd).
    """
    check_estimator(estimator)
    if not sigma > 0 or n < 1:
        raise ValueError(f"need sigma > 0 and n >= 1, got sigma={sigma!r}, n={n!r}")
    mu_t = torch.full((n,), float(mu), dtype=torch.float64, requires_grad=True)
    sigma_t = torch.full((n,), float(sigma), dtype=torch.float64, requires_grad=True)
    eps = torch.randn(n, generator=generator, dtype=torch.float64)
    if estimator == "pathwise":
        z = mu_t + sigma_t * eps  # gradients flow through z
        surrogate = psi(z)
    else:
        z = (mu_t + sigma_t * eps).detach()  # a plain sample: no path back to (mu, sigma)
        log_q = torch.distributions.Normal(mu_t, sigma_t).log_prob(z)
        surrogate = psi(z).detach() * log_q  # its gradient is psi(z) times the score u
    surrogate.sum().backward()  # sample i only touches mu_t[i], sigma_t[i]
    return torch.stack([mu_t.grad, sigma_t.grad], dim=1)


def encoder_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters phi of q(z | x): the encoder trunk plus the mean and log-variance layers."""
    return [
        *model.encoder.parameters(),
        *model.mean_layer.parameters(),
        *model.logvar_layer.parameters(),
    ]


def encoder_gradient_samples(
    model: nn.Module, x: torch.Tensor, estimator: str, n_repeats: int, seed: int = 0
) -> torch.Tensor:
    """``n_repeats`` independent estimates of the ELBO gradient w.r.t. the encoder parameters.

    The batch ``x`` (B, D) and the weights stay fixed; only the noise eps changes between
    repeats. Returns (n_repeats, P) with P the number of encoder parameters, on the CPU
    whatever the model's device (ready for statistics and plots).
    """
    check_estimator(estimator)
    params = encoder_parameters(model)
    torch.manual_seed(seed)  # the noise inside model.reparameterize
    rows = []
    for _ in range(n_repeats):
        loss = elbo_surrogate(model, x, estimator)["loss"]
        grads = torch.autograd.grad(loss, params)
        rows.append(torch.cat([g.reshape(-1) for g in grads]).cpu())
    return torch.stack(rows)


def total_variance(samples: torch.Tensor) -> float:
    """Trace of the covariance of gradient samples (n, P): sum over parameters of their variance."""
    if samples.dim() != 2 or samples.shape[0] < 2:
        raise ValueError(f"need samples of shape (n >= 2, P), got {tuple(samples.shape)}")
    return samples.double().var(dim=0).sum().item()
