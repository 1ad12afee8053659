"""The latent explorer: drag a point over a 2-D VAE's latent plane, see its decoded image.

One job: ``latent_explorer`` and its widget ``LatentExplorer``. The page runs the decoder
(exported on a grid over the plane and the test codes) and draws the test images' codes
beneath, coloured by digit; two sliders (z1, z2) move the point from the keyboard.

Owns: ``LatentExplorer``, ``latent_explorer``.

Used in: notebooks/05_vae_latent_space.ipynb. Its static twin is the PNG it carries in its output (``Explorer._repr_mimebundle_``).
"""

from __future__ import annotations

import numpy as np
import torch
import traitlets
from torch import nn

from ..figures import check_2d, check_images
from .base import Explorer, decode, encode, export_decoder, export_info, fmt, snap
from .export import Blob


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
        export = export_decoder(vae, blob, calib, other, encoding)
        spec = {
            "range": z_range,
            "step": step,
            "zoom": zoom,
            "decoder": export.header,
            "model_bytes": export.bytes,
            **export_info(export),
        }
        if codes is not None:
            spec["codes"] = blob.add(codes, "f16")
            spec["labels"] = blob.add(labels, "u8") if labels is not None else None
        super().__init__(
            exports={"decoder": export}, kind="latent", spec=spec, blob=blob.getvalue()
        )
        r = z_range
        a, b = snap(10 * step), snap(-20 * step)
        c = (snap(-0.5 * r), snap(0.6 * r))
        self.probes = [
            self._probe("z1 and z2 by the arrow keys",
                        [{"on": "z1", "key": "ArrowRight", "times": 10},
                         {"on": "z2", "key": "ArrowLeft", "times": 20}], {"z": [a, b]}),
            self._probe("a click on the latent plane",
                        [{"click": "plane", "at": [(c[0] + r) / (2 * r), (r - c[1]) / (2 * r)]}],
                        {"z": list(c)}),
            self._probe("a drag across the latent plane",
                        [{"drag": "plane", "path": [[0.5, 0.5], [0.6, 0.45], [0.75, 0.3]]}],
                        {"z": [snap(0.5 * r), snap(0.4 * r)]}),
        ]  # fmt: skip

    def _images(self, state):
        z1, z2 = (float(v) for v in state["z"])
        return {
            "decoded": (
                f"decoded digit at z = ({fmt(z1)}, {fmt(z2)})",
                decode(self._vae, [[z1, z2]]),
            )
        }

    def _caption(self, state, images):
        return images["decoded"][0]


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

    Used in: notebooks/05_vae_latent_space.ipynb. Its static twin is the PNG it carries in its output (``Explorer._repr_mimebundle_``).
    """
    check_2d(vae)
    if not (isinstance(z_range, (int, float)) and z_range > 0):
        raise ValueError(f"z_range must be a positive number, got {z_range!r}")
    codes = lab = None
    if x is not None:
        x = check_images(x)[:n_points]
        codes = encode(vae, x)
        if labels is not None:
            lab = np.asarray(torch.as_tensor(labels)[: len(x)].cpu(), dtype=np.int64)
            if lab.shape != (len(x),) or lab.min() < 0 or lab.max() > 9:
                raise ValueError("labels must hold one digit 0-9 per image of x")
    return LatentExplorer(
        vae, codes=codes, labels=lab, z_range=float(z_range), step=float(step), zoom=zoom,
        encoding=encoding,
    )  # fmt: skip
