"""Input corruptions for denoising autoencoders and anomaly tests.

A denoising autoencoder (Vincent et al. 2008) sees a corrupted image drawn from a corruption
process, x_tilde ~ 𝒞(x_tilde | x) in the book's notation, and is trained to give back the
clean x. Two corruptions are used in the book:

    additive Gaussian noise   x_tilde = clip(x + nu * eps, 0, 1),  eps ~ N(0, I)
                              (nu: the noise's standard deviation, ``std``/``noise_std``)
    masking noise             x_tilde = m * x,  m_i ~ Bernoulli(1 - fraction)  (about
                              ``fraction`` of the pixels set to 0)

All functions keep the shape (N, D), keep pixel values in [0, 1], and draw their randomness from
``generator`` (or from torch's global generator, which ``train.fit`` seeds).

Owns: ``gaussian_noise``, ``mask_pixels``, ``corrupt``.

Used in: notebooks/02_what_autoencoders_are_good_for.ipynb.
"""

from __future__ import annotations

import torch


def _check_level(value, name: str, upper: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    if upper is not None and value > upper:
        raise ValueError(f"{name} must be at most {upper}, got {value!r}")
    return float(value)


def gaussian_noise(
    x: torch.Tensor, std: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Add N(0, std^2) noise to every pixel and clip to [0, 1]. (N, D) -> (N, D)."""
    std = _check_level(std, "std")
    eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (x + std * eps).clamp(0.0, 1.0)


def mask_pixels(
    x: torch.Tensor, fraction: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Set a random ``fraction`` of the pixels of every image to 0 ("masking noise"). (N, D)."""
    fraction = _check_level(fraction, "fraction", upper=1.0)
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= fraction  # (N, D) bool
    return x * keep


def corrupt(
    x: torch.Tensor,
    noise_std: float = 0.0,
    mask_fraction: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Corrupt every image with Gaussian noise (``noise_std``) or masking (``mask_fraction``).

    With one level 0, that corruption is skipped and every image gets the other. With both
    levels above 0, each image gets *one* of the two, chosen with probability 1/2, so a
    denoising autoencoder trained on ``corrupt`` learns to undo both kinds. (N, D) -> (N, D).
    """
    noise_std = _check_level(noise_std, "noise_std")
    mask_fraction = _check_level(mask_fraction, "mask_fraction", upper=1.0)
    noisy = gaussian_noise(x, noise_std, generator) if noise_std > 0 else x
    masked = mask_pixels(x, mask_fraction, generator) if mask_fraction > 0 else x
    if noise_std > 0 and mask_fraction > 0:
        pick_noise = torch.rand(len(x), 1, generator=generator, device=x.device) < 0.5  # (N, 1)
        return torch.where(pick_noise, noisy, masked)
    return noisy if noise_std > 0 else masked
