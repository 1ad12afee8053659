"""Headless tests of aevae_lib.widgets and their static twins in aevae_lib.figures.

Each widget is built on a tiny untrained model, a control is moved from code, and the image
it shows must change (and agree with the model). Milliseconds each: no training, no MNIST.
"""

from __future__ import annotations

import ipywidgets
import numpy as np
import pytest
import torch
from ipywidgets.embed import embed_data
from matplotlib.figure import Figure

from aevae_lib import figures, widgets
from aevae_lib.models import VAE, Autoencoder


@pytest.fixture
def x():
    return torch.rand(12, 784, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def vae2d():
    torch.manual_seed(0)
    return VAE(latent_dim=2, hidden=(8,))


@pytest.fixture
def ae():
    torch.manual_seed(1)
    return Autoencoder(latent_dim=3, hidden=(8,))


def _shown(explorer, row):
    """The PNG bytes the row's Image widget holds now."""
    return explorer._images[row].value


def test_latent_explorer_redraws_the_decoder_output_when_a_slider_moves(vae2d):
    w = widgets.latent_explorer(vae2d)
    assert isinstance(w, ipywidgets.VBox)
    before, png_before = w.arrays["decoded digit"].copy(), _shown(w, "decoded digit")
    w.controls["z1"].value = 2.0
    w.controls["z2"].value = -1.5
    after = w.arrays["decoded digit"]
    assert not np.allclose(before, after)
    assert _shown(w, "decoded digit") != png_before
    assert "(2.00, -1.50)" in w.caption.value
    expected = figures.decode_images(vae2d, torch.tensor([[2.0, -1.5]])).view(28, 28)
    np.testing.assert_allclose(after, expected.numpy(), rtol=1e-6)


def test_latent_explorer_and_grid_need_a_2d_latent_space(ae):
    with pytest.raises(ValueError, match="latent_dim=2"):
        widgets.latent_explorer(ae)
    with pytest.raises(ValueError, match="latent_dim=2"):
        figures.latent_grid_figure(VAE(latent_dim=3, hidden=(8,)))


def test_interpolation_explorer_follows_t_and_the_chosen_images(vae2d, x):
    w = widgets.interpolation_explorer(vae2d, x, index_a=0, index_b=1, steps=5)
    middle = slice(30, 58)  # the second image of the strip "A, z(t), B" (28 px + 2 px gap)
    w.controls["t"].value = 0.0
    z_a = figures.encode_mean(vae2d, x[:1])
    np.testing.assert_allclose(
        w.arrays["A, z(t), B"][:, middle], figures.decode_images(vae2d, z_a).view(28, 28), rtol=1e-5
    )
    at_zero = w.arrays["A, z(t), B"].copy()
    w.controls["t"].value = 1.0
    assert not np.allclose(at_zero[:, middle], w.arrays["A, z(t), B"][:, middle])
    path = w.arrays["path t = 0..1"].copy()
    assert path.shape == (28, 5 * 30 - 2)
    w.controls["a"].value = 7
    np.testing.assert_allclose(w.arrays["A, z(t), B"][:, :28], x[7].view(28, 28), rtol=1e-6)
    assert not np.allclose(path, w.arrays["path t = 0..1"])
    assert "test images 7 and 1" in w.caption.value


def test_interpolation_works_for_an_autoencoder_and_checks_indices(ae, x):
    w = widgets.interpolation_explorer(ae, x, index_a=2, index_b=3)
    assert w.controls["a"].max == len(x) - 1  # the picker cannot leave the test set
    with pytest.raises(ValueError, match="index_b"):
        widgets.interpolation_explorer(ae, x, index_b=len(x))
    with pytest.raises(ValueError, match=r"\(N, 784\)"):
        widgets.interpolation_explorer(ae, x.view(-1, 28, 28))


def test_denoising_explorer_noise_slider_changes_input_and_reconstruction(ae, x):
    w = widgets.denoising_explorer(ae, x, n=4, noise_std=0.0)
    np.testing.assert_allclose(w.arrays["noisy input"], w.arrays["clean"])
    clean_recon = w.arrays["reconstruction"].copy()
    w.controls["std"].value = 0.5
    assert not np.allclose(w.arrays["noisy input"], w.arrays["clean"])
    assert not np.allclose(w.arrays["reconstruction"], clean_recon)
    assert "noise std 0.50" in w.caption.value


def test_denoising_uses_one_noise_pattern_at_every_level(ae, x):
    small, _ = figures.denoise(ae, x[:3], 0.1, seed=0)
    large, _ = figures.denoise(ae, x[:3], 0.2, seed=0)
    inside = (small > 0) & (small < 1) & (large > 0) & (large < 1)  # not clipped
    torch.testing.assert_close((large - x[:3])[inside], 2 * (small - x[:3])[inside])


def test_beta_explorer_switches_models_with_the_same_prior_draws(x):
    torch.manual_seed(2)
    models = {4.0: VAE(latent_dim=2, hidden=(8,)), 1.0: VAE(latent_dim=2, hidden=(8,))}
    w = widgets.beta_explorer(models, x, n=5)
    assert w.controls["beta"].value == 1.0  # the smallest beta first
    first = {k: v.copy() for k, v in w.arrays.items()}
    w.controls["beta"].value = 4.0
    assert not np.allclose(first["samples z ~ p(z)"], w.arrays["samples z ~ p(z)"])
    assert not np.allclose(first["reconstructions"], w.arrays["reconstructions"])
    np.testing.assert_allclose(first["test images"], w.arrays["test images"])
    assert w.caption.value.startswith("β = 4: KL(q‖p)")
    samples, *_ = figures.beta_panel(models[4.0], x[:5], 5, seed=0)
    np.testing.assert_allclose(w.arrays["samples z ~ p(z)"], figures.strip(samples))
    with pytest.raises(ValueError, match="non-empty dict"):
        widgets.beta_explorer({}, x)


def test_widget_state_embeds_for_the_static_book(vae2d):
    """The book shows the starting state: it must serialise with the image bytes inside."""
    w = widgets.latent_explorer(vae2d)
    data = embed_data(views=[w])
    models = {m["model_name"] for m in data["manager_state"]["state"].values()}
    assert {"VBoxModel", "ImageModel", "FloatSliderModel", "HTMLModel"} <= models
    images = [m for m in data["manager_state"]["state"].values() if m["model_name"] == "ImageModel"]
    assert images[0]["buffers"], "the PNG bytes must travel with the state"
    assert data["view_specs"][0]["model_id"] == w.model_id


def test_static_twins_return_figures(vae2d, ae, x):
    figs = {
        "grid": figures.latent_grid_figure(vae2d, n=5),
        "interp": figures.interpolation_figure(ae, x, pairs=((0, 1), (2, 3)), steps=4),
        "denoise": figures.denoising_figure(ae, x, stds=(0.0, 0.5), n=3),
        "beta": figures.beta_figure({1.0: vae2d, 2.0: vae2d}, x, n=3),
    }
    for fig in figs.values():
        assert isinstance(fig, Figure)
    assert len(figs["interp"].axes) == 2  # one row per pair
    assert len(figs["denoise"].axes) == 1 + 2 * 2  # clean, then noisy + denoised per level
    assert len(figs["beta"].axes) == 1 + 2 * 2  # test images, then samples + recon per beta


def test_png_bytes_zooms_each_pixel():
    canvas = np.array([[0.0, 1.0]])
    png = widgets.png_bytes(canvas, zoom=4)
    import io

    from matplotlib.image import imread

    img = imread(io.BytesIO(png))
    assert img.shape[:2] == (4, 8)
    assert img[0, 0, 0] > 0.9 and img[0, 7, 0] < 0.1  # 0 -> white, 1 -> black ink


def test_latent_traversal_moves_one_dimension_of_the_images_code(x):
    torch.manual_seed(0)
    vae = VAE(latent_dim=4, hidden=[16])
    values = torch.tensor([-2.0, 0.0, 2.0])
    images = figures.latent_traversal(vae, x[0], 2, values)
    assert images.shape == (3, 784) and images.min() >= 0.0 and images.max() <= 1.0
    mu, _ = vae.encode(x[:1])
    z = mu.detach().repeat(3, 1)
    z[:, 2] = values
    expected = vae.mean_image(vae.decode(z)).detach()
    torch.testing.assert_close(images, expected)
    # the same image given as (1, 784) gives the same row
    torch.testing.assert_close(figures.latent_traversal(vae, x[:1], 2, values), images)


def test_latent_traversal_refuses_bad_dimensions_and_several_images(x):
    vae = VAE(latent_dim=4, hidden=[16])
    with pytest.raises(ValueError, match="dim must be an int in"):
        figures.latent_traversal(vae, x[0], 4, [0.0])
    with pytest.raises(ValueError, match="one image"):
        figures.latent_traversal(vae, x[:2], 0, [0.0])
    with pytest.raises(ValueError, match="at least one value"):
        figures.latent_traversal(vae, x[0], 0, [])


def test_traversal_rows_label_each_dimension_with_its_rate(x, ae):
    torch.manual_seed(0)
    vae = VAE(latent_dim=4, hidden=[16])
    rows = figures.traversal_rows(
        vae, x[0], [3, 0], label="beta=4", rates=torch.tensor([0.25, 0.0, 0.0, 1.5])
    )
    assert list(rows) == ["beta=4 z4 (1.5 nats)", "beta=4 z1 (0.2 nats)"]
    assert all(v.shape == (9, 784) for v in rows.values())
    assert list(figures.traversal_rows(ae, x[0], [1])) == ["z2"]  # an autoencoder works too
