"""Every loss of the book, and the likelihood, KL and bound terms they are made of.

Owns: the per-example terms (``log_likelihood`` and its three data types, ``gaussian_kl`` and
``gaussian_kl_per_dim``, ``log_normal``, ``iw_bound``, ``bits_per_dim``), ``elbo_loss``, and the
training losses ``train.fit`` minimizes: ``ae_loss``, ``denoising_ae_loss``, ``vae_loss`` (beta,
free bits), ``classifier_loss``, and ``elbo_surrogate``/``estimator_loss`` (the ELBO with a
pathwise or a score-function gradient, chapter 06), ``iwae_loss`` (the importance-weighted
bound, chapter 12) and ``flow_matching_loss`` (a flow-matching prior over codes). A training loss has the signature
``LossFn``: ``loss_fn(model, x) -> dict`` with the "loss" to minimize and any terms to log.
``vq_losses`` are the VQ-VAE's codebook and commitment terms. The data types' log-likelihoods are ``bernoulli_log_likelihood``, ``gaussian_log_likelihood``
and ``continuous_bernoulli_log_likelihood`` (with ``continuous_bernoulli_log_norm``);
``log_standard_normal`` is the prior's density; ``has_nonfinite``, ``check_nonnegative`` and
``check_estimator`` are the checks the losses share.

Reduction convention (stated once, used everywhere): every function that scores examples
returns one number per example, **summed over data (or latent) dimensions**, shape (B,).
Losses average those over the batch. Results are in nats per image; divide by D * ln 2 for
bits per dimension. KL divergences are returned as positive numbers.

Used in: notebooks/01_autoencoder.ipynb (``ae_loss``), 02, 04-09, 12.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .corrupt import corrupt

LOG_2PI = math.log(2.0 * math.pi)

LIKELIHOODS = ("bernoulli", "gaussian", "continuous_bernoulli")

#: A loss function for ``train.fit``: ``loss_fn(model, x) -> dict`` whose "loss" is minimized.
LossFn = Callable[[nn.Module, torch.Tensor], dict]


def _check_same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} has shape {tuple(a.shape)} but {name_b} has {tuple(b.shape)}; "
            "they must match"
        )


def has_nonfinite(t: torch.Tensor) -> bool:
    """True if ``t`` holds a NaN or an infinity.

    NaN and inf propagate through a sum, so one reduction answers in the common, finite case
    (far cheaper than ``isfinite(t).all()`` on a CPU); only a non-finite sum, which may also be
    an overflow of large finite values, is checked element by element.
    """
    return bool(not torch.isfinite(t.sum()) and not torch.isfinite(t).all())


def check_nonnegative(value, name: str, unit: str = "") -> None:
    """Refuse anything but a real number >= 0 (not a bool, not NaN) for the setting ``name``."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0{unit}, got {value!r}")


def _check_finite(t: torch.Tensor, name: str) -> None:
    if has_nonfinite(t):
        n_nan, n_inf = int(torch.isnan(t).sum()), int(torch.isinf(t).sum())
        raise ValueError(
            f"{name} must be finite, got {n_nan} NaN and {n_inf} infinite value(s) among "
            f"{t.numel()}; check the input data (torch.isfinite({name}).all() finds them)"
        )


def _check_unit_interval(x: torch.Tensor, name: str, likelihood: str) -> None:
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(
            f"{name} must lie in [0, 1] for a {likelihood} likelihood, got values in "
            f"[{x.min().item():.3g}, {x.max().item():.3g}]; scale images to [0, 1] first"
        )


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per example, closed form. Shape (B, d) -> (B,).

    KL = 1/2 * sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1)
    (Kingma and Welling 2013, Auto-Encoding Variational Bayes, Appendix B.)
    """
    return gaussian_kl_per_dim(mu, logvar).sum(dim=-1)


def gaussian_kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The terms of ``gaussian_kl`` before the sum: one KL per latent dimension, (B, d) -> (B, d).

    KL_j = 1/2 * (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1). Free bits and active units use them.
    """
    _check_same_shape(mu, logvar, "mu", "logvar")
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)


def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag(exp(logvar))) summed over the last dimension. Shapes broadcast."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar)).sum(dim=-1)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over the last dimension."""
    return -0.5 * (LOG_2PI + z.pow(2)).sum(dim=-1)


def bernoulli_log_likelihood(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """log p(x | z) for independent Bernoulli pixels with P(x=1) = sigmoid(logits). (B, D) -> (B,).

    Equals minus the binary cross-entropy summed over pixels. ``x`` must lie in [0, 1];
    for non-binary x this is *not* a normalised density (see the continuous Bernoulli).
    """
    _check_same_shape(x, logits, "x", "logits")
    _check_finite(x, "x")
    _check_unit_interval(x, "x", "Bernoulli")
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=-1)


def gaussian_log_likelihood(
    x: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor | float = 0.0
) -> torch.Tensor:
    """log N(x; mean, diag(exp(logvar))) with its normaliser, summed over pixels. (B, D) -> (B,).

    With a fixed variance sigma^2 this is -||x - mean||^2 / (2 sigma^2) + constant: the MSE
    loss, scaled by 1 / (2 sigma^2). ``logvar`` may be a float, a (D,) or a (B, D) tensor.
    """
    _check_same_shape(x, mean, "x", "mean")
    _check_finite(x, "x")
    logvar = torch.as_tensor(logvar, dtype=mean.dtype, device=mean.device).expand_as(mean)
    return log_normal(x, mean, logvar)


def continuous_bernoulli_log_norm(logits: torch.Tensor) -> torch.Tensor:
    """log C(lambda) of the continuous Bernoulli (Loaiza-Ganem and Cunningham 2019), elementwise.

    C(lambda) = 2 atanh(1 - 2 lambda) / (1 - 2 lambda) for lambda != 1/2, and 2 at lambda = 1/2.
    Computed stably from logits; a Taylor expansion is used near lambda = 1/2.
    """
    lam = torch.sigmoid(logits)
    near = (lam - 0.5).abs() < 1e-2
    # 2 atanh(1 - 2 lam) = -logits and 1 - 2 lam = -tanh(logits / 2), so C = logits / tanh(logits / 2),
    # an even function: exact for every logit, no clamping of lam (which was off for |logits| > 14)
    safe = torch.where(near, torch.ones_like(logits), logits).abs()
    exact = torch.log(safe) - torch.log(torch.tanh(safe / 2))
    u = (lam - 0.5).pow(2)
    taylor = math.log(2.0) + (4.0 / 3.0) * u + (104.0 / 45.0) * u.pow(2)
    return torch.where(near, taylor, exact)


def continuous_bernoulli_log_likelihood(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """log p(x | z) of the continuous Bernoulli, a proper density on [0, 1]^D. (B, D) -> (B,)."""
    return bernoulli_log_likelihood(x, logits) + continuous_bernoulli_log_norm(logits).sum(dim=-1)


def log_likelihood(likelihood: str, x: torch.Tensor, out: torch.Tensor, logvar=0.0) -> torch.Tensor:
    """Dispatch on the likelihood's name. ``out`` is logits (Bernoulli kinds) or the mean."""
    if likelihood == "bernoulli":
        return bernoulli_log_likelihood(x, out)
    if likelihood == "continuous_bernoulli":
        return continuous_bernoulli_log_likelihood(x, out)
    if likelihood == "gaussian":
        return gaussian_log_likelihood(x, out, logvar)
    raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")


def elbo_loss(
    x: torch.Tensor,
    out,
    *,
    likelihood: str = "bernoulli",
    beta: float = 1.0,
) -> dict[str, torch.Tensor]:
    """Negative ELBO (single-sample Monte Carlo reconstruction term) averaged over the batch.

    loss = mean_b [ -log p(x_b | z_b) + beta * KL(q(z | x_b) || p(z)) ],  z_b ~ q(z | x_b)

    Args:
        x: data (B, D). out: a ``VAEOutput`` (fields ``x_out``, ``mu``, ``logvar`` and,
        for a learned-variance Gaussian, ``x_logvar``). beta: KL weight (>= 0; 1 is the ELBO).

    Returns:
        dict(loss, recon, kl): ``recon`` = mean -log p(x|z), ``kl`` = mean KL (positive), in nats.
    """
    check_nonnegative(beta, "beta")
    if not all(hasattr(out, field) for field in ("x_out", "mu", "logvar")):
        raise TypeError(
            "out must be the VAEOutput that VAE.forward returns (fields x_out, mu, logvar), "
            f"got {type(out).__name__}; call elbo_loss(x, model(x))"
        )
    x_logvar = getattr(out, "x_logvar", None)
    recon = -log_likelihood(likelihood, x, out.x_out, 0.0 if x_logvar is None else x_logvar)
    kl = gaussian_kl(out.mu, out.logvar)
    return {"loss": (recon + beta * kl).mean(), "recon": recon.mean(), "kl": kl.mean()}


def iw_bound(log_weights: torch.Tensor) -> torch.Tensor:
    """Importance-weighted bound log (1/k) sum_i w_i from log weights of shape (k, B) -> (B,).

    With k = 1 it is the ELBO; it increases with k towards log p(x) (Burda et al. 2015).
    """
    if log_weights.dim() != 2 or log_weights.shape[0] < 1:
        raise ValueError(
            f"log_weights must have shape (k, B) with k >= 1, got {tuple(log_weights.shape)}"
        )
    k = log_weights.shape[0]
    return torch.logsumexp(log_weights, dim=0) - math.log(k)


def bits_per_dim(nats_per_image: float, dims: int = 784) -> float:
    """Convert nats per image to bits per dimension."""
    return nats_per_image / (dims * math.log(2.0))


def vq_losses(z_e: torch.Tensor, z_q: torch.Tensor) -> dict[str, torch.Tensor]:
    """The two extra terms of the VQ-VAE loss (van den Oord et al. 2017, eq. 3), per example.

    z_e: the encoder's vectors (B, M, d_e); z_q: their nearest codebook entries (B, M, d_e),
    differentiable in the codebook. With sg[.] the stop-gradient (``.detach()``):

        codebook   = || sg[z_e] - z_q ||^2    moves the codebook entries towards the encoder's
                                              outputs; the encoder gets no gradient from it;
        commitment = || z_e - sg[z_q] ||^2    pulls the encoder's outputs towards their entries,
                                              so that they commit to a code and do not grow
                                              without bound; the codebook gets no gradient.

    Both have the same value, the squared quantization error; they differ only in which side
    the gradient reaches. Each is summed over slots and code dimensions: shape (B,).
    """
    _check_same_shape(z_e, z_q, "z_e", "z_q")
    codebook = (z_e.detach() - z_q).pow(2).flatten(1).sum(dim=1)
    commitment = (z_e - z_q.detach()).pow(2).flatten(1).sum(dim=1)
    return {"codebook": codebook, "commitment": commitment}


# --- Training losses: what ``train.fit`` minimizes -------------------------------------


def ae_loss(model: nn.Module, x: torch.Tensor) -> dict:
    """Autoencoder loss: squared error summed over pixels, mean over the batch (nats-free)."""
    x_hat = model(x).x_hat
    sse = (x_hat - x).pow(2).sum(dim=1)  # (B,)
    return {"loss": sse.mean()}


def denoising_ae_loss(noise_std: float = 0.0, mask_fraction: float = 0.0) -> LossFn:
    """Denoising autoencoder loss (Vincent et al. 2008): reconstruct the *clean* x from a
    corrupted copy, ``corrupt.corrupt(x, noise_std, mask_fraction)``; squared error summed over
    pixels, mean over the batch. The corruption draws from torch's global generator (seeded by
    ``fit``). Used in: notebooks/02_what_autoencoders_are_good_for.ipynb."""
    corrupt(torch.zeros(1, 1), noise_std, mask_fraction)  # check the levels now, not mid-training

    def loss(model: nn.Module, x: torch.Tensor) -> dict:
        x_tilde = corrupt(x, noise_std, mask_fraction)  # (B, D), a fresh corruption each call
        x_hat = model(x_tilde).x_hat
        return {"loss": (x_hat - x).pow(2).sum(dim=1).mean()}

    return loss


def vae_loss(likelihood: str = "bernoulli", beta: float = 1.0, free_bits: float = 0.0) -> LossFn:
    """The negative ELBO of ``objectives.elbo_loss`` as a ``fit`` loss function.

    ``free_bits`` = lambda > 0 replaces the KL term by sum_j max(lambda, KL_j), where KL_j is the
    batch mean of latent dimension j's KL (Kingma et al. 2016): a dimension whose KL is below
    lambda nats feels no pull towards the prior, which keeps it from collapsing. The logged
    "kl" and "recon" stay the true terms; "loss" is the objective. Used in: chapter 09.
    """
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    check_nonnegative(beta, "beta")
    check_nonnegative(free_bits, "free_bits", " (nats per latent dimension)")

    def loss(model: nn.Module, x: torch.Tensor) -> dict:
        out = model(x)
        terms = elbo_loss(x, out, likelihood=likelihood, beta=beta)
        if free_bits > 0:
            kl_dims = gaussian_kl_per_dim(out.mu, out.logvar).mean(dim=0)  # (d,)
            terms["loss"] = terms["recon"] + beta * kl_dims.clamp(min=free_bits).sum()
        return terms

    return loss


def classifier_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Cross-entropy of a classifier, mean over the batch."""
    logits = model(x)
    return {"loss": F.cross_entropy(logits, y), "acc": (logits.argmax(1) == y).float().mean()}


ESTIMATORS = ("pathwise", "score")


def check_estimator(estimator: str) -> None:
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")


def elbo_surrogate(model: nn.Module, x: torch.Tensor, estimator: str) -> dict:
    """A loss whose gradient is a single-sample estimate of -grad ELBO, batch mean.

    Both estimators use the closed-form KL (its gradient is exact); they differ only in how
    the reconstruction term E_q[log p(x | z)] is differentiated with respect to phi:
        pathwise: backpropagate through z = mu + sigma * eps;
        score:    log p(x | z) * grad log q(z | x), with z treated as a constant.
    Returns dict(loss, neg_elbo, recon, kl); only ``loss`` is meant for ``backward()``.
    """
    check_estimator(estimator)
    mu, logvar = model.encode(x)  # (B, d) each
    z = model.reparameterize(mu, logvar)  # (B, d)
    if estimator == "score":
        z = z.detach()
    x_out, x_logvar = model.decode_params(z)
    log_px_z = log_likelihood(model.likelihood, x, x_out, 0.0 if x_logvar is None else x_logvar)
    kl = gaussian_kl(mu, logvar)  # (B,)
    if estimator == "pathwise":
        surrogate = -log_px_z + kl
    else:
        log_q = log_normal(z, mu, logvar)  # (B,), differentiable in phi only
        # decoder still learns from log p(x|z); the encoder gets the score-function term
        surrogate = -log_px_z - log_px_z.detach() * log_q + kl
    neg_elbo = (-log_px_z + kl).detach()
    return {
        "loss": surrogate.mean(),
        "neg_elbo": neg_elbo.mean(),
        "recon": -log_px_z.detach().mean(),
        "kl": kl.detach().mean(),
    }


def estimator_loss(estimator: str) -> Callable[[nn.Module, torch.Tensor], dict]:
    """``elbo_surrogate`` as a ``train.fit`` loss function (log the real loss as ``neg_elbo``)."""
    check_estimator(estimator)

    def loss(model: nn.Module, x: torch.Tensor) -> dict:
        return elbo_surrogate(model, x, estimator)

    return loss


def iwae_loss(log_w: torch.Tensor) -> dict[str, torch.Tensor]:
    """Negative importance-weighted bound -ELBO_k as a training loss (the IWAE; Burda et al. 2015).

    ``log_w`` (k, B) holds log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x) for k codes
    z_i = mu + sigma * eps_i drawn from q(z | x) by reparameterization, with gradients attached.

        ELBO_k(x) = log (1/k) sum_i w_i                                   (one estimate)
        grad ELBO_k = sum_i  w~_i  grad log w_i,    w~_i = w_i / sum_j w_j

    The gradient is the ELBO's single-sample gradient of every code, weighted by that code's
    normalized importance weight: codes that explain x well count more. With k = 1 the weight
    is 1 and this is the VAE's loss (with a Monte Carlo KL instead of the closed form).

    Returns dict(loss, neg_elbo): ``loss`` = mean over the batch of -ELBO_k, the objective;
    ``neg_elbo`` = -mean of log w, the single-sample ELBO averaged over the k codes (logged
    only, so a run can be compared with the VAE's). Nats per image.
    """
    bound = iw_bound(log_w)  # (B,), checks the shape
    return {"loss": -bound.mean(), "neg_elbo": -log_w.mean().detach()}


def flow_matching_loss(velocity: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Conditional flow-matching loss on the straight path (Lipman et al. 2023; Liu et al. 2023).

    For a data point z and noise eps ~ N(0, I), the straight path u_a = (1 - a) eps + a z,
    a in [0, 1], moves with the constant velocity z - eps. A network v(u, a) trained with

        J = E_{z, eps, a} || v(u_a, a) - (z - eps) ||^2

    learns, at each (u, a), the average of z - eps over all pairs whose path passes through u
    at time a: the velocity field whose flow carries N(0, I) at a = 0 to the data at a = 1.
    ``velocity`` and ``target`` (B, d): squared error summed over dimensions, batch mean.
    """
    _check_same_shape(velocity, target, "velocity", "target")
    return (velocity - target).pow(2).sum(dim=-1).mean()
