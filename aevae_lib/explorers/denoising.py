"""The denoising explorer: a noise level and type against a denoising autoencoder.

One job: ``denoising_explorer`` and its widget ``DenoisingExplorer``. The page runs the whole
autoencoder (encoder and decoder, exported as one chain) on test images corrupted by a fixed
noise pattern (``seed``) at the chosen level: Gaussian noise of sd nu, or masking of a
fraction of the pixels. The patterns travel in float16 and are used here as the page uses them.

Owns: ``NOISE_TYPES``, ``DenoisingExplorer``, ``denoising_explorer``.

Used in: notebooks/02_what_autoencoders_are_good_for.ipynb. Its static twin is the PNG it carries in its output (``Explorer._repr_mimebundle_``).
"""

from __future__ import annotations

import numpy as np
import torch
import traitlets
from torch import nn

from ..figures import check_images
from .base import Explorer, decode, encode, export_info, fmt, page_images, snap
from .export import Blob, export_net
from .extract import chain, decoder_net, encoder_net

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
        u8, self._x = page_images(x)
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
        export = export_net(
            net, blob, calib, self._denoise(calib), encoding, check=(other, self._denoise(other))
        )
        spec.update(net=export.header, model_bytes=export.bytes, **export_info(export))
        super().__init__(
            exports={"autoencoder": export},
            kind="denoising",
            spec=spec,
            blob=blob.getvalue(),
            **state,
        )
        up = snap(min(state["noise"] + 5 * 0.05, max_std))
        other = "mask" if state["noise_type"] == "gaussian" else "gaussian"
        self.probes = [
            self._probe("the noise level by the arrow keys",
                        [{"on": "noise", "key": "ArrowRight", "times": 5}],
                        {"noise": up, "noise_type": state["noise_type"]}),
            self._probe("the noise type by a click", [{"click": f"type-{other}"}],
                        {"noise": up, "noise_type": other}),
        ]  # fmt: skip

    def _denoise(self, inputs: np.ndarray) -> np.ndarray:
        """PyTorch's reconstructions (B, 784) of the corrupted images ``inputs``."""
        return decode(self._model, encode(self._model, torch.from_numpy(inputs.astype(np.float32))))

    def _random_corruptions(self, x: torch.Tensor, seed: int) -> list[np.ndarray]:
        """Images x with Gaussian noise or masking at random levels (for calibration)."""
        if len(x) == 0:
            return []
        _, xf = page_images(x)
        xf = xf.numpy().astype(np.float64)
        rng = np.random.default_rng(seed)
        level = rng.uniform(0, self._max, size=(len(xf), 1))
        noisy = np.clip(xf + level * rng.standard_normal(xf.shape), 0, 1)
        masked = xf * (rng.uniform(size=xf.shape) >= np.minimum(level, 1.0))
        return [np.where(rng.uniform(size=(len(xf), 1)) < 0.5, noisy, masked)]

    def _corrupt(self, level: float, kind: str) -> np.ndarray:
        """The page's corruption of its images: the fixed pattern at ``level``."""
        x = self._x.numpy().astype(np.float64)
        if kind == "mask":
            return x * (self._uni >= level)
        return np.clip(x + level * self._eps, 0.0, 1.0)

    def _images(self, state):
        level, kind = float(state["noise"]), state["noise_type"]
        noisy = self._corrupt(level, kind)
        what = f"noise sd {fmt(level)}" if kind == "gaussian" else f"{fmt(level)} of pixels masked"
        n = len(noisy)
        return {
            "clean": (f"{n} clean test images", self._x.numpy().astype(np.float64)),
            "noisy": (f"the {n} images with {NOISE_TYPES[kind]}, {what}", noisy),
            "recon": (f"the denoising autoencoder's reconstructions ({NOISE_TYPES[kind]}, {what})",
                      self._denoise(noisy)),
        }  # fmt: skip

    def _caption(self, state, images):
        x = images["clean"][1]
        err_noisy = float(((images["noisy"][1] - x) ** 2).sum(1).mean())
        err_recon = float(((images["recon"][1] - x) ** 2).sum(1).mean())
        return (
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

    Used in: notebooks/02_what_autoencoders_are_good_for.ipynb. Its static twin is the PNG it carries in its output (``Explorer._repr_mimebundle_``).
    """
    x = check_images(x)
    n = min(n, len(x))
    if noise_type not in NOISE_TYPES:
        raise ValueError(f"noise_type must be one of {list(NOISE_TYPES)}, got {noise_type!r}")
    if not 0 < max_std <= 2:
        raise ValueError(f"max_std must lie in (0, 2], got {max_std!r}")
    state = {"noise": snap(noise_std), "noise_type": noise_type}
    return DenoisingExplorer(
        model, x, n=n, state=state, max_std=float(max_std), seed=seed, zoom=zoom, encoding=encoding
    )
