"""Plotting helpers shared by the chapters: image grids, loss curves, curves over a setting,
latent scatters, ROC, Markdown tables.

Every helper builds a matplotlib ``Figure`` and returns it; nothing is shown, saved or
configured at import time (no ``plt.show()``, no rcParams). In a notebook the returned figure
is displayed because it is the cell's last value; ``save_figure`` writes it as SVG/PDF for
lecturers' slides. Images are (n, 784) tensors or arrays with intensities in [0, 1].

Owns: ``tile``, ``image_grid``, ``image_rows``, ``images_with_titles``, ``loss_curves``,
``curves``, ``latent_scatter``, ``code_histograms``, ``roc_figure``, ``table``, ``save_figure``.

Used in: notebooks/01_autoencoder.ipynb (first), 02_what_autoencoders_are_good_for.ipynb,
03_why_random_z_fails.ipynb and later chapters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

#: Ten distinguishable colours for the digits 0-9 (matplotlib's "tab10").
DIGIT_CMAP = "tab10"


def _to_numpy(a) -> np.ndarray:
    if hasattr(a, "detach"):  # a torch tensor
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def _as_images(images, side: int = 28) -> np.ndarray:
    """(n, side*side) or (n, side, side) -> (n, side, side) float array."""
    arr = _to_numpy(images)
    if arr.ndim == 2 and arr.shape[1] == side * side:
        return arr.reshape(len(arr), side, side)
    if arr.ndim == 3 and arr.shape[1:] == (side, side):
        return arr
    raise ValueError(
        f"images must have shape (n, {side * side}) or (n, {side}, {side}), got {arr.shape}"
    )


def tile(
    images, ncols: int = 10, pad: int = 1, side: int = 28, pad_value: float = 0.15
) -> np.ndarray:
    """Arrange n images in a grid with ``ncols`` columns and ``pad`` pixels between them.

    (n, 784) -> (rows * (28 + pad) - pad, ncols * (28 + pad) - pad), in intensity units
    (0 = no ink, shown white; 1 = ink, shown black). The gaps get ``pad_value`` (a light grey
    line between images); unused cells of the last row stay empty (0).
    """
    imgs = _as_images(images, side)
    if not isinstance(ncols, int) or ncols <= 0:
        raise ValueError(f"ncols must be a positive int, got {ncols!r}")
    n = len(imgs)
    ncols = min(ncols, max(n, 1))
    nrows = max(1, math.ceil(n / ncols))
    step = side + pad
    canvas = np.full((nrows * step - pad, ncols * step - pad), float(pad_value))
    for i in range(nrows * ncols):
        r, c = divmod(i, ncols)
        canvas[r * step : r * step + side, c * step : c * step + side] = imgs[i] if i < n else 0.0
    return canvas


def image_grid(images, ncols: int = 10, title: str | None = None, scale: float = 0.6) -> Figure:
    """One figure showing ``images`` (n, 784) as a grid (black digits on white background)."""
    canvas = tile(images, ncols)
    h, w = canvas.shape
    fig = _new_figure(
        figsize=(max(2.0, scale * w / 28), max(1.2, scale * h / 28 + (0.4 if title else 0)))
    )
    ax = fig.add_subplot()
    ax.imshow(1.0 - canvas, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def image_rows(rows: Mapping[str, object], title: str | None = None, scale: float = 0.6) -> Figure:
    """Several aligned rows of images, each labelled on the left, e.g. originals over
    reconstructions: ``image_rows({"test image": x[:10], "reconstruction": x_hat[:10]})``."""
    if not rows:
        raise ValueError("rows must hold at least one labelled row of images")
    ncols = max(len(_as_images(v)) for v in rows.values())
    fig = _new_figure(
        figsize=(max(3.0, scale * ncols + 1.6), scale * len(rows) + (0.5 if title else 0.1))
    )
    axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
    for ax, (label, imgs) in zip(axes, rows.items(), strict=True):
        ax.imshow(1.0 - tile(imgs, ncols), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_ylabel(label, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def images_with_titles(
    images, titles: Sequence[str], ncols: int = 8, suptitle: str | None = None
) -> Figure:
    """Small multiples: one axis per image, each with its own title (e.g. a judge's verdict)."""
    imgs = _as_images(images)
    if len(titles) != len(imgs):
        raise ValueError(f"got {len(imgs)} images but {len(titles)} titles")
    nrows = max(1, math.ceil(len(imgs) / ncols))
    fig = _new_figure(figsize=(1.3 * ncols, 1.45 * nrows + (0.4 if suptitle else 0)))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, img, text in zip(axes, imgs, titles, strict=False):
        ax.imshow(1.0 - img, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(text, fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def _finish_curves(fig, ax, xlabel, ylabel, logy, n_curves, title) -> Figure:
    """Labels, log scale, grid, a legend when there is more than one curve, title, layout."""
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if n_curves > 1:
        ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def loss_curves(
    curves: Mapping[str, Sequence[float]],
    title: str | None = None,
    xlabel: str = "epoch",
    ylabel: str = "loss",
    logy: bool = False,
    ax=None,
) -> Figure:
    """Plot named per-epoch curves (e.g. {"train": history["loss"], "test": test_curve})."""
    fig, ax = _figure_and_axis(ax, (5.0, 3.2))
    for label, values in curves.items():
        values = _to_numpy(values)
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", ms=3, label=label)
    return _finish_curves(fig, ax, xlabel, ylabel, logy, len(curves), title)


def curves(
    x: Sequence[float],
    ys: Mapping[str, Sequence[float]],
    title: str | None = None,
    xlabel: str = "",
    ylabel: str = "",
    logx: bool = False,
    logy: bool = False,
    ax=None,
) -> Figure:
    """Named curves over shared x values, e.g. test error against code size per method:
    ``curves([2, 8, 30], {"PCA": [...], "autoencoder": [...]}, logx=True)``.

    With ``logx`` the x axis is logarithmic and labelled at the given x values only, as
    plain numbers (no minor tick labels, which collide when the values span less than a
    few decades).
    """
    x = _to_numpy(x)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"x must be a non-empty 1-D sequence, got shape {x.shape}")
    if not ys:
        raise ValueError("ys must hold at least one named curve")
    fig, ax = _figure_and_axis(ax, (5.0, 3.2))
    for label, values in ys.items():
        values = _to_numpy(values)
        if values.shape != x.shape:
            raise ValueError(f"curve {label!r} has {values.shape} values for {x.shape} x values")
        ax.plot(x, values, marker="o", ms=4, label=label)
    if logx:
        ax.set_xscale("log")
        ax.set_xticks(x, labels=[f"{v:g}" for v in x])
        ax.xaxis.set_minor_locator(NullLocator())
    return _finish_curves(fig, ax, xlabel, ylabel, logy, len(ys), title)


def latent_scatter(
    z, labels=None, title: str | None = None, ax=None, s: float = 2.0, alpha: float = 0.6
) -> Figure:
    """Scatter 2-D codes z (n, 2), coloured by digit label (n,) when given."""
    z = _to_numpy(z)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"z must have shape (n, 2), got {z.shape}")
    fig, ax = _figure_and_axis(ax, (4.6, 4.2))
    if labels is None:
        ax.scatter(z[:, 0], z[:, 1], s=s, alpha=alpha, color="C0", rasterized=True)
    else:
        labels = _to_numpy(labels).astype(int)
        points = ax.scatter(
            z[:, 0],
            z[:, 1],
            c=labels,
            cmap=DIGIT_CMAP,
            vmin=-0.5,
            vmax=9.5,
            s=s,
            alpha=alpha,
            rasterized=True,
        )
        bar = fig.colorbar(points, ax=ax, ticks=range(10))
        bar.set_label("digit")
        bar.solids.set_alpha(1.0)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def code_histograms(
    codes,
    dims: Sequence[int] | None = None,
    ncols: int = 4,
    bins: int = 50,
    title: str | None = None,
) -> Figure:
    """Histograms of chosen code dimensions of ``codes`` (n, d) against the N(0, 1) density."""
    codes = _to_numpy(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must have shape (n, d), got {codes.shape}")
    dims = list(range(min(8, codes.shape[1]))) if dims is None else list(dims)
    nrows = max(1, math.ceil(len(dims) / ncols))
    fig = _new_figure(figsize=(2.6 * ncols, 2.0 * nrows + (0.4 if title else 0)))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(dims) :]:
        ax.set_axis_off()
    for ax, j in zip(axes, dims, strict=False):
        values = codes[:, j]
        lo, hi = min(values.min(), -4.0), max(values.max(), 4.0)
        ax.hist(values, bins=bins, range=(lo, hi), density=True, color="C0", alpha=0.7)
        grid = np.linspace(lo, hi, 300)
        ax.plot(grid, np.exp(-0.5 * grid**2) / math.sqrt(2 * math.pi), color="C3", lw=1.5)
        ax.set_title(f"$z_{{{j}}}$: mean {values.mean():.2f}, sd {values.std():.2f}", fontsize=9)
        ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def roc_figure(curves: Mapping[str, tuple], title: str | None = None, ax=None) -> Figure:
    """ROC curves: ``{label: (fpr, tpr, auc)}``, e.g. from ``sklearn.metrics.roc_curve``."""
    fig, ax = _figure_and_axis(ax, (4.2, 4.0))
    for label, (fpr, tpr, auc) in curves.items():
        ax.plot(_to_numpy(fpr), _to_numpy(tpr), label=f"{label} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="gray", ls="--", lw=1, label="chance (AUC 0.5)")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def table(header: Sequence[str], rows: Sequence[Sequence], digits: int = 2):
    """A Markdown table for a notebook: ``header`` names the columns, each row lists its cells.

    Floats are printed with ``digits`` decimals, everything else with ``str``; a "|" inside a
    cell is escaped, so it cannot split the column. Returns an ``IPython.display.Markdown``
    (shown when it is a cell's last value; its ``.data`` is the Markdown text).
    """
    from IPython.display import Markdown

    header = list(header)
    if not header:
        raise ValueError("header must name at least one column")

    def cell(value) -> str:
        if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # 0-d tensor or array
            value = value.item()
        text = f"{value:.{digits}f}" if isinstance(value, float) else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(map(cell, header)) + " |", "|" + " --- |" * len(header)]
    for i, row in enumerate(rows):
        row = list(row)
        if len(row) != len(header):
            raise ValueError(f"row {i} has {len(row)} cells, the header has {len(header)}")
        lines.append("| " + " | ".join(map(cell, row)) + " |")
    return Markdown("\n".join(lines))


def save_figure(fig: Figure, path, formats: Sequence[str] = ("svg", "pdf")) -> list[Path]:
    """Write ``fig`` as ``path.<format>`` for each format (vector files for slides).

    ``path`` has no suffix (any suffix is replaced). Folders are created. Returns the paths.
    Example: ``save_figure(fig, "figures/ae_reconstructions")``.
    """
    allowed = {"svg", "pdf", "png"}
    bad = [f for f in formats if f not in allowed]
    if bad or not formats:
        raise ValueError(
            f"formats must be a non-empty subset of {sorted(allowed)}, got {formats!r}"
        )
    base = Path(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        target = base.with_suffix(f".{fmt}")
        fig.savefig(target, format=fmt, bbox_inches="tight", dpi=150)
        written.append(target)
    return written


def _new_figure(figsize) -> Figure:
    """A figure made through pyplot (so Jupyter's inline backend knows how to display it) and
    closed at once, so pyplot never shows it by itself: it appears once, as a cell's value."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=figsize)
    plt.close(fig)
    return fig


def _figure_and_axis(ax, figsize):
    """A new figure with one axis, or the figure that owns the given ``ax``."""
    if ax is None:
        fig = _new_figure(figsize=figsize)
        return fig, fig.add_subplot()
    return ax.figure, ax
