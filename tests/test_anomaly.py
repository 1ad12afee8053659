"""Tests of aevae_lib.anomaly: reconstruction errors as scores, and the ROC curve."""

from __future__ import annotations

import pytest
import torch

from aevae_lib import anomaly
from aevae_lib.models import Autoencoder


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_reconstruction_errors_sum_squared_error_per_image():
    torch.manual_seed(0)
    ae = Autoencoder(input_dim=16, latent_dim=2, hidden=())
    x = torch.rand(10, 16, generator=gen())
    errors = anomaly.reconstruction_errors(ae, x)
    assert errors.shape == (10,)
    assert torch.allclose(errors, (ae(x).x_hat - x).pow(2).sum(1).detach(), atol=1e-5)


def test_roc_auc_matches_the_pairwise_probability():
    normal = torch.randn(300, generator=gen())
    anomalous = torch.randn(200, generator=gen(1)) + 1.0
    result = anomaly.roc(normal, anomalous)
    pairwise = (anomalous[:, None] > normal[None, :]).double().mean().item()
    assert abs(result["auc"] - pairwise) < 1e-9
    assert result["fpr"][0] == 0 and result["tpr"][-1] == 1
    assert anomaly.roc(normal, normal + 100)["auc"] == 1.0
    with pytest.raises(ValueError):
        anomaly.roc(normal, torch.tensor([]))
