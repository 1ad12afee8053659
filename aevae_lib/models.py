"""The book's networks: MLP autoencoder, MLP VAE, convolutional VAE, and a digit classifier.

Canonical VAE API (as in pytorch/examples' vae): ``encode -> (mu, logvar)``,
``reparameterize``, ``decode``, ``forward`` returning a named ``VAEOutput``, and
``decode_params`` for the decoder's whole distribution (its mean or logits, and a learned
log-variance when there is one). How a model is configured and built lives in ``configs``.

Owns: ``Autoencoder``, ``VAE``, ``ConvVAE``, ``DigitClassifier``, their named outputs, ``mlp``,
``squash_logvar``, the input checks of every forward pass, ``AEOutput`` (with ``VAEOutput``,
what ``forward`` returns) and ``count_parameters``.

Used in: notebooks/01_autoencoder.ipynb (Autoencoder), 04_vae.ipynb (VAE), 03 (DigitClassifier),
09_beyond_the_vanilla_vae.ipynb (ConvVAE).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .objectives import LIKELIHOODS, has_nonfinite

#: Log-variances are squashed smoothly into this range by design: exp(LOGVAR_MAX) cannot
#: overflow and exp(LOGVAR_MIN) cannot underflow to a zero standard deviation.
LOGVAR_MIN, LOGVAR_MAX = -14.0, 8.0

#: The hidden-layer activations the MLPs know.
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU}


def _positive_int(value, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def mlp(
    sizes: list[int], activation: str = "relu", final_activation: bool = False
) -> nn.Sequential:
    """Linear layers between consecutive ``sizes`` with ``activation`` in between."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or final_activation:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def squash_logvar(raw: torch.Tensor) -> torch.Tensor:
    """Map an unconstrained output smoothly into (LOGVAR_MIN, LOGVAR_MAX); near-identity around 0."""
    mid, half = (LOGVAR_MAX + LOGVAR_MIN) / 2, (LOGVAR_MAX - LOGVAR_MIN) / 2
    return mid + half * torch.tanh((raw - mid) / half)


def _check_input(x: torch.Tensor, input_dim: int, name: str = "x") -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got dtype {x.dtype}; "
            "use x.float() (and divide uint8 images by 255)"
        )
    if x.dim() != 2 or x.shape[1] != input_dim:
        raise ValueError(
            f"{name} must have shape (B, {input_dim}), got {tuple(x.shape)}; "
            "flatten images with x.view(len(x), -1)"
        )
    # Checked on the CPU only: on an accelerator it would force a host sync in every forward
    # pass (and break CUDA-graph capture, see reproduce.py); objectives and fit still check.
    if x.device.type == "cpu" and has_nonfinite(x):
        n_nan, n_inf = int(torch.isnan(x).sum()), int(torch.isinf(x).sum())
        raise ValueError(
            f"{name} must be finite, got {n_nan} NaN and {n_inf} infinite value(s); "
            "check the data (and the learning rate, if it came from a model that diverged)"
        )


@dataclass
class AEOutput:
    """What ``Autoencoder.forward`` returns: the code ``z`` (B, d) and reconstruction (B, D)."""

    z: torch.Tensor
    x_hat: torch.Tensor


@dataclass
class VAEOutput:
    """What ``VAE.forward`` returns.

    x_out: decoder output (B, D): logits for Bernoulli likelihoods, the mean for a Gaussian.
    mu, logvar: parameters of q(z | x), each (B, d). z: the sample used, (B, d).
    x_logvar: the decoder's per-pixel log-variance (B, D) for a learned-variance Gaussian, else None.
    """

    x_out: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    x_logvar: torch.Tensor | None = None


class Autoencoder(nn.Module):
    """Deterministic autoencoder: encoder f(x) = z, decoder g(z) = x_hat.

    Args:
        input_dim: D (784 for MNIST). latent_dim: d, the code size.
        hidden: sizes of the hidden layers of the encoder (mirrored in the decoder);
            ``()`` gives a *linear* autoencoder (with ``output="linear"``), the PCA analogue.
        output: "sigmoid" keeps x_hat in [0, 1]; "linear" leaves it unconstrained.
    """

    def __init__(
        self,
        input_dim: int = 784,
        latent_dim: int = 32,
        hidden=(256,),
        activation: str = "relu",
        output: str = "sigmoid",
    ):
        super().__init__()
        self.input_dim = _positive_int(input_dim, "input_dim")
        self.latent_dim = _positive_int(latent_dim, "latent_dim")
        hidden = [_positive_int(h, "hidden sizes") for h in hidden]
        if output not in {"sigmoid", "linear"}:
            raise ValueError(f"output must be 'sigmoid' or 'linear', got {output!r}")
        self.encoder = mlp([input_dim, *hidden, latent_dim], activation)
        decoder = mlp([latent_dim, *hidden[::-1], input_dim], activation)
        self.decoder = nn.Sequential(*decoder, nn.Sigmoid()) if output == "sigmoid" else decoder

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, d)."""
        _check_input(x, self.input_dim)
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, d) -> (B, D)."""
        _check_input(z, self.latent_dim, "z")
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> AEOutput:
        z = self.encode(x)
        return AEOutput(z=z, x_hat=self.decoder(z))


class VAE(nn.Module):
    """MLP variational autoencoder with a diagonal Gaussian q(z | x) and prior N(0, I).

    Args:
        input_dim: D. latent_dim: d. hidden: encoder hidden sizes (mirrored by the decoder).
        likelihood: "bernoulli" (binarized data), "continuous_bernoulli" (grayscale in [0, 1])
            or "gaussian". For "gaussian", ``learn_variance=True`` adds a per-pixel
            log-variance head; otherwise the variance is fixed at 1 (the MSE loss up to scale).
    """

    def __init__(
        self,
        input_dim: int = 784,
        latent_dim: int = 20,
        hidden=(400,),
        activation: str = "relu",
        likelihood: str = "bernoulli",
        learn_variance: bool = False,
    ):
        super().__init__()
        self.input_dim = _positive_int(input_dim, "input_dim")
        self.latent_dim = _positive_int(latent_dim, "latent_dim")
        hidden = [_positive_int(h, "hidden sizes") for h in hidden]
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if learn_variance and likelihood != "gaussian":
            raise ValueError(
                f"learn_variance=True needs likelihood='gaussian', got likelihood={likelihood!r}"
            )
        self.likelihood, self.learn_variance = likelihood, learn_variance
        self.encoder = mlp([input_dim, *hidden], activation, final_activation=True)
        width = hidden[-1] if hidden else input_dim
        self.mean_layer = nn.Linear(width, latent_dim)  # mu(x)
        self.logvar_layer = nn.Linear(width, latent_dim)  # log sigma^2(x)
        out_dim = 2 * input_dim if learn_variance else input_dim
        self.decoder = mlp([latent_dim, *hidden[::-1], out_dim], activation)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, D) -> mu (B, d), logvar (B, d)."""
        _check_input(x, self.input_dim)
        h = self.encoder(x)
        return self.mean_layer(h), squash_logvar(self.logvar_layer(h))

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I): differentiable in mu and logvar."""
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + std * eps  # (B, d)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, d) -> decoder output (B, D): logits, or the Gaussian mean."""
        return self.decode_params(z)[0]

    def decode_params(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The parameters of p(x | z) for codes z (B, d): ``(out, logvar)``, where ``out`` (B, D)
        is the logits (Bernoulli kinds) or the mean (Gaussian), and ``logvar`` (B, D) the learned
        log-variance of a Gaussian decoder, or None when the variance is fixed."""
        _check_input(z, self.latent_dim, "z")
        out = self.decoder(z)
        if self.learn_variance:
            mean, raw = out.chunk(2, dim=-1)
            return mean, squash_logvar(raw)
        return out, None

    def mean_image(self, x_out: torch.Tensor) -> torch.Tensor:
        """Turn decoder output into an image in pixel space (probabilities or mean)."""
        if self.likelihood == "bernoulli":
            return torch.sigmoid(x_out)
        if self.likelihood == "continuous_bernoulli":
            return torch.distributions.ContinuousBernoulli(logits=x_out).mean
        return x_out

    def forward(self, x: torch.Tensor) -> VAEOutput:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        x_out, x_logvar = self.decode_params(z)
        return VAEOutput(x_out=x_out, mu=mu, logvar=logvar, z=z, x_logvar=x_logvar)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` images: z ~ p(z) = N(0, I), then the decoder's mean image. (n, D)."""
        _positive_int(n, "n")
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator, device=device)
        return self.mean_image(self.decode(z))


class ConvVAE(VAE):
    """Convolutional VAE for 28x28 images (Bernoulli likelihood).

    Encoder: 1x28x28 -conv-> c x14x14 -conv-> 2c x7x7 -> flatten -> hidden.
    Decoder mirrors it with transposed convolutions. Same API and output as ``VAE``.
    """

    def __init__(self, latent_dim: int = 20, channels: int = 32, hidden: int = 256):
        nn.Module.__init__(self)
        self.input_dim, self.latent_dim = 784, _positive_int(latent_dim, "latent_dim")
        c = _positive_int(channels, "channels")
        self.likelihood, self.learn_variance = "bernoulli", False
        self.encoder = nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),  # (B, 784) -> (B, 1, 28, 28)
            nn.Conv2d(1, c, 4, stride=2, padding=1),
            nn.ReLU(),  # -> (B, c, 14, 14)
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1),
            nn.ReLU(),  # -> (B, 2c, 7, 7)
            nn.Flatten(),
            nn.Linear(2 * c * 49, hidden),
            nn.ReLU(),  # -> (B, hidden)
        )
        self.mean_layer = nn.Linear(hidden, latent_dim)
        self.logvar_layer = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2 * c * 49),
            nn.ReLU(),
            nn.Unflatten(1, (2 * c, 7, 7)),
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1),
            nn.ReLU(),  # -> (B, c, 14, 14)
            nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1),  # -> (B, 1, 28, 28)
            nn.Flatten(),  # -> (B, 784) logits
        )


class DigitClassifier(nn.Module):
    """A small MLP digit classifier, the "judge" of sample quality. (B, 784) -> logits (B, 10)."""

    def __init__(self, input_dim: int = 784, hidden=(512, 512), dropout: float = 0.2):
        super().__init__()
        self.input_dim = _positive_int(input_dim, "input_dim")
        hidden = [_positive_int(h, "hidden sizes") for h in hidden]
        if not hidden:
            raise ValueError("hidden must list at least one layer size, got ()")
        if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")
        layers: list[nn.Module] = []
        for a, b in zip([input_dim, *hidden[:-1]], hidden, strict=True):
            layers += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(dropout)]
        self.net = nn.Sequential(*layers, nn.Linear(hidden[-1], 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.input_dim)
        return self.net(x)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
