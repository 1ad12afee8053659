"""aevae_lib.likelihood: importance weights, bounds as k grows, the literature table."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from aevae_lib import evaluate, likelihood
from aevae_lib.models import VAE

REPO = Path(__file__).resolve().parents[1]


def _model_and_data():
    torch.manual_seed(0)
    model = VAE(input_dim=64, latent_dim=3, hidden=[16])
    x = (torch.rand(12, 64, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    return model, x


def test_weights_give_the_library_iw_bound():
    model, x = _model_and_data()
    log_w = likelihood.log_importance_weights(model, x, k=64, seed=3)
    assert log_w.shape == (64, 12)
    direct = evaluate.iw_log_likelihood(model, x, k=64, seed=3)
    torch.testing.assert_close(torch.logsumexp(log_w, 0) - math.log(64), direct)


def test_bounds_by_k_start_at_the_elbo_and_increase():
    model, x = _model_and_data()
    log_w = likelihood.log_importance_weights(model, x, k=256, seed=0)
    bounds = likelihood.iw_bounds(log_w, [1, 4, 16, 64, 256])
    torch.testing.assert_close(bounds[1], log_w.mean(0))  # k = 1: the ELBO, averaged
    torch.testing.assert_close(bounds[256], torch.logsumexp(log_w, 0) - math.log(256))
    means = [bounds[k].mean().item() for k in (1, 4, 16, 64, 256)]
    assert means == sorted(means)


def test_iw_bounds_refuses_k_that_does_not_divide_the_weights():
    with pytest.raises(ValueError, match="positive divisor of K = 10"):
        likelihood.iw_bounds(torch.zeros(10, 3), [3])


def test_mean_and_standard_error():
    mean, se = likelihood.mean_and_standard_error(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert mean == pytest.approx(2.5) and se == pytest.approx(math.sqrt(5 / 3) / 2)


def test_literature_rows_cite_keys_of_the_bibliography():
    keys = set(re.findall(r"^@\w+\{([^,]+),", (REPO / "book" / "references.bib").read_text(), re.M))
    for row in likelihood.LITERATURE:
        assert set(row) == {"model", "conditions", "nll", "source"}
        assert row["source"] in keys, row
    assert any(row["nll"] == 86.76 for row in likelihood.LITERATURE)


def test_iw_estimates_are_the_group_estimates_whose_mean_is_the_bound():
    model, x = _model_and_data()
    log_w = likelihood.log_importance_weights(model, x, k=64, seed=2)
    est = likelihood.iw_estimates(log_w, 16)
    assert est.shape == (4, 12)
    torch.testing.assert_close(est[1], torch.logsumexp(log_w[16:32], 0) - math.log(16))
    torch.testing.assert_close(est.mean(0), likelihood.iw_bounds(log_w, [16])[16])
    with pytest.raises(ValueError, match="positive divisor"):
        likelihood.iw_estimates(log_w, 5)


def test_effective_sample_size_limits_and_a_direct_computation():
    equal = torch.zeros(50, 3)  # every weight the same: all 50 count
    torch.testing.assert_close(likelihood.effective_sample_size(equal), torch.full((3,), 50.0))
    one = torch.full((50, 2), -1e4)
    one[7] = 0.0  # one weight carries everything
    torch.testing.assert_close(likelihood.effective_sample_size(one), torch.ones(2))
    log_w = torch.randn(40, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    w = log_w.exp()
    direct = w.sum(0) ** 2 / (w**2).sum(0)
    torch.testing.assert_close(likelihood.effective_sample_size(log_w), direct)
    # shifting every log weight (a tiny p(x)) changes nothing and does not underflow
    torch.testing.assert_close(likelihood.effective_sample_size(log_w - 900.0), direct)


def _count_decoded_rows(model):
    """Wrap model.decode_params to record how many codes each call decodes."""
    rows, decode = [], model.decode_params

    def counting(z):
        rows.append(z.shape[0])
        return decode(z)

    model.decode_params = counting
    return rows


def test_iw_bound_honours_max_rows_when_k_exceeds_it():
    # issue 16, faults 1-2: 200,000 samples of one image once decoded 200,000 codes at a time
    model, x = _model_and_data()
    rows = _count_decoded_rows(model)
    bound = likelihood.iw_log_likelihood(model, x[:3], k=300, max_rows=64, seed=2)
    assert rows and max(rows) <= 64, rows
    assert sum(rows) == 3 * 300
    rows.clear()
    log_w = likelihood.log_importance_weights(model, x[:3], k=300, max_rows=64, seed=2)
    assert max(rows) <= 64 and log_w.shape == (300, 3)
    # the streamed log-sum-exp equals the one over all weights, drawn the same way
    torch.testing.assert_close(bound, torch.logsumexp(log_w, 0) - math.log(300))


def test_streamed_bound_does_not_depend_on_max_rows_beyond_noise():
    model, x = _model_and_data()
    small = likelihood.iw_log_likelihood(model, x, k=2000, max_rows=100, seed=0)
    large = likelihood.iw_log_likelihood(model, x, k=2000, max_rows=50_000, seed=0)
    assert (small - large).mean().abs() < 0.02 and (small - large).abs().max() < 0.2  # other draws


def test_iw_bound_refuses_bad_max_rows_and_an_autoencoder():
    from aevae_lib.models import Autoencoder

    model, x = _model_and_data()
    with pytest.raises(ValueError, match="max_rows must be a positive int"):
        likelihood.iw_log_likelihood(model, x, k=4, max_rows=0)
    with pytest.raises(TypeError, match="model must be a VAE"):
        likelihood.iw_log_likelihood(Autoencoder(input_dim=64, latent_dim=3, hidden=[8]), x)
