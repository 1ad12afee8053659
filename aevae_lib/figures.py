"""Static figures that tell the story of each interactive widget, and what both compute.

The rendered book has no kernel behind its widgets, so every widget in ``widgets`` has a
static twin here that shows the same idea in one matplotlib figure (and that lecturers can
export with ``plots.save_figure``):

    latent_grid_figure(vae_2d)          the decoder over a grid of a 2-D latent space
    interpolation_figure(model, x)      decoded straight lines between the codes of test images
    denoising_figure(dae, x)            noisy inputs and reconstructions at several noise levels
    beta_figure({beta: vae}, x)         samples and reconstructions as the KL weight grows

and the latent traversals of chapter 09 (``latent_traversal``, ``traversal_rows``): one
image's code decoded while a single latent dimension moves and the others stay put.

Images are (N, 784) tensors with intensities in [0, 1]. A model is an ``Autoencoder``, a
``VAE`` or anything with ``encode``/``decode``; a VAE is seen through its posterior mean and
its decoder's mean image.

Used in: notebooks/02 (denoising), 03 and 04 (interpolation, latent grid), 09 (beta, traversals).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from .corrupt import gaussian_noise
from .objectives import gaussian_kl, log_likelihood
from .plots import image_grid, image_rows


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def encode_mean(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Codes of images x (B, D) -> (B, d): the code of an AE, the posterior mean of a VAE."""
    model.eval()
    z = model.encode(x.to(_device(model)))
    return z[0] if isinstance(z, tuple) else z


@torch.no_grad()
def decode_images(model: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """Images (B, D) in [0, 1] decoded from codes z (B, d), on the CPU."""
    model.eval()
    out = model.decode(z.to(_device(model)))
    if hasattr(model, "mean_image"):  # a VAE: logits or a mean -> the mean image
        out = model.mean_image(out)
    return out.clamp(0.0, 1.0).cpu()


def check_images(x, name: str = "x") -> torch.Tensor:
    """``x`` itself, after checking it is a tensor of flattened MNIST images (N, 784)."""
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != 784:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a tensor of images (N, 784), got {shape}")
    return x


def check_index(i, n: int, name: str) -> int:
    """``i`` itself, after checking it indexes one of ``n`` images."""
    if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n:
        raise ValueError(f"{name} must be an int in [0, {n - 1}], got {i!r}")
    return i


def strip(images, pad: int = 2, gap_value: float = 0.15) -> np.ndarray:
    """Images (n, 784) side by side in one (28, n * (28 + pad) - pad) array, light-grey gaps."""
    imgs = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    imgs = imgs.reshape(len(imgs), 28, 28).astype(np.float64)
    gap = np.full((28, pad), gap_value)
    parts = [p for img in imgs for p in (img, gap)][:-1]
    return np.hstack(parts)


def check_2d(vae: nn.Module) -> None:
    """Refuse a model whose latent space is not 2-D (the sliders and the grid need two axes)."""
    if getattr(vae, "latent_dim", None) != 2:
        raise ValueError(
            f"needs a model with a 2-D latent space (latent_dim=2), got "
            f"latent_dim={getattr(vae, 'latent_dim', None)!r}"
        )


def latent_grid_figure(vae: nn.Module, n: int = 15, z_range: float = 3.0) -> Figure:
    """The decoder over an n x n grid of z in [-z_range, z_range]^2 (z1 across, z2 up)."""
    check_2d(vae)
    ticks = torch.linspace(-z_range, z_range, n)
    z2, z1 = torch.meshgrid(ticks.flip(0), ticks, indexing="ij")  # top row: largest z2
    z = torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)  # (n * n, 2)
    return image_grid(
        decode_images(vae, z),
        ncols=n,
        title=f"decoded z on a {n}x{n} grid over [{-z_range:g}, {z_range:g}]²",
        scale=0.35,
    )


def interpolation_figure(
    model: nn.Module, x: torch.Tensor, pairs=((0, 1),), steps: int = 9
) -> Figure:
    """One row per pair (a, b): test image a, the decoded path from z_a to z_b, test image b."""
    x = check_images(x)
    rows = {}
    for a, b in pairs:
        check_index(a, len(x), "index a")
        check_index(b, len(x), "index b")
        z_a, z_b = encode_mean(model, x[[a, b]])
        t = torch.linspace(0, 1, steps).unsqueeze(1)  # (steps, 1)
        path = decode_images(model, (1 - t) * z_a + t * z_b)  # (steps, D)
        rows[f"{a} → {b}"] = torch.cat([x[a : a + 1].cpu(), path, x[b : b + 1].cpu()])
    return image_rows(rows, title="interpolation in code space (ends: the test images)")


def denoise(model: nn.Module, x: torch.Tensor, std: float, seed: int):
    """The same noise pattern for every level: x_tilde = clip(x + std * eps, 0, 1)."""
    noisy = gaussian_noise(x, std, generator=torch.Generator().manual_seed(seed))
    recon = decode_images(model, encode_mean(model, noisy))
    return noisy, recon


def denoising_figure(
    model: nn.Module, x: torch.Tensor, stds=(0.0, 0.25, 0.5, 0.75), n: int = 6, seed: int = 0
) -> Figure:
    """Rows: the clean images, then for each noise level the noisy input and its reconstruction."""
    x = check_images(x)[:n].cpu()
    rows = {"clean": x}
    for std in stds:
        noisy, recon = denoise(model, x, std, seed)
        rows[f"noise {std:g}"], rows[f"denoised {std:g}"] = noisy, recon
    return image_rows(rows, title="denoising autoencoder at several noise levels")


@torch.no_grad()
def beta_panel(vae: nn.Module, x: torch.Tensor, n: int, seed: int):
    """(samples (n, D), reconstructions of x at z = mu (B, D), mean KL, mean -log p(x | z = mu)).

    The prior samples use a generator seeded with ``seed``: the same z for every model. The
    reconstruction term uses the decoder's mean (unit variance for a Gaussian likelihood).
    """
    samples = vae.sample(n, generator=torch.Generator().manual_seed(seed)).cpu()
    mu, logvar = vae.encode(x.to(_device(vae)))
    recon = decode_images(vae, mu)
    kl = gaussian_kl(mu, logvar).mean().item()
    nll = -log_likelihood(vae.likelihood, x.to(mu.device), vae.decode(mu)).mean().item()
    return samples, recon, kl, nll


def check_models(models) -> list:
    """The sorted betas of ``models`` ({beta: VAE}), after checking it is a non-empty dict."""
    if not isinstance(models, Mapping) or not models:
        raise ValueError("models must be a non-empty dict {beta: trained VAE}")
    return sorted(models)


def beta_figure(
    models: Mapping[float, nn.Module], x: torch.Tensor, n: int = 8, seed: int = 0
) -> Figure:
    """Rows: n test images, then for each beta its prior samples and reconstructions."""
    x = check_images(x)[:n].cpu()
    rows = {"test images": x}
    for beta in check_models(models):
        samples, recon, kl, _ = beta_panel(models[beta], x, n, seed)
        rows[f"β={beta:g} samples"], rows[f"β={beta:g} recon. (KL {kl:.0f})"] = samples, recon
    return image_rows(rows, title="samples and reconstructions as the KL weight β grows")


@torch.no_grad()
def latent_traversal(model: nn.Module, x: torch.Tensor, dim: int, values) -> torch.Tensor:
    """Decoded images of one image's code with latent dimension ``dim`` set to each of
    ``values`` and every other dimension left at the code: x (D,) or (1, D) -> (len(values), D).

    The code is the posterior mean for a VAE (the code itself for an AE). A row of these
    images shows what that one dimension means to the decoder, around this image.
    Used in: notebooks/09_beyond_the_vanilla_vae.ipynb.
    """
    x = check_images(x.reshape(1, -1) if x.dim() == 1 else x, "x")
    if len(x) != 1:
        raise ValueError(f"x must be one image (784,) or (1, 784), got {len(x)} images")
    z0 = encode_mean(model, x)  # (1, d)
    check_index(int(dim), z0.shape[1], "dim")
    values = torch.as_tensor(values, dtype=z0.dtype).flatten()  # (n,)
    if values.numel() == 0:
        raise ValueError("values must hold at least one value for the dimension")
    z = z0.repeat(len(values), 1)  # (n, d)
    z[:, int(dim)] = values.to(z.device)
    return decode_images(model, z)  # (n, D)


def traversal_rows(
    model: nn.Module, x: torch.Tensor, dims, values=None, label: str = "", rates=None
) -> dict[str, torch.Tensor]:
    """{row label: (n, D) images}: one ``latent_traversal`` row per dimension in ``dims``, for
    ``plots.image_rows``. ``values`` defaults to 9 steps from -3 to 3 (the prior's range);
    ``rates``, if given, is the rate of every dimension (d,), shown in each row's label.
    """
    values = torch.linspace(-3.0, 3.0, 9) if values is None else values
    rows = {}
    for j in [int(j) for j in dims]:
        name = f"{label}{' ' if label else ''}z{j + 1}"
        if rates is not None:
            name += f" ({float(rates[j]):.1f} nats)"
        rows[name] = latent_traversal(model, x, j, values)
    return rows
