"""Metrics: test negative ELBO, reconstruction error, PCA, and the importance-weighted bound.

All results are per-example sums over pixels, averaged over the test set (nats per image, or
squared error per image), matching the reduction convention of ``objectives``.

The importance-weighted bound lives in ``likelihood`` (``iw_log_likelihood``); it is imported
here because the chapters call it as ``evaluate.iw_log_likelihood``.

Used in: notebooks/01 (PCA, reconstruction error), 04, 05, 07 and 08 (the bounds), 09 (rate
and distortion, the rate of each latent dimension, active units).
"""

from __future__ import annotations

import torch
from torch import nn

from .likelihood import check_vae, iw_log_likelihood
from .objectives import elbo_loss, gaussian_kl


def _positive(value, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def negative_elbo(
    model: nn.Module, x: torch.Tensor, *, batch_size: int = 1000, seed: int = 0
) -> dict:
    """Mean negative ELBO over ``x`` (one posterior sample per example), with its two terms.

    Returns dict(neg_elbo, recon, kl) in nats per image (floats).
    """
    check_vae(model)
    _positive(batch_size, "batch_size")
    model.eval()
    device = _device(model)
    totals = {"loss": 0.0, "recon": 0.0, "kl": 0.0}
    # The model draws its noise from torch's global generator: seed it inside fork_rng, which
    # restores the caller's generator afterwards (the same numbers as before, no side effect).
    cuda = []
    if device.type == "cuda":
        cuda = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        for xb in x.split(batch_size):
            xb = xb.to(device)
            terms = elbo_loss(xb, model(xb), likelihood=model.likelihood)
            for key in totals:
                totals[key] += terms[key].item() * len(xb)
    n = len(x)
    return {"neg_elbo": totals["loss"] / n, "recon": totals["recon"] / n, "kl": totals["kl"] / n}


@torch.no_grad()
def test_nll(model: nn.Module, x: torch.Tensor, k: int = 100, **kwargs) -> float:
    """Mean importance-weighted estimate of -log p(x) over ``x``, in nats per image."""
    return -iw_log_likelihood(model, x, k, **kwargs).mean().item()


@torch.no_grad()
def kl_per_dimension(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Average KL(q(z_j | x) || N(0, 1)) of each latent dimension j over ``x``, shape (d,)."""
    check_vae(model)
    model.eval()
    total = None
    for xb in x.split(batch_size):
        mu, logvar = model.encode(xb.to(_device(model)))
        kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(dim=0)  # (d,)
        total = kl if total is None else total + kl
    return (total / len(x)).cpu()


@torch.no_grad()
def active_units(model: nn.Module, x: torch.Tensor, threshold: float = 0.01) -> int:
    """Latent dimensions whose posterior mean varies with x: Cov_x(E_q[z_j]) > threshold
    (Burda et al. 2015, Section 5.2)."""
    check_vae(model)
    mu = torch.cat([model.encode(xb.to(_device(model)))[0] for xb in x.split(1000)])
    return int((mu.var(dim=0) > threshold).sum())


@torch.no_grad()
def reconstruct(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Reconstructions in pixel space: x_hat for an AE, decoded posterior mean for a VAE."""
    model.eval()
    outs = []
    for xb in x.split(batch_size):
        xb = xb.to(_device(model))
        if hasattr(model, "reparameterize"):
            mu, _ = model.encode(xb)
            outs.append(model.mean_image(model.decode(mu)))
        else:
            outs.append(model(xb).x_hat)
    return torch.cat(outs).cpu()


def sse_per_image(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """Squared error summed over pixels, averaged over images (Hinton and Salakhutdinov 2006)."""
    if x.shape != x_hat.shape:
        raise ValueError(f"x has shape {tuple(x.shape)} but x_hat has {tuple(x_hat.shape)}")
    return (x - x_hat).pow(2).sum(dim=1).mean().item()


class PCA:
    """Principal component analysis, the linear baseline for autoencoders (via the covariance).

    >>> pca = PCA(30).fit(x_train); x_hat = pca.reconstruct(x_test)
    """

    def __init__(self, n_components: int):
        if not isinstance(n_components, int) or n_components <= 0:
            raise ValueError(f"n_components must be a positive int, got {n_components!r}")
        self.n_components = n_components

    def fit(self, x: torch.Tensor) -> PCA:
        if x.dim() != 2 or self.n_components > min(x.shape):
            raise ValueError(
                f"x must be (N, D) with N, D >= n_components={self.n_components}, "
                f"got {tuple(x.shape)}"
            )
        self.mean = x.double().mean(dim=0)  # (D,)
        # Eigenvectors of the covariance, the same as an SVD of the centred data, but the
        # (D, D) product in float32 costs seconds where a float64 SVD of (60000, 784) takes minutes.
        centred = x.float() - self.mean.float()  # (N, D)
        cov = (centred.T @ centred).double() / (len(x) - 1)  # (D, D)
        evals, evecs = torch.linalg.eigh(cov)  # ascending
        top = torch.arange(len(evals) - 1, len(evals) - 1 - self.n_components, -1)
        self.components = evecs[:, top].T.contiguous()  # (d, D), orthonormal rows
        self.explained_variance = evals[top].clamp(min=0.0)  # (d,)
        return self

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return ((x.double() - self.mean) @ self.components.T).float()  # (N, d)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return (z.double() @ self.components + self.mean).float()  # (N, D)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def _orthonormal_basis(a: torch.Tensor) -> torch.Tensor:
    """Orthonormal columns spanning the column space of ``a`` (D, p); dependent columns are
    dropped (singular values below the usual rank tolerance), as ``scipy.linalg.orth`` does."""
    u, sv, _ = torch.linalg.svd(a.double(), full_matrices=False)
    tol = sv.max() * max(a.shape) * torch.finfo(torch.float64).eps if sv.numel() else 0.0
    return u[:, sv > tol]


def principal_angles(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Principal angles (radians, ascending) between the column spaces of a (D, p) and b (D, q).

    Both spaces get orthonormal bases Q_a, Q_b (an SVD, so dependent columns are dropped and
    the number of angles is min(rank a, rank b)). The cosines are the singular values of
    Q_a^T Q_b; for small angles the sines, the singular values of Q_b - Q_a Q_a^T Q_b, are
    used instead, because arccos loses every digit below about 1e-8 (Bjorck and Golub 1973;
    the same rule as ``scipy.linalg.subspace_angles``).
    """
    qa, qb = _orthonormal_basis(a), _orthonormal_basis(b)
    if qa.shape[1] < qb.shape[1]:
        qa, qb = qb, qa  # qb spans the smaller space: one angle per column of qb
    cosines = torch.linalg.svdvals(qa.T @ qb).clamp(-1.0, 1.0).flip(0)  # ascending
    sines = torch.linalg.svdvals(qb - qa @ (qa.T @ qb)).clamp(0.0, 1.0)  # descending
    # small angles: the k-th largest cosine belongs to the k-th smallest sine
    angles = torch.where(cosines**2 < 0.5, torch.arccos(cosines), torch.arcsin(sines.flip(0)))
    return angles.flip(0).sort().values  # ascending angles


def kl_check(mu: torch.Tensor, logvar: torch.Tensor) -> float:
    """Largest gap between our closed-form KL and ``torch.distributions.kl_divergence``."""
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    reference = torch.distributions.kl_divergence(q, p).sum(-1)
    return (gaussian_kl(mu, logvar) - reference).abs().max().item()
