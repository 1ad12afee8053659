"""A book model's layers, read out of PyTorch into the ``Net`` the page runs; others refused.

One job: decide whether a model can run in a web page and, if it can, take its weights out.
The explorers run MLPs only: ``nn.Linear`` layers with ReLU, Tanh, ELU (alpha = 1), GELU or
Sigmoid between them, which is what the book's ``Autoencoder`` and ``VAE`` are. Anything else
(a ``ConvVAE``, a Dropout layer, a foreign module) is refused with an ``UnsupportedModel``
error that names the layer and points to the static figures.

Owns: ``UnsupportedModel``, ``SUPPORTED``, ``decoder_net``, ``encoder_net``, ``chain``.

Used in: every explorer (``latent``, ``interpolation``, ``denoising``, ``beta``);
tests/test_explorers.py.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from torch import nn

from ..models import VAE, Autoencoder, ConvVAE
from .net import Dense, Net

_ACTIVATIONS = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}
SUPPORTED = (
    "an MLP: nn.Linear layers with ReLU, Tanh, ELU (alpha = 1), GELU or Sigmoid between them "
    "(the book's Autoencoder and VAE)"
)


class UnsupportedModel(ValueError):
    """The exporter cannot run this model in a web page."""


def _activation_name(module: nn.Module, where: str) -> str:
    for cls, name in _ACTIVATIONS.items():
        if type(module) is cls:
            return name
    if type(module) is nn.ELU:
        if module.alpha != 1.0:
            raise UnsupportedModel(
                f"cannot export {where}: ELU with alpha={module.alpha}; {SUPPORTED}"
            )
        return "elu"
    if type(module) is nn.GELU:
        return "gelu" if module.approximate == "none" else "gelu_tanh"
    raise UnsupportedModel(
        f"cannot export {where} ({type(module).__name__}): the explorers run {SUPPORTED}. "
        "Show this model with a static figure instead (aevae_lib.figures)."
    )


def _dense_layers(seq: nn.Module, name: str) -> list[Dense]:
    """The Dense layers of an nn.Sequential of Linear and activation modules."""
    if not isinstance(seq, nn.Sequential):
        raise UnsupportedModel(
            f"cannot export {name} ({type(seq).__name__}): the explorers run {SUPPORTED}"
        )
    layers: list[Dense] = []
    for i, module in enumerate(seq):
        where = f"{name}[{i}]"
        if type(module) is nn.Linear:
            weight = module.weight.detach().float().cpu().numpy()
            bias = (
                module.bias.detach().float().cpu().numpy()
                if module.bias is not None
                else np.zeros(weight.shape[0], np.float32)
            )
            layers.append(Dense(weight.copy(), bias.copy()))
        else:
            act = _activation_name(module, where)
            if not layers or layers[-1].activation != "none":
                raise UnsupportedModel(
                    f"cannot export {where}: an activation must follow a Linear layer ({SUPPORTED})"
                )
            layers[-1].activation = act
    if not layers:
        raise UnsupportedModel(f"cannot export {name}: it has no Linear layer ({SUPPORTED})")
    return layers


def _model_kind(model: nn.Module) -> str:
    if isinstance(model, ConvVAE):
        raise UnsupportedModel(
            "cannot export a ConvVAE: its decoder has ConvTranspose2d layers, and the explorers "
            f"run {SUPPORTED}. Show it with a static figure instead (aevae_lib.figures)."
        )
    if isinstance(model, VAE):
        return "vae"
    if isinstance(model, Autoencoder):
        return "ae"
    raise UnsupportedModel(
        f"cannot export a {type(model).__name__}: the explorers take an aevae_lib Autoencoder "
        f"or VAE, that is {SUPPORTED}"
    )


def decoder_net(model: nn.Module) -> Net:
    """The network from a code z to the image that ``figures.decode_images`` draws."""
    kind = _model_kind(model)
    layers = _dense_layers(model.decoder, "decoder")
    if kind == "ae":
        return Net(layers, clamp=True)
    transform = {"bernoulli": "sigmoid", "continuous_bernoulli": "cb_mean"}.get(
        model.likelihood, "none"
    )
    keep = model.input_dim if model.learn_variance else None
    return Net(layers, transform=transform, keep=keep, clamp=True)


def encoder_net(model: nn.Module) -> Net:
    """The network from an image x to its code (the posterior mean, for a VAE)."""
    kind = _model_kind(model)
    if kind == "ae":
        return Net(_dense_layers(model.encoder, "encoder"))
    head = _dense_layers(nn.Sequential(model.mean_layer), "mean_layer")
    body = _dense_layers(model.encoder, "encoder") if len(model.encoder) else []
    return Net(body + head)


def chain(first: Net, second: Net) -> Net:
    """``second`` after ``first`` (e.g. encoder then decoder) as one Net."""
    if first.transform != "none" or first.keep is not None or first.clamp:
        raise UnsupportedModel("cannot chain after a network with an output transform")
    layers = [replace(d) for d in first.layers] + [replace(d) for d in second.layers]
    return Net(layers, second.transform, second.keep, second.clamp)
