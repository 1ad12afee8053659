"""Interactive widgets (ipywidgets) for the chapters; their static twins are in ``figures``.

In JupyterLab (or Binder) the controls redraw the images live. The rendered book shows each
widget's *starting* state (the state is embedded when the book executes the notebook), but
without a kernel nothing moves, so a chapter shows the static twin next to the widget:

    widget                                      static twin (aevae_lib.figures)   chapter
    denoising_explorer(dae, x_test)             denoising_figure(dae, x_test)     02
    interpolation_explorer(model, x_test)       interpolation_figure(...)         03 (AE), 04
    latent_explorer(vae_2d)                     latent_grid_figure(vae_2d)        04 (2-D VAE)
    beta_explorer({beta: vae}, x_test)          beta_figure({beta: vae}, x_test)  09

Every widget is an ``Explorer`` (an ipywidgets ``VBox``) with ``.controls`` (name -> control)
and ``.arrays`` (row label -> the (h, w) intensity array shown now), so it can be driven from
code: ``w = latent_explorer(vae); w.controls["z1"].value = 1.5; w.arrays["decoded digit"]``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping

import ipywidgets as widgets
import numpy as np
import torch
from torch import nn

from .figures import (
    beta_panel,
    check_2d,
    check_images,
    check_index,
    check_models,
    decode_images,
    denoise,
    encode_mean,
    strip,
)

#: Shown under every widget: the rendered book has no kernel behind the controls.
STATIC_NOTE = (
    "<small style='color:#666'>Live in JupyterLab or Binder; on the static page the "
    "controls do not redraw (a static figure in this section shows the same idea).</small>"
)


def png_bytes(canvas: np.ndarray, zoom: int = 3) -> bytes:
    """PNG of an intensity array (ink 1 = black on white), each pixel a zoom x zoom block."""
    from matplotlib.image import imsave

    big = np.kron(np.clip(canvas, 0.0, 1.0), np.ones((zoom, zoom)))
    buf = io.BytesIO()
    imsave(buf, big, cmap="gray_r", vmin=0.0, vmax=1.0, format="png")
    return buf.getvalue()


class Explorer(widgets.VBox):
    """An ipywidgets VBox: the controls, one labelled image per row, a caption and a note.

    ``draw(values)`` gets {control name: value} and returns ({row: intensity array}, caption
    HTML). It runs once now and again whenever a control's value changes. Attributes:
    ``controls`` (name -> control widget) and ``arrays`` (row -> the array shown now).
    """

    def __init__(
        self,
        controls: Mapping[str, widgets.ValueWidget],
        rows: list[str],
        draw: Callable[[dict], tuple[dict[str, np.ndarray], str]],
        zoom: int = 3,
    ):
        self.controls, self.arrays, self._draw, self._zoom = dict(controls), {}, draw, zoom
        self._images = {row: widgets.Image(format="png") for row in rows}
        self.caption = widgets.HTML()
        # each row: its label above its image, which shrinks to the page width if it must
        for image in self._images.values():
            image.layout = widgets.Layout(max_width="100%", height="auto")
        row = widgets.Layout(align_items="flex-start")  # natural size, not stretched
        super().__init__(
            [
                widgets.HBox(list(self.controls.values())),
                *[widgets.VBox([widgets.Label(r), self._images[r]], layout=row) for r in rows],
                self.caption,
                widgets.HTML(STATIC_NOTE),
            ]
        )
        for control in self.controls.values():
            control.observe(self.redraw, names="value")
        self.redraw()

    def redraw(self, _change=None) -> None:
        """Draw the images for the controls' current values."""
        arrays, text = self._draw({name: c.value for name, c in self.controls.items()})
        for row, canvas in arrays.items():
            self._images[row].value = png_bytes(canvas, self._zoom)
        self.arrays = arrays
        self.caption.value = text


def latent_explorer(vae: nn.Module, z_range: float = 3.0, step: float = 0.05, zoom: int = 6):
    """Two sliders (z1, z2) over a 2-D latent space; the decoder's image of z, live.

    Used in: notebooks/04_vae.ipynb. Static twin: ``latent_grid_figure``.
    """
    check_2d(vae)
    controls = {
        name: widgets.FloatSlider(
            value=0.0, min=-z_range, max=z_range, step=step, description=label
        )
        for name, label in (("z1", "z₁"), ("z2", "z₂"))
    }

    def draw(v):
        z = torch.tensor([[v["z1"], v["z2"]]], dtype=torch.float32)  # (1, 2)
        return {"decoded digit": strip(decode_images(vae, z))}, (
            f"decoder output at z = ({v['z1']:.2f}, {v['z2']:.2f})"
        )

    return Explorer(controls, ["decoded digit"], draw, zoom)


def interpolation_explorer(
    model: nn.Module,
    x: torch.Tensor,
    index_a: int = 0,
    index_b: int = 1,
    steps: int = 9,
    zoom: int = 3,
):
    """Pick two test images by index; a slider t walks the straight line between their codes,
    z = (1 - t) z_a + t z_b, and shows the decoded image next to the whole path.

    Used in: notebooks/03_why_random_z_fails.ipynb (AE) and 04_vae.ipynb (VAE).
    Static twin: ``interpolation_figure``.
    """
    x = check_images(x)
    n = len(x)
    check_index(index_a, n, "index_a")
    check_index(index_b, n, "index_b")
    controls = {
        "a": widgets.BoundedIntText(value=index_a, min=0, max=n - 1, description="image A"),
        "b": widgets.BoundedIntText(value=index_b, min=0, max=n - 1, description="image B"),
        "t": widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="t"),
    }

    def draw(v):
        z_a, z_b = encode_mean(model, x[[v["a"], v["b"]]])  # (d,) each
        ts = torch.cat([torch.linspace(0, 1, steps), torch.tensor([v["t"]])]).unsqueeze(1)
        decoded = decode_images(model, (1 - ts) * z_a + ts * z_b)  # (steps + 1, D)
        return (
            {
                "A, z(t), B": strip(torch.stack([x[v["a"]].cpu(), decoded[-1], x[v["b"]].cpu()])),
                "path t = 0..1": strip(decoded[:-1]),
            },
            f"test images {v['a']} and {v['b']}; t = {v['t']:.2f}",
        )

    return Explorer(controls, ["A, z(t), B", "path t = 0..1"], draw, zoom)


def denoising_explorer(
    model: nn.Module,
    x: torch.Tensor,
    n: int = 6,
    noise_std: float = 0.3,
    max_std: float = 1.0,
    seed: int = 0,
    zoom: int = 3,
):
    """A noise-level slider: clean test images, the corrupted input and the reconstruction,
    with the squared errors (summed over pixels, mean over images) against the clean images.

    Used in: notebooks/02_what_autoencoders_are_good_for.ipynb. Static twin: ``denoising_figure``.
    """
    x = check_images(x)[:n].cpu()
    controls = {
        "std": widgets.FloatSlider(
            value=noise_std, min=0.0, max=max_std, step=0.05, description="noise std"
        )
    }

    def draw(v):
        noisy, recon = denoise(model, x, v["std"], seed)
        err_noisy = (noisy - x).pow(2).sum(1).mean().item()
        err_recon = (recon - x).pow(2).sum(1).mean().item()
        return (
            {"clean": strip(x), "noisy input": strip(noisy), "reconstruction": strip(recon)},
            f"noise std {v['std']:.2f}: squared error of the noisy input {err_noisy:.1f}, "
            f"of the reconstruction {err_recon:.1f}",
        )

    return Explorer(controls, ["clean", "noisy input", "reconstruction"], draw, zoom)


def beta_explorer(
    models: Mapping[float, nn.Module], x: torch.Tensor, n: int = 8, seed: int = 0, zoom: int = 3
):
    """A slider over the betas of ``models`` ({beta: VAE}): prior samples (same z for every
    beta), reconstructions of n test images at z = mu, and the KL and reconstruction terms.

    Used in: notebooks/09_beyond_the_vanilla_vae.ipynb. Static twin: ``beta_figure``.
    """
    betas = check_models(models)
    x = check_images(x)[:n].cpu()
    controls = {
        "beta": widgets.SelectionSlider(
            options=[(f"{b:g}", b) for b in betas], value=betas[0], description="β"
        )
    }

    def draw(v):
        samples, recon, kl, nll = beta_panel(models[v["beta"]], x, n, seed)
        return (
            {
                "samples z ~ p(z)": strip(samples),
                "test images": strip(x),
                "reconstructions": strip(recon),
            },
            f"β = {v['beta']:g}: KL(q‖p) {kl:.1f} nats, −log p(x|z=μ) {nll:.1f} nats "
            f"(mean over these {len(x)} test images)",
        )

    return Explorer(controls, ["samples z ~ p(z)", "test images", "reconstructions"], draw, zoom)
