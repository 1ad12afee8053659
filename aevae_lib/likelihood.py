"""Estimating log p(x) and comparing it with the literature.

- ``iw_log_likelihood``: the importance-weighted bound of every image, its log-sum-exp streamed
  over chunks of samples (memory does not grow with k);
- ``log_importance_weights``: the k log weights log p(x, z_i) - log q(z_i | x) of every image,
  from which the ELBO (k = 1) and every importance-weighted bound up to k can be read off;
- ``iw_bounds``: the k-sample bound for several k from *one* set of K weights, each averaged
  over the K / k disjoint groups of k weights (so small k is estimated with little noise);
  ``iw_estimates`` gives the single estimates of those groups, and ``effective_sample_size``
  how many of an image's weights effectively count;
- ``LITERATURE``: published test negative log-likelihoods on binarized MNIST, with their
  conditions and sources (shared/docs/ANCHORS.md), for the table of chapter 08.

Used in: notebooks/04, 05, 07 and 08 (through ``evaluate``, which re-exports the bound).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .objectives import log_likelihood, log_normal, log_standard_normal


def _check_k(k) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k (number of importance samples) must be an int >= 1, got {k!r}")
    return k


def check_vae(model: nn.Module) -> None:
    """Refuse, with a message that says what to use instead, a model that is not a VAE."""
    if not (hasattr(model, "reparameterize") and hasattr(model, "likelihood")):
        raise TypeError(
            f"model must be a VAE (encode -> (mu, logvar), a likelihood), got "
            f"{type(model).__name__}; use reconstruct / sse_per_image for an Autoencoder"
        )


def _check_max_rows(max_rows) -> int:
    if not isinstance(max_rows, int) or isinstance(max_rows, bool) or max_rows < 1:
        raise ValueError(f"max_rows must be a positive int, got {max_rows!r}")
    return max_rows


def _weight_chunks(model: nn.Module, x: torch.Tensor, k: int, max_rows: int, seed: int):
    """Yield (block, log_w) with log_w (kk, B) for blocks of B images and chunks of kk <= k
    samples, never decoding more than ``max_rows`` codes at once.

    Blocks hold max(1, max_rows // k) images; each image's k samples come in chunks of at most
    max_rows, drawn in order from one generator seeded with ``seed``, so the weights (and every
    bound read from them) do not depend on how they are consumed.
    """
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    k_chunk = min(k, max_rows)
    for block, xb in enumerate(x.split(max(1, max_rows // k))):
        xb = xb.to(device)  # (B, D)
        mu, logvar = model.encode(xb)  # (B, d) each
        std = torch.exp(0.5 * logvar)
        for start in range(0, k, k_chunk):
            kk = min(k_chunk, k - start)
            z = mu + std * torch.randn((kk, *mu.shape), generator=gen, device=device)
            x_out, x_logvar = model.decode_params(z.reshape(-1, z.shape[-1]))  # (kk*B, D)
            x_rep = xb.expand(kk, *xb.shape).reshape(-1, xb.shape[-1])  # (kk*B, D)
            log_px_z = log_likelihood(
                model.likelihood, x_rep, x_out, 0.0 if x_logvar is None else x_logvar
            ).view(kk, -1)  # (kk, B)
            yield block, log_px_z + log_standard_normal(z) - log_normal(z, mu, logvar)


@torch.no_grad()
def log_importance_weights(
    model: nn.Module, x: torch.Tensor, k: int, *, max_rows: int = 50_000, seed: int = 0
) -> torch.Tensor:
    """log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x), z_i ~ q(z | x). (N, D) -> (k, N).

    Decodes at most ``max_rows`` codes at a time (the result itself holds k * N numbers; for the
    bound alone use ``iw_log_likelihood``, whose memory does not grow with k).
    """
    _check_k(k)
    check_vae(model)
    _check_max_rows(max_rows)
    blocks: list[list[torch.Tensor]] = []
    for block, log_w in _weight_chunks(model, x, k, max_rows, seed):
        if block == len(blocks):
            blocks.append([])
        blocks[block].append(log_w.cpu())
    return torch.cat([torch.cat(chunks) for chunks in blocks], dim=1)  # (k, N)


@torch.no_grad()
def iw_log_likelihood(
    model: nn.Module, x: torch.Tensor, k: int = 100, *, max_rows: int = 50_000, seed: int = 0
) -> torch.Tensor:
    """The importance-weighted estimate of log p(x) of every image, shape (N,):

    log p(x) >= E[ log (1/k) sum_i p(x, z_i) / q(z_i | x) ],  z_i ~ q(z | x)   (Burda et al. 2015)

    With k = 1 this is the ELBO; it tightens as k grows. The log-sum-exp is streamed over
    chunks of samples, so memory stays within ``max_rows`` decoded codes whatever k is. The
    same ``seed`` gives the same weights as ``log_importance_weights``.
    """
    _check_k(k)
    check_vae(model)
    _check_max_rows(max_rows)
    out: list[torch.Tensor] = []
    for block, log_w in _weight_chunks(model, x, k, max_rows, seed):
        chunk = torch.logsumexp(log_w, dim=0)  # (B,)
        if block == len(out):
            out.append(chunk)
        else:
            out[block] = torch.logaddexp(out[block], chunk)
    return (torch.cat(out) - math.log(k)).cpu()


def iw_estimates(log_w: torch.Tensor, k: int) -> torch.Tensor:
    """The single k-sample estimates log (1/k) sum_{i in group} w_i of every image, one per
    disjoint group of k of the K weights: (K, N) -> (K // k, N); k must divide K.

    Their mean over groups estimates the bound L_k (``iw_bounds``); their standard deviation is
    how much one k-sample estimate scatters. Used in: notebooks/08_evaluating_vaes.ipynb.
    """
    big_k = log_w.shape[0]
    if not isinstance(k, int) or isinstance(k, bool) or k < 1 or big_k % k:
        raise ValueError(f"every k must be a positive divisor of K = {big_k}, got {k!r}")
    groups = log_w.view(big_k // k, k, -1)  # (K/k, k, N)
    return torch.logsumexp(groups, dim=1) - math.log(k)  # (K/k, N)


def iw_bounds(log_w: torch.Tensor, ks) -> dict[int, torch.Tensor]:
    """Per-image estimates of the k-sample bound L_k for each k in ``ks``, shape (N,) each.

    L_k = E[log (1/k) sum_{i<=k} w_i]  (Burda et al. 2015). From K weights per image, L_k is
    estimated by the mean over the K // k disjoint groups of k weights; k must divide K.
    """
    return {k: iw_estimates(log_w, k).mean(dim=0) for k in ks}  # (N,) each


def effective_sample_size(log_w: torch.Tensor) -> torch.Tensor:
    """ESS = (sum_i w_i)^2 / sum_i w_i^2 of every image's weights, from log weights: (k, N) ->
    (N,). It is k when all weights are equal and 1 when one weight carries everything
    (Kong 1992). Computed with logsumexp, so no weight is ever exponentiated on its own."""
    return (2 * torch.logsumexp(log_w, dim=0) - torch.logsumexp(2 * log_w, dim=0)).exp()


def mean_and_standard_error(values: torch.Tensor) -> tuple[float, float]:
    """Mean of per-image values (N,) and its standard error over images."""
    values = values.double()
    return values.mean().item(), (values.std() / math.sqrt(len(values))).item()


#: Test negative log-likelihood on binarized MNIST (nats per image, lower is better), as
#: published; "source" is the book's citation key. From shared/docs/ANCHORS.md.
LITERATURE = [
    {
        "model": "VAE, 1 stochastic layer (2x200 tanh, 50 latent), trained with k = 1",
        "conditions": "dynamic binarization; importance sampling, k = 5000; 3280 passes",
        "nll": 86.76,
        "source": "burda2015importance",
    },
    {
        "model": "VAE, 1 layer, trained with k = 5 / k = 50",
        "conditions": "same",
        "nll": "86.47 / 86.35",
        "source": "burda2015importance",
    },
    {
        "model": "IWAE, 1 layer, k = 5 / k = 50",
        "conditions": "same",
        "nll": "85.54 / 84.78",
        "source": "burda2015importance",
    },
    {
        "model": "VAE, 2 stochastic layers",
        "conditions": "same",
        "nll": 85.33,
        "source": "burda2015importance",
    },
    {
        "model": "IWAE, 2 layers, k = 50",
        "conditions": "same",
        "nll": 82.90,
        "source": "burda2015importance",
    },
    {
        "model": "VAE (DLGM), diagonal Gaussian posterior",
        "conditions": "binarized MNIST; the negative ELBO, an upper bound on -log p(x)",
        "nll": "<= 89.9",
        "source": "rezende2015variational",
    },
    {
        "model": "VAE with a VampPrior (500 pseudo-inputs)",
        "conditions": "binarized MNIST; importance sampling, k = 5000",
        "nll": 85.57,
        "source": "tomczak2018vae",
    },
    {
        "model": "NVAE (deep hierarchical VAE)",
        "conditions": "dynamic binarization",
        "nll": 78.01,
        "source": "vahdat2020nvae",
    },
]
