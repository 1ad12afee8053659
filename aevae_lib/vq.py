"""Discrete codes: vector quantization and the VQ-VAE (van den Oord, Vinyals and Kavukcuoglu 2017).

The encoder outputs M vectors z_e (B, M, d_e), one per *slot*; each is replaced by its nearest
entry of a codebook of K vectors e_1..e_K (K, d_e), so an image is described by M indices in
{0, ..., K-1}: M log2 K bits. Nearest-neighbour rounding has no useful derivative (it is
piecewise constant), so the decoder's gradient is copied past it, the *straight-through*
estimator: z_q + (z_e - sg[z_e]) in the forward pass equals z_q, and its gradient with respect
to z_e is the identity. The codebook and commitment losses live in ``objectives``.

A codebook entry that no encoder output is nearest to gets no gradient and stays where it is
for ever, a *dead* code. ``restart_dead_codes`` moves such entries onto encoder outputs of the
current batch (the dead-code restart of e.g. Dhariwal et al. 2020, Jukebox); the quantizer
does it every ``restart_every`` training steps for the codes unused in that window.

Owns: ``VectorQuantizer``, ``VQVAE``, ``VQOutput``, ``nearest_codes``, ``restart_dead_codes``,
``straight_through``, ``code_usage``, ``perplexity``, ``vq_vae_loss``.

Used in: notebooks/11_vq_vae.ipynb.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .models import _check_input, _positive_int, mlp
from .objectives import bernoulli_log_likelihood, vq_losses


def nearest_codes(z_e: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index of the nearest codebook row (Euclidean) for every vector: z_e (..., d_e),
    codebook (K, d_e) -> indices (...). Ties go to the lowest index."""
    if z_e.shape[-1] != codebook.shape[-1]:
        raise ValueError(
            f"z_e vectors have {z_e.shape[-1]} numbers but codebook rows {codebook.shape[-1]}"
        )
    flat = z_e.reshape(-1, z_e.shape[-1])  # (N, d_e)
    # ||z - e||^2 = ||z||^2 - 2 z.e + ||e||^2; ||z||^2 does not change the argmin
    dist = codebook.pow(2).sum(1) - 2 * flat @ codebook.T  # (N, K)
    return dist.argmin(dim=1).reshape(z_e.shape[:-1])


def straight_through(z_e: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
    """z_e + sg[z_q - z_e]: the value of z_q, the gradient of z_e (identity)."""
    return z_e + (z_q - z_e).detach()


@torch.no_grad()
def restart_dead_codes(
    codebook: torch.Tensor,
    counts: torch.Tensor,
    z_e: torch.Tensor,
    generator: torch.Generator | None = None,
) -> int:
    """Move every codebook row whose ``counts`` entry is 0 onto a random row of ``z_e``
    (N, d_e), drawn without replacement while there are enough rows. In place; returns the
    number of rows moved."""
    dead = torch.nonzero(counts == 0).flatten()
    if len(dead) == 0 or len(z_e) == 0:
        return 0
    flat = z_e.detach().reshape(-1, codebook.shape[1])
    if len(flat) >= len(dead):
        pick = torch.randperm(len(flat), generator=generator, device="cpu")[: len(dead)]
    else:
        pick = torch.randint(len(flat), (len(dead),), generator=generator, device="cpu")
    codebook[dead] = flat[pick.to(flat.device)].to(codebook.dtype)
    return len(dead)


def code_usage(indices: torch.Tensor, n_codes: int) -> torch.Tensor:
    """How often each code is used, as frequencies: indices (any shape) -> (K,), sums to 1."""
    counts = torch.bincount(indices.flatten().cpu(), minlength=n_codes).double()
    return counts / counts.sum()


def perplexity(indices: torch.Tensor, n_codes: int) -> float:
    """exp of the entropy (nats) of the code frequencies: K if all codes are used equally
    often, 1 if a single code is used; the 'effective number of codes'."""
    p = code_usage(indices, n_codes)
    p = p[p > 0]
    return math.exp(float(-(p * p.log()).sum()))


class VectorQuantizer(nn.Module):
    """A codebook of ``n_codes`` vectors of ``code_dim`` numbers and nearest-neighbour rounding.

    ``init_scale``: codebook rows start uniform in [-init_scale, init_scale] (1 / K, the
    common default, is what lets codes die: see chapter 11). ``restart_every`` > 0: in training
    mode, every that many forward passes the codes that no vector chose in the window are
    moved onto vectors of the current batch (``restart_dead_codes``); 0 never restarts.
    """

    def __init__(
        self,
        n_codes: int = 64,
        code_dim: int = 8,
        init_scale: float | None = None,
        restart_every: int = 0,
    ):
        super().__init__()
        self.n_codes, self.code_dim = (
            _positive_int(n_codes, "n_codes"),
            _positive_int(code_dim, "code_dim"),
        )
        if not isinstance(restart_every, int) or restart_every < 0:
            raise ValueError(f"restart_every must be an int >= 0, got {restart_every!r}")
        self.restart_every = restart_every
        scale = 1.0 / n_codes if init_scale is None else init_scale
        self.codebook = nn.Parameter(torch.empty(n_codes, code_dim).uniform_(-scale, scale))
        self.register_buffer("window_counts", torch.zeros(n_codes, dtype=torch.long))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("restarted", torch.zeros((), dtype=torch.long))

    def forward(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z_e (B, M, d_e) -> (z_q (B, M, d_e), differentiable in the codebook; indices (B, M))."""
        indices = nearest_codes(z_e.detach(), self.codebook.detach())  # (B, M)
        if self.training and self.restart_every:
            self.window_counts += torch.bincount(indices.flatten(), minlength=self.n_codes)
            self.steps += 1
            if int(self.steps) % self.restart_every == 0:
                self.restarted += restart_dead_codes(self.codebook.data, self.window_counts, z_e)
                self.window_counts.zero_()
                indices = nearest_codes(z_e.detach(), self.codebook.detach())
        # F.embedding, not self.codebook[indices]: the backward of advanced indexing adds the
        # rows' gradients in a thread-dependent order on the CPU, so two runs of the same
        # training would drift apart in the last bits and then pick different nearest codes.
        return F.embedding(indices, self.codebook), indices  # (B, M, d_e), (B, M)


@dataclass
class VQOutput:
    """What ``VQVAE.forward`` returns: decoder logits ``x_out`` (B, D); the encoder's vectors
    ``z_e`` and their codebook entries ``z_q`` (B, M, d_e); the chosen ``indices`` (B, M)."""

    x_out: torch.Tensor
    z_e: torch.Tensor
    z_q: torch.Tensor
    indices: torch.Tensor


class VQVAE(nn.Module):
    """MLP VQ-VAE with a Bernoulli decoder: x (B, 784) -> M slots of d_e numbers -> M indices
    of a K-entry codebook -> logits (B, 784).

    Args:
        n_slots: M, the number of indices per image. code_dim: d_e. n_codes: K.
        hidden: encoder hidden sizes (mirrored by the decoder).
    """

    likelihood = "bernoulli"

    def __init__(
        self,
        input_dim: int = 784,
        n_slots: int = 20,
        code_dim: int = 8,
        n_codes: int = 64,
        hidden=(400,),
        activation: str = "relu",
        init_scale: float | None = None,
        restart_every: int = 0,
    ):
        super().__init__()
        self.input_dim = _positive_int(input_dim, "input_dim")
        self.n_slots = _positive_int(n_slots, "n_slots")
        hidden = [_positive_int(h, "hidden sizes") for h in hidden]
        self.quantizer = VectorQuantizer(n_codes, code_dim, init_scale, restart_every)
        self.n_codes, self.code_dim = n_codes, code_dim
        self.encoder = mlp([input_dim, *hidden, n_slots * code_dim], activation)
        self.decoder = mlp([n_slots * code_dim, *hidden[::-1], input_dim], activation)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, D) -> z_e (B, M, d_e)."""
        _check_input(x, self.input_dim)
        return self.encoder(x).view(len(x), self.n_slots, self.code_dim)

    def code_indices(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, D) -> the indices of the nearest codebook entries (B, M)."""
        return nearest_codes(self.encode(x), self.quantizer.codebook)

    def decode(self, z_q: torch.Tensor) -> torch.Tensor:
        """Quantized vectors (B, M, d_e) -> logits (B, D)."""
        return self.decoder(z_q.reshape(len(z_q), -1))  # (B, M * d_e)

    def decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices (B, M) -> logits (B, D)."""
        return self.decode(F.embedding(indices, self.quantizer.codebook))

    @staticmethod
    def mean_image(logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits)

    def forward(self, x: torch.Tensor) -> VQOutput:
        z_e = self.encode(x)
        z_q, indices = self.quantizer(z_e)
        x_out = self.decode(straight_through(z_e, z_q))
        return VQOutput(x_out=x_out, z_e=z_e, z_q=z_q, indices=indices)


def vq_vae_loss(commitment: float = 0.25):
    """The VQ-VAE's loss as a ``train.fit`` loss function: -log p(x | z_q) + codebook loss
    + ``commitment`` * commitment loss (``objectives.vq_losses``), batch means. Logs the terms
    and the batch's perplexity."""
    if not isinstance(commitment, (int, float)) or isinstance(commitment, bool) or commitment < 0:
        raise ValueError(f"commitment must be a number >= 0, got {commitment!r}")

    def loss(model: VQVAE, x: torch.Tensor) -> dict:
        out = model(x)
        recon = -bernoulli_log_likelihood(x, out.x_out)  # (B,)
        terms = vq_losses(out.z_e, out.z_q)
        total = recon + terms["codebook"] + commitment * terms["commitment"]
        return {
            "loss": total.mean(),
            "recon": recon.mean(),
            "codebook": terms["codebook"].mean(),
            "commitment": terms["commitment"].mean(),
            "perplexity": torch.tensor(perplexity(out.indices, model.n_codes)),
        }

    return loss
