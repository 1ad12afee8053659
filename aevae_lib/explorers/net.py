"""A network as the page runs it: its layers, and the page's arithmetic in numpy.

One job: the numbers the page computes. ``run_net`` does, in numpy, exactly what
``static/explorers.js`` does (float32 weights, float64 sums, the same erf and the same
continuous-Bernoulli mean), so the exporter measures the page's error without a browser.

Owns: ``Dense`` (one layer), ``Net`` (a chain of them and an output transform), ``run_net``,
``layer_inputs``, and the activations they apply.

Used in: ``extract`` (builds Nets from the book's models), ``export`` (the error of every
encoding), tests/test_explorers.py.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass
class Dense:
    """One layer: y = act(x W^T + b). weight (out, in) and bias (out,), float32."""

    weight: np.ndarray
    bias: np.ndarray
    activation: str = "none"


@dataclass
class Net:
    """A chain of Dense layers, then ``transform`` of the first ``keep`` outputs.

    transform: "none", "sigmoid" or "cb_mean" (the mean of a continuous Bernoulli with these
    logits); ``clamp``: clip the result to [0, 1], as ``figures.decode_images`` does.
    """

    layers: list[Dense]
    transform: str = "none"
    keep: int | None = None
    clamp: bool = False

    @property
    def n_in(self) -> int:
        return self.layers[0].weight.shape[1]

    @property
    def n_out(self) -> int:
        return self.keep or self.layers[-1].weight.shape[0]

    @property
    def n_params(self) -> int:
        return sum(d.weight.size + d.bias.size for d in self.layers)


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to about 1e-7 (Abramowitz and Stegun 7.1.26), the same formula as the page."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return sign * (1.0 - poly * np.exp(-a * a))


def _act(name: str, h: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(h, 0.0)
    if name == "tanh":
        return np.tanh(h)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-h))
    if name == "elu":
        return np.where(h > 0, h, np.expm1(np.minimum(h, 0.0)))
    if name == "gelu":
        return 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))
    if name == "gelu_tanh":
        return 0.5 * h * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * h**3)))
    return h


def _cb_mean(logits: np.ndarray) -> np.ndarray:
    """Mean of a continuous Bernoulli, as torch.distributions.ContinuousBernoulli computes it."""
    eps = float(np.finfo(np.float32).eps)
    p = np.clip(1.0 / (1.0 + np.exp(-logits)), eps, 1.0 - eps)
    outside = (p <= 0.499) | (p > 0.501)
    cut = np.where(outside, p, 0.499)
    mus = cut / (2.0 * cut - 1.0) + 1.0 / (np.log1p(-cut) - np.log(cut))
    x = p - 0.5
    taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x**2) * x
    return np.where(outside, mus, taylor)


def _forward(net: Net, x: np.ndarray) -> Iterator[np.ndarray]:
    """The input of every layer in turn, then the last layer's output (before the transform)."""
    h = np.asarray(x, dtype=np.float64)
    for d in net.layers:
        yield h
        h = _act(d.activation, h @ d.weight.astype(np.float64).T + d.bias.astype(np.float64))
    yield h


def layer_inputs(net: Net, x: np.ndarray) -> list[np.ndarray]:
    """The input of every layer of ``net`` (float weights) for network inputs ``x``."""
    return list(_forward(net, x))[:-1]


def run_net(net: Net, x: np.ndarray) -> np.ndarray:
    """The page's arithmetic in numpy: float32 weights, float64 sums. (B, n_in) -> (B, n_out)."""
    *_, h = _forward(net, x)
    if net.keep is not None:
        h = h[:, : net.keep]
    if net.transform == "sigmoid":
        h = 1.0 / (1.0 + np.exp(-h))
    elif net.transform == "cb_mean":
        h = _cb_mean(h)
    return np.clip(h, 0.0, 1.0) if net.clamp else h
