"""Tests of aevae_lib.figures: decoding, strips, PNGs, argument checks and latent traversals."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from aevae_lib import figures
from aevae_lib.latent import encode_all
from aevae_lib.models import VAE, Autoencoder


@pytest.fixture
def vae():
    torch.manual_seed(0)
    return VAE(input_dim=784, latent_dim=4, hidden=(16,))


def test_decode_images_gives_the_vae_mean_image_in_unit_range_on_cpu(vae):
    z = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    images = figures.decode_images(vae, z)
    with torch.no_grad():
        expected = torch.sigmoid(vae.decode(z))  # Bernoulli decoder: mean = sigmoid(logits)
    assert images.device.type == "cpu" and images.shape == (5, 784)
    torch.testing.assert_close(images, expected)


def test_decode_images_clamps_an_autoencoder_output_to_unit_range():
    torch.manual_seed(0)
    ae = Autoencoder(input_dim=784, latent_dim=2, hidden=(8,), output="linear")
    with torch.no_grad():
        ae.decoder[-1].bias.fill_(5.0)  # push raw outputs above 1
    with torch.no_grad():
        assert ae.decode(torch.zeros(3, 2)).max() > 1.0  # the raw output leaves [0, 1]
    images = figures.decode_images(ae, torch.zeros(3, 2))
    assert images.max() <= 1.0 and images.min() >= 0.0


def test_strip_lays_images_side_by_side_with_gaps():
    images = torch.stack([torch.full((784,), float(i)) for i in range(3)])  # (3, 784)
    canvas = figures.strip(images, pad=2, gap_value=0.5)
    assert canvas.shape == (28, 3 * 30 - 2)
    assert (canvas[:, 0:28] == 0).all() and (canvas[:, 30:58] == 1).all()
    assert (canvas[:, 28:30] == 0.5).all() and (canvas[:, 60:88] == 2).all()


def test_png_bytes_is_a_png_of_the_zoomed_size():
    from matplotlib.image import imread

    png = figures.png_bytes(np.eye(4), zoom=3)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert imread(io.BytesIO(png)).shape[:2] == (12, 12)


def test_latent_traversal_moves_one_dimension_and_keeps_the_others(vae):
    x = torch.rand(784, generator=torch.Generator().manual_seed(2))
    values = [-1.0, 0.0, 2.5]
    images = figures.latent_traversal(vae, x, dim=2, values=values)
    z = encode_all(vae, x[None]).repeat(3, 1)
    z[:, 2] = torch.tensor(values)
    torch.testing.assert_close(images, figures.decode_images(vae, z))


def test_traversal_rows_labels_each_dimension_with_its_rate(vae):
    x = torch.rand(1, 784, generator=torch.Generator().manual_seed(3))
    rows = figures.traversal_rows(vae, x, dims=[0, 3], label="VAE", rates=[1.25, 0.5, 0, 9.0])
    assert list(rows) == ["VAE z1 (1.2 nats)", "VAE z4 (9.0 nats)"]
    assert all(r.shape == (9, 784) for r in rows.values())  # default: 9 steps from -3 to 3


def test_argument_checks_name_what_was_expected(vae):
    with pytest.raises(ValueError, match=r"x must be a tensor of images \(N, 784\), got \(2, 5\)"):
        figures.check_images(torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"i must be an int in \[0, 9\], got 10"):
        figures.check_index(10, 10, "i")
    with pytest.raises(ValueError, match="latent_dim=2"):
        figures.check_2d(vae)
    with pytest.raises(ValueError, match="non-empty dict"):
        figures.check_models({})
    assert figures.check_models({4.0: vae, 0.5: vae}) == [0.5, 4.0]
    with pytest.raises(ValueError, match="one image"):
        figures.latent_traversal(vae, torch.zeros(2, 784), 0, [0.0])
    with pytest.raises(ValueError, match="at least one value"):
        figures.latent_traversal(vae, torch.zeros(784), 0, [])
    with pytest.raises(ValueError, match=r"dim must be an int in \[0, 3\]"):
        figures.latent_traversal(vae, torch.zeros(784), 4, [0.0])
