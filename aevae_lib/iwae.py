"""Training with the importance-weighted bound (the IWAE; Burda et al. 2015), and what it costs.

- ``log_weights``: the k log weights log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x) of
  every image, *with* gradients (``likelihood.log_importance_weights`` is the same quantity
  for evaluation, under ``no_grad``). The proposal q is the encoder's, or any diagonal Gaussian
  given as (mu, logvar), such as one optimized for a single image (``amortization``).
- ``iwae_fit_loss(k)``: ``objectives.iwae_loss`` as a ``train.fit`` loss function.
- ``seconds_per_step``: the time of one optimizer step of several objectives, measured in
  turns, so that a busy machine slows them all alike (for training at equal wall time).

Owns: ``log_weights``, ``iwae_fit_loss``, ``seconds_per_step``.

Used in: notebooks/12_tighter_bounds.ipynb (through ``zoo.trained_iwae``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import nn

from .objectives import iwae_loss, log_likelihood, log_normal, log_standard_normal
from .train import adam


def log_weights(
    model: nn.Module,
    x: torch.Tensor,
    k: int,
    *,
    mu: torch.Tensor | None = None,
    logvar: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """log w_i for k codes per image drawn from q = N(mu, diag exp(logvar)): (B, D) -> (k, B).

    Without ``mu``/``logvar`` the encoder's q(z | x) is used. The noise eps (k, B, d) is drawn
    from ``generator`` (torch's global generator if None); drawn from a generator seeded like
    ``likelihood.log_importance_weights(..., seed=s)``, the weights equal that function's.
    Differentiable in the model's parameters and in ``mu`` and ``logvar``.
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    if (mu is None) != (logvar is None):
        raise ValueError(
            "give both mu and logvar (a proposal of your own) or neither (the encoder)"
        )
    if mu is None:
        mu, logvar = model.encode(x)  # (B, d) each
    eps = torch.randn((k, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
    z = mu + torch.exp(0.5 * logvar) * eps  # (k, B, d)
    x_out, x_logvar = model.decode_params(z.reshape(-1, z.shape[-1]))  # (k*B, D)
    x_rep = x.expand(k, *x.shape).reshape(-1, x.shape[-1])  # (k*B, D)
    log_px_z = log_likelihood(
        model.likelihood, x_rep, x_out, 0.0 if x_logvar is None else x_logvar
    ).view(k, -1)  # (k, B)
    return log_px_z + log_standard_normal(z) - log_normal(z, mu, logvar)


def iwae_fit_loss(k: int) -> Callable[[nn.Module, torch.Tensor], dict]:
    """The IWAE's loss for ``train.fit``: -ELBO_k of a minibatch with k codes per image."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")

    def loss(model: nn.Module, x: torch.Tensor) -> dict:
        return iwae_loss(log_weights(model, x, k))

    return loss


def seconds_per_step(
    runs: dict[str, tuple[nn.Module, Callable]],
    x: torch.Tensor,
    steps: int = 20,
    lr: float = 1e-3,
) -> dict[str, float]:
    """Median seconds of one Adam step of each ``name: (model, loss_fn)`` on the batch x.

    The steps are taken in turns (one of each, then the next round), on copies of the models
    (the originals are untouched), after one warm-up round; the median over ``steps`` rounds
    ignores the rounds a busy machine interrupted.
    """
    import copy

    if not runs or steps < 1:
        raise ValueError("need at least one (model, loss_fn) and steps >= 1")
    trials = {name: copy.deepcopy(model).train() for name, (model, _) in runs.items()}
    optimizers = {name: adam(m.parameters(), lr) for name, m in trials.items()}
    times: dict[str, list[float]] = {name: [] for name in runs}
    with torch.random.fork_rng(devices=[]):
        for round_ in range(steps + 1):
            for name, (_, loss_fn) in runs.items():
                start = time.perf_counter()
                loss = loss_fn(trials[name], x)["loss"]
                optimizers[name].zero_grad(set_to_none=True)
                loss.backward()
                optimizers[name].step()
                if round_ > 0:  # round 0 warms up
                    times[name].append(time.perf_counter() - start)
    return {name: float(torch.tensor(t).median()) for name, t in times.items()}
