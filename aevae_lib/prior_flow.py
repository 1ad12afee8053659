"""A learned prior over codes: flow matching in the latent space of an autoencoder or a VAE.

The job: learn the distribution of the codes z of the training images, so that new codes can
be drawn from it and decoded (the recipe of latent diffusion models, with flow matching on
the straight path in place of diffusion; Lipman et al. 2023, Rombach et al. 2022).

- The codes are first standardized, u = (z - mean) / sd per dimension (the statistics are
  buffers of the model, saved with its weights), so that every autoencoder's codes reach the
  network on the scale of the noise.
- A small MLP v(u, a) predicts the velocity that moves a point of the straight path
  u_a = (1 - a) eps + a u, eps ~ N(0, I), towards the data; ``flow_matching_fit_loss`` trains
  it with ``objectives.flow_matching_loss``.
- ``FlowPrior.sample`` integrates du/da = v(u, a) from a = 0 (noise) to a = 1 (a code) with
  Euler steps, then undoes the standardization.

Owns: ``FlowPrior``, ``flow_matching_fit_loss``, ``time_features``.

Used in: notebooks/13_latent_diffusion.ipynb, through ``zoo.trained_flow_prior``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .models import mlp
from .objectives import flow_matching_loss


def time_features(a: torch.Tensor, n_frequencies: int) -> torch.Tensor:
    """Sines and cosines of the time a (B, 1) at frequencies 1, 2, 4, ...: (B, 2 * n_frequencies).

    A plain number a in [0, 1] is a weak input for an MLP; these features let the velocity
    change quickly with a where it must (near a = 1, where the paths reach the data)."""
    freqs = math.pi * 2.0 ** torch.arange(n_frequencies, device=a.device, dtype=a.dtype)  # (F,)
    angles = a * freqs  # (B, F)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


class FlowPrior(nn.Module):
    """Velocity network v(u, a) over standardized codes u in R^d, and its sampler.

    Args:
        latent_dim: d, the code size of the autoencoder whose codes it models.
        hidden: hidden-layer sizes of the MLP. activation: one of ``models.ACTIVATIONS``.
        n_frequencies: time features per sine and cosine (``time_features``).
    """

    def __init__(
        self,
        latent_dim: int,
        hidden=(256, 256, 256),
        activation: str = "gelu",
        n_frequencies: int = 8,
    ):
        super().__init__()
        self.latent_dim, self.n_frequencies = latent_dim, n_frequencies
        self.net = mlp([latent_dim + 2 * n_frequencies, *hidden, latent_dim], activation)
        self.register_buffer("code_mean", torch.zeros(latent_dim))
        self.register_buffer("code_std", torch.ones(latent_dim))

    @torch.no_grad()
    def set_code_statistics(self, z: torch.Tensor) -> None:
        """Store the mean and standard deviation of each code dimension of z (N, d)."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim or len(z) < 2:
            raise ValueError(f"z must have shape (N >= 2, {self.latent_dim}), got {tuple(z.shape)}")
        self.code_mean.copy_(z.mean(dim=0))
        self.code_std.copy_(z.std(dim=0).clamp(min=1e-6))

    def standardize(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.code_mean) / self.code_std

    def unstandardize(self, u: torch.Tensor) -> torch.Tensor:
        return u * self.code_std + self.code_mean

    def forward(self, u: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """The velocity v(u, a): u (B, d) standardized codes on the path, a (B, 1) times."""
        if u.dim() != 2 or u.shape[1] != self.latent_dim:
            raise ValueError(f"u must have shape (B, {self.latent_dim}), got {tuple(u.shape)}")
        a = a.expand(len(u), 1)
        return self.net(torch.cat([u, time_features(a, self.n_frequencies)], dim=-1))

    @torch.no_grad()
    def sample(
        self,
        n: int,
        steps: int = 50,
        generator: torch.Generator | None = None,
        return_path: bool = False,
    ):
        """n codes (n, d): Euler steps u <- u + v(u, a) / steps from u ~ N(0, I) at a = 0 to
        a = 1, then z = u * sd + mean. With ``return_path`` also the standardized points of
        every step, (steps + 1, n, d)."""
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise ValueError(f"steps must be a positive int, got {steps!r}")
        self.eval()
        device = self.code_mean.device
        u = torch.randn(n, self.latent_dim, generator=generator, device=device)  # (n, d)
        path = [u]
        for i in range(steps):
            a = torch.full((1, 1), i / steps, device=device)
            u = u + self(u, a) / steps  # (n, d)
            path.append(u)
        z = self.unstandardize(u)
        return (z, torch.stack(path)) if return_path else z


def flow_matching_fit_loss(model: FlowPrior, z: torch.Tensor) -> dict:
    """``train.fit`` loss: one random time and one noise draw per code of the batch z (B, d)."""
    u = model.standardize(z)  # (B, d)
    eps = torch.randn_like(u)  # the noise end of each path
    a = torch.rand(len(u), 1, device=u.device, dtype=u.dtype)  # (B, 1), uniform on [0, 1)
    u_a = (1 - a) * eps + a * u  # a point on the straight path
    return {"loss": flow_matching_loss(model(u_a, a), u - eps)}
