"""Image helpers shared by the explorers, and the latent traversals of chapter 09.

- ``encode_mean`` / ``decode_images``: a model's code for images (a VAE's posterior mean) and
  the images it decodes (a VAE's mean image), on CPU in [0, 1];
- ``check_images``, ``check_index``, ``check_2d``, ``check_models``: argument checks with
  messages that say what was expected;
- ``strip``: images side by side as one array; ``png_bytes``: an array as a PNG;
- ``latent_traversal`` / ``traversal_rows``: one image's code decoded while a single latent
  dimension moves and the others stay put.

Images are (N, 784) tensors with intensities in [0, 1]. A model is an ``Autoencoder``, a
``VAE`` or anything with ``encode``/``decode``.

Used in: aevae_lib/explorers (every explorer), notebooks/09 (traversals).
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn


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


def png_bytes(canvas: np.ndarray, zoom: int = 3) -> bytes:
    """PNG of an intensity array (ink 1 = black on white), each pixel a zoom x zoom block."""
    from matplotlib.image import imsave

    big = np.kron(np.clip(canvas, 0.0, 1.0), np.ones((zoom, zoom)))
    buf = io.BytesIO()
    imsave(buf, big, cmap="gray_r", vmin=0.0, vmax=1.0, format="png")
    return buf.getvalue()


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


def check_models(models) -> list:
    """The sorted betas of ``models`` ({beta: VAE}), after checking it is a non-empty dict."""
    if not isinstance(models, Mapping) or not models:
        raise ValueError("models must be a non-empty dict {beta: trained VAE}")
    return sorted(models)


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
