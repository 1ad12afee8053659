"""The conditional VAE: a VAE whose encoder and decoder both see the digit's label.

The label y enters as a one-hot vector (10 numbers, a 1 at position y) concatenated to the
encoder's input, [x, onehot(y)] (B, 784 + 10), and to the decoder's input,
[z, onehot(y)] (B, d + 10). The prior stays N(0, I), independent of y, so the KL term
measures what the code tells the decoder about the image *beyond* its label: the digit's
style (Sohn, Lee and Yan 2015; the generative model M2 of Kingma et al. 2014).

Owns: ``ConditionalVAE``, ``one_hot``, ``cvae_loss``.

Used in: notebooks/10_conditional_vae.ipynb.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .models import VAE, VAEOutput, _check_input, _positive_int, mlp, squash_logvar
from .objectives import elbo_loss

#: Number of digit classes.
N_CLASSES = 10


def one_hot(y: torch.Tensor, n_classes: int = N_CLASSES) -> torch.Tensor:
    """Labels (B,) of integers in [0, n_classes) -> float one-hot rows (B, n_classes)."""
    if not isinstance(y, torch.Tensor) or y.dtype not in (torch.int64, torch.int32, torch.uint8):
        raise TypeError(
            f"y must be an integer tensor of labels, got "
            f"{y.dtype if isinstance(y, torch.Tensor) else type(y).__name__}"
        )
    if y.dim() != 1:
        raise ValueError(f"y must have shape (B,), got {tuple(y.shape)}")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        raise ValueError(
            f"labels must lie in 0..{n_classes - 1}, got values in [{int(y.min())}, {int(y.max())}]"
        )
    return F.one_hot(y.long(), n_classes).float()


class ConditionalVAE(nn.Module):
    """MLP conditional VAE with a Bernoulli decoder: q(z | x, y) and p(x | z, y), prior N(0, I).

    Args:
        input_dim: D. latent_dim: d. hidden: encoder hidden sizes (the decoder mirrors them).
        n_classes: number of labels (10 digits).
    """

    likelihood = "bernoulli"

    def __init__(
        self,
        input_dim: int = 784,
        latent_dim: int = 20,
        hidden=(400,),
        activation: str = "relu",
        n_classes: int = N_CLASSES,
    ):
        super().__init__()
        self.input_dim = _positive_int(input_dim, "input_dim")
        self.latent_dim = _positive_int(latent_dim, "latent_dim")
        self.n_classes = _positive_int(n_classes, "n_classes")
        hidden = [_positive_int(h, "hidden sizes") for h in hidden]
        self.encoder = mlp([input_dim + n_classes, *hidden], activation, final_activation=True)
        width = hidden[-1] if hidden else input_dim + n_classes
        self.mean_layer = nn.Linear(width, latent_dim)  # mu(x, y)
        self.logvar_layer = nn.Linear(width, latent_dim)  # log sigma^2(x, y)
        self.decoder = mlp([latent_dim + n_classes, *hidden[::-1], input_dim], activation)

    def _labels(self, y: torch.Tensor, n: int) -> torch.Tensor:
        if len(y) != n:
            raise ValueError(f"y must hold one label per row: {n} rows, {len(y)} labels")
        return one_hot(y, self.n_classes).to(next(self.parameters()).device)

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, D) and labels y (B,) -> mu (B, d), logvar (B, d)."""
        _check_input(x, self.input_dim)
        h = self.encoder(torch.cat([x, self._labels(y, len(x))], dim=1))  # (B, D + 10) -> (B, H)
        return self.mean_layer(h), squash_logvar(self.logvar_layer(h))

    reparameterize = staticmethod(VAE.reparameterize)

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Codes z (B, d) and labels y (B,) -> logits (B, D)."""
        _check_input(z, self.latent_dim, "z")
        return self.decoder(torch.cat([z, self._labels(y, len(z))], dim=1))  # (B, d + 10)

    @staticmethod
    def mean_image(logits: torch.Tensor) -> torch.Tensor:
        """Pixel probabilities sigmoid(logits), the mean of p(x | z, y)."""
        return torch.sigmoid(logits)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> VAEOutput:
        mu, logvar = self.encode(x, y)
        z = self.reparameterize(mu, logvar)
        return VAEOutput(x_out=self.decode(z, y), mu=mu, logvar=logvar, z=z)

    @torch.no_grad()
    def sample(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One image per requested label y (n,): z ~ N(0, I), then the decoder's mean image."""
        device = next(self.parameters()).device
        z = torch.randn(len(y), self.latent_dim, generator=generator, device=device)
        return self.mean_image(self.decode(z, y.to(device)))


def cvae_loss(model: ConditionalVAE, x: torch.Tensor, y: torch.Tensor) -> dict:
    """The negative conditional ELBO as a ``train.fit`` loss (fit passes the labels):
    mean_b [-log p(x_b | z_b, y_b) + KL(q(z | x_b, y_b) || N(0, I))], z_b ~ q(z | x_b, y_b)."""
    return elbo_loss(x, model(x, y), likelihood="bernoulli")
