"""Conceptual diagrams, drawn as code in the book's notation.

Each function builds a matplotlib ``Figure`` and returns it (``kl_asymmetry`` also returns the
numbers it fitted); nothing is drawn or configured at import time. The schematics share a
small set of drawing helpers, one font size and one palette: encoder blue, decoder orange,
random nodes green, gradients red, loss terms purple. Their axes are measured in inches, so a
circle stays round and a label's size on the page is its size in the code.

Used in: notebooks/01_autoencoder.ipynb, 04_vae.ipynb, 06_reparameterization_trick.ipynb and
07_deriving_the_elbo.ipynb.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import (
    Circle,
    FancyArrowPatch,
    FancyBboxPatch,
    PathPatch,
    Polygon,
    Rectangle,
)
from matplotlib.path import Path

from .plots import _new_figure, _to_numpy

FONT = 10  # one font size for every label; SMALL for sizes and captions
SMALL = 8.5
INK = "#333333"
ENCODER = "#3b6fb6"
DECODER = "#e07b39"
RANDOM = "#3a9a5b"
GRADIENT = "#c8323c"
LOSS = "#7b52ab"
GREY = "#9a9a9a"
LIGHT = "#c4c4c4"

# The book's symbols, written for matplotlib's mathtext (the MathJax macros do not exist there).
X, XHAT, Z = r"\mathbf{x}", r"\hat{\mathbf{x}}", r"\mathbf{z}"
MU, SIGMA, EPS = r"\boldsymbol{\mu}", r"\boldsymbol{\sigma}", r"\boldsymbol{\epsilon}"
KL = r"D_{\mathrm{KL}}"
QZX, PXZ = rf"q_\phi({Z} \mid {X})", rf"p_\theta({X} \mid {Z})"
STD_NORMAL = r"\mathcal{N}(\mathbf{0}, \mathbf{I})"


# --- drawing helpers -----------------------------------------------------------------------


@dataclass
class _Node:
    """A drawn node: centre (x, y), width w, height h, and its outline ("box" or "circle"),
    so that arrows can start and end on its boundary."""

    x: float
    y: float
    w: float
    h: float
    shape: str = "box"

    def edge(self, tx: float, ty: float) -> tuple[float, float]:
        """The point where the ray from the centre towards (tx, ty) leaves the node."""
        dx, dy = tx - self.x, ty - self.y
        if dx == dy == 0:
            return self.x, self.y
        a, b = self.w / 2, self.h / 2
        if self.shape == "circle":
            scale = a / math.hypot(dx, dy)
        else:
            scale = min(a / abs(dx) if dx else math.inf, b / abs(dy) if dy else math.inf)
        return self.x + scale * dx, self.y + scale * dy


def _canvas(width: float, height: float, ncols: int = 1, bottom: float = 0.0):
    """A figure of ``width`` x ``height`` inches with ``ncols`` blank panels side by side, each
    in inch coordinates (0..width/ncols, 0..height - bottom) above a strip ``bottom`` high."""
    fig = _new_figure(figsize=(width, height))
    panel_w, panel_h = width / ncols, height - bottom
    axes = []
    for i in range(ncols):
        ax = fig.add_axes((i / ncols, bottom / height, 1 / ncols, panel_h / height))
        ax.set_xlim(0, panel_w)
        ax.set_ylim(0, panel_h)
        ax.set_aspect("equal")
        ax.set_axis_off()
        axes.append(ax)
    return fig, axes


def _text(ax, x, y, s, size=FONT, color=INK, **kw):
    kw.setdefault("ha", "center")
    kw.setdefault("va", "center")
    return ax.text(x, y, s, fontsize=size, color=color, **kw)


def _box(ax, x, y, w, h, text="", color=INK, fill=0.15) -> _Node:
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0,rounding_size=0.06",
            facecolor=to_rgba(color, fill),
            edgecolor=color,
            lw=1.3,
        )
    )
    _text(ax, x, y, text)
    return _Node(x, y, w, h, "box")


def _circle(ax, x, y, r, text="", color=RANDOM, fill=0.15) -> _Node:
    ax.add_patch(Circle((x, y), r, facecolor=to_rgba(color, fill), edgecolor=color, lw=1.3))
    _text(ax, x, y, text)
    return _Node(x, y, 2 * r, 2 * r, "circle")


def _trapezoid(ax, x0, x1, y, h0, h1, text, color) -> _Node:
    """A layer narrowing (h0 > h1) or widening from x0 to x1, centred on height y."""
    corners = [(x0, y - h0 / 2), (x0, y + h0 / 2), (x1, y + h1 / 2), (x1, y - h1 / 2)]
    ax.add_patch(Polygon(corners, facecolor=to_rgba(color, 0.15), edgecolor=color, lw=1.3))
    _text(ax, (x0 + x1) / 2, y, text)
    return _Node((x0 + x1) / 2, y, x1 - x0, min(h0, h1), "box")


def _vector(ax, x, y, h, cells, color=INK, w=0.22) -> _Node:
    """A column vector drawn as a bar of ``cells`` stacked entries."""
    step = h / cells
    for i in range(cells):
        ax.add_patch(
            Rectangle(
                (x - w / 2, y - h / 2 + i * step),
                w,
                step,
                facecolor=to_rgba(color, 0.12),
                edgecolor=color,
                lw=0.8,
            )
        )
    return _Node(x, y, w, h, "box")


def _arrow(ax, a, b, color=INK, ls="-", rad=0.0, lw=1.3):
    """An arrow from node (or point) ``a`` to node (or point) ``b``, from edge to edge."""
    pa = (a.x, a.y) if isinstance(a, _Node) else a
    pb = (b.x, b.y) if isinstance(b, _Node) else b
    p0 = a.edge(*pb) if isinstance(a, _Node) else pa
    p1 = b.edge(*pa) if isinstance(b, _Node) else pb
    ax.add_patch(
        FancyArrowPatch(
            p0,
            p1,
            arrowstyle="-|>",
            mutation_scale=11,
            color=color,
            lw=lw,
            ls=ls,
            connectionstyle=f"arc3,rad={rad}",
            shrinkA=2,
            shrinkB=2,
        )
    )


def _bracket(ax, x0, x1, y_top, y, label, color=LOSS):
    """A loss bracket under two columns: down from both, joined at height ``y``, labelled."""
    ax.plot([x0, x0, x1, x1], [y_top, y, y, y_top], color=color, lw=1.2)
    _text(
        ax,
        (x0 + x1) / 2,
        y,
        label,
        color=color,
        bbox=dict(facecolor="white", edgecolor="none", pad=1.5),
    )


def _blocked(ax, a: _Node, b: _Node, rad: float):
    """The first half of a curved gradient arrow from ``a`` towards ``b``, ended by a cross."""
    p0, p2 = np.array(a.edge(b.x, b.y)), np.array(b.edge(a.x, a.y))
    (dx, dy), mid = p2 - p0, (p0 + p2) / 2
    control = mid + rad * np.array([dy, -dx])  # the control point of matplotlib's arc3
    halfway = (p0 + 2 * control + p2) / 4  # the quadratic Bezier curve at t = 1/2
    ax.add_patch(
        PathPatch(
            Path([p0, (p0 + control) / 2, halfway], [Path.MOVETO, Path.CURVE3, Path.CURVE3]),
            fill=False,
            edgecolor=GRADIENT,
            lw=1.3,
        )
    )
    ax.plot(*halfway, marker="x", ms=9, mew=2.2, color=GRADIENT)


# --- architecture schematics ---------------------------------------------------------------


def autoencoder(input_dim: int = 784, latent_dim: int = 30) -> Figure:
    """The autoencoder: image x -> encoder f_phi -> code z (d numbers) -> decoder g_theta ->
    reconstruction x_hat, with the sizes D and d and the loss ||x - x_hat||^2 that compares
    the two ends. Drawn on the same frame as ``vae()`` so the two can be stacked.

    Used in: notebooks/01_autoencoder.ipynb, 04_vae.ipynb.
    """
    fig, (ax,) = _canvas(7.5, 2.5)
    y, tall, short = 1.4, 1.5, 0.55
    x_in = _vector(ax, 0.45, y, tall, 12)
    enc = _trapezoid(ax, 0.85, 2.75, y, tall, short, "encoder\n$f_\\phi$", ENCODER)
    code = _vector(ax, 3.75, y, short, 4)
    dec = _trapezoid(ax, 4.75, 6.65, y, short, tall, "decoder\n$g_\\theta$", DECODER)
    x_out = _vector(ax, 7.05, y, tall, 12, color=DECODER)
    for a, b in [(x_in, enc), (enc, code), (code, dec), (dec, x_out)]:
        _arrow(ax, a, b)
    for node, name, size in [
        (x_in, f"${X}$", f"$D = {input_dim}$"),
        (code, f"code ${Z}$", f"$d = {latent_dim}$"),
        (x_out, f"${XHAT}$", f"$D = {input_dim}$"),
    ]:
        _text(ax, node.x, node.y + node.h / 2 + 0.17, name)
        _text(ax, node.x, node.y - node.h / 2 - 0.14, size, size=SMALL)
    _bracket(
        ax,
        x_in.x,
        x_out.x,
        y - tall / 2 - 0.3,
        0.2,
        rf"loss $\ell({X}, {XHAT}) = \Vert {X} - {XHAT} \Vert^2$",
    )
    return fig


def vae(input_dim: int = 784, latent_dim: int = 20) -> Figure:
    """The VAE: x -> encoder trunk -> two heads mu_phi(x) and log sigma^2_phi(x) -> sample
    z = mu + sigma * eps with eps ~ N(0, I) coming in from the side -> decoder g_theta ->
    p_theta(x | z) (logits). The two loss terms are marked where they attach: the KL to the
    prior at the heads, the reconstruction -log p_theta(x | z) at the output. Same frame as
    ``autoencoder()``.

    Used in: notebooks/04_vae.ipynb, 06_reparameterization_trick.ipynb.
    """
    fig, (ax,) = _canvas(7.5, 3.2)
    y, tall = 1.75, 1.5
    x_in = _vector(ax, 0.45, y, tall, 12)
    enc = _trapezoid(ax, 0.85, 1.95, y, tall, 0.95, "encoder\n$f_\\phi$", ENCODER)
    head_w, head_h = 1.25, 0.42
    mu = _box(ax, 2.75, y + 0.45, head_w, head_h, f"${MU}_\\phi({X})$", ENCODER)
    logvar = _box(ax, 2.75, y - 0.45, head_w, head_h, f"$\\log {SIGMA}^2_\\phi({X})$", ENCODER)
    z = _box(ax, 4.5, y, 1.45, 0.5, f"${Z} = {MU} + {SIGMA} \\odot {EPS}$", INK, fill=0.06)
    eps = _circle(ax, 4.5, y - 1.0, 0.2, f"${EPS}$")
    _text(ax, 4.75, eps.y, f"${EPS} \\sim {STD_NORMAL}$", size=SMALL, ha="left")
    dec = _trapezoid(ax, 5.55, 6.65, y, 0.5, tall, "decoder\n$g_\\theta$", DECODER)
    x_out = _vector(ax, 7.05, y, tall, 12, color=DECODER)
    _arrow(ax, x_in, enc)
    for head in (mu, logvar):
        _arrow(ax, (enc.x + enc.w / 2, y + (head.y - y) * 0.5), head)
        _arrow(ax, head, z)
    for a, b in [(eps, z), (z, dec), (dec, x_out)]:
        _arrow(ax, a, b)
    _text(ax, x_in.x, y + tall / 2 + 0.17, f"${X}$")
    _text(ax, x_in.x, y - tall / 2 - 0.14, f"$D = {input_dim}$", size=SMALL)
    _text(ax, x_out.x - 0.2, y + tall / 2 + 0.17, f"${PXZ}$")
    _text(ax, x_out.x, y - tall / 2 - 0.14, "logits", size=SMALL)
    _text(ax, z.x, z.y + 0.42, f"sample, $d = {latent_dim}$", size=SMALL)
    # the KL term attaches to the two heads: a dotted frame around them, labelled above
    ax.add_patch(
        FancyBboxPatch(
            (mu.x - head_w / 2 - 0.08, logvar.y - head_h / 2 - 0.08),
            head_w + 0.16,
            mu.y - logvar.y + head_h + 0.16,
            boxstyle="round,pad=0,rounding_size=0.08",
            fill=False,
            edgecolor=LOSS,
            ls=":",
            lw=1.4,
        )
    )
    _text(ax, mu.x, mu.y + head_h / 2 + 0.3, f"${KL}({QZX} \\,\\Vert\\, p({Z}))$", color=LOSS)
    _bracket(ax, x_in.x, x_out.x, y - tall / 2 - 0.3, 0.2, f"reconstruction $-\\log {PXZ}$")
    return fig


# --- probabilistic pictures ----------------------------------------------------------------


def graphical_model() -> Figure:
    """The VAE as a directed graphical model: latent z (open circle) -> observed x (shaded),
    repeated over a plate of N images; theta, outside the plate, parametrizes p_theta(x | z)
    (solid arrows: the generative model); phi parametrizes the inference q_phi(z | x), the
    dashed arrow from x back to z.

    Used in: notebooks/04_vae.ipynb.
    """
    fig, (ax,) = _canvas(5.6, 3.0, bottom=0.3)
    ax.add_patch(
        FancyBboxPatch(
            (1.0, 0.05),
            3.1,
            2.55,
            boxstyle="round,pad=0,rounding_size=0.1",
            fill=False,
            edgecolor=INK,
            lw=1.0,
        )
    )
    _text(ax, 4.0, 0.17, "$N$ images", size=SMALL, ha="right")
    z = _circle(ax, 2.6, 2.05, 0.3, f"${Z}$", color=INK, fill=0.0)
    x = _circle(ax, 2.6, 0.95, 0.3, f"${X}$", color=INK, fill=0.3)
    _arrow(ax, z, x)
    _text(ax, 2.72, 1.5, f"${PXZ}$", ha="left")
    _text(ax, 2.98, 2.05, f"$p({Z}) = {STD_NORMAL}$", ha="left", size=SMALL)
    on_circle = [
        (c.x + 0.3 * math.cos(math.radians(a)), c.y + 0.3 * math.sin(math.radians(a)))
        for c, a in ((x, 165), (z, 195))
    ]
    _arrow(ax, *on_circle, ls="--", rad=-0.7, color=ENCODER)
    _text(ax, 1.85, 1.5, f"${QZX}$", ha="right", color=ENCODER)
    theta, phi = _Node(4.6, 0.95, 0.1, 0.1, "circle"), _Node(0.5, 2.05, 0.1, 0.1, "circle")
    ax.plot([theta.x, phi.x], [theta.y, phi.y], "o", ms=5, color=INK)
    _text(ax, theta.x + 0.12, theta.y, r"$\theta$", ha="left")
    _text(ax, phi.x - 0.12, phi.y, r"$\phi$", ha="right")
    _arrow(ax, theta, x)
    _arrow(ax, phi, z, ls="--", color=ENCODER)
    fig.legend(
        handles=[
            Line2D([], [], color=INK, label="generative model"),
            Line2D([], [], color=ENCODER, ls="--", label="approximate inference"),
        ],
        loc="lower center",
        ncol=2,
        fontsize=SMALL,
        frameon=False,
    )
    return fig


def reparameterization() -> Figure:
    """The reparameterization trick as two computation graphs. Left, sampling z ~ N(mu,
    sigma^2) directly: the gradient of the loss psi(z) stops at the random node. Right,
    z = mu + sigma * eps with eps ~ N(0, I) the only random node: z is deterministic, and the
    gradient reaches mu and sigma through dz/dmu = I and dz/dsigma = diag(eps).

    Used in: notebooks/06_reparameterization_trick.ipynb, 04_vae.ipynb.
    """
    fig, axes = _canvas(7.6, 3.3, ncols=2, bottom=0.35)
    for ax, reparameterized in zip(axes, (False, True), strict=True):
        mu = _box(ax, 0.45, 2.05, 0.5, 0.4, f"${MU}$", ENCODER)
        sigma = _box(ax, 0.45, 0.85, 0.5, 0.4, f"${SIGMA}$", ENCODER)
        loss = _box(ax, 3.25, 1.45, 0.7, 0.42, rf"$\psi({Z})$", LOSS)
        if reparameterized:
            z = _box(ax, 1.95, 1.45, 0.5, 0.42, f"${Z}$", INK)
            _text(ax, z.x, z.y + 0.42, f"${Z} = {MU} + {SIGMA} \\odot {EPS}$", size=SMALL)
            eps = _circle(ax, 1.95, 0.45, 0.22, f"${EPS}$")
            _text(ax, eps.x + 0.3, eps.y, f"$\\sim {STD_NORMAL}$", size=SMALL, ha="left")
            _arrow(ax, eps, z)
            title = f"reparameterized: the gradient reaches ${MU}, {SIGMA}$"
        else:
            z = _circle(ax, 1.95, 1.45, 0.27, f"${Z}$")
            _text(ax, z.x, z.y + 0.45, f"${Z} \\sim \\mathcal{{N}}({MU}, {SIGMA}^2)$", size=SMALL)
            title = f"sampling: the gradient stops at ${Z}$"
        for a, b in [(mu, z), (sigma, z), (z, loss)]:
            _arrow(ax, a, b)
        _arrow(ax, loss, z, color=GRADIENT, rad=-0.5)
        _text(ax, 2.6, 1.0, f"$\\partial \\psi / \\partial {Z}$", color=GRADIENT, size=SMALL)
        if reparameterized:
            _arrow(ax, z, mu, color=GRADIENT, rad=0.35)
            _arrow(ax, z, sigma, color=GRADIENT, rad=-0.35)
            _text(
                ax,
                1.25,
                2.3,
                f"$\\partial {Z} / \\partial {MU} = \\mathbf{{I}}$",
                color=GRADIENT,
                size=SMALL,
            )
            _text(
                ax,
                1.0,
                0.45,
                f"$\\partial {Z} / \\partial {SIGMA} = \\operatorname{{diag}}({EPS})$",
                color=GRADIENT,
                size=SMALL,
            )
        else:
            _blocked(ax, z, mu, rad=0.35)
            _blocked(ax, z, sigma, rad=-0.35)
            _text(
                ax,
                1.2,
                0.3,
                f"blocked: the draw is not a\ndifferentiable function of ${MU}, {SIGMA}$",
                color=GRADIENT,
                size=SMALL,
            )
        _text(ax, 1.9, 2.8, title)
    fig.legend(
        handles=[
            Line2D([], [], ls="", marker="s", ms=9, mfc="white", mec=INK, label="deterministic"),
            Line2D(
                [],
                [],
                ls="",
                marker="o",
                ms=9,
                mfc=to_rgba(RANDOM, 0.15),
                mec=RANDOM,
                label="random",
            ),
            Line2D([], [], color=INK, label="forward"),
            Line2D([], [], color=GRADIENT, label="gradient"),
        ],
        loc="lower center",
        ncol=4,
        fontsize=SMALL,
        frameon=False,
    )
    return fig


def elbo_gap(
    log_px: float | None = None, elbo: float | None = None, *, kl_prior: float | None = None
) -> Figure:
    """log p_theta(x) = ELBO + gap, as bars of nats. Both sides are negative numbers, so the
    bars show their negatives, the losses: the bar of -ELBO (what the VAE minimizes) is made
    of -log p_theta(x) and the gap KL(q_phi(z | x) || p_theta(z | x)); a second bar of the
    same length splits -ELBO into the reconstruction term and the KL to the prior.

    Without numbers the picture is a schematic. With ``log_px`` and ``elbo`` (nats, e.g.
    -94.9 and -99.1) the bars are to scale and the labels carry the numbers; the second bar
    is drawn only when ``kl_prior``, the KL to the prior in nats, is given too.

    Used in: notebooks/07_deriving_the_elbo.ipynb, 04_vae.ipynb.
    """
    if (log_px is None) != (elbo is None):
        raise ValueError("give both log_px and elbo (nats), or neither for a schematic")
    numbers = log_px is not None
    if numbers and not elbo <= log_px <= 0:
        raise ValueError(f"need elbo <= log_px <= 0, got elbo={elbo}, log_px={log_px}")
    if kl_prior is not None and not (numbers and 0 <= kl_prior <= -elbo):
        raise ValueError("kl_prior needs log_px and elbo, and must lie in [0, -elbo]")
    loss, nll = (-elbo, -log_px) if numbers else (4.0, 3.1)
    kl = kl_prior if numbers else 1.3
    split = kl is not None

    def nats(v):
        return f" = {v:.1f}" if numbers else ""

    width, left = 6.6, 0.45
    fig, (ax,) = _canvas(7.5, 2.8 if split else 1.7)
    scale = width / loss
    top = 1.8 if split else 0.7
    rows = [
        (
            top,
            nll,
            f"$-\\log p_\\theta({X})${nats(nll)}",
            GREY,
            f"gap $\\;{KL}({QZX} \\,\\Vert\\, p_\\theta({Z} \\mid {X})){nats(loss - nll)}$",
        )
    ]
    if split:
        rows.append(
            (
                top - 1.1,
                loss - kl,
                f"reconstruction $-\\mathbb{{E}}_{{q_\\phi}}[\\log {PXZ}]${nats(loss - kl)}",
                DECODER,
                f"${KL}({QZX} \\,\\Vert\\, p({Z})){nats(kl)}$",
            )
        )
    for (y, first, label, color, rest_label), hatch in zip(rows, ("///", None), strict=False):
        rest = loss - first
        ax.add_patch(
            Rectangle(
                (left, y - 0.2), first * scale, 0.4, facecolor=to_rgba(color, 0.25), edgecolor=color
            )
        )
        ax.add_patch(
            Rectangle(
                (left + first * scale, y - 0.2),
                rest * scale,
                0.4,
                facecolor=to_rgba(LOSS, 0.3),
                edgecolor=LOSS,
                hatch=hatch,
            )
        )
        _text(ax, left + first * scale / 2, y, label)
        _text(ax, left + width - 0.06, y + 0.36, rest_label, color=LOSS, ha="right")
    _text(ax, left, top + 0.36, "0 nats", size=SMALL, ha="left")
    ax.plot([left + width] * 2, [0.12, top + 0.22], color=INK, ls="--", lw=1)
    _text(
        ax,
        left + width - 0.06,
        0.02,
        f"$-\\mathcal{{L}}${nats(loss)} (the VAE's loss)",
        size=SMALL,
        ha="right",
        va="bottom",
    )
    title = f"$\\log p_\\theta({X}) = \\mathcal{{L}} + $ gap"
    if numbers:
        title += f":  ${log_px:.1f} = {elbo:.1f} + {log_px - elbo:.1f}$ nats"
    fig.suptitle(title, fontsize=FONT, color=INK, y=0.99, va="top")
    return fig


def _fit_gaussian(divergence, starts) -> tuple[float, float]:
    """The (mean, sd) of the Gaussian that minimizes ``divergence(mean, log_sd)``, by L-BFGS
    from each (mean, log_sd) in ``starts``; the best end point wins."""
    best, best_value = None, math.inf
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tensors this small are ten times slower on a busy thread pool
    try:
        for start in starts:
            params, value = _lbfgs(divergence, start)
            if value < best_value:
                best, best_value = params, value
    finally:
        torch.set_num_threads(threads)
    return float(best[0]), float(best[1].exp())


def _lbfgs(divergence, start) -> tuple[torch.Tensor, float]:
    """One L-BFGS run from ``start`` = (mean, log_sd); returns the end point and its value."""
    params = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [params],
        max_iter=300,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        value = divergence(params[0], params[1])
        value.backward()
        return value

    opt.step(closure)
    with torch.no_grad():
        value = float(divergence(params[0], params[1]))
    return params.detach(), value


def kl_asymmetry(seed: int = 0) -> tuple[Figure, dict]:
    """The asymmetry of the KL divergence in 1-D. The target p is a mixture of two Gaussians
    (weights 1/2, means -2 and +2, sd 0.6); q is a single Gaussian fitted numerically twice,
    on a grid of 4801 points in [-12, 12] with Riemann sums for the divergences:

    - minimizing KL(q || p), the direction a VAE uses, gives a narrow q on one mode
      (mode-seeking). Fitted from eight starts drawn with ``seed``; the best is kept.
    - minimizing KL(p || q) gives a wide q between the modes (mass-covering); for a Gaussian
      q this is moment matching: mean 0, variance 0.6^2 + 2^2.

    Returns ``(fig, numbers)`` with ``numbers = {"reverse": {...}, "forward": {...}}``, each
    holding the fit's ``mean``, ``sd``, ``kl_q_p`` = KL(q || p) and ``kl_p_q`` = KL(p || q)
    in nats.

    Used in: notebooks/04_vae.ipynb.
    """
    grid = torch.linspace(-12.0, 12.0, 4801, dtype=torch.float64)
    dx = float(grid[1] - grid[0])
    modes = torch.distributions.Normal(torch.tensor([-2.0, 2.0], dtype=torch.float64), 0.6)
    log_p = torch.logsumexp(modes.log_prob(grid[:, None]) + math.log(0.5), dim=1)  # (4801,)

    def log_q(mean, log_sd):  # normalized on the grid, so that q always has mass 1 there
        lq = torch.distributions.Normal(mean, log_sd.exp()).log_prob(grid)
        return lq - torch.logsumexp(lq, dim=0) - math.log(dx)

    def kl_q_p(mean, log_sd):
        lq = log_q(mean, log_sd)
        return (lq.exp() * (lq - log_p)).sum() * dx

    def kl_p_q(mean, log_sd):
        return (log_p.exp() * (log_p - log_q(mean, log_sd))).sum() * dx

    gen = torch.Generator().manual_seed(seed)
    starts = torch.stack(
        [
            torch.rand(8, generator=gen) * 8 - 4,  # means in [-4, 4]
            torch.rand(8, generator=gen) * 2 - 1,
        ],
        dim=1,
    ).tolist()  # log sd
    numbers = {}
    for name, divergence in (("reverse", kl_q_p), ("forward", kl_p_q)):
        mean, sd = _fit_gaussian(divergence, starts)
        m, ls = torch.tensor([mean, math.log(sd)], dtype=torch.float64)
        numbers[name] = {
            "mean": mean,
            "sd": sd,
            "kl_q_p": float(kl_q_p(m, ls)),
            "kl_p_q": float(kl_p_q(m, ls)),
        }

    fig = _new_figure(figsize=(7.0, 3.2))
    ax = fig.add_subplot()
    xs = grid.numpy()
    ax.fill_between(
        xs, log_p.exp().numpy(), color=GREY, alpha=0.35, lw=0, label="target $p$: two modes"
    )
    for name, color, words, what in (
        ("reverse", ENCODER, "mode-seeking", r"q \,\Vert\, p"),
        ("forward", DECODER, "mass-covering", r"p \,\Vert\, q"),
    ):
        fit = numbers[name]
        density = torch.distributions.Normal(fit["mean"], fit["sd"]).log_prob(grid).exp()
        ax.plot(
            xs, density.numpy(), color=color, lw=2, label=f"$q$ minimizing ${KL}({what})$: {words}"
        )
    ax.set_xlim(-5.5, 5.5)
    ax.set_ylim(0, None)
    ax.set_xlabel("$z$")
    ax.set_ylabel("density")
    ax.spines[["top", "right"]].set_visible(False)
    rev, fwd = numbers["reverse"], numbers["forward"]
    ax.legend(fontsize=SMALL, frameon=False, loc="upper left" if rev["mean"] > 0 else "upper right")

    def show(v):  # two decimals, and no "-0.00"
        return f"{round(v, 2) + 0.0:.2f}"

    ax.set_title(
        f"mode-seeking $q$: mean {show(rev['mean'])}, sd {rev['sd']:.2f}, "
        f"${KL}(q \\,\\Vert\\, p) = {rev['kl_q_p']:.2f}$\n"
        f"mass-covering $q$: mean {show(fwd['mean'])}, sd {fwd['sd']:.2f}, "
        f"${KL}(p \\,\\Vert\\, q) = {fwd['kl_p_q']:.2f}$",
        fontsize=FONT,
    )
    fig.tight_layout()
    return fig, numbers


def posterior_contours(
    post_mean, post_cov, q_mean, q_std, *, prior: bool = True, ax=None, title: str | None = None
) -> Figure:
    """The 1-, 2- and 3-sd ellipses of a correlated 2-D Gaussian posterior N(post_mean,
    post_cov) against a diagonal Gaussian q = N(q_mean, diag(q_std^2)), and optionally the
    prior N(0, I) in light grey. Tensors (any device) or arrays: means (2,), post_cov (2, 2),
    q_std (2,). Draws into ``ax`` when given; returns the figure.

    Used in: notebooks/07_deriving_the_elbo.ipynb.
    """
    post_mean, post_cov = _to_numpy(post_mean).reshape(-1), _to_numpy(post_cov)
    q_mean, q_std = _to_numpy(q_mean).reshape(-1), _to_numpy(q_std).reshape(-1)
    if (
        post_mean.shape != (2,)
        or post_cov.shape != (2, 2)
        or q_mean.shape != (2,)
        or q_std.shape != (2,)
    ):
        raise ValueError(
            "need 2-D Gaussians: means (2,), post_cov (2, 2) and q_std (2,), got "
            f"{post_mean.shape}, {post_cov.shape}, {q_mean.shape}, {q_std.shape}"
        )
    if ax is None:
        fig = _new_figure(figsize=(4.6, 4.6))
        ax = fig.add_subplot()
        fig.set_layout_engine("constrained")
    angle = np.linspace(0, 2 * np.pi, 200)
    circle = np.stack([np.cos(angle), np.sin(angle)])  # (2, 200)
    # (mean, a square root of the covariance, colour, line style, line width, label)
    gaussians = [
        (post_mean, np.linalg.cholesky(post_cov), INK, "-", 1.4, "exact posterior"),
        (q_mean, np.diag(q_std), ENCODER, "--", 1.4, "best diagonal $q$"),
    ]
    if prior:
        gaussians.insert(0, (np.zeros(2), np.eye(2), LIGHT, "-", 0.9, f"prior ${STD_NORMAL}$"))
    for mean, root, color, ls, lw, label in gaussians:
        for radius in (1, 2, 3):
            ellipse = mean[:, None] + radius * root @ circle  # (2, 200)
            ax.plot(
                *ellipse,
                color=color,
                ls=ls,
                lw=lw,
                solid_capstyle="round",
                label=label if radius == 1 else None,
            )
        ax.plot(*mean, marker="+", color=color, ms=8)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.legend(
        fontsize=SMALL,
        frameon=False,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncol=len(gaussians),
    )
    if title:
        ax.set_title(title, fontsize=FONT)
    return ax.figure
