"""The signal-to-noise ratio of stochastic gradients (Rainforth et al. 2018).

A stochastic gradient estimate g of a parameter is useful when its mean (the signal) is large
against its spread (the noise) over repeated draws of the sampling noise, the data and the
weights held fixed:

    SNR = |E[g]| / sd[g]

computed for every parameter separately. Rainforth et al. prove that for the k-sample bound
ELBO_k the SNR of the decoder's gradients grows like sqrt(k), while the SNR of the encoder's
gradients *falls* like 1 / sqrt(k): a tighter bound gives the encoder a weaker signal.

- ``gradient_samples``: repeated estimates of the gradient of a stochastic loss, one row each;
- ``signal_to_noise``: |mean| / sd of each column of those rows;
- ``bound_gradient_samples``: the gradient of -ELBO_k of a batch with respect to the encoder's
  and the decoder's parameters, repeated with fresh codes.

Owns: the three functions above and ``decoder_parameters``.

Used in: notebooks/12_tighter_bounds.ipynb.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from .gradients import encoder_parameters
from .iwae import log_weights
from .objectives import iwae_loss


def decoder_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters theta of p(x | z): the decoder network."""
    return list(model.decoder.parameters())


def gradient_samples(
    loss_fn: Callable[[], torch.Tensor],
    params: Sequence[torch.Tensor],
    n_repeats: int,
    seed: int = 0,
) -> torch.Tensor:
    """``n_repeats`` gradients of ``loss_fn()`` with respect to ``params``, flattened: (R, P).

    ``loss_fn`` draws its own noise from torch's global generator, seeded with ``seed`` once
    before the first repeat (the global random state is restored afterwards).
    """
    if not isinstance(n_repeats, int) or isinstance(n_repeats, bool) or n_repeats < 2:
        raise ValueError(f"n_repeats must be an int >= 2 (a spread needs two), got {n_repeats!r}")
    params = list(params)
    rows = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for _ in range(n_repeats):
            grads = torch.autograd.grad(loss_fn(), params)
            rows.append(torch.cat([g.reshape(-1) for g in grads]).detach().cpu())
    return torch.stack(rows)  # (R, P)


def signal_to_noise(samples: torch.Tensor) -> torch.Tensor:
    """|mean| / sd over the rows of ``samples`` (R, P), one ratio per column: (P,).

    A column whose samples are all equal has no noise; its ratio is NaN (a weight that never
    receives a gradient, e.g. one fed by a pixel that is always off), so summaries should use
    ``torch.nanmedian``. Computed in float64, with the unbiased standard deviation.
    """
    if samples.dim() != 2 or samples.shape[0] < 2:
        raise ValueError(f"need samples of shape (R >= 2, P), got {tuple(samples.shape)}")
    s = samples.double()
    sd = s.std(dim=0)
    snr = s.mean(dim=0).abs() / sd
    return torch.where(sd > 0, snr, torch.full_like(snr, float("nan")))


def bound_gradient_samples(
    model: nn.Module, x: torch.Tensor, k: int, n_repeats: int, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Repeated gradients of -ELBO_k (the batch mean over x) for k codes per image:
    ``{"encoder": (R, P_enc), "decoder": (R, P_dec)}``, from one backward pass per repeat.
    The weights and the batch stay fixed; only the codes' noise changes between repeats."""
    enc, dec = encoder_parameters(model), decoder_parameters(model)
    model.eval()

    def loss() -> torch.Tensor:
        return iwae_loss(log_weights(model, x, k))["loss"]

    both = gradient_samples(loss, [*enc, *dec], n_repeats, seed)
    n_enc = sum(p.numel() for p in enc)
    return {"encoder": both[:, :n_enc], "decoder": both[:, n_enc:]}
