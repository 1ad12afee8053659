"""The beta explorer: pick beta, see that model's prior samples and reconstructions.

One job: ``beta_explorer`` and its widget ``BetaExplorer``, with the page's random numbers
(``mulberry32``, and ``prior_draws`` from them by Box-Muller), computed here bit for bit as the
page computes them, so the samples of every beta decode the same z. The page runs one decoder
per beta, or, when they cannot be exported or exceed the page budget, shows 8-bit images
computed here instead (``fallback_reason`` says why).

Owns: ``mulberry32``, ``prior_draws``, ``BetaExplorer``, ``beta_explorer``.

Used in: notebooks/09_beyond_the_vanilla_vae.ipynb. Its static twin is the PNG it carries in its output (``Explorer._repr_mimebundle_``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
import traitlets
from torch import nn

from ..figures import check_images, check_models
from ..objectives import gaussian_kl, log_likelihood
from .base import PAGE_BUDGET, Explorer, decode, encode, export_decoder, export_info, page_images
from .export import Blob, pack_net
from .extract import UnsupportedModel, decoder_net


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


@torch.no_grad()
def _rate_and_distortion(vae: nn.Module, x: torch.Tensor) -> tuple[np.ndarray, dict]:
    """(posterior means of x (B, d), {"kl": mean rate, "nll": mean distortion at z = mu}).

    Computed on the model's own device, so a model on a GPU works too.
    """
    x = x.to(next(vae.parameters()).device).float()
    mu, logvar = vae.encode(x)
    kl = gaussian_kl(mu, logvar).mean().item()
    nll = -log_likelihood(vae.likelihood, x, vae.decode(mu)).mean().item()
    return mu.cpu().numpy().astype(np.float64), {"kl": kl, "nll": nll}


class BetaExplorer(Explorer):
    """Pick beta; samples (the same z for every beta) and reconstructions of that model."""

    beta = traitlets.Float().tag(sync=True)
    sample_seed = traitlets.Int(0).tag(sync=True)
    _state_traits = ("beta", "sample_seed")
    _fixed_images = ("test",)

    def __init__(self, models, x, *, n, seed, zoom, decoders, encoding, budget, calibrate=1000):
        self._models, self._n, self._zoom = models, n, zoom
        more = x[n : n + calibrate]  # other test images: their codes calibrate the export
        x = x[:n]
        betas = sorted(models)
        dims = {models[b].latent_dim for b in betas}
        if len(dims) != 1:
            raise ValueError(f"the models must share one latent size, got {sorted(dims)}")
        self._d = dims.pop()
        u8, self._x = page_images(x)
        self._mu, self._stats = {}, {}
        for b in betas:
            self._mu[b], self._stats[b] = _rate_and_distortion(models[b], x)
        blob = Blob()
        spec = {"betas": betas, "n": n, "dim": self._d, "zoom": zoom, "seed": seed,
                "images": blob.add(u8, "u8"), "models": [], "model_bytes": 0}  # fmt: skip
        if decoders not in ("auto", "ship", "images"):
            raise ValueError(f"decoders must be 'auto', 'ship' or 'images', got {decoders!r}")
        self.fallback_reason = None
        packed = self._export(betas, more, seed, encoding, budget, decoders)
        self.shipped = bool(packed)
        for k, b in enumerate(betas):
            entry = {"beta": b, "label": f"{b:g}", **self._stats[b],
                     "mu": blob.add(self._mu[b], "f32")}  # fmt: skip
            if self.shipped:
                exp = packed[k]  # packed into a trial blob: pack the same encodings for real
                entry["decoder"] = pack_net(decoder_net(models[b]), exp.codes, blob).header
                entry.update(export_info(exp))
                spec["model_bytes"] += exp.bytes
            else:
                samples, recon = self._decoded(b, seed)
                entry["samples"] = blob.add(np.rint(samples * 255), "u8")
                entry["recon"] = blob.add(np.rint(recon * 255), "u8")
            spec["models"].append(entry)
        spec["shipped"] = self.shipped
        exports = {f"{b:g}": p for b, p in zip(betas, packed, strict=True)} if packed else {}
        super().__init__(exports=exports, kind="beta", spec=spec, blob=blob.getvalue(),
                         beta=betas[0], sample_seed=seed)  # fmt: skip
        probes = []
        if len(betas) > 1:
            probes += [
                self._probe("beta by the arrow keys", [{"on": "beta", "key": "ArrowRight"}],
                            {"beta": betas[1], "sample_seed": seed}),
                self._probe("beta by a click", [{"click": "beta-0"}],
                            {"beta": betas[0], "sample_seed": seed}),
            ]  # fmt: skip
        if self.shipped:
            probes.append(
                self._probe("new samples by the button", [{"click": "resample"}],
                            {"beta": betas[0], "sample_seed": seed + 1})
            )  # fmt: skip
        self.probes = probes

    def _export(self, betas, more, seed, encoding, budget, decoders) -> list:
        """Every decoder exported (into a trial blob); [] for ``decoders="images"``, or with
        ``fallback_reason`` set when one cannot be exported or together they exceed ``budget``
        (``decoders="ship"``: that error is raised)."""
        if decoders == "images":
            return []
        try:
            trial, packed = Blob(), []
            for b in betas:
                m = self._models[b]
                z = np.concatenate(
                    [prior_draws(s, self._n, self._d) for s in range(seed, seed + 40)]
                )
                calib = np.concatenate([z, self._mu[b], encode(m, more)])
                other = np.concatenate(
                    [prior_draws(s, self._n, self._d) for s in range(seed + 40, seed + 60)]
                )
                packed.append(export_decoder(m, trial, calib, other, encoding))
            total = sum(p.bytes for p in packed)
            if total > budget:
                raise UnsupportedModel(
                    f"the {len(betas)} decoders take {total / 1e6:.2f} MB, more than the "
                    f"{budget / 1e6:.2f} MB budget"
                )
        except UnsupportedModel as err:
            if decoders == "ship":
                raise
            self.fallback_reason = str(err)
            return []
        return packed

    def _decoded(self, beta: float, sample_seed: int) -> tuple[np.ndarray, np.ndarray]:
        """PyTorch's (samples from prior draw ``sample_seed``, reconstructions at z = mu)."""
        model = self._models[beta]
        samples = decode(model, prior_draws(sample_seed, self._n, self._d))
        return samples, decode(model, self._mu[beta])

    def _images(self, state):
        b, s = float(state["beta"]), int(state["sample_seed"])
        samples, recon = self._decoded(b, s)
        if not self.shipped:  # the page shows 8-bit images
            samples, recon = np.rint(samples * 255) / 255, np.rint(recon * 255) / 255
        return {
            "samples": (f"beta = {b:g}: {self._n} images decoded from prior draws z ~ N(0, I), "
                        f"draw {s}", samples),
            "test": (f"{self._n} test images", self._x.numpy().astype(np.float64)),
            "recon": (f"beta = {b:g}: reconstructions of the {self._n} test images at z = mu", recon),
        }  # fmt: skip

    def _caption(self, state, images):
        b = float(state["beta"])
        st = self._stats[b]
        return (
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

    Used in: notebooks/09_beyond_the_vanilla_vae.ipynb. Its static twin is the PNG it carries in its output (``Explorer._repr_mimebundle_``).
    """
    check_models(models)
    x = check_images(x)
    n = min(n, len(x))
    return BetaExplorer(
        dict(models), x, n=n, seed=seed, zoom=zoom, decoders=decoders, encoding=encoding,
        budget=budget,
    )  # fmt: skip
