"""The conceptual diagrams: each draws without a warning and carries the book's symbols;
kl_asymmetry's fits are checked against closed forms and a Monte Carlo estimate."""

import math
import warnings

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.text import Text

from aevae_lib import diagrams

pytestmark = pytest.mark.filterwarnings("error")  # no figure may warn (layout, glyphs, ...)


def _draw(fig: Figure) -> str:
    """Render the figure with every warning an error; return all of its text, joined."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.canvas.draw()
    return " ".join(t.get_text() for t in fig.findobj(Text))


def _schematic_text(name: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = getattr(diagrams, name)()
    assert isinstance(fig, Figure)
    return _draw(fig)


@pytest.mark.parametrize(
    ("name", "symbols"),
    [
        ("autoencoder", [r"f_\phi", r"g_\theta", r"\hat{\mathbf{x}}", "784", "30", r"\Vert^2"]),
        (
            "vae",
            [
                r"\boldsymbol{\mu}_\phi",
                r"\log \boldsymbol{\sigma}^2_\phi",
                r"\boldsymbol{\epsilon} \sim",
                r"\odot",
                r"D_{\mathrm{KL}}",
                r"-\log p_\theta(\mathbf{x} \mid \mathbf{z})",
                "784",
                "20",
            ],
        ),
        (
            "graphical_model",
            [
                r"q_\phi(\mathbf{z} \mid \mathbf{x})",
                r"p(\mathbf{z})",
                r"p_\theta(\mathbf{x} \mid \mathbf{z})",
                r"\theta",
                r"\phi",
                "$N$ images",
                "generative model",
                "approximate inference",
            ],
        ),
        (
            "reparameterization",
            [
                r"\partial \mathbf{z} / \partial \boldsymbol{\mu} = \mathbf{I}",
                r"\operatorname{diag}(\boldsymbol{\epsilon})",
                r"\mathbf{z} \sim \mathcal{N}",
                r"\psi(\mathbf{z})",
                "deterministic",
                "random",
                "gradient",
            ],
        ),
        (
            "elbo_gap",
            [
                r"\mathcal{L}",
                "gap",
                r"-\log p_\theta(\mathbf{x})",
                "reconstruction",
                r"p_\theta(\mathbf{z} \mid \mathbf{x})",
                r"\Vert\, p(\mathbf{z})",
            ],
        ),
    ],
)
def test_schematics_draw_cleanly_and_carry_the_symbols(name, symbols):
    text = _schematic_text(name)
    for symbol in symbols:
        assert symbol in text, f"{name} lacks {symbol!r}"
    assert text.count("$") % 2 == 0  # every math string is closed


def test_autoencoder_and_vae_show_the_sizes_they_are_given():
    assert "$D = 100$" in _draw(diagrams.autoencoder(input_dim=100, latent_dim=7))
    assert "$d = 7$" in _draw(diagrams.autoencoder(input_dim=100, latent_dim=7))
    assert "$d = 3$" in _draw(diagrams.vae(latent_dim=3))


def test_reparameterization_has_two_panels():
    fig = diagrams.reparameterization()
    assert len(fig.axes) == 2
    titles = [t.get_text() for ax in fig.axes for t in ax.texts if "gradient" in t.get_text()]
    assert any("stops" in t for t in titles) and any("reaches" in t for t in titles)


def test_elbo_gap_puts_the_numbers_in_the_labels():
    text = _draw(diagrams.elbo_gap(-94.9, -99.1))
    for number in ("94.9", "99.1", "4.2"):
        assert number in text
    assert "reconstruction" not in text  # no split without the KL to the prior
    text = _draw(diagrams.elbo_gap(log_px=-94.9, elbo=-99.1, kl_prior=25.3))
    assert "25.3" in text and "73.8" in text  # 99.1 - 25.3 nats of reconstruction


def test_elbo_gap_rejects_inconsistent_numbers():
    with pytest.raises(ValueError, match="both"):
        diagrams.elbo_gap(log_px=-94.9)
    with pytest.raises(ValueError, match="elbo <= log_px"):
        diagrams.elbo_gap(log_px=-99.1, elbo=-94.9)
    with pytest.raises(ValueError, match="kl_prior"):
        diagrams.elbo_gap(kl_prior=3.0)


@pytest.fixture(scope="module")
def kl_fits():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig, numbers = diagrams.kl_asymmetry()
        text = _draw(fig)
    return fig, numbers, text


def test_kl_asymmetry_returns_a_figure_with_the_numbers_in_its_title(kl_fits):
    fig, numbers, text = kl_fits
    assert isinstance(fig, Figure)
    assert set(numbers) == {"reverse", "forward"}
    for fit in numbers.values():
        assert set(fit) == {"mean", "sd", "kl_q_p", "kl_p_q"}
        assert f"sd {fit['sd']:.2f}" in text


def test_forward_kl_fit_is_moment_matching(kl_fits):
    fwd = kl_fits[1]["forward"]
    assert abs(fwd["mean"]) < 1e-4
    assert fwd["sd"] == pytest.approx(math.sqrt(0.6**2 + 2**2), abs=1e-4)


def test_reverse_kl_fit_sits_on_one_mode(kl_fits):
    rev = kl_fits[1]["reverse"]
    assert abs(abs(rev["mean"]) - 2) < 0.02
    assert rev["sd"] == pytest.approx(0.6, abs=0.02)
    assert rev["kl_q_p"] == pytest.approx(math.log(2), abs=0.01)  # q covers half of p's mass


def test_each_fit_wins_its_own_divergence(kl_fits):
    rev, fwd = kl_fits[1]["reverse"], kl_fits[1]["forward"]
    assert rev["kl_q_p"] < fwd["kl_q_p"]
    assert fwd["kl_p_q"] < rev["kl_p_q"]


def test_reverse_fit_does_not_depend_on_the_seed_beyond_the_mode(kl_fits):
    _, other = diagrams.kl_asymmetry(seed=3)
    assert other["reverse"]["kl_q_p"] == pytest.approx(kl_fits[1]["reverse"]["kl_q_p"], abs=1e-6)


def test_riemann_sum_kl_agrees_with_monte_carlo(kl_fits):
    """Both divergences of both fits against torch.distributions sampling estimates."""
    D = torch.distributions
    p = D.MixtureSameFamily(
        D.Categorical(torch.tensor([0.5, 0.5], dtype=torch.float64)),
        D.Normal(torch.tensor([-2.0, 2.0], dtype=torch.float64), 0.6),
    )
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    for fit in kl_fits[1].values():
        q = D.Normal(torch.tensor(fit["mean"], dtype=torch.float64), fit["sd"])
        z = fit["mean"] + fit["sd"] * torch.randn(200_000, generator=gen, dtype=torch.float64)
        terms = q.log_prob(z) - p.log_prob(z)  # log q - log p under q
        se = terms.std().item() / math.sqrt(len(z))
        assert abs(terms.mean().item() - fit["kl_q_p"]) < 4 * se + 1e-6
        z = p.sample((200_000,))
        terms = p.log_prob(z) - q.log_prob(z)  # log p - log q under p
        se = terms.std().item() / math.sqrt(len(z))
        assert abs(terms.mean().item() - fit["kl_p_q"]) < 4 * se + 1e-6


def _toy_posterior():
    cov = np.array([[0.33, 0.20], [0.20, 0.31]])
    q_std = 1 / np.sqrt(np.diag(np.linalg.inv(cov)))  # the best diagonal q under KL(q || p)
    return np.array([0.5, 0.2]), cov, np.array([0.5, 0.2]), q_std


@pytest.mark.parametrize("as_tensor", [False, True])
@pytest.mark.parametrize("prior", [False, True])
def test_posterior_contours_accepts_arrays_and_tensors(as_tensor, prior):
    args = _toy_posterior()
    if as_tensor:
        args = [torch.as_tensor(a) for a in args]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = diagrams.posterior_contours(*args, prior=prior, title="posterior")
    text = _draw(fig)
    assert "exact posterior" in text and "best diagonal $q$" in text
    assert ("prior" in text) == prior
    ax = fig.axes[0]
    assert ax.get_xlabel() == "$z_1$" and ax.get_ylabel() == "$z_2$"
    assert ax.get_aspect() == 1.0


def test_posterior_contours_draws_into_a_given_axis():
    fig = diagrams.posterior_contours(*_toy_posterior())
    ax = fig.axes[0]
    again = diagrams.posterior_contours(*_toy_posterior(), ax=ax, prior=False)
    assert again is fig and len(fig.axes) == 1


def test_posterior_contours_rejects_wrong_shapes():
    mean, cov, q_mean, q_std = _toy_posterior()
    with pytest.raises(ValueError, match="2-D"):
        diagrams.posterior_contours(mean, cov[:1], q_mean, q_std)
