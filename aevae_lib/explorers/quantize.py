"""How one layer's weights travel: 8-bit codes (rounded by GPTQ), float16 rows, or floats.

One job: turn a float32 weight matrix into what the page stores, and say what the page will
hold after reading it back. 8-bit codes are symmetric, with one float32 scale per output row;
GPTQ rounds them so that the layer's *output* on the explorer's inputs stays close, not just
each weight. Rows that need more keep float16 beside the codes.

Owns: ``ENCODINGS``, ``quantize_int8``, ``quantize_int8_gptq``, ``dequantize_int8``,
``LayerCode`` (the encoding of one layer, its page weights and its size in bytes).

Used in: ``export`` (packing and choosing encodings), tests/test_explorers.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ENCODINGS = ("int8", "float16", "float32")


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
