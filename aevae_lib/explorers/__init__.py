"""Explorers that run in the reader's browser: the book's decoders, exported to the page.

**Mechanism.** Each explorer is an anywidget (``anywidget.AnyWidget``): one front-end,
``static/explorers.js``, draws it in JupyterLab, Colab and VS Code, and in the static book,
where the widget state that the build stored in the executed notebook carries the JavaScript
and the weights (the book's ``widget_embed`` extension points the embed manager at a vendored
anywidget, so no page fetches anything). The decoders (and the denoising autoencoder's
encoder) run in the page: nothing moves through a kernel, so the explorers respond offline,
from ``file://``. In a running notebook every explorer also computes, with PyTorch, what its
page shows for its state (``arrays``, ``caption``); setting a state trait (``w.z = [1.0,
-0.5]``, ``w.t = 0.3``, ``w.beta = 4.0``, ``w.noise = 0.6``) redraws the page, and moving a
control in the page sets the trait. ``page_html`` puts explorers in a page of their own.

    explorer                                    chapter   what runs in the page
    denoising_explorer(dae, x_test)             02        encoder + decoder of the DAE
    interpolation_explorer(ae, x_test)          03        the AE's decoder
    interpolation_explorer({"AE": ae,           05        both decoders, side by side
                            "VAE": vae}, x)
    latent_explorer(vae_2d, x_test, y_test)     05        the 2-D VAE's decoder
    beta_explorer({beta: vae}, x_bin)           09        one decoder per beta

**How the weights travel.** An MLP (``nn.Linear`` layers with ReLU, Tanh, ELU, GELU or Sigmoid
between them: the book's ``Autoencoder`` and ``VAE``) is read into a ``Net`` and packed into
the ``blob`` trait, described by the JSON ``spec`` trait. Every layer starts as 8-bit integers
with one float32 scale per output unit, rounded by GPTQ so that the layer's output on the
inputs the explorer will show stays close; while that is not close enough, the step that buys
most accuracy per byte is taken: the worst output units kept in float16, or a whole layer in
float16. The models of one page share a budget of ``PAGE_BUDGET`` bytes. A model the exporter
does not support (a convolutional VAE, say) is refused with an ``UnsupportedModel`` error that
names the layer; the beta explorer then ships images instead.

**Faithfulness.** The page computes in float32 weights and float64 sums, and ``run_net`` does
the same arithmetic in numpy, so the exporter knows the page's error without a browser: at
most ``EXPORT_TOLERANCE`` (0.01) on the inputs the encodings were chosen on (``max_error``),
and it reports the error on other inputs of the same kind (``check_error``). Each explorer
carries ``probes``: input events to replay (keys on a named control, a click or a drag) and
what PyTorch draws afterwards (the image and its alt text). ``tests/browser/check_book.py``
replays them on every page of the built book and fails when an explorer does not respond or
draws a pixel more than ``PIXEL_TOLERANCE`` (0.02) away from PyTorch's output.

**Accessibility.** Every control is a native, labelled ``<input>`` or ``<button>``, reachable
with Tab and moved with the keyboard (arrow keys by one step, Page Up/Down by ten, Home/End to
the ends); the latent plane takes the arrow keys too. Every image is a canvas with
``role="img"`` and an alt text that names what it shows (the same text ``_images`` computes).
For outputs that cannot run a widget (PDF, plain nbconvert) each explorer also gives a PNG of
its current state.

Modules, one job each (lower ones never import upper ones):

    net            a network as the page runs it, and its arithmetic in numpy
    extract        a book model's layers read into a Net; other models refused
    quantize       8-bit codes (GPTQ), float16 rows: how one layer travels
    export         packing, reading back, choosing the encodings, measuring the error
    base           the anywidget base: front-end, probes, static PNG twin, shared helpers
    latent, interpolation, denoising, beta    one module per explorer
    page           ``page_html``: explorers in a standalone offline page

Used in: notebooks/02, 03, 05 and 09 (the explorers); tests/test_explorers.py and
tests/browser/test_explorers_in_browser.py; tests/browser/check_book.py (the book's check);
benchmarks/explorer_latency.py.
"""

from .base import PAGE_BUDGET, PIXEL_TOLERANCE, STATIC, Explorer
from .beta import BetaExplorer, beta_explorer, mulberry32, prior_draws
from .denoising import NOISE_TYPES, DenoisingExplorer, denoising_explorer
from .export import (
    EXPORT_TOLERANCE,
    Blob,
    Export,
    choose_encodings,
    export_net,
    pack_net,
    unpack_net,
    with_encodings,
)
from .extract import SUPPORTED, UnsupportedModel, chain, decoder_net, encoder_net
from .interpolation import (
    InterpolationExplorer,
    interpolate_codes,
    interpolation_explorer,
    slerp,
)
from .latent import LatentExplorer, latent_explorer
from .net import Dense, Net, layer_inputs, run_net
from .page import page_html
from .quantize import (
    ENCODINGS,
    LayerCode,
    dequantize_int8,
    quantize_int8,
    quantize_int8_gptq,
)

__all__ = [
    "ENCODINGS",
    "EXPORT_TOLERANCE",
    "NOISE_TYPES",
    "PAGE_BUDGET",
    "PIXEL_TOLERANCE",
    "STATIC",
    "SUPPORTED",
    "BetaExplorer",
    "Blob",
    "Dense",
    "DenoisingExplorer",
    "Explorer",
    "Export",
    "InterpolationExplorer",
    "LatentExplorer",
    "LayerCode",
    "Net",
    "UnsupportedModel",
    "beta_explorer",
    "chain",
    "choose_encodings",
    "decoder_net",
    "denoising_explorer",
    "dequantize_int8",
    "encoder_net",
    "export_net",
    "interpolate_codes",
    "interpolation_explorer",
    "latent_explorer",
    "layer_inputs",
    "mulberry32",
    "pack_net",
    "page_html",
    "prior_draws",
    "quantize_int8",
    "quantize_int8_gptq",
    "run_net",
    "slerp",
    "unpack_net",
    "with_encodings",
]
