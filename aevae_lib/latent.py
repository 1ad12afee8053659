"""Tools for the code space of an autoencoder or a VAE: encode a dataset, score codes with
k-NN, draw random codes (standard normal, uniform in a box, a Gaussian fitted to the codes),
measure how far codes lie from the codes of the training images, and interpolate.

Owns: ``encode_all``, ``knn_accuracy``, ``fit_gaussian``, ``sample_gaussian``, ``sample_box``,
``nearest_code_distance``, ``interpolate``.

Used in: notebooks/02_what_autoencoders_are_good_for.ipynb (encode, knn_accuracy),
03_why_random_z_fails.ipynb (random codes, fitted Gaussian, interpolation),
04_vae.ipynb (encode, fitted Gaussian for the autoencoder's samples) and
05_vae_latent_space.ipynb (encode, nearest-code distance, fitted Gaussian, interpolation).
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def encode_all(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Codes of every row of ``x`` (N, D) -> (N, d) on the CPU: z = f(x) for an autoencoder,
    the posterior mean mu(x) for a VAE (whose ``encode`` returns (mu, logvar))."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for xb in x.split(batch_size):
        z = model.encode(xb.to(device))
        out.append((z[0] if isinstance(z, tuple) else z).cpu())
    return torch.cat(out)


def knn_accuracy(
    z_train: torch.Tensor,
    y_train: torch.Tensor,
    z_test: torch.Tensor,
    y_test: torch.Tensor,
    k: int = 5,
) -> float:
    """Test accuracy of a k-nearest-neighbour classifier on codes (scikit-learn, Euclidean):
    how well the code space separates the classes without any training on labels."""
    from sklearn.neighbors import KNeighborsClassifier

    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    clf = KNeighborsClassifier(n_neighbors=k).fit(z_train.numpy(), y_train.numpy())
    return float(clf.score(z_test.numpy(), y_test.numpy()))


def fit_gaussian(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Maximum-likelihood Gaussian of codes z (N, d): mean (d,) and full covariance (d, d)."""
    if z.dim() != 2 or len(z) < 2:
        raise ValueError(f"z must have shape (N, d) with N >= 2, got {tuple(z.shape)}")
    z = z.double()
    mean = z.mean(dim=0)
    centred = z - mean
    cov = centred.T @ centred / len(z)  # (d, d)
    return mean.float(), cov.float()


def sample_gaussian(
    mean: torch.Tensor, cov: torch.Tensor, n: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """n draws from N(mean, cov): z = mean + L eps with cov = L L^T (Cholesky). (n, d)."""
    d = len(mean)
    chol = torch.linalg.cholesky(cov.double() + 1e-6 * torch.eye(d, dtype=torch.float64))
    eps = torch.randn(n, d, generator=generator, dtype=torch.float64)  # (n, d)
    return (mean.double() + eps @ chol.T).float()


def sample_box(z: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n draws uniform in the axis-aligned box [min_j z_j, max_j z_j] that covers the codes z (N, d)."""
    lo, hi = z.min(dim=0).values, z.max(dim=0).values  # (d,) each
    u = torch.rand(n, z.shape[1], generator=generator)  # (n, d) in [0, 1)
    return lo + u * (hi - lo)


@torch.no_grad()
def nearest_code_distance(
    z: torch.Tensor, reference: torch.Tensor, chunk: int = 500
) -> torch.Tensor:
    """Euclidean distance from each code z (n, d) to its nearest row of ``reference`` (N, d),
    measured in all d dimensions at once: (n,). A code far from every training code lies in
    a hole of code space, where the decoder's output was never trained."""
    if z.dim() != 2 or reference.dim() != 2 or z.shape[1] != reference.shape[1]:
        raise ValueError(
            "z and reference must have shapes (n, d) and (N, d) with the same d, got "
            f"{tuple(z.shape)} and {tuple(reference.shape)}"
        )
    if len(reference) == 0:
        raise ValueError("reference must hold at least one code")
    if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 1:
        raise ValueError(f"chunk must be a positive int, got {chunk!r}")
    reference = reference.to(z.device, z.dtype)
    return torch.cat([torch.cdist(b, reference).min(dim=1).values for b in z.split(chunk)])


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int = 8) -> torch.Tensor:
    """Straight line from z0 (d,) to z1 (d,): (1 - t) z0 + t z1 for ``steps`` values of t in [0, 1]."""
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    t = torch.linspace(0.0, 1.0, steps, device=z0.device, dtype=z0.dtype).unsqueeze(1)  # (steps, 1)
    return (1 - t) * z0 + t * z1  # (steps, d)
