"""Behaviour tests of aevae_lib.plots: every helper returns a Figure, shows nothing, saves files."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from aevae_lib import plots


@pytest.fixture
def images():
    return torch.rand(13, 784, generator=torch.Generator().manual_seed(0))


def test_tile_places_each_image_with_grey_gaps_and_empty_cells(images):
    canvas = plots.tile(images, ncols=5, pad=1)
    assert canvas.shape == (3 * 29 - 1, 5 * 29 - 1)
    np.testing.assert_allclose(canvas[:28, :28], images[0].view(28, 28).numpy(), rtol=1e-6)
    np.testing.assert_allclose(canvas[29:57, 58:86], images[7].view(28, 28).numpy(), rtol=1e-6)
    assert (canvas[28, :] == 0.15).all()  # the gap row: a light grey line
    assert (canvas[58:, 3 * 29 : 3 * 29 + 28] == 0.0).all()  # an unused cell: no ink (white)
    assert (plots.tile(images, ncols=5, pad_value=0.0)[28, :] == 0.0).all()


def test_tile_accepts_28x28_arrays_and_rejects_other_shapes(images):
    a = plots.tile(images.view(-1, 28, 28).numpy(), ncols=13, pad=0)
    assert a.shape == (28, 13 * 28)
    with pytest.raises(ValueError, match="shape"):
        plots.tile(torch.rand(3, 100))
    with pytest.raises(ValueError, match="ncols"):
        plots.tile(images, ncols=0)


def test_every_helper_returns_a_figure_with_its_title(images):
    z = torch.randn(50, 2, generator=torch.Generator().manual_seed(1))
    y = torch.arange(50) % 10
    figures = {
        "grid 0.5": plots.image_grid(images, ncols=5, title="grid 0.5"),
        "rows": plots.image_rows({"a": images[:4], "b": images[4:8]}, title="rows"),
        "small": plots.images_with_titles(images[:3], ["p", "q", "r"], ncols=3, suptitle="small"),
        "curves": plots.loss_curves(
            {"train": [3.0, 2.0, 1.0], "test": [3.5, 2.5, 1.6]}, title="curves"
        ),
        "scatter": plots.latent_scatter(z, y, title="scatter"),
        "hist": plots.code_histograms(z, dims=[0, 1], title="hist"),
        "roc": plots.roc_figure({"AE": ([0, 0.2, 1], [0, 0.8, 1], 0.8)}, title="roc"),
        "sweep": plots.curves([2, 8, 30], {"PCA": [5.0, 3.0, 1.0]}, title="sweep"),
    }
    for title, fig in figures.items():
        assert isinstance(fig, Figure)
        texts = [ax.get_title() for ax in fig.axes] + [
            fig._suptitle.get_text() if fig._suptitle else ""
        ]
        assert title in texts, (title, texts)


def test_helpers_leave_no_open_pyplot_figures(images):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plots.image_grid(images)
    plots.loss_curves({"train": [1.0, 0.5]})
    assert plt.get_fignums() == before  # nothing pops up by itself; the caller displays it


def test_draw_into_a_given_axis():
    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    out = plots.latent_scatter(torch.randn(20, 2), title="left", ax=ax1)
    plots.loss_curves({"x": [1, 2]}, ax=ax2)
    assert out is fig and ax1.get_title() == "left" and len(ax2.lines) == 1


def test_roc_figure_has_a_chance_line_and_auc_in_the_legend():
    fig = plots.roc_figure({"AE": ([0, 1], [0, 1], 0.5)})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["AE (AUC 0.500)", "chance (AUC 0.5)"]


def test_latent_scatter_and_histograms_check_shapes():
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        plots.latent_scatter(torch.randn(5, 3))
    with pytest.raises(ValueError, match="titles"):
        plots.images_with_titles(torch.rand(2, 784), ["one"])
    with pytest.raises(ValueError, match="at least one"):
        plots.image_rows({})


def test_save_figure_writes_vector_files(tmp_path, images):
    fig = plots.image_grid(images[:4], title="four")
    paths = plots.save_figure(fig, tmp_path / "figs" / "grid.png")
    assert [p.name for p in paths] == ["grid.svg", "grid.pdf"]
    assert paths[0].read_text().lstrip().startswith("<?xml")
    assert paths[1].read_bytes()[:4] == b"%PDF"
    with pytest.raises(ValueError, match="formats"):
        plots.save_figure(fig, tmp_path / "x", formats=("jpg",))


def test_import_has_no_side_effects():
    import importlib

    rc = dict(matplotlib.rcParams)
    importlib.reload(plots)
    assert dict(matplotlib.rcParams) == rc


def test_table_formats_floats_escapes_bars_and_checks_row_lengths():
    md = plots.table(["model", "NLL"], [["VAE", 94.9512], ["a|b", torch.tensor(3.0)]])
    assert md.data.splitlines() == [
        "| model | NLL |",
        "| --- | --- |",
        "| VAE | 94.95 |",
        "| a\\|b | 3.00 |",
    ]
    with pytest.raises(ValueError, match="row 0 has 1 cells, the header has 2"):
        plots.table(["a", "b"], [["only one"]])


def test_curves_on_a_log_axis_label_only_the_given_values():
    fig = plots.curves(
        torch.tensor([2, 8, 30]), {"PCA": [55.0, 37.0, 13.9], "AE": [37.0, 15.0, 5.3]}, logx=True
    )
    ax = fig.axes[0]
    fig.canvas.draw()
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "8", "30"]
    assert [t.get_text() for t in ax.get_xticklabels(minor=True)] == []  # no colliding labels
    assert [line.get_label() for line in ax.lines] == ["PCA", "AE"]
    assert ax.get_legend() is not None


def test_curves_checks_its_inputs():
    with pytest.raises(ValueError, match="at least one"):
        plots.curves([1, 2], {})
    with pytest.raises(ValueError, match="'a' has"):
        plots.curves([1, 2], {"a": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="non-empty 1-D"):
        plots.curves([], {"a": []})
