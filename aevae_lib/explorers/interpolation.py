"""The interpolation explorer: two test images from a gallery, the path between their codes.

One job: ``interpolation_explorer`` and its widget ``InterpolationExplorer``, with the paths
it walks (``interpolate_codes``: the straight line, or the arc of ``slerp``), computed here as
the page computes them. Several models can stand side by side (the AE of chapter 03 and the
VAE of chapter 04: one path stays on digits, the other does not); the page runs each decoder.

Owns: ``slerp``, ``interpolate_codes``, ``InterpolationExplorer``, ``interpolation_explorer``.

Used in: notebooks/03_why_random_z_fails.ipynb (AE) and 05_vae_latent_space.ipynb (AE and
VAE). Its static twin is the PNG it carries in its output (``Explorer._repr_mimebundle_``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
import traitlets
from torch import nn

from ..figures import check_images, check_index
from .base import Explorer, decode, encode, export_decoder, export_info, fmt, page_images, snap
from .export import Blob

PATHS = ("linear", "spherical")


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


def _random_paths(rng: np.random.Generator, c: np.ndarray, k: int) -> np.ndarray:
    """k codes on both paths (half straight, half arcs) between random pairs of the codes c."""
    i, j = rng.integers(0, len(c), size=(2, k))
    t = rng.uniform(0, 1, size=(k, 1))
    half = k // 2
    arcs = [
        slerp(c[a], c[b], float(u[0])) for a, b, u in zip(i[half:], j[half:], t[half:], strict=True)
    ]
    return np.concatenate([(1 - t[:half]) * c[i[:half]] + t[:half] * c[j[:half]], arcs])


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
        u8, _ = page_images(x[self._gallery])
        spec = {"gallery": self._gallery, "images": blob.add(u8, "u8"), "steps": steps,
                "zoom": zoom, "models": [], "model_bytes": 0}  # fmt: skip
        self._codes, exports = {}, {}
        rng = np.random.default_rng(0)
        for label, model in models.items():
            codes = encode(model, x[self._gallery])  # (G, d)
            self._codes[label] = codes
            # calibrated on the codes of test images and on paths between the gallery's codes
            # and theirs; checked on other test images and other paths
            data = encode(model, x[: 2 * calibrate])
            calib = np.concatenate(
                [data[:calibrate], _random_paths(rng, codes, 400),
                 _random_paths(rng, data[:calibrate], 400)]
            )  # fmt: skip
            other = np.concatenate([data[calibrate:], _random_paths(rng, codes, 400)])
            export = export_decoder(model, blob, calib, other, encoding)
            exports[label] = export
            spec["models"].append({"label": label, "decoder": export.header,
                                   "codes": blob.add(codes, "f32"), "dim": int(codes.shape[1]),
                                   **export_info(export)})  # fmt: skip
            spec["model_bytes"] += export.bytes
        super().__init__(
            exports=exports, kind="interpolation", spec=spec, blob=blob.getvalue(), **state
        )
        g = self._gallery
        other = next(i for i in g if i not in (state["a"], state["b"]))
        s = dict(state)
        s1 = {**s, "t": snap(s["t"] + 4 * 0.05)}
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
                f"{label}: decoded z(t) at t = {fmt(t)} on the {kind} from test image "
                f"{state['a']} to test image {state['b']}",
                decode(model, z[None]),
            )
            out[f"path-{k}"] = (
                f"{label}: {self._steps} decoded codes along the {kind}, t = 0 to 1",
                decode(model, along),
            )
        return out

    def _caption(self, state, images):
        kind = "spherical path" if state["path"] == "spherical" else "straight line"
        return f"test images {state['a']} and {state['b']}; t = {fmt(state['t'])} on the {kind}"

    @traitlets.validate("a", "b")
    def _valid_index(self, proposal):
        if proposal["value"] not in self._gallery:
            raise traitlets.TraitError(
                f"{proposal['trait'].name} must be one of the gallery's test images {self._gallery}"
            )
        return proposal["value"]

    @traitlets.validate("path")
    def _valid_path(self, proposal):
        if proposal["value"] not in PATHS:
            raise traitlets.TraitError("path must be 'linear' or 'spherical'")
        return proposal["value"]

    @traitlets.validate("t")
    def _valid_t(self, proposal):
        if not 0.0 <= proposal["value"] <= 1.0:
            raise traitlets.TraitError("t must lie in [0, 1]")
        return proposal["value"]


def _gallery_indices(gallery: int | list[int], n: int, index_a: int, index_b: int) -> list[int]:
    """The sorted test-image indices to choose from: the first ``gallery`` ones, or those given,
    with ``index_a`` and ``index_b`` among them."""
    if isinstance(gallery, int):
        first = [i for i in range(min(n, gallery)) if i not in (index_a, index_b)]
        indices = sorted({index_a, index_b, *first[: max(gallery - 2, 1)]})
    else:
        indices = sorted(
            {int(check_index(i, n, "gallery index")) for i in gallery} | {index_a, index_b}
        )
    if len(indices) < 3:
        raise ValueError("the gallery needs at least 3 test images")
    return indices


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
    VAE). Its static twin is the PNG it carries in its output (``Explorer._repr_mimebundle_``).
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
    indices = _gallery_indices(gallery, n, index_a, index_b)
    if path not in PATHS:
        raise ValueError(f"path must be 'linear' or 'spherical', got {path!r}")
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    state = {"a": index_a, "b": index_b, "t": snap(t), "path": path}
    return InterpolationExplorer(
        models, x, indices, state=state, steps=steps, zoom=zoom, encoding=encoding
    )
