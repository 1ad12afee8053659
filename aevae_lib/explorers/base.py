"""The shared anywidget base of the explorers: front-end, packed data, probes, static PNG twin.

One job: what every explorer has in common. ``Explorer`` loads ``static/explorers.js`` and
``static/explorers.css``, holds the synced traits (``kind``, ``spec``, ``blob``, ``probes``
and each explorer's state traits), recomputes in PyTorch what the page shows whenever a state
trait changes (``arrays``, ``caption``), builds the probes that the browser checks replay, and
adds a PNG of the current state to its output for readers that cannot run the widget.

Owns: ``STATIC``, ``PIXEL_TOLERANCE``, ``PAGE_BUDGET``, ``Explorer``, and the helpers the
explorers share: ``export_decoder`` (a model's decoder, exported and checked), the page's
number format and grid, and PyTorch's images and codes as float64 numpy.

Used in: ``latent``, ``interpolation``, ``denoising``, ``beta``; tests/test_explorers.py,
tests/browser/test_explorers_in_browser.py (``STATIC``), tests/browser/check_book.py (the
tolerance and budget it mirrors).
"""

from __future__ import annotations

import base64
from pathlib import Path

import anywidget
import numpy as np
import torch
import traitlets
from torch import nn

from ..figures import decode_images, encode_mean, png_bytes, strip
from .export import Blob, Export, export_net
from .extract import decoder_net

STATIC = Path(__file__).with_name("static")

#: A pixel the page draws may differ from PyTorch's output by at most this (0-1 scale).
PIXEL_TOLERANCE = 0.02
#: Model data (packed weights) per page, in bytes: the book's budget.
PAGE_BUDGET = 2_000_000


def fmt(v: float) -> str:
    """Two decimals, as the page writes them (JavaScript's toFixed(2)); never '-0.00'."""
    text = f"{float(v) + 0.0:.2f}"
    return "0.00" if text == "-0.00" else text


def snap(v: float) -> float:
    """``v`` on the page's grid of values, k / 100 (its sliders and its pointer snap to it)."""
    return round(float(v) * 100) / 100


def decode(model: nn.Module, z) -> np.ndarray:
    """PyTorch's images (B, 784) for codes z, float64 numpy."""
    z = torch.as_tensor(np.asarray(z, dtype=np.float32))
    return decode_images(model, z).numpy().astype(np.float64)


def encode(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """PyTorch's codes (posterior means, for a VAE) of images x, float64 numpy."""
    return encode_mean(model, x.float()).cpu().numpy().astype(np.float64)


def page_images(x: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
    """Images as the page holds them (8-bit grey levels): (uint8 (B, 784), the same as floats)."""
    u8 = np.rint(x.detach().float().cpu().numpy().clip(0, 1) * 255).astype(np.uint8)
    return u8, torch.from_numpy(u8.astype(np.float32) / 255.0)


def export_decoder(
    model: nn.Module, blob: Blob, calib: np.ndarray, other: np.ndarray, encoding: str
) -> Export:
    """The decoder of ``model`` exported into ``blob``: its encodings chosen on the codes
    ``calib``, its error checked on the codes ``other`` (see ``export.export_net``)."""
    check = (other, decode(model, other))
    return export_net(decoder_net(model), blob, calib, decode(model, calib), encoding, check=check)


def export_info(export: Export) -> dict:
    """What the page's spec records of an export: encodings and errors."""
    return {
        "encoding": export.encodings,
        "max_error": export.max_error,
        "check_error": export.check_error,
    }


def _f16_b64(images: np.ndarray) -> str:
    return base64.b64encode(np.asarray(images, np.float32).astype("<f2").tobytes()).decode()


class Explorer(anywidget.AnyWidget):
    """Base of the explorers: front-end, packed data, probes, and the kernel-side images.

    Traits synced with the page: ``kind`` (which explorer), ``spec`` (JSON: sizes, labels,
    descriptors into ``blob``), ``blob`` (the packed weights and data), ``probes``, and the
    state traits of each explorer. Python attributes: ``arrays`` and ``caption`` (what PyTorch
    computes for the current state), ``exports`` (name -> Export), ``model_bytes``.

    A subclass names its ``_state_traits`` and defines ``_images`` (what the page draws for a
    state) and ``_caption``.
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
        """({image name: its strip}, caption) for ``state``, as PyTorch computes them."""
        images = self._images(state)
        strips = {key: strip(imgs) for key, (_label, imgs) in images.items()}
        return strips, self._caption(state, images)

    def _images(self, state: dict) -> dict[str, tuple[str, np.ndarray]]:
        """{image name in the page: (its alt text, images (n, 784))} for ``state``."""
        raise NotImplementedError

    def _caption(self, state: dict, images: dict[str, tuple[str, np.ndarray]]) -> str:
        """The caption under the explorer for ``state`` (``images``: what ``_images`` gave)."""
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
            data = {**data, "image/png": png_bytes(stacked, 2)}
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
