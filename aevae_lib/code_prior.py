"""Priors over a grid of discrete codes: what a VQ-VAE samples its indices from.

A VQ-VAE describes an image by M indices r_1..r_M, each in {0, ..., K-1}. To generate, we need
a distribution over such index tuples. Two are here:

- ``PositionPrior``: every slot independent, p(r) = prod_m p_m(r_m), with p_m the frequencies of
  the training images' indices at slot m (add-one smoothed): fitted by counting, no training;
- ``AutoregressivePrior``: p(r) = prod_m p(r_m | r_1..r_{m-1}), one masked MLP (MADE,
  Germain et al. 2015) whose output for slot m sees only the slots before it, the MLP cousin
  of the PixelCNN that the VQ-VAE paper fits over its grid. It is trained by maximum likelihood
  (``code_prior_loss``) and sampled one slot at a time.

Both give ``log_prob(indices)`` (B,) in nats, and ``sample(n, generator)`` (n, M). The average
of -log p(r) over images is the length of the code in nats when the prior is used to
compress it (divide by ln 2 for bits).

Owns: ``PositionPrior``, ``AutoregressivePrior``, ``made_masks``, ``code_prior_loss``.

Used in: notebooks/11_vq_vae.ipynb.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .models import _positive_int


def _check_indices(indices: torch.Tensor, n_slots: int, n_codes: int) -> torch.Tensor:
    if indices.dim() != 2 or indices.shape[1] != n_slots:
        raise ValueError(f"indices must have shape (B, {n_slots}), got {tuple(indices.shape)}")
    indices = indices.long()
    if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= n_codes):
        raise ValueError(f"indices must lie in 0..{n_codes - 1}")
    return indices


class PositionPrior(nn.Module):
    """Independent categorical distributions, one per slot: log-probabilities (M, K)."""

    def __init__(self, n_slots: int, n_codes: int):
        super().__init__()
        self.n_slots, self.n_codes = (
            _positive_int(n_slots, "n_slots"),
            _positive_int(n_codes, "n_codes"),
        )
        uniform = torch.full((n_slots, n_codes), -math.log(n_codes))  # log (1 / K)
        self.register_buffer("log_probs", uniform)

    @torch.no_grad()
    def fit(self, indices: torch.Tensor) -> PositionPrior:
        """Set p_m(r) = (count of r at slot m + 1) / (N + K) from training indices (N, M)."""
        indices = _check_indices(indices, self.n_slots, self.n_codes).cpu()
        counts = (
            torch.stack(
                [torch.bincount(indices[:, m], minlength=self.n_codes) for m in range(self.n_slots)]
            ).double()
            + 1.0
        )  # (M, K)
        self.log_probs.copy_((counts / counts.sum(1, keepdim=True)).log())
        return self

    def log_prob(self, indices: torch.Tensor) -> torch.Tensor:
        """log p(r) for index tuples (B, M) -> (B,)."""
        indices = _check_indices(indices, self.n_slots, self.n_codes).to(self.log_probs.device)
        return self.log_probs.gather(1, indices.T).sum(0)  # (M, B) -> (B,)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n index tuples (n, M); ``generator`` on the prior's device."""
        draws = torch.multinomial(
            self.log_probs.exp(), n, replacement=True, generator=generator
        )  # (M, n)
        return draws.T


def made_masks(n_slots: int, n_codes: int, hidden: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Connectivity masks of a one-hidden-layer MADE over M slots of K-way one-hot inputs.

    Input unit (m, r) has degree m (1..M), hidden unit h degree 1 + h mod (M - 1) (all 1 when
    M = 1), output unit (m, r) degree m. A hidden unit sees inputs of degree <= its own; an
    output sees hidden units of degree < its own. So output m depends on slots 1..m-1 only.
    Returns (hidden, M K) and (M K, hidden) masks of 0s and 1s.
    """
    slot_deg = torch.arange(1, n_slots + 1).repeat_interleave(n_codes)  # (M K,)
    hid_deg = 1 + torch.arange(hidden) % max(n_slots - 1, 1)  # (hidden,)
    mask_in = (hid_deg[:, None] >= slot_deg[None, :]).float()  # (hidden, M K)
    mask_out = (slot_deg[:, None] > hid_deg[None, :]).float()  # (M K, hidden)
    return mask_in, mask_out


class _MaskedLinear(nn.Linear):
    def __init__(self, n_in: int, n_out: int, mask: torch.Tensor):
        super().__init__(n_in, n_out)
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class AutoregressivePrior(nn.Module):
    """p(r) = prod_m p(r_m | r_<m): a MADE with one hidden layer of ``hidden`` ReLU units."""

    def __init__(self, n_slots: int = 20, n_codes: int = 64, hidden: int = 512):
        super().__init__()
        self.n_slots, self.n_codes = (
            _positive_int(n_slots, "n_slots"),
            _positive_int(n_codes, "n_codes"),
        )
        mask_in, mask_out = made_masks(n_slots, n_codes, _positive_int(hidden, "hidden"))
        self.hidden = _MaskedLinear(n_slots * n_codes, hidden, mask_in)
        self.out = _MaskedLinear(hidden, n_slots * n_codes, mask_out)

    def logits(self, indices: torch.Tensor) -> torch.Tensor:
        """Index tuples (B, M) -> logits (B, M, K); row m depends on indices[:, :m] only."""
        indices = _check_indices(indices, self.n_slots, self.n_codes)
        x = F.one_hot(indices, self.n_codes).float().flatten(1)  # (B, M K)
        return self.out(torch.relu(self.hidden(x))).view(-1, self.n_slots, self.n_codes)

    def log_prob(self, indices: torch.Tensor) -> torch.Tensor:
        """log p(r) for index tuples (B, M) -> (B,)."""
        logp = self.logits(indices).log_softmax(-1)  # (B, M, K)
        return logp.gather(2, indices.long().unsqueeze(2)).squeeze(2).sum(1)

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        return self.log_prob(indices)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n index tuples (n, M), drawn slot by slot (M passes of the network); ``generator``
        on the prior's device."""
        device = next(self.parameters()).device
        indices = torch.zeros(n, self.n_slots, dtype=torch.long, device=device)
        for m in range(self.n_slots):
            probs = self.logits(indices)[:, m].softmax(-1)  # (n, K)
            indices[:, m] = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        return indices


def code_prior_loss(model: nn.Module, indices: torch.Tensor) -> dict:
    """Mean -log p(r) in nats over a batch of index tuples (B, M), as a ``train.fit`` loss
    (``fit`` needs floating-point data, so the indices arrive as floats and are rounded)."""
    nll = -model.log_prob(indices.round().long())
    return {"loss": nll.mean()}
