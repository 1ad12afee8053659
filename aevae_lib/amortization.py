"""The amortization gap: how far one shared encoder is from the best q for each image.

The encoder outputs one diagonal Gaussian q(z | x) for every image, computed by a network
shared across all images. For a single image x, nothing stops us from optimizing the mean
and the log-variance of a diagonal Gaussian for that image alone, starting from the encoder's
output, to maximize its ELBO. Cremer, Li and Duvenaud (2018) split the gap between log p(x)
and the encoder's ELBO into

    approximation gap = log p(x) - ELBO(q*)       (the diagonal family is too simple)
    amortization gap  = ELBO(q*) - ELBO(q_phi)    (the encoder misses the best member)

where q* is the best diagonal Gaussian for x and q_phi the encoder's.

- ``optimize_local_q``: Adam on (mu, logvar) of every image separately, from the encoder's
  output; the ELBO is checked every ``check_every`` steps on one fixed set of noise draws
  (the same for every check, so the comparisons are free of sampling noise), and each image
  keeps the best parameters seen, the encoder's included: the result never falls below it.
- ``gaps``: the two gaps, per image, from the estimates.

Owns: ``LocalQ``, ``optimize_local_q``, ``gaps``.

Used in: notebooks/12_tighter_bounds.ipynb.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .iwae import log_weights


@dataclass
class LocalQ:
    """The result of ``optimize_local_q`` for B images.

    mu, logvar: the best parameters found, (B, d) each. elbo_start, elbo: each image's ELBO
    at the encoder's output and at the result, (B,), on the fixed evaluation noise.
    steps, curve: the optimizer steps of the checks, and the mean ELBO at each (starting at 0).
    """

    mu: torch.Tensor
    logvar: torch.Tensor
    elbo_start: torch.Tensor
    elbo: torch.Tensor
    steps: list[int] = field(default_factory=list)
    curve: list[float] = field(default_factory=list)


def optimize_local_q(
    model: nn.Module,
    x: torch.Tensor,
    *,
    steps: int = 300,
    lr: float = 1e-2,
    n_samples: int = 8,
    check_every: int = 25,
    n_eval: int = 100,
    seed: int = 0,
) -> LocalQ:
    """Maximize each image's ELBO over its own diagonal Gaussian, starting from the encoder's.

    Every step draws ``n_samples`` fresh codes per image (reparameterized) and takes one Adam
    step on the mean and log-variance of every image at once (the images do not interact: the
    loss is a sum of per-image terms). The model's weights are not changed and receive no
    gradient. Every ``check_every`` steps the ELBO of every image is estimated with ``n_eval``
    codes drawn from the same noise each time; an image keeps its parameters of the best check.
    """
    for name, value in (
        ("steps", steps),
        ("n_samples", n_samples),
        ("check_every", check_every),
        ("n_eval", n_eval),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    model.eval()
    device = x.device

    def evaluate(mu, logvar) -> torch.Tensor:  # (B,), the same noise every call
        gen = torch.Generator(device=device).manual_seed(seed + 1)
        with torch.no_grad():
            return log_weights(model, x, n_eval, mu=mu, logvar=logvar, generator=gen).mean(0)

    with torch.no_grad():
        mu0, logvar0 = model.encode(x)  # (B, d) each
    mu, logvar = mu0.clone().requires_grad_(True), logvar0.clone().requires_grad_(True)
    best_mu, best_logvar = mu0.clone(), logvar0.clone()
    start = evaluate(mu0, logvar0)
    best = start.clone()
    result = LocalQ(best_mu, best_logvar, start, best, [0], [start.mean().item()])
    optimizer = torch.optim.Adam([mu, logvar], lr=lr)
    gen = torch.Generator(device=device).manual_seed(seed)
    for step in range(1, steps + 1):
        elbo = log_weights(model, x, n_samples, mu=mu, logvar=logvar, generator=gen).mean(0)
        grads = torch.autograd.grad(-elbo.sum(), [mu, logvar])  # per image: its own ELBO
        mu.grad, logvar.grad = grads
        optimizer.step()
        if step % check_every == 0 or step == steps:
            current = evaluate(mu.detach(), logvar.detach())
            better = current > best  # (B,)
            best[better] = current[better]
            best_mu[better] = mu.detach()[better]
            best_logvar[better] = logvar.detach()[better]
            result.steps.append(step)
            result.curve.append(current.mean().item())
    return result


def gaps(log_px: torch.Tensor, elbo_best: torch.Tensor, elbo_encoder: torch.Tensor) -> dict:
    """Per-image gaps (B,) from estimates of log p(x), the best q's ELBO and the encoder's:
    ``{"approximation": log p - ELBO(q*), "amortization": ELBO(q*) - ELBO(q_phi),
    "inference": log p - ELBO(q_phi)}`` (the last is the sum of the first two)."""
    if not log_px.shape == elbo_best.shape == elbo_encoder.shape:
        raise ValueError(
            "log_px, elbo_best and elbo_encoder must have the same shape, got "
            f"{tuple(log_px.shape)}, {tuple(elbo_best.shape)}, "
            f"{tuple(elbo_encoder.shape)}"
        )
    return {
        "approximation": log_px - elbo_best,
        "amortization": elbo_best - elbo_encoder,
        "inference": log_px - elbo_encoder,
    }
