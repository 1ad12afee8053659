"""The weight export: a network packed into bytes for the page, in the fewest bytes that keep
its output within ``EXPORT_TOLERANCE`` of PyTorch's.

One job: choose each layer's encoding, pack the layers into one byte string with a JSON
header, read it back as the page will, and record the page's error. ``choose_encodings``
starts every layer as 8-bit GPTQ codes and, while the page's output (``net.run_net``) is off by
more than the tolerance on the inputs the explorer will show, takes the step that buys most
accuracy per byte: the worst output units kept in float16, or a whole layer in float16;
float32 throughout is the last resort, and a model even that cannot reproduce is refused.

Owns: ``EXPORT_TOLERANCE``, ``Blob`` (the packed bytes), ``Export`` (a packed network and its
errors), ``with_encodings``, ``pack_net``, ``unpack_net``, ``choose_encodings``, ``export_net``.

Used in: every explorer (``latent``, ``interpolation``, ``denoising``, ``beta``);
tests/test_explorers.py.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from .extract import UnsupportedModel
from .net import Dense, Net, layer_inputs, run_net
from .quantize import ENCODINGS, LayerCode, dequantize_int8, quantize_int8_gptq

#: The exporter's own bound on the page's arithmetic, half the budget of
#: ``base.PIXEL_TOLERANCE``: the rest is for the canvas, which stores 8-bit colours (a
#: rounding of at most 1/510).
EXPORT_TOLERANCE = 0.01


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


def with_encodings(net: Net, codes) -> Net:
    """The Net the page holds when the layers of ``net`` travel as ``codes``."""
    layers = [
        Dense(LayerCode.of(c, d.weight).weight(d.weight), d.bias.astype(np.float32), d.activation)
        for d, c in zip(net.layers, codes, strict=True)
    ]
    return Net(layers, net.transform, net.keep, net.clamp)


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
        diff = np.abs(run_net(with_encodings(net, cs), inputs) - reference)
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
