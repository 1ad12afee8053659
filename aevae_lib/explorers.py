"""Explorers that run in the reader's browser: the book's decoders, exported to the page.

Each explorer is an anywidget (``anywidget.AnyWidget``): one front-end, ``static/explorers.js``,
draws it in JupyterLab, Colab and VS Code, and in the static book, where the widget state
that the build stored in the executed notebook carries the JavaScript and the weights (the
book's ``widget_embed`` extension points the embed manager at a vendored anywidget, so no
page fetches anything). The decoders (and the denoising autoencoder's encoder) run in the
page: nothing moves through a kernel, so the explorers respond offline, from ``file://``.

    explorer                                    chapter   what runs in the page
    denoising_explorer(dae, x_test)             02        encoder + decoder of the DAE
    interpolation_explorer(ae, x_test)          03        the AE's decoder
    interpolation_explorer({"AE": ae,           05        both decoders, side by side
                            "VAE": vae}, x)
    latent_explorer(vae_2d, x_test, y_test)     05        the 2-D VAE's decoder
    beta_explorer({beta: vae}, x_bin)           09        one decoder per beta

**Weights.** ``export_net`` packs an MLP (``nn.Linear`` layers with ReLU, Tanh, ELU, GELU or
Sigmoid between them: the book's ``Autoencoder`` and ``VAE``) into bytes. With
``encoding="auto"`` (``choose_encodings``) every layer starts as 8-bit integers with one
float32 scale per output unit, rounded by GPTQ so that the layer's output on the inputs the
explorer will show stays close; while the page's output (computed exactly as the JavaScript
computes it, see ``run_net``) differs from PyTorch's by more than ``EXPORT_TOLERANCE`` there,
the step that buys most accuracy per byte is taken: the worst output units (rows of the last
layer) kept in float16, or a whole layer in float16. Every export records its error on those
inputs (``max_error``) and on others of the same kind (``check_error``). A model the exporter
does not support (a convolutional VAE, say) is refused with an ``UnsupportedModel`` error
that names the layer.

**Kernel side.** Every explorer computes, in Python and with PyTorch, what its page shows for
its current state: ``arrays`` (row -> (28, width) intensity array) and ``caption``. Setting a
state trait (``w.z = [1.0, -0.5]``, ``w.t = 0.3``, ``w.beta = 4.0``, ``w.noise = 0.6``)
redraws the page and recomputes both; moving a control in the page sets the trait.

**Checks.** Each explorer carries ``probes``: input events to replay (keys on a named control,
a click or a drag at a point of one) and what PyTorch draws afterwards (the image and its
alt text). ``tests/browser/check_book.py`` replays them on every page of the built book and
fails when an explorer does not respond or draws a pixel more than ``PIXEL_TOLERANCE`` away
from PyTorch's output.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import anywidget
import numpy as np
import torch
import traitlets
from torch import nn

from .figures import check_images, check_index, decode_images, encode_mean, strip

STATIC = Path(__file__).with_name("static")

#: A pixel the page draws may differ from PyTorch's output by at most this (0-1 scale).
PIXEL_TOLERANCE = 0.02
#: The exporter's own bound on the page's arithmetic, half the budget: the rest is for the
#: canvas, which stores 8-bit colours (a rounding of at most 1/510).
EXPORT_TOLERANCE = 0.01
#: Model data (packed weights) per page, in bytes: the book's budget.
PAGE_BUDGET = 2_000_000

ENCODINGS = ("int8", "float16", "float32")
_ACTIVATIONS = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}
SUPPORTED = (
    "an MLP: nn.Linear layers with ReLU, Tanh, ELU (alpha = 1), GELU or Sigmoid between them "
    "(the book's Autoencoder and VAE)"
)


class UnsupportedModel(ValueError):
    """The exporter cannot run this model in a web page."""


# --- the network, as the page runs it ----------------------------------------------------------


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
    from .models import VAE, Autoencoder, ConvVAE

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


def run_net(net: Net, x: np.ndarray) -> np.ndarray:
    """The page's arithmetic in numpy: float32 weights, float64 sums. (B, n_in) -> (B, n_out)."""
    h = np.asarray(x, dtype=np.float64)
    for d in net.layers:
        h = _act(d.activation, h @ d.weight.astype(np.float64).T + d.bias.astype(np.float64))
    if net.keep is not None:
        h = h[:, : net.keep]
    if net.transform == "sigmoid":
        h = 1.0 / (1.0 + np.exp(-h))
    elif net.transform == "cb_mean":
        h = _cb_mean(h)
    return np.clip(h, 0.0, 1.0) if net.clamp else h


# --- packing -------------------------------------------------------------------------------------


class Blob:
    """Arrays packed one after another into one byte string, each at a 4-byte boundary.

    ``add`` returns the descriptor the page reads the array back with:
    {"off": byte offset, "dtype": "f32" | "f16" | "i8" | "u8" | "u16", "n": number of values}.
    """

    _DTYPES = {
        "f32": np.float32,
        "f16": np.float16,
        "i8": np.int8,
        "u8": np.uint8,
        "u16": np.uint16,
    }

    def __init__(self):
        self._buf = io.BytesIO()

    def add(self, array, dtype: str) -> dict:
        data = np.ascontiguousarray(np.asarray(array), dtype=self._DTYPES[dtype]).astype(
            np.dtype(self._DTYPES[dtype]).newbyteorder("<"), copy=False
        )
        off = self._buf.tell()
        self._buf.write(data.tobytes())
        self._buf.write(b"\0" * (-self._buf.tell() % 4))
        return {"off": off, "dtype": dtype, "n": int(data.size)}

    def getvalue(self) -> bytes:
        return self._buf.getvalue()

    @classmethod
    def read(cls, data: bytes, desc: dict) -> np.ndarray:
        dtype = np.dtype(cls._DTYPES[desc["dtype"]]).newbyteorder("<")
        return np.frombuffer(data, dtype=dtype, count=desc["n"], offset=desc["off"]).copy()


def quantize_int8(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric 8-bit codes per output row, rounded to nearest: (q int8 (out, in), scale (out,)).

    scale = max |w_row| / 127, q = round(w / scale): every weight is off by at most scale / 2.
    """
    top = np.abs(weight).max(axis=1)
    scale = np.where(top > 0, top / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(weight / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale


def quantize_int8_gptq(
    weight: np.ndarray, inputs: np.ndarray, damp: float = 0.01
) -> tuple[np.ndarray, np.ndarray]:
    """8-bit codes (same scales as ``quantize_int8``) rounded to keep the layer's *output* right.

    GPTQ (Frantar et al. 2022): the weights of a row are rounded one input at a time, and the
    rounding error of each is pushed onto the inputs not yet rounded, weighted by the inverse
    of H = X^T X over ``inputs`` (the layer's inputs for the codes the explorer will show), so
    that the error of x W^T over those inputs stays small. (q int8 (out, in), scale (out,)).
    """
    w = weight.astype(np.float64).copy()
    _, scale = quantize_int8(weight)
    s = scale.astype(np.float64)
    x = np.asarray(inputs, np.float64)
    h = x.T @ x / max(len(x), 1)
    diag = np.diag(h).copy()
    dead = diag <= 0
    h[dead, dead] = 1.0
    h += damp * max(float(diag.mean()), 1e-12) * np.eye(len(h))
    u = np.linalg.cholesky(np.linalg.inv(h)).T  # upper triangular, H^-1 = U^T U
    q = np.zeros(w.shape, np.int8)
    for i in range(w.shape[1]):
        qi = np.clip(np.rint(w[:, i] / s), -127, 127)
        q[:, i] = qi
        err = (w[:, i] - qi * s) / u[i, i]
        w[:, i + 1 :] -= np.outer(err, u[i, i + 1 :])
    return q, scale


def dequantize_int8(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """q * scale in float64, stored as float32: exactly what the page does."""
    return (q.astype(np.float64) * scale.astype(np.float64)[:, None]).astype(np.float32)


@dataclass
class LayerCode:
    """How one layer travels: "int8" (codes q, a scale per row, and the rows listed in
    ``rows16`` as float16 instead), "float16" or "float32"."""

    enc: str
    q: np.ndarray | None = None
    scale: np.ndarray | None = None
    rows16: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @classmethod
    def of(cls, code, weight: np.ndarray) -> LayerCode:
        """``code`` itself, or the LayerCode of an encoding name (int8: rounded to nearest)."""
        if isinstance(code, LayerCode):
            return code
        if code not in ENCODINGS:
            raise ValueError(f"each layer's encoding must be one of {ENCODINGS}, got {code!r}")
        return cls("int8", *quantize_int8(weight)) if code == "int8" else cls(code)

    def weight(self, weight: np.ndarray) -> np.ndarray:
        """The float32 weights the page holds for this layer."""
        if self.enc == "int8":
            w = dequantize_int8(self.q, self.scale)
            w[self.rows16] = weight[self.rows16].astype(np.float16).astype(np.float32)
            return w
        if self.enc == "float16":
            return weight.astype(np.float16).astype(np.float32)
        return weight.astype(np.float32)

    def nbytes(self, weight: np.ndarray) -> int:
        out_dim, in_dim = weight.shape
        if self.enc == "int8":
            return out_dim * in_dim + 4 * out_dim + len(self.rows16) * (2 * in_dim + 2)
        return out_dim * in_dim * (2 if self.enc == "float16" else 4)

    @property
    def label(self) -> str:
        if self.enc == "int8" and len(self.rows16):
            return f"int8 ({len(self.rows16)} rows float16)"
        return self.enc

    def with_rows(self, rows) -> LayerCode:
        rows = np.union1d(self.rows16, np.asarray(rows, np.int64)).astype(np.int64)
        return LayerCode(self.enc, self.q, self.scale, rows)


def _with_encodings(net: Net, codes) -> Net:
    layers = [
        Dense(LayerCode.of(c, d.weight).weight(d.weight), d.bias.astype(np.float32), d.activation)
        for d, c in zip(net.layers, codes, strict=True)
    ]
    return Net(layers, net.transform, net.keep, net.clamp)


def layer_inputs(net: Net, x: np.ndarray) -> list[np.ndarray]:
    """The input of every layer of ``net`` (float weights) for network inputs ``x``."""
    h = np.asarray(x, dtype=np.float64)
    out = []
    for d in net.layers:
        out.append(h)
        h = _act(d.activation, h @ d.weight.astype(np.float64).T + d.bias.astype(np.float64))
    return out


@dataclass
class Export:
    """A packed network: ``header`` (JSON, with descriptors into ``blob``) and what it costs.

    ``max_error``: the largest |page - PyTorch| over the inputs the encodings were chosen on;
    ``check_error``: the same over other inputs of the same kind (None if none were given).
    """

    header: dict
    encodings: list[str]
    bytes: int
    max_error: float | None = None
    check_error: float | None = None
    codes: list[LayerCode] = field(default_factory=list, repr=False)


def pack_net(net: Net, codes, blob: Blob) -> Export:
    """Append the layers of ``net`` to ``blob``, each as its LayerCode (or encoding name)."""
    codes = list(codes)
    if len(codes) != len(net.layers):
        raise ValueError(f"need one encoding per layer ({len(net.layers)}), got {len(codes)}")
    codes = [LayerCode.of(c, d.weight) for c, d in zip(codes, net.layers, strict=True)]
    start = len(blob.getvalue())
    layers = []
    for d, code in zip(net.layers, codes, strict=True):
        out_dim, in_dim = d.weight.shape
        entry = {"in": in_dim, "out": out_dim, "act": d.activation, "enc": code.enc}
        if code.enc == "int8":
            entry["w"], entry["scale"] = blob.add(code.q, "i8"), blob.add(code.scale, "f32")
            if len(code.rows16):
                entry["rows"] = blob.add(code.rows16, "u16")
                entry["rows_w"] = blob.add(d.weight[code.rows16], "f16")
        else:
            entry["w"] = blob.add(d.weight, "f16" if code.enc == "float16" else "f32")
        entry["b"] = blob.add(d.bias, "f32")
        layers.append(entry)
    header = {"layers": layers, "transform": net.transform, "keep": net.keep, "clamp": net.clamp}
    return Export(header, [c.label for c in codes], len(blob.getvalue()) - start, codes=codes)


def unpack_net(header: dict, data: bytes) -> Net:
    """The Net the page builds from ``header`` and the packed bytes (the round trip)."""
    layers = []
    for entry in header["layers"]:
        shape = (entry["out"], entry["in"])
        if entry["enc"] == "int8":
            q = Blob.read(data, entry["w"]).reshape(shape)
            weight = dequantize_int8(q, Blob.read(data, entry["scale"]))
            if "rows" in entry:
                rows = Blob.read(data, entry["rows"]).astype(np.int64)
                weight[rows] = (
                    Blob.read(data, entry["rows_w"]).astype(np.float32).reshape(-1, shape[1])
                )
        else:
            weight = Blob.read(data, entry["w"]).astype(np.float32).reshape(shape)
        layers.append(Dense(weight, Blob.read(data, entry["b"]), entry["act"]))
    return Net(layers, header["transform"], header["keep"], header["clamp"])


def choose_encodings(
    net: Net, inputs: np.ndarray, reference: np.ndarray, tolerance: float = EXPORT_TOLERANCE
) -> tuple[list[LayerCode], float]:
    """The smallest encodings whose page output stays within ``tolerance`` of ``reference``.

    Every layer starts as 8-bit codes rounded by GPTQ on its inputs for ``inputs``. While the
    largest error is above the tolerance, the cheapest step that lowers it most per byte is
    taken: a layer to float16, or the output units (rows of the last layer) whose error
    exceeds 70% of the tolerance kept in float16. float32 for every layer is the last resort.
    Returns (one LayerCode per layer, the largest error).
    """
    xs = layer_inputs(net, inputs)
    codes = [
        LayerCode("int8", *quantize_int8_gptq(d.weight, x))
        for d, x in zip(net.layers, xs, strict=True)
    ]
    weights = [d.weight for d in net.layers]

    def errors(cs):
        diff = np.abs(run_net(_with_encodings(net, cs), inputs) - reference)
        return float(diff.max()), diff.max(axis=0)

    def cost(cs):
        return sum(c.nbytes(w) for c, w in zip(cs, weights, strict=True))

    err, per_unit = errors(codes)
    while err > tolerance:
        options = [codes[:i] + [LayerCode("float16")] + codes[i + 1 :]
                   for i, c in enumerate(codes) if c.enc == "int8"]  # fmt: skip
        last = codes[-1]
        if last.enc == "int8":
            rows = np.flatnonzero(per_unit > 0.7 * tolerance)
            if len(np.setdiff1d(rows, last.rows16)):
                options.append(codes[:-1] + [last.with_rows(rows)])
        if not options:
            break
        base = cost(codes)
        scored = []
        for option in options:
            e, pu = errors(option)
            gain = (err - e) / max(cost(option) - base, 1)
            scored.append((-gain if e < err else float("inf"), e, id(option), option, pu))
        _, err, _, codes, per_unit = min(scored)
    if err > tolerance:
        codes = [LayerCode("float32") for _ in net.layers]
        err, _ = errors(codes)
    if err > tolerance:
        raise UnsupportedModel(
            f"the page's arithmetic differs from PyTorch by {err:.3g} even in float32 "
            f"(tolerance {tolerance}): the exporter does not reproduce this model"
        )
    return codes, err


def export_net(
    net: Net,
    blob: Blob,
    inputs: np.ndarray,
    reference: np.ndarray,
    encoding: str = "auto",
    tolerance: float = EXPORT_TOLERANCE,
    check: tuple[np.ndarray, np.ndarray] | None = None,
) -> Export:
    """Pack ``net`` into ``blob``; ``encoding`` "auto" (see ``choose_encodings``) or one of
    ENCODINGS for every layer. ``reference`` is PyTorch's output for ``inputs``; the largest
    difference of the page's arithmetic from it is recorded as ``max_error``, and over
    ``check`` = (other inputs, PyTorch's output for them) as ``check_error``."""
    if encoding == "auto":
        codes, _ = choose_encodings(net, inputs, reference, tolerance)
    elif encoding in ENCODINGS:
        codes = [encoding] * len(net.layers)
    else:
        raise ValueError(f"encoding must be 'auto' or one of {ENCODINGS}, got {encoding!r}")
    packed = pack_net(net, codes, blob)
    page_net = unpack_net(packed.header, blob.getvalue())
    packed.max_error = float(np.abs(run_net(page_net, inputs) - reference).max())
    if check is not None:
        packed.check_error = float(np.abs(run_net(page_net, check[0]) - check[1]).max())
    return packed


# --- helpers shared by the explorers ------------------------------------------------------------


def _fmt(v: float) -> str:
    """Two decimals, as the page writes them (JavaScript's toFixed(2)); never '-0.00'."""
    text = f"{float(v) + 0.0:.2f}"
    return "0.00" if text == "-0.00" else text


def _snap(v: float) -> float:
    """``v`` on the page's grid of values, k / 100 (its sliders and its pointer snap to it)."""
    return round(float(v) * 100) / 100


def _f16_b64(images: np.ndarray) -> str:
    return base64.b64encode(np.asarray(images, np.float32).astype("<f2").tobytes()).decode()


def _decode(model: nn.Module, z) -> np.ndarray:
    """PyTorch's images (B, 784) for codes z, float64 numpy."""
    z = torch.as_tensor(np.asarray(z, dtype=np.float32))
    return decode_images(model, z).numpy().astype(np.float64)


def _encode(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    return encode_mean(model, x.float()).cpu().numpy().astype(np.float64)


def _page_images(x: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
    """Images as the page holds them (8-bit grey levels): (uint8 (B, 784), the same as floats)."""
    u8 = np.rint(x.detach().float().cpu().numpy().clip(0, 1) * 255).astype(np.uint8)
    return u8, torch.from_numpy(u8.astype(np.float32) / 255.0)


def mulberry32(seed: int):
    """The page's random numbers: mulberry32, uniform in [0, 1), bit for bit as in JavaScript."""
    state = seed & 0xFFFFFFFF

    def imul(a, b):
        return (a * b) & 0xFFFFFFFF

    def next_uniform() -> float:
        nonlocal state
        state = (state + 0x6D2B79F5) & 0xFFFFFFFF
        t = imul(state ^ (state >> 15), 1 | state)
        t = ((t + imul(t ^ (t >> 7), 61 | t)) & 0xFFFFFFFF) ^ t
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296.0

    return next_uniform


def prior_draws(seed: int, n: int, d: int) -> np.ndarray:
    """z ~ N(0, I), (n, d), by Box-Muller on mulberry32(seed): the page draws the same."""
    u = mulberry32(seed)
    out = np.empty(n * d)
    for i in range(n * d):
        u1, u2 = u(), u()
        out[i] = math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
    return out.reshape(n, d)


def slerp(z_a: np.ndarray, z_b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation: the arc from z_a to z_b (the straight line if they are parallel)."""
    z_a, z_b = np.asarray(z_a, np.float64), np.asarray(z_b, np.float64)
    na, nb = np.linalg.norm(z_a), np.linalg.norm(z_b)
    cos = float(np.clip(z_a @ z_b / (na * nb), -1.0, 1.0)) if na > 0 and nb > 0 else 1.0
    omega = math.acos(cos)
    if math.sin(omega) < 1e-6:
        return (1 - t) * z_a + t * z_b
    return (math.sin((1 - t) * omega) * z_a + math.sin(t * omega) * z_b) / math.sin(omega)


def interpolate_codes(z_a, z_b, t: float, path: str) -> np.ndarray:
    """z(t) on the straight line ("linear") or the arc ("spherical") from z_a to z_b."""
    z_a, z_b = np.asarray(z_a, np.float64), np.asarray(z_b, np.float64)
    if path == "spherical":
        return slerp(z_a, z_b, t)
    return (1 - t) * z_a + t * z_b


def _png(canvas: np.ndarray, zoom: int) -> bytes:
    from matplotlib.image import imsave

    big = np.kron(np.clip(canvas, 0.0, 1.0), np.ones((zoom, zoom)))
    buf = io.BytesIO()
    imsave(buf, big, cmap="gray_r", vmin=0.0, vmax=1.0, format="png")
    return buf.getvalue()


# --- the widget ----------------------------------------------------------------------------------


class Explorer(anywidget.AnyWidget):
    """Base of the explorers: front-end, packed data, probes, and the kernel-side images.

    Traits synced with the page: ``kind`` (which explorer), ``spec`` (JSON: sizes, labels,
    descriptors into ``blob``), ``blob`` (the packed weights and data), ``probes``, and the
    state traits of each explorer. Python attributes: ``arrays`` and ``caption`` (what PyTorch
    computes for the current state), ``exports`` (name -> Export), ``model_bytes``.
    """

    _esm = STATIC / "explorers.js"
    _css = STATIC / "explorers.css"
    kind = traitlets.Unicode("").tag(sync=True)
    spec = traitlets.Dict().tag(sync=True)
    blob = traitlets.Bytes(b"").tag(sync=True)
    probes = traitlets.List().tag(sync=True)

    _state_traits: tuple[str, ...] = ()
    _fixed_images: tuple[str, ...] = ()  # images no input changes (probes leave them out)
    _zoom = 3

    def __init__(self, exports: dict[str, Export] | None = None, **kwargs):
        self.arrays: dict[str, np.ndarray] = {}
        self.caption = ""
        self.exports: dict[str, Export] = dict(exports or {})
        super().__init__(**kwargs)
        self.observe(self._recompute, names=list(self._state_traits))
        self._recompute()

    def _recompute(self, _change=None) -> None:
        self.arrays, self.caption = self._compute(self.state())

    def state(self) -> dict:
        """The state traits now: {name: value}."""
        return {name: getattr(self, name) for name in self._state_traits}

    def _compute(self, state: dict) -> tuple[dict[str, np.ndarray], str]:
        raise NotImplementedError

    @property
    def model_bytes(self) -> int:
        """Bytes of packed weights this explorer ships (the page budget counts these)."""
        return int(self.spec.get("model_bytes", 0))

    @property
    def data_bytes(self) -> int:
        """All the bytes it ships: weights plus codes, images and noise patterns."""
        return len(self.blob)

    def _repr_mimebundle_(self, **kwargs):
        """The live widget, with a PNG of the current state for outputs that cannot run it
        (PDF, plain nbconvert): the static twin of this very state."""
        bundle = super()._repr_mimebundle_(**kwargs)
        data, meta = bundle if isinstance(bundle, tuple) else (bundle, {})
        if data is not None and self.arrays:
            rows = list(self.arrays.values())
            width = max(r.shape[1] for r in rows)
            gap = np.zeros((4, width))
            stacked = np.vstack(
                [p for r in rows for p in (np.pad(r, ((0, 0), (0, width - r.shape[1]))), gap)][:-1]
            )
            data = {**data, "image/png": _png(stacked, 2)}
        return (data, meta) if isinstance(bundle, tuple) else data

    def _probe(self, name: str, steps: list[dict], state: dict) -> dict:
        """A probe: replay ``steps`` in the page, then expect what PyTorch draws in ``state``."""
        arrays = self._images(state)
        return {
            "name": name,
            "steps": steps,
            "expect": [
                {"image": key, "label": label, "n": len(images), "pixels": _f16_b64(images)}
                for key, (label, images) in arrays.items()
                if key not in self._fixed_images
            ],
        }

    def _images(self, state: dict) -> dict[str, tuple[str, np.ndarray]]:
        """{image name in the page: (its alt text, images (n, 784))} for ``state``."""
        raise NotImplementedError


def _strip_rows(images: dict[str, tuple[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {key: strip(imgs) for key, (_label, imgs) in images.items()}


# --- latent_explorer -----------------------------------------------------------------------------


class LatentExplorer(Explorer):
    """The 2-D latent plane of a VAE: a point to drag (or two sliders), the decoded image."""

    z = traitlets.List(traitlets.Float(), [0.0, 0.0], minlen=2, maxlen=2).tag(sync=True)
    _state_traits = ("z",)

    def __init__(self, vae, *, codes, labels, z_range, step, zoom, encoding, grid: int = 41):
        self._vae, self._zoom = vae, zoom
        blob = Blob()
        # the codes the page can show: the plane (a grid, and the test codes on it) ...
        ticks = np.linspace(-z_range, z_range, grid)
        calib = np.stack(np.meshgrid(ticks, ticks), -1).reshape(-1, 2)
        if codes is not None:
            calib = np.concatenate([calib, codes])
        # ... and, to check the choice, other points of it
        other = np.random.default_rng(1).uniform(-z_range, z_range, size=(1000, 2))
        export = export_net(decoder_net(vae), blob, calib, _decode(vae, calib), encoding,
                            check=(other, _decode(vae, other)))  # fmt: skip
        spec = {
            "range": z_range,
            "step": step,
            "zoom": zoom,
            "decoder": export.header,
            "model_bytes": export.bytes,
            "encoding": export.encodings,
            "max_error": export.max_error,
            "check_error": export.check_error,
        }
        if codes is not None:
            spec["codes"] = blob.add(codes, "f16")
            spec["labels"] = blob.add(labels, "u8") if labels is not None else None
        super().__init__(
            exports={"decoder": export}, kind="latent", spec=spec, blob=blob.getvalue()
        )
        r = z_range
        a, b = _snap(10 * step), _snap(-20 * step)
        c = (_snap(-0.5 * r), _snap(0.6 * r))
        self.probes = [
            self._probe("z1 and z2 by the arrow keys",
                        [{"on": "z1", "key": "ArrowRight", "times": 10},
                         {"on": "z2", "key": "ArrowLeft", "times": 20}], {"z": [a, b]}),
            self._probe("a click on the latent plane",
                        [{"click": "plane", "at": [(c[0] + r) / (2 * r), (r - c[1]) / (2 * r)]}],
                        {"z": list(c)}),
            self._probe("a drag across the latent plane",
                        [{"drag": "plane", "path": [[0.5, 0.5], [0.6, 0.45], [0.75, 0.3]]}],
                        {"z": [_snap(0.5 * r), _snap(0.4 * r)]}),
        ]  # fmt: skip

    def _images(self, state):
        z1, z2 = (float(v) for v in state["z"])
        return {
            "decoded": (
                f"decoded digit at z = ({_fmt(z1)}, {_fmt(z2)})",
                _decode(self._vae, [[z1, z2]]),
            )
        }

    def _compute(self, state):
        images = self._images(state)
        return _strip_rows(images), images["decoded"][0]


def latent_explorer(
    vae: nn.Module,
    x: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    z_range: float = 3.0,
    step: float = 0.05,
    zoom: int = 6,
    n_points: int = 2000,
    encoding: str = "auto",
) -> LatentExplorer:
    """Drag a point over the 2-D latent plane of ``vae``; the page decodes it as it moves.

    ``x`` (N, 784) and ``labels`` (N,): test images whose codes (posterior means) are drawn
    beneath, coloured by digit (the first ``n_points``). Two sliders (z1, z2) do the same from
    the keyboard: arrow keys move by ``step``, Page Up/Down by ten steps. State: ``z``.

    Used in: notebooks/05_vae_latent_space.ipynb. Static twin: ``figures.latent_grid_figure``.
    """
    if getattr(vae, "latent_dim", None) != 2:
        raise ValueError(
            f"needs a model with a 2-D latent space (latent_dim=2), got "
            f"latent_dim={getattr(vae, 'latent_dim', None)!r}"
        )
    if not (isinstance(z_range, (int, float)) and z_range > 0):
        raise ValueError(f"z_range must be a positive number, got {z_range!r}")
    codes = lab = None
    if x is not None:
        x = check_images(x)[:n_points]
        codes = _encode(vae, x)
        if labels is not None:
            lab = np.asarray(torch.as_tensor(labels)[: len(x)].cpu(), dtype=np.int64)
            if lab.shape != (len(x),) or lab.min() < 0 or lab.max() > 9:
                raise ValueError("labels must hold one digit 0-9 per image of x")
    return LatentExplorer(
        vae, codes=codes, labels=lab, z_range=float(z_range), step=float(step), zoom=zoom,
        encoding=encoding,
    )  # fmt: skip


# --- interpolation_explorer ----------------------------------------------------------------------


class InterpolationExplorer(Explorer):
    """Two test images from a gallery, the path between their codes, for one or more models."""

    a = traitlets.Int(0).tag(sync=True)
    b = traitlets.Int(1).tag(sync=True)
    t = traitlets.Float(0.5).tag(sync=True)
    path = traitlets.Unicode("linear").tag(sync=True)
    _state_traits = ("a", "b", "t", "path")

    def __init__(self, models, x, gallery, *, state, steps, zoom, encoding, calibrate: int = 2000):
        self._models, self._steps, self._zoom = models, steps, zoom
        self._gallery = list(gallery)
        blob = Blob()
        u8, _ = _page_images(x[self._gallery])
        spec = {"gallery": self._gallery, "images": blob.add(u8, "u8"), "steps": steps,
                "zoom": zoom, "models": [], "model_bytes": 0}  # fmt: skip
        self._codes, exports = {}, {}
        rng = np.random.default_rng(0)
        for label, model in models.items():
            codes = _encode(model, x[self._gallery])  # (G, d)
            self._codes[label] = codes

            def paths(c, k):  # k codes on both paths between random pairs of the codes c
                i, j = rng.integers(0, len(c), size=(2, k))
                t = rng.uniform(0, 1, size=(k, 1))
                half = k // 2
                arcs = [
                    slerp(c[a], c[b], float(u[0]))
                    for a, b, u in zip(i[half:], j[half:], t[half:], strict=True)
                ]
                return np.concatenate([(1 - t[:half]) * c[i[:half]] + t[:half] * c[j[:half]], arcs])

            # calibrated on the codes of test images and on paths between the gallery's codes
            # and theirs; checked on other test images and other paths
            data = _encode(model, x[: 2 * calibrate])
            calib = np.concatenate(
                [data[:calibrate], paths(codes, 400), paths(data[:calibrate], 400)]
            )
            other = np.concatenate([data[calibrate:], paths(codes, 400)])
            export = export_net(decoder_net(model), blob, calib, _decode(model, calib), encoding,
                                check=(other, _decode(model, other)))  # fmt: skip
            exports[label] = export
            spec["models"].append({"label": label, "decoder": export.header,
                                   "codes": blob.add(codes, "f32"), "dim": int(codes.shape[1]),
                                   "encoding": export.encodings, "max_error": export.max_error,
                                   "check_error": export.check_error})  # fmt: skip
            spec["model_bytes"] += export.bytes
        super().__init__(
            exports=exports, kind="interpolation", spec=spec, blob=blob.getvalue(), **state
        )
        g = self._gallery
        other = next(i for i in g if i not in (state["a"], state["b"]))
        s = dict(state)
        s1 = {**s, "t": _snap(s["t"] + 4 * 0.05)}
        s2 = {**s1, "path": "spherical"}
        s3 = {**s2, "a": other}
        self.probes = [
            self._probe("t by the arrow keys", [{"on": "t", "key": "ArrowRight", "times": 4}], s1),
            self._probe("the spherical path by a click", [{"click": "path-spherical"}], s2),
            self._probe("image A from the gallery by a click", [{"click": f"a-{other}"}], s3),
        ]

    def _images(self, state):
        g = self._gallery
        ia, ib = g.index(state["a"]), g.index(state["b"])
        t, path = float(state["t"]), state["path"]
        out = {}
        for k, (label, model) in enumerate(self._models.items()):
            codes = self._codes[label]
            z = interpolate_codes(codes[ia], codes[ib], t, path)
            ts = np.linspace(0, 1, self._steps)
            along = np.array([interpolate_codes(codes[ia], codes[ib], s, path) for s in ts])
            kind = "arc" if path == "spherical" else "straight line"
            out[f"now-{k}"] = (
                f"{label}: decoded z(t) at t = {_fmt(t)} on the {kind} from test image "
                f"{state['a']} to test image {state['b']}",
                _decode(model, z[None]),
            )
            out[f"path-{k}"] = (
                f"{label}: {self._steps} decoded codes along the {kind}, t = 0 to 1",
                _decode(model, along),
            )
        return out

    def _compute(self, state):
        images = self._images(state)
        kind = "spherical path" if state["path"] == "spherical" else "straight line"
        return _strip_rows(images), (
            f"test images {state['a']} and {state['b']}; t = {_fmt(state['t'])} on the {kind}"
        )

    @traitlets.validate("a", "b")
    def _valid_index(self, proposal):
        if proposal["value"] not in self._gallery:
            raise traitlets.TraitError(
                f"{proposal['trait'].name} must be one of the gallery's test images {self._gallery}"
            )
        return proposal["value"]

    @traitlets.validate("path")
    def _valid_path(self, proposal):
        if proposal["value"] not in ("linear", "spherical"):
            raise traitlets.TraitError("path must be 'linear' or 'spherical'")
        return proposal["value"]

    @traitlets.validate("t")
    def _valid_t(self, proposal):
        if not 0.0 <= proposal["value"] <= 1.0:
            raise traitlets.TraitError("t must lie in [0, 1]")
        return proposal["value"]


def interpolation_explorer(
    model: nn.Module | Mapping[str, nn.Module],
    x: torch.Tensor,
    index_a: int = 0,
    index_b: int = 1,
    steps: int = 9,
    zoom: int = 3,
    gallery: int | list[int] = 12,
    t: float = 0.5,
    path: str = "linear",
    encoding: str = "auto",
) -> InterpolationExplorer:
    """Choose two test images (a gallery), slide t between their codes, linear or spherical.

    ``model``: one model, or {label: model} to show several side by side (the AE of chapter
    03 and the VAE of chapter 04: one path stays on digits, the other does not). ``gallery``:
    the number of test images to choose from (the first ones, with index_a and index_b), or
    their indices. Each model's row: image A, z(t) decoded, image B, and the whole path in
    ``steps`` images. State: ``a``, ``b`` (test-image indices), ``t``, ``path``.

    Used in: notebooks/03_why_random_z_fails.ipynb (AE) and 05_vae_latent_space.ipynb (AE and
    VAE). Static twin: ``figures.interpolation_figure``.
    """
    x = check_images(x)
    n = len(x)
    check_index(index_a, n, "index_a")
    check_index(index_b, n, "index_b")
    if index_a == index_b:
        raise ValueError(f"index_a and index_b must differ, got {index_a} twice")
    models = dict(model) if isinstance(model, Mapping) else {type(model).__name__: model}
    if not models:
        raise ValueError("model must be a model or a non-empty {label: model} dict")
    if isinstance(gallery, int):
        first = [i for i in range(min(n, gallery)) if i not in (index_a, index_b)]
        indices = sorted({index_a, index_b, *first[: max(gallery - 2, 1)]})
    else:
        indices = sorted(
            {int(check_index(i, n, "gallery index")) for i in gallery} | {index_a, index_b}
        )
    if len(indices) < 3:
        raise ValueError("the gallery needs at least 3 test images")
    if path not in ("linear", "spherical"):
        raise ValueError(f"path must be 'linear' or 'spherical', got {path!r}")
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    state = {"a": index_a, "b": index_b, "t": _snap(t), "path": path}
    return InterpolationExplorer(
        models, x, indices, state=state, steps=steps, zoom=zoom, encoding=encoding
    )


# --- denoising_explorer --------------------------------------------------------------------------


NOISE_TYPES = {"gaussian": "Gaussian noise", "mask": "masking"}


class DenoisingExplorer(Explorer):
    """Noise level and type against a denoising autoencoder, encoder and decoder in the page."""

    noise = traitlets.Float(0.3).tag(sync=True)
    noise_type = traitlets.Unicode("gaussian").tag(sync=True)
    _state_traits = ("noise", "noise_type")
    _fixed_images = ("clean",)

    def __init__(self, model, x, *, n, state, max_std, seed, zoom, encoding, calibrate: int = 500):
        self._model, self._zoom, self._max = model, zoom, max_std
        more = x[n : n + 2 * calibrate]
        x = x[:n]
        u8, self._x = _page_images(x)
        gen = torch.Generator().manual_seed(seed)
        eps = torch.randn(self._x.shape, generator=gen).numpy().astype(np.float16)
        uni = torch.rand(self._x.shape, generator=gen).numpy().astype(np.float16)
        self._eps, self._uni = eps.astype(np.float32), uni.astype(np.float32)
        blob = Blob()
        spec = {"n": len(u8), "images": blob.add(u8, "u8"), "eps": blob.add(eps, "f16"),
                "uniform": blob.add(uni, "f16"), "max": max_std, "zoom": zoom, "seed": seed}  # fmt: skip
        # calibrated on these images and on other test images (if given) at random levels of
        # both corruptions; checked on these images at levels between the calibration's
        levels = np.linspace(0, max_std, 6)
        shown = [self._corrupt(lv, kind) for lv in levels for kind in NOISE_TYPES]
        calib = np.concatenate([*shown, *self._random_corruptions(more[:calibrate], 1)])
        between = levels[:-1] + (levels[1] - levels[0]) / 2
        other = np.concatenate(
            [self._corrupt(lv, kind) for lv in between for kind in NOISE_TYPES]
            + self._random_corruptions(more[calibrate:], 2)
        )
        net = chain(encoder_net(model), decoder_net(model))

        def pytorch(inputs):
            return _decode(model, _encode(model, torch.from_numpy(inputs.astype(np.float32))))

        export = export_net(
            net, blob, calib, pytorch(calib), encoding, check=(other, pytorch(other))
        )
        spec.update(net=export.header, model_bytes=export.bytes, encoding=export.encodings,
                    max_error=export.max_error, check_error=export.check_error)  # fmt: skip
        super().__init__(
            exports={"autoencoder": export},
            kind="denoising",
            spec=spec,
            blob=blob.getvalue(),
            **state,
        )
        up = _snap(min(state["noise"] + 5 * 0.05, max_std))
        other = "mask" if state["noise_type"] == "gaussian" else "gaussian"
        self.probes = [
            self._probe("the noise level by the arrow keys",
                        [{"on": "noise", "key": "ArrowRight", "times": 5}],
                        {"noise": up, "noise_type": state["noise_type"]}),
            self._probe("the noise type by a click", [{"click": f"type-{other}"}],
                        {"noise": up, "noise_type": other}),
        ]  # fmt: skip

    def _random_corruptions(self, x: torch.Tensor, seed: int) -> list[np.ndarray]:
        """Images x with Gaussian noise or masking at random levels (for calibration)."""
        if len(x) == 0:
            return []
        _, xf = _page_images(x)
        xf = xf.numpy().astype(np.float64)
        rng = np.random.default_rng(seed)
        level = rng.uniform(0, self._max, size=(len(xf), 1))
        noisy = np.clip(xf + level * rng.standard_normal(xf.shape), 0, 1)
        masked = xf * (rng.uniform(size=xf.shape) >= np.minimum(level, 1.0))
        return [np.where(rng.uniform(size=(len(xf), 1)) < 0.5, noisy, masked)]

    def _corrupt(self, level: float, kind: str) -> np.ndarray:
        x = self._x.numpy().astype(np.float64)
        if kind == "mask":
            return x * (self._uni >= level)
        return np.clip(x + level * self._eps, 0.0, 1.0)

    def _images(self, state):
        level, kind = float(state["noise"]), state["noise_type"]
        noisy = self._corrupt(level, kind)
        recon = _decode(
            self._model, _encode(self._model, torch.from_numpy(noisy.astype(np.float32)))
        )
        what = (
            f"noise sd {_fmt(level)}" if kind == "gaussian" else f"{_fmt(level)} of pixels masked"
        )
        n = len(noisy)
        return {
            "clean": (f"{n} clean test images", self._x.numpy().astype(np.float64)),
            "noisy": (f"the {n} images with {NOISE_TYPES[kind]}, {what}", noisy),
            "recon": (f"the denoising autoencoder's reconstructions ({NOISE_TYPES[kind]}, {what})", recon),
        }  # fmt: skip

    def _compute(self, state):
        images = self._images(state)
        x = images["clean"][1]
        err_noisy = float(((images["noisy"][1] - x) ** 2).sum(1).mean())
        err_recon = float(((images["recon"][1] - x) ** 2).sum(1).mean())
        return _strip_rows(images), (
            f"{images['noisy'][0]}: squared error of the corrupted input {err_noisy:.1f}, "
            f"of the reconstruction {err_recon:.1f}"
        )

    @traitlets.validate("noise_type")
    def _valid_type(self, proposal):
        if proposal["value"] not in NOISE_TYPES:
            raise traitlets.TraitError(f"noise_type must be one of {list(NOISE_TYPES)}")
        return proposal["value"]

    @traitlets.validate("noise")
    def _valid_noise(self, proposal):
        limit = self._max if self.noise_type == "gaussian" else 1.0
        if not 0.0 <= proposal["value"] <= max(limit, 1.0):
            raise traitlets.TraitError(f"noise must lie in [0, {limit}]")
        return proposal["value"]


def denoising_explorer(
    model: nn.Module,
    x: torch.Tensor,
    n: int = 6,
    noise_std: float = 0.3,
    max_std: float = 1.0,
    seed: int = 0,
    zoom: int = 3,
    noise_type: str = "gaussian",
    encoding: str = "auto",
) -> DenoisingExplorer:
    """A noise level and a noise type (Gaussian noise of sd nu, or masking of a fraction of the
    pixels) against the reconstructions of a denoising autoencoder; the page runs its encoder
    and decoder. The noise pattern is fixed (``seed``): only its level changes.

    Used in: notebooks/02_what_autoencoders_are_good_for.ipynb. Static twin:
    ``figures.denoising_figure``.
    """
    x = check_images(x)
    n = min(n, len(x))
    if noise_type not in NOISE_TYPES:
        raise ValueError(f"noise_type must be one of {list(NOISE_TYPES)}, got {noise_type!r}")
    if not 0 < max_std <= 2:
        raise ValueError(f"max_std must lie in (0, 2], got {max_std!r}")
    state = {"noise": _snap(noise_std), "noise_type": noise_type}
    return DenoisingExplorer(
        model, x, n=n, state=state, max_std=float(max_std), seed=seed, zoom=zoom, encoding=encoding
    )


# --- beta_explorer -------------------------------------------------------------------------------


class BetaExplorer(Explorer):
    """Pick beta; samples (the same z for every beta) and reconstructions of that model."""

    beta = traitlets.Float().tag(sync=True)
    sample_seed = traitlets.Int(0).tag(sync=True)
    _state_traits = ("beta", "sample_seed")
    _fixed_images = ("test",)

    def __init__(self, models, x, *, n, seed, zoom, decoders, encoding, budget, calibrate=1000):
        from .objectives import gaussian_kl, log_likelihood

        self._models, self._n, self._zoom = models, n, zoom
        more = x[n : n + calibrate]  # other test images: their codes calibrate the export
        x = x[:n]
        betas = sorted(models)
        dims = {models[b].latent_dim for b in betas}
        if len(dims) != 1:
            raise ValueError(f"the models must share one latent size, got {sorted(dims)}")
        self._d = dims.pop()
        u8, self._x = _page_images(x)
        self._mu, stats = {}, {}
        for b in betas:
            m = models[b]
            with torch.no_grad():
                xd = x.to(next(m.parameters()).device).float()
                mu, logvar = m.encode(xd)
                kl = gaussian_kl(mu, logvar).mean().item()
                nll = -log_likelihood(m.likelihood, xd, m.decode(mu)).mean().item()
            self._mu[b] = mu.cpu().numpy().astype(np.float64)
            stats[b] = {"kl": kl, "nll": nll}
        self._stats = stats
        blob = Blob()
        spec = {"betas": betas, "n": n, "dim": self._d, "zoom": zoom, "seed": seed,
                "images": blob.add(u8, "u8"), "models": [], "model_bytes": 0}  # fmt: skip
        if decoders not in ("auto", "ship", "images"):
            raise ValueError(f"decoders must be 'auto', 'ship' or 'images', got {decoders!r}")
        shipped = decoders != "images"
        packed, exports = [], {}
        self.fallback_reason = None
        if shipped:
            try:
                trial = Blob()
                for b in betas:
                    m = models[b]
                    z = np.concatenate([prior_draws(s, n, self._d) for s in range(seed, seed + 40)])
                    calib = np.concatenate([z, self._mu[b], _encode(m, more)])
                    other = np.concatenate(
                        [prior_draws(s, n, self._d) for s in range(seed + 40, seed + 60)]
                    )
                    packed.append(export_net(decoder_net(m), trial, calib, _decode(m, calib), encoding,
                                             check=(other, _decode(m, other))))  # fmt: skip
                total = sum(p.bytes for p in packed)
                if total > budget:
                    raise UnsupportedModel(
                        f"the {len(betas)} decoders take {total / 1e6:.2f} MB, more than the "
                        f"{budget / 1e6:.2f} MB budget"
                    )
            except UnsupportedModel as err:
                if decoders == "ship":
                    raise
                shipped, self.fallback_reason = False, str(err)
        self.shipped = shipped
        for k, b in enumerate(betas):
            entry = {"beta": b, "label": f"{b:g}", **stats[b],
                     "mu": blob.add(self._mu[b], "f32")}  # fmt: skip
            if shipped:
                exp = packed[k]  # packed into a trial blob: pack the same encodings for real
                entry["decoder"] = pack_net(decoder_net(models[b]), exp.codes, blob).header
                entry["encoding"], entry["max_error"] = exp.encodings, exp.max_error
                entry["check_error"] = exp.check_error
                spec["model_bytes"] += exp.bytes
                exports[f"{b:g}"] = exp
            else:
                samples = _decode(models[b], prior_draws(seed, n, self._d))
                recon = _decode(models[b], self._mu[b])
                entry["samples"] = blob.add(np.rint(samples * 255), "u8")
                entry["recon"] = blob.add(np.rint(recon * 255), "u8")
            spec["models"].append(entry)
        spec["shipped"] = shipped
        super().__init__(
            exports=exports,
            kind="beta",
            spec=spec,
            blob=blob.getvalue(),
            beta=betas[0],
            sample_seed=seed,
        )
        probes, seed_now = [], seed
        if len(betas) > 1:
            probes += [
                self._probe("beta by the arrow keys", [{"on": "beta", "key": "ArrowRight"}],
                            {"beta": betas[1], "sample_seed": seed}),
                self._probe("beta by a click", [{"click": "beta-0"}],
                            {"beta": betas[0], "sample_seed": seed}),
            ]  # fmt: skip
        if shipped:
            probes.append(
                self._probe("new samples by the button", [{"click": "resample"}],
                            {"beta": betas[0], "sample_seed": seed_now + 1})
            )  # fmt: skip
        self.probes = probes

    def _images(self, state):
        b, s = float(state["beta"]), int(state["sample_seed"])
        model = self._models[b]
        if self.shipped:
            samples = _decode(model, prior_draws(s, self._n, self._d))
        else:  # the page shows 8-bit images
            samples = np.rint(_decode(model, prior_draws(s, self._n, self._d)) * 255) / 255
        recon = _decode(model, self._mu[b])
        if not self.shipped:
            recon = np.rint(recon * 255) / 255
        return {
            "samples": (f"beta = {b:g}: {self._n} images decoded from prior draws z ~ N(0, I), "
                        f"draw {s}", samples),
            "test": (f"{self._n} test images", self._x.numpy().astype(np.float64)),
            "recon": (f"beta = {b:g}: reconstructions of the {self._n} test images at z = mu", recon),
        }  # fmt: skip

    def _compute(self, state):
        b = float(state["beta"])
        st = self._stats[b]
        return _strip_rows(self._images(state)), (
            f"β = {b:g}: rate (KL) {st['kl']:.1f} nats, distortion {st['nll']:.1f} nats "
            f"(mean over these {self._n} test images)"
        )

    @traitlets.validate("beta")
    def _valid_beta(self, proposal):
        if proposal["value"] not in self._models:
            raise traitlets.TraitError(f"beta must be one of {sorted(self._models)}")
        return proposal["value"]


def beta_explorer(
    models: Mapping[float, nn.Module],
    x: torch.Tensor,
    n: int = 8,
    seed: int = 0,
    zoom: int = 3,
    decoders: str = "auto",
    encoding: str = "auto",
    budget: int = PAGE_BUDGET,
) -> BetaExplorer:
    """Pick beta (radio buttons) and see prior samples (the same z for every beta) and the
    reconstructions of n test images at z = mu, with that model's rate and distortion.

    ``decoders``: "ship" puts every decoder in the page (it decodes the samples and
    reconstructions, and a button draws new prior samples); "images" ships precomputed images
    instead; "auto" ships the decoders unless they cannot be exported or together exceed
    ``budget`` bytes (then ``fallback_reason`` says why). State: ``beta``, ``sample_seed``.

    Used in: notebooks/09_beyond_the_vanilla_vae.ipynb. Static twin: ``figures.beta_figure``.
    """
    if not isinstance(models, Mapping) or not models:
        raise ValueError("models must be a non-empty dict {beta: trained VAE}")
    x = check_images(x)
    n = min(n, len(x))
    return BetaExplorer(
        dict(models), x, n=n, seed=seed, zoom=zoom, decoders=decoders, encoding=encoding,
        budget=budget,
    )  # fmt: skip


# --- a page of its own ---------------------------------------------------------------------------


def page_html(widgets, vendor: str = "vendor", title: str = "Explorers") -> str:
    """A standalone HTML page that draws ``widgets`` (explorers or any ipywidgets) offline.

    ``vendor``: the folder (relative to the page, or a URL) that holds what
    tools/vendor_js.sh vendors: requirejs/require.js, jupyter-widgets/embed-amd.js and
    anywidget/index.js (the book's _build/html/vendor). The page works from file:// and over
    http with no network; a lecturer can open it in a lecture hall without a kernel.
    """
    import html
    import json

    from ipywidgets.embed import embed_data

    data = embed_data(views=list(widgets), drop_defaults=False)
    state = json.dumps(data["manager_state"]).replace("</", "<\\/")
    views = "\n".join(
        '<div class="aevae-page-view"><script type="application/vnd.jupyter.widget-view+json">'
        f"{json.dumps(spec)}</script></div>"
        for spec in data["view_specs"]
    )
    config = json.dumps(
        {"paths": {"anywidget": f"{vendor}/anywidget/index", "@jupyter-widgets": f"{vendor}/jupyter-widgets",
                   "@jupyter-widgets/html-manager/dist": f"{vendor}/jupyter-widgets"}}
    )  # fmt: skip
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{html.escape(title)}</title>
<style>body {{ font-family: system-ui, sans-serif; margin: 1.5rem; max-width: 60rem; }}</style>
<script>
window.__jupyter_widgets_assets_path__ = new URL({json.dumps(vendor + "/jupyter-widgets/")}, document.baseURI).href;
window.require = {config};
</script>
<script src="{vendor}/requirejs/require.js"></script>
<script src="{vendor}/jupyter-widgets/embed-amd.js"></script>
</head>
<body>
<h1>{html.escape(title)}</h1>
<script type="application/vnd.jupyter.widget-state+json">{state}</script>
{views}
</body>
</html>
"""
