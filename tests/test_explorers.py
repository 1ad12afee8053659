"""aevae_lib.explorers: the weight export and the explorers, driven from Python (kernel side).

Small random models, no MNIST, no browser (tests/browser/test_explorers_in_browser.py runs the same
explorers in headless Chromium). One end-to-end test on models from the zoo is marked slow.
"""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch
import traitlets
from ipywidgets.embed import embed_data
from torch import nn

from aevae_lib import explorers as E
from aevae_lib.figures import decode_images, encode_mean, strip
from aevae_lib.models import VAE, Autoencoder, ConvVAE


def _spread(model: nn.Module, gain: float = 3.0) -> nn.Module:
    """Scale the last layer up so that a random decoder draws images with contrast."""
    with torch.no_grad():
        last = [m for m in model.decoder if isinstance(m, nn.Linear)][-1]
        last.weight.mul_(gain)
    return model


@pytest.fixture
def x():
    return torch.rand(14, 784, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def vae2d():
    torch.manual_seed(0)
    return _spread(VAE(latent_dim=2, hidden=(24,)))


@pytest.fixture
def ae():
    torch.manual_seed(1)
    return _spread(Autoencoder(latent_dim=4, hidden=(32, 16)))


def _f16(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), "<f2").astype(np.float64)


# --- the export ----------------------------------------------------------------------------------


def test_float32_round_trip_is_exact(ae):
    net = E.decoder_net(ae)
    blob = E.Blob()
    packed = E.pack_net(net, ["float32"] * len(net.layers), blob)
    back = E.unpack_net(json.loads(json.dumps(packed.header)), blob.getvalue())
    assert [d.activation for d in back.layers] == ["relu", "relu", "sigmoid"]
    for a, b in zip(net.layers, back.layers, strict=True):
        np.testing.assert_array_equal(a.weight, b.weight)
        np.testing.assert_array_equal(a.bias, b.bias)
    assert (back.transform, back.keep, back.clamp) == ("none", None, True)
    assert packed.bytes == len(blob.getvalue()) and packed.bytes >= 4 * net.n_params


def test_int8_codes_are_off_by_at_most_half_a_step_and_float16_is_a_cast():
    w = np.random.default_rng(0).normal(size=(7, 50)).astype(np.float32)
    w[3] = 0.0  # a dead unit keeps scale 1 and codes 0
    q, scale = E.quantize_int8(w)
    assert q.dtype == np.int8 and np.abs(q).max() <= 127 and scale[3] == 1.0
    err = np.abs(E.dequantize_int8(q, scale) - w)
    assert np.all(err <= scale[:, None] / 2 * (1 + 1e-6))
    net = E.Net([E.Dense(w, np.zeros(7, np.float32))])
    blob = E.Blob()
    packed = E.pack_net(net, ["float16"], blob)
    back = E.unpack_net(packed.header, blob.getvalue())
    np.testing.assert_array_equal(back.layers[0].weight, w.astype(np.float16).astype(np.float32))
    blob8 = E.Blob()
    E.pack_net(net, ["int8"], blob8)
    assert len(blob8.getvalue()) < len(blob.getvalue()) < 4 * w.size  # 1 byte < 2 bytes < 4


@pytest.mark.parametrize(
    ("make", "atol"),
    [
        (lambda: VAE(latent_dim=3, hidden=(20,)), 2e-6),
        (lambda: VAE(latent_dim=3, hidden=(20, 12), activation="tanh"), 2e-6),
        # torch's float32 continuous-Bernoulli mean loses digits next to p = 1/2 (the page
        # computes it in float64): up to about 2e-3 there, still ten times below the budget
        (lambda: VAE(latent_dim=3, hidden=(20,), activation="elu",
                     likelihood="continuous_bernoulli"), 3e-3),
        (lambda: VAE(latent_dim=3, hidden=(20,), activation="gelu", likelihood="gaussian",
                     learn_variance=True), 2e-6),
        (lambda: Autoencoder(latent_dim=3, hidden=(20,), output="linear"), 2e-6),
    ],
)  # fmt: skip
def test_the_page_arithmetic_is_pytorch_arithmetic(make, atol):
    torch.manual_seed(3)
    model = _spread(make())
    z = torch.randn(50, 3, generator=torch.Generator().manual_seed(4)) * 2
    page = E.run_net(E.decoder_net(model), z.numpy())
    np.testing.assert_allclose(page, decode_images(model, z).numpy(), atol=atol)
    x = torch.rand(5, 784, generator=torch.Generator().manual_seed(5))
    codes = E.run_net(E.encoder_net(model), x.numpy())
    np.testing.assert_allclose(codes, encode_mean(model, x).numpy(), atol=2e-5)


def test_gptq_rounding_keeps_the_layer_output_closer_than_rounding_to_nearest():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(64, 40)).astype(np.float32)
    w[:, 0] *= 8  # an outlier input per row: a coarse 8-bit step for the others
    x = np.maximum(rng.normal(size=(500, 40)), 0)  # ReLU-like inputs, as a decoder's hidden layer
    nearest = E.dequantize_int8(*E.quantize_int8(w))
    q, scale = E.quantize_int8_gptq(w, x)
    np.testing.assert_array_equal(scale, E.quantize_int8(w)[1])  # the same scales, other codes
    gptq = E.dequantize_int8(q, scale)
    err = {name: np.abs(x @ (v - w).T).mean() for name, v in (("nearest", nearest), ("gptq", gptq))}
    assert err["gptq"] < 0.9 * err["nearest"]


def test_auto_encoding_stays_within_the_tolerance_and_upgrades_only_what_it_must(vae2d):
    net = E.decoder_net(vae2d)
    rng = np.random.default_rng(0)
    z = rng.normal(size=(400, 2)) * 2
    ref = decode_images(vae2d, torch.tensor(z, dtype=torch.float32)).numpy()
    codes, err = E.choose_encodings(net, z, ref)
    assert err <= E.EXPORT_TOLERANCE
    loose, _ = E.choose_encodings(net, z, ref, tolerance=0.05)
    assert [c.label for c in loose] == ["int8", "int8"]
    # one huge weight in every output row: its 8-bit step swamps the other weights
    with torch.no_grad():
        vae2d.decoder[-1].weight[:, 0] = 50.0
    net = E.decoder_net(vae2d)
    ref = decode_images(vae2d, torch.tensor(z, dtype=torch.float32)).numpy()
    int8_err = np.abs(E.run_net(E.with_encodings(net, ["int8", "int8"]), z) - ref).max()
    assert int8_err > E.EXPORT_TOLERANCE
    blob = E.Blob()
    other = rng.normal(size=(300, 2)) * 2
    check = (other, decode_images(vae2d, torch.tensor(other, dtype=torch.float32)).numpy())
    packed = E.export_net(net, blob, z, ref, check=check)
    assert packed.encodings[-1] != "int8" and packed.max_error <= E.EXPORT_TOLERANCE
    assert packed.check_error <= E.PIXEL_TOLERANCE
    page = E.run_net(E.unpack_net(packed.header, blob.getvalue()), z)
    assert np.abs(page - ref).max() == pytest.approx(packed.max_error)


def test_int8_rows_kept_in_float16_round_trip(ae):
    net = E.decoder_net(ae)
    d = net.layers[-1]
    code = E.LayerCode("int8", *E.quantize_int8(d.weight)).with_rows([3, 700, 5])
    codes = ["float32", "float16", code]
    blob = E.Blob()
    packed = E.pack_net(net, codes, blob)
    assert packed.encodings == ["float32", "float16", "int8 (3 rows float16)"]
    back = E.unpack_net(packed.header, blob.getvalue())
    np.testing.assert_array_equal(back.layers[-1].weight, code.weight(d.weight))
    np.testing.assert_array_equal(
        back.layers[-1].weight[[3, 5, 700]],
        d.weight[[3, 5, 700]].astype(np.float16).astype(np.float32),
    )
    assert packed.bytes == sum(
        c.nbytes(x.weight) for c, x in zip(packed.codes, net.layers, strict=True)
    ) + sum(4 * x.bias.size for x in net.layers) + (
        -(2 * 3) % 4
    )  # the 3 row indices (uint16) padded to 4 bytes


def test_models_the_exporter_cannot_run_are_refused_with_a_clear_message(ae, x):
    with pytest.raises(E.UnsupportedModel, match="ConvTranspose2d"):
        E.decoder_net(ConvVAE(latent_dim=2, channels=2, hidden=8))
    with pytest.raises(E.UnsupportedModel, match="Autoencoder or VAE"):
        E.decoder_net(nn.Linear(2, 784))
    ae.decoder = nn.Sequential(nn.Linear(4, 784), nn.Dropout(0.1))
    with pytest.raises(E.UnsupportedModel, match=r"decoder\[1\] \(Dropout\).*nn.Linear"):
        E.decoder_net(ae)
    with pytest.raises(E.UnsupportedModel, match="ConvTranspose2d"):
        E.beta_explorer({1.0: ConvVAE(latent_dim=2, channels=2, hidden=8)}, x, decoders="ship")
    with pytest.raises(ValueError, match="latent_dim=2"):
        E.latent_explorer(VAE(latent_dim=3, hidden=(8,)))
    with pytest.raises(ValueError, match="encoding"):
        E.latent_explorer(_spread(VAE(latent_dim=2, hidden=(8,))), encoding="int4")


def test_the_pages_random_numbers_are_mulberry32():
    u = E.mulberry32(1)  # the same numbers as the JavaScript of the page (node gives these)
    assert [u(), u(), u()] == [0.6270739405881613, 0.002735721180215478, 0.5274470399599522]
    z = E.prior_draws(0, 400, 5)
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05
    np.testing.assert_array_equal(z, E.prior_draws(0, 400, 5))


def test_slerp_keeps_the_ends_and_the_norm():
    a, b = np.array([3.0, 0.0, 0.0]), np.array([0.0, 3.0, 0.0])
    np.testing.assert_allclose(E.slerp(a, b, 0.0), a)
    np.testing.assert_allclose(E.slerp(a, b, 1.0), b)
    assert np.linalg.norm(E.slerp(a, b, 0.5)) == pytest.approx(3.0)
    assert np.linalg.norm(E.interpolate_codes(a, b, 0.5, "linear")) == pytest.approx(3 / 2**0.5)
    np.testing.assert_allclose(E.slerp(a, 2 * a, 0.5), 1.5 * a)  # parallel: the straight line


# --- the explorers, driven from Python -----------------------------------------------------------


def test_latent_explorer_follows_z_as_pytorch_decodes_it(vae2d, x):
    labels = torch.arange(len(x)) % 10
    w = E.latent_explorer(vae2d, x, labels)
    assert w.kind == "latent" and w.z == [0.0, 0.0]
    assert w.spec["encoding"] == ["int8", "int8"] and w.spec["max_error"] <= E.EXPORT_TOLERANCE
    before = w.arrays["decoded"].copy()
    w.z = [1.5, -0.75]
    expected = decode_images(vae2d, torch.tensor([[1.5, -0.75]])).numpy()
    np.testing.assert_allclose(w.arrays["decoded"], strip(expected), rtol=1e-6)
    assert not np.allclose(before, w.arrays["decoded"])
    assert w.caption == "decoded digit at z = (1.50, -0.75)"
    codes = E.Blob.read(w.blob, w.spec["codes"]).reshape(-1, 2)
    np.testing.assert_allclose(codes, encode_mean(vae2d, x).numpy(), atol=2e-3)  # float16
    np.testing.assert_array_equal(E.Blob.read(w.blob, w.spec["labels"]), labels.numpy())
    assert 0 < w.model_bytes <= w.data_bytes


def test_latent_probes_expect_pytorch_at_the_codes_their_events_reach(vae2d):
    w = E.latent_explorer(vae2d, step=0.05, z_range=3.0)
    keys, click, drag = w.probes
    assert keys["steps"] == [{"on": "z1", "key": "ArrowRight", "times": 10},
                             {"on": "z2", "key": "ArrowLeft", "times": 20}]  # fmt: skip
    for probe, z in ((keys, [0.5, -1.0]), (click, [-1.5, 1.8]), (drag, [1.5, 1.2])):
        (want,) = probe["expect"]
        assert want["label"] == f"decoded digit at z = ({z[0]:.2f}, {z[1]:.2f})"
        ref = decode_images(vae2d, torch.tensor([z])).numpy().ravel()
        np.testing.assert_allclose(_f16(want["pixels"]), ref, atol=1e-3)
    fx, fy = click["steps"][0]["at"]
    assert (-3 + fx * 6, 3 - fy * 6) == pytest.approx((-1.5, 1.8))  # the point it clicks


def test_interpolation_explorer_shows_both_models_and_both_paths(vae2d, ae, x):
    w = E.interpolation_explorer({"AE": ae, "VAE": vae2d}, x, index_a=3, index_b=2, steps=5)
    assert w.spec["gallery"][:4] == [0, 1, 2, 3] and len(w.spec["gallery"]) == 12
    assert set(w.arrays) == {"now-0", "path-0", "now-1", "path-1"}
    z_a, z_b = encode_mean(ae, x[[3, 2]]).numpy()
    for path in ("linear", "spherical"):
        w.path = path
        w.t = 0.25
        z = E.interpolate_codes(z_a, z_b, 0.25, path)
        ref = decode_images(ae, torch.tensor(z[None], dtype=torch.float32)).numpy()
        np.testing.assert_allclose(w.arrays["now-0"], strip(ref), atol=1e-6)
    assert w.arrays["path-0"].shape == (28, 5 * 30 - 2)
    w.a = 7
    np.testing.assert_allclose(
        w.arrays["path-1"][:, :28],
        decode_images(vae2d, encode_mean(vae2d, x[7:8])).numpy().reshape(28, 28), atol=1e-6
    )  # fmt: skip
    assert w.caption == "test images 7 and 2; t = 0.25 on the spherical path"
    with pytest.raises(traitlets.TraitError, match="gallery"):
        w.a = 13
    with pytest.raises(ValueError, match="differ"):
        E.interpolation_explorer(ae, x, index_a=2, index_b=2)
    single = E.interpolation_explorer(ae, x, index_a=13, index_b=0, gallery=[5, 6])
    assert single.spec["gallery"] == [0, 5, 6, 13]
    assert [m["label"] for m in single.spec["models"]] == ["Autoencoder"]


def test_denoising_explorer_runs_encoder_and_decoder_on_the_fixed_noise(ae, x):
    w = E.denoising_explorer(ae, x, n=4, noise_std=0.0)
    np.testing.assert_allclose(w.arrays["noisy"], w.arrays["clean"])
    clean_recon = w.arrays["recon"].copy()
    w.noise = 0.5
    assert not np.allclose(w.arrays["noisy"], w.arrays["clean"])
    eps = E.Blob.read(w.blob, w.spec["eps"]).astype(np.float32).reshape(4, 784)
    x8 = torch.from_numpy(np.rint(x[:4].numpy() * 255) / 255).float()
    noisy = (x8 + 0.5 * torch.from_numpy(eps)).clamp(0, 1)
    ref = decode_images(ae, encode_mean(ae, noisy)).numpy()
    np.testing.assert_allclose(w.arrays["recon"], strip(ref), atol=1e-5)
    assert not np.allclose(w.arrays["recon"], clean_recon)
    w.noise_type = "mask"
    shown = w.arrays["noisy"]
    assert np.all((shown == 0) | np.isclose(shown, w.arrays["clean"]) | (shown == 0.15))
    assert w.caption.startswith("the 4 images with masking, 0.50 of pixels masked")
    with pytest.raises(traitlets.TraitError):
        w.noise_type = "salt"
    # the whole chain (784 -> 32 -> 16 -> 4 -> 16 -> 32 -> 784) runs in the page
    assert len(w.spec["net"]["layers"]) == 6 and w.spec["max_error"] <= E.EXPORT_TOLERANCE


def test_beta_explorer_ships_decoders_and_draws_the_same_z_for_every_beta(x):
    torch.manual_seed(2)
    models = {
        4.0: _spread(VAE(latent_dim=3, hidden=(16,))),
        1.0: _spread(VAE(latent_dim=3, hidden=(16,))),
    }
    w = E.beta_explorer(models, x, n=5)
    assert w.shipped and w.beta == 1.0 and w.spec["betas"] == [1.0, 4.0]
    z = E.prior_draws(0, 5, 3)
    ref = decode_images(models[1.0], torch.tensor(z, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(w.arrays["samples"], strip(ref), atol=1e-6)
    w.beta = 4.0
    ref4 = decode_images(models[4.0], torch.tensor(z, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(w.arrays["samples"], strip(ref4), atol=1e-6)
    w.sample_seed = 1
    assert not np.allclose(w.arrays["samples"], strip(ref4))
    assert w.caption.startswith("β = 4: rate (KL)")
    with pytest.raises(traitlets.TraitError, match="beta must be one of"):
        w.beta = 2.0
    small = E.beta_explorer(models, x, n=5, budget=100)  # too large for the budget: images
    assert not small.shipped and "budget" in small.fallback_reason and small.model_bytes == 0
    assert [p["name"] for p in small.probes] == ["beta by the arrow keys", "beta by a click"]
    conv = E.beta_explorer({1.0: ConvVAE(latent_dim=2, channels=2, hidden=8)}, x, n=2)
    assert not conv.shipped and "ConvTranspose2d" in conv.fallback_reason


def test_every_probe_expects_a_change_the_page_can_show(vae2d, ae, x):
    """Each probe changes the alt text, so an explorer that ignores the input is caught."""
    widgets = [
        E.latent_explorer(vae2d, x),
        E.interpolation_explorer({"AE": ae, "VAE": vae2d}, x, index_a=1, index_b=2),
        E.denoising_explorer(ae, x),
        E.beta_explorer({1.0: vae2d, 2.0: _spread(VAE(latent_dim=2, hidden=(8,)))}, x),
    ]
    for w in widgets:
        labels = [{e["image"]: e["label"] for e in p["expect"]} for p in w.probes]
        first = {k: label for k, (label, _) in w._images(w.state()).items()}
        for before, after in zip([first, *labels], labels, strict=False):
            assert any(before.get(k) != v for k, v in after.items()), (w.kind, after)


def test_the_widget_state_carries_the_front_end_and_the_weights(vae2d, x):
    w = E.latent_explorer(vae2d, x)
    data = embed_data(views=[w], drop_defaults=False)
    state = data["manager_state"]["state"][w.model_id]
    assert state["model_module"] == "anywidget" and state["state"]["kind"] == "latent"
    assert "export default" in state["state"]["_esm"] and ".aevae-x" in state["state"]["_css"]
    (buf,) = state["buffers"]
    assert buf["path"] == ["blob"] and len(base64.b64decode(buf["data"])) == w.data_bytes
    json.dumps(data)  # the notebook can store it
    other = E.latent_explorer(vae2d)  # alive, but not on the page
    page = E.page_html([w], vendor="../vendor")
    assert '"anywidget": "../vendor/anywidget/index"' in page and "https://" not in page
    assert w.model_id in page and other.model_id not in page
    bundle = w._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert data["image/png"].startswith(b"\x89PNG")  # for outputs that cannot run the widget
    assert "application/vnd.jupyter.widget-view+json" in data


@pytest.mark.slow
def test_explorers_on_models_from_the_zoo(real_mnist_root, monkeypatch):
    """End to end on trained models (fast mode: 3 epochs on 10,000 images each)."""
    from aevae_lib.zoo import mnist_tensors, trained_ae, trained_vae

    monkeypatch.setenv("AEVAE_DATA", str(real_mnist_root))
    monkeypatch.setenv("AEVAE_FAST", "1")
    data = mnist_tensors()
    x, y = data["x_test"][:500], data["y_test"][:500]
    vae2, _ = trained_vae(latent_dim=2, progress=False)
    ae, _ = trained_ae(progress=False)
    for w in (E.latent_explorer(vae2, x, y),
              E.interpolation_explorer({"AE": ae, "VAE": vae2}, x, index_a=3, index_b=2),
              E.denoising_explorer(ae, x)):  # fmt: skip
        assert all(e.max_error <= E.EXPORT_TOLERANCE for e in w.exports.values())
        assert w.model_bytes <= E.PAGE_BUDGET
    assert E.latent_explorer(vae2).spec["encoding"] == ["int8", "int8"]


def test_the_readme_quotes_the_latency_benchmark():
    """The README's sentence on the explorers' speed states the medians of the saved JSON."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    result = json.loads((repo / "benchmarks/results/explorer_latency.json").read_text())
    readme = " ".join((repo / "README.md").read_text().split())
    pages = result["pages"]

    def median(chapter, explorer, what, measure="event_to_drawn_ms"):
        return pages[chapter]["explorers"][explorer]["timings"][what][measure]["median"]

    latent = "05", "latent"
    quoted = [
        median(*latent, "drag on the latent plane (pointermove)"),
        median(*latent, "drag on the latent plane (pointermove)", "compute_ms"),
        median(*latent, "arrow keys on the z1 slider"),
        median("05", "interpolation (AE and VAE)", "arrow keys on t"),
        median("02", "denoising", "arrow keys on the noise level"),
        median("09", "beta", "arrow keys on beta"),
    ]
    for value in quoted:
        assert f"{value:g} ms" in readme, value
    assert all(p["page_errors"] == [] for p in pages.values())
    assert max(e["probe_max_pixel_difference"] for p in pages.values()
               for e in p["explorers"].values()) <= E.PIXEL_TOLERANCE  # fmt: skip
