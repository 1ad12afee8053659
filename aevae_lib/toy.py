"""A linear-Gaussian latent-variable model, where everything a VAE approximates is exact.

    z ~ p(z) = N(0, I_d),     x | z ~ p(x | z) = N(W z + b, s^2 I_D)

Marginal (the evidence), in closed form:   p(x) = N(x; b, W W^T + s^2 I_D)
Posterior, in closed form:                 p(z | x) = N(z; m(x), Sigma) with
    Sigma = (I_d + W^T W / s^2)^{-1},   m(x) = Sigma W^T (x - b) / s^2

This is probabilistic PCA (Tipping and Bishop 1999). Because log p(x) and p(z | x) are exact,
every step of the ELBO derivation can be checked with numbers: ELBO <= log p(x), the gap is
KL(q || p(z | x)), the gap closes at q = p(z | x), and the importance-weighted bound climbs
to log p(x) as k grows. The variational distribution ``q`` is any ``torch.distributions``
``MultivariateNormal`` (full covariance) or diagonal ``Normal`` made ``Independent``.

Used in: notebooks/07_deriving_the_elbo.ipynb and tests/test_toy.py, tests/test_evaluate.py.
"""

from __future__ import annotations

import math

import torch
from torch.distributions import Distribution, Independent, MultivariateNormal, Normal

from . import objectives
from .models import LOGVAR_MAX, LOGVAR_MIN, VAE
from .objectives import LOG_2PI


class LinearGaussian:
    """The model z ~ N(0, I_d), x | z ~ N(W z + b, s^2 I). Float64 throughout for exactness.

    Args:
        W: (D, d) loading matrix. b: (D,) offset. noise_std: s > 0.
    """

    def __init__(self, W: torch.Tensor, b: torch.Tensor, noise_std: float):
        if W.dim() != 2:
            raise ValueError(f"W must be a (D, d) matrix, got shape {tuple(W.shape)}")
        if b.shape != (W.shape[0],):
            raise ValueError(f"b must have shape ({W.shape[0]},), got {tuple(b.shape)}")
        if not noise_std > 0:
            raise ValueError(f"noise_std must be > 0, got {noise_std!r}")
        self.W, self.b = W.double(), b.double()
        self.noise_std = float(noise_std)
        self.D, self.d = W.shape

    @classmethod
    def random(
        cls, D: int = 5, d: int = 2, noise_std: float = 0.5, seed: int = 0, orthogonal: bool = False
    ):
        """A model with N(0, 1) loadings and offsets drawn from a seeded generator.

        ``orthogonal=True`` makes the columns of W orthogonal (lengths 1, 2, ..., d), so the
        exact posterior has a diagonal covariance that a mean-field q can match.
        """
        gen = torch.Generator().manual_seed(seed)
        W = torch.randn(D, d, generator=gen, dtype=torch.float64)
        if orthogonal:
            W = torch.linalg.qr(W).Q * torch.arange(1, d + 1, dtype=torch.float64)  # (D, d)
        b = torch.randn(D, generator=gen, dtype=torch.float64)
        return cls(W, b, noise_std)

    # --- the generative model -------------------------------------------------------------
    def prior(self) -> Distribution:
        """p(z) = N(0, I_d)."""
        return MultivariateNormal(
            torch.zeros(self.d, dtype=torch.float64), torch.eye(self.d, dtype=torch.float64)
        )

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x | z); x (..., D) and z (..., d) broadcast: z (k, B, d), x (B, D) -> (k, B)."""
        mean = z.double() @ self.W.T + self.b  # (..., D)
        var = self.noise_std**2
        return -0.5 * (
            self.D * (LOG_2PI + math.log(var)) + (x.double() - mean).pow(2).sum(-1) / var
        )

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x, z) = log p(x | z) + log p(z). Shapes as in ``log_likelihood``."""
        log_prior = -0.5 * (self.d * LOG_2PI + z.double().pow(2).sum(-1))
        return self.log_likelihood(x, z) + log_prior

    def sample(self, n: int, generator: torch.Generator | None = None):
        """Draw (z, x): z (n, d) from the prior, x (n, D) from p(x | z)."""
        z = torch.randn(n, self.d, generator=generator, dtype=torch.float64)
        noise = torch.randn(n, self.D, generator=generator, dtype=torch.float64)
        return z, z @ self.W.T + self.b + self.noise_std * noise

    # --- exact inference ------------------------------------------------------------------
    def marginal(self) -> MultivariateNormal:
        """p(x) = N(b, W W^T + s^2 I), exact."""
        cov = self.W @ self.W.T + self.noise_std**2 * torch.eye(self.D, dtype=torch.float64)
        return MultivariateNormal(self.b, covariance_matrix=cov)

    def log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x), (B, D) -> (B,)."""
        return self.marginal().log_prob(x.double())

    def posterior_precision(self) -> torch.Tensor:
        """Lambda = I + W^T W / s^2, (d, d): the inverse of the posterior covariance."""
        return torch.eye(self.d, dtype=torch.float64) + self.W.T @ self.W / self.noise_std**2

    def posterior_cov(self) -> torch.Tensor:
        """Sigma = (I + W^T W / s^2)^{-1}, (d, d), the book's Sigma_{z|x}; the same for every x."""
        return torch.linalg.inv(self.posterior_precision())

    def posterior(self, x: torch.Tensor) -> MultivariateNormal:
        """Exact p(z | x) = N(m(x), Sigma) for a batch x (B, D): batch shape (B,), event (d,)."""
        S = self.posterior_cov()
        mean = (x.double() - self.b) @ self.W @ S / self.noise_std**2  # (B, d); S symmetric
        return MultivariateNormal(mean, covariance_matrix=S.expand(len(x), self.d, self.d))


def diagonal_gaussian(mean: torch.Tensor, std: torch.Tensor) -> Independent:
    """A diagonal (mean-field) Gaussian q with batch shape (B,) and event shape (d,)."""
    return Independent(Normal(mean.double(), std.double()), 1)


def best_diagonal_gaussian(model: LinearGaussian, x: torch.Tensor) -> Independent:
    """The diagonal Gaussian q closest to the exact posterior: argmin_q KL(q || p(z | x)).

    For a posterior N(m, Lambda^{-1}) the optimum keeps the mean m and takes the variances
    1 / Lambda_jj, the inverse diagonal of the *precision*, which is never larger than the
    posterior's own variance (Lambda^{-1})_jj: a diagonal q fitted this way is too narrow
    whenever the posterior is correlated. Its gap is
    KL = 1/2 (sum_j log Lambda_jj - log det Lambda); for d = 2, -1/2 log(1 - r^2) with r
    the posterior correlation. x (B, D) -> batch (B,), event (d,).
    """
    precision = model.posterior_precision()
    std = torch.diagonal(precision).rsqrt().expand(len(x), model.d)  # (B, d)
    return diagonal_gaussian(model.posterior(x).mean, std)


def elbo_exact(model: LinearGaussian, x: torch.Tensor, q: Distribution) -> torch.Tensor:
    """The ELBO E_q[log p(x|z)] - KL(q || p(z)) in closed form for Gaussian q. (B, D) -> (B,).

    E_q ||x - W z - b||^2 = ||x - W m - b||^2 + tr(W^T W C), with q = N(m, C).
    """
    m, C = _mean_cov(q)
    var = model.noise_std**2
    resid = (x.double() - m @ model.W.T - model.b).pow(2).sum(-1)  # (B,)
    trace = torch.einsum("ij,bji->b", model.W.T @ model.W, C)  # tr(W^T W C), (B,)
    expected_log_lik = -0.5 * (model.D * (LOG_2PI + math.log(var)) + (resid + trace) / var)
    return expected_log_lik - gaussian_kl_full(m, C)


def gaussian_kl_full(m: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """KL(N(m, C) || N(0, I)) = 1/2 (tr C + m^T m - d - log det C); m (B, d), C (B, d, d)."""
    d = m.shape[-1]
    return 0.5 * (
        torch.diagonal(C, dim1=-2, dim2=-1).sum(-1) + m.pow(2).sum(-1) - d - torch.logdet(C)
    )


def gaussian_kl_general(q: Distribution, p: Distribution) -> torch.Tensor:
    """KL(q || p) between two Gaussians (full or diagonal covariance), per batch element, (B,).

    KL = 1/2 [ tr(P^{-1} C) + (m_p - m_q)^T P^{-1} (m_p - m_q) - d + log det P - log det C ]
    for q = N(m_q, C), p = N(m_p, P). Used for the gap KL(q(z|x) || p(z|x)).
    """
    m_q, C = _mean_cov(q)
    m_p, P = _mean_cov(p)
    L = torch.linalg.cholesky(P)  # P = L L^T
    diff = (m_p - m_q).unsqueeze(-1)  # (B, d, 1)
    trace = torch.diagonal(torch.cholesky_solve(C, L), dim1=-2, dim2=-1).sum(-1)
    mahalanobis = (diff * torch.cholesky_solve(diff, L)).sum((-2, -1))
    return 0.5 * (trace + mahalanobis - m_q.shape[-1] + torch.logdet(P) - torch.logdet(C))


def _mean_cov(q: Distribution) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(q, MultivariateNormal):
        return q.mean, q.covariance_matrix
    if isinstance(q, Independent) and isinstance(q.base_dist, Normal):
        return q.mean, torch.diag_embed(q.variance)
    raise TypeError(
        f"q must be a MultivariateNormal or an Independent Normal, got {type(q).__name__}"
    )


def elbo_monte_carlo(
    model: LinearGaussian, x: torch.Tensor, q: Distribution, n: int, generator: torch.Generator
) -> torch.Tensor:
    """Monte Carlo ELBO: the mean over n draws z ~ q of log p(x, z) - log q(z). Returns (n, B).

    The mean over the first dimension estimates the ELBO; its spread gives the error bar.
    """
    z = _rsample(q, n, generator)  # (n, B, d)
    return model.log_joint(x, z) - q.log_prob(z)


def iw_bound(
    model: LinearGaussian, x: torch.Tensor, q: Distribution, k: int, generator: torch.Generator
) -> torch.Tensor:
    """One draw of the importance-weighted bound log (1/k) sum_i p(x, z_i) / q(z_i); (B,)."""
    return objectives.iw_bound(elbo_monte_carlo(model, x, q, k, generator))  # (k, B) -> (B,)


def _rsample(q: Distribution, n: int, generator: torch.Generator) -> torch.Tensor:
    """n draws from q (batch B, event d) with our own seeded noise: (n, B, d)."""
    m, C = _mean_cov(q)
    L = torch.linalg.cholesky(C)  # (B, d, d)
    eps = torch.randn((n, *m.shape), generator=generator, dtype=m.dtype)
    return m + torch.einsum("bij,nbj->nbi", L, eps)


def inverse_squash_logvar(logvar: torch.Tensor) -> torch.Tensor:
    """The raw layer output that ``models.squash_logvar`` maps to ``logvar`` (inside its range)."""
    mid, half = (LOGVAR_MAX + LOGVAR_MIN) / 2, (LOGVAR_MAX - LOGVAR_MIN) / 2
    return mid + half * torch.atanh((logvar - mid) / half)


@torch.no_grad()
def linear_gaussian_vae(
    model: LinearGaussian, exact_encoder: bool = True, dtype: torch.dtype = torch.float32
) -> VAE:
    """A ``models.VAE`` (no hidden layer, Gaussian likelihood) that *is* ``model``.

    Needs noise_std = 1 (the VAE's fixed-variance Gaussian). With ``exact_encoder`` the encoder
    outputs the exact posterior, which must then be diagonal (W with orthogonal columns).
    Used to check ``evaluate.iw_log_likelihood`` against the exact log p(x).
    """
    if model.noise_std != 1.0:
        raise ValueError("the VAE's Gaussian likelihood has variance 1; use noise_std=1.0")
    vae = VAE(input_dim=model.D, latent_dim=model.d, hidden=(), likelihood="gaussian").to(dtype)
    vae.decoder[0].weight.copy_(model.W)
    vae.decoder[0].bias.copy_(model.b)
    if exact_encoder:
        S = model.posterior_cov()
        if not torch.allclose(S, torch.diag(torch.diagonal(S)), atol=1e-10):
            raise ValueError("the exact posterior is not diagonal; give W orthogonal columns")
        A = S @ model.W.T  # m(x) = A (x - b), (d, D)
        vae.mean_layer.weight.copy_(A)
        vae.mean_layer.bias.copy_(-A @ model.b)
        vae.logvar_layer.weight.zero_()
        vae.logvar_layer.bias.copy_(inverse_squash_logvar(torch.diagonal(S).log()))
    return vae
