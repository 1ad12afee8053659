"""Reconstruction error as an anomaly score, and the ROC curve that measures it.

An autoencoder trained on "normal" data reconstructs inputs like them well and other inputs
badly, so the per-image squared error, the anomaly score a(x) = ||x - g(f(x))||^2, ranks
inputs by how unusual they are.
The area under the ROC curve (AUC) is the probability that a random anomaly scores higher
than a random normal input (1.0: perfect ranking, 0.5: chance).

Owns: ``reconstruction_errors``, ``roc``.

Used in: notebooks/02_what_autoencoders_are_good_for.ipynb.
"""

from __future__ import annotations

import torch
from torch import nn

from .evaluate import reconstruct


def reconstruction_errors(
    model: nn.Module, x: torch.Tensor, batch_size: int = 1000
) -> torch.Tensor:
    """The anomaly score a(x) of every image: its squared error, summed over pixels.
    (N, D) -> (N,) on the CPU."""
    x_hat = reconstruct(model, x, batch_size=batch_size)
    return (x.cpu() - x_hat).pow(2).sum(dim=1)


def roc(normal_scores: torch.Tensor, anomaly_scores: torch.Tensor) -> dict:
    """ROC of the rule "score above a threshold means anomaly" (scikit-learn).

    Returns dict(auc=float, fpr=array, tpr=array, thresholds=array).
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    if len(normal_scores) == 0 or len(anomaly_scores) == 0:
        raise ValueError("need at least one normal and one anomalous score")
    scores = torch.cat([normal_scores.flatten(), anomaly_scores.flatten()]).double().numpy()
    labels = torch.cat([torch.zeros(len(normal_scores)), torch.ones(len(anomaly_scores))]).numpy()
    fpr, tpr, thresholds = roc_curve(labels, scores)
    return {
        "auc": float(roc_auc_score(labels, scores)),
        "fpr": fpr,
        "tpr": tpr,
        "thresholds": thresholds,
    }
