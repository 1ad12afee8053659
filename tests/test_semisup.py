"""Tests of aevae_lib.semisup: labelled subsets, k-NN graphs, label spreading, linear probes."""

from __future__ import annotations

import pytest
import torch

from aevae_lib.semisup import (
    knn_graph,
    knn_indices,
    knn_vote,
    label_spreading,
    labelled_subset,
    linear_probe,
)


def test_labelled_subset_is_balanced_fixed_and_seeded():
    y = torch.arange(10).repeat(30)
    a = labelled_subset(y, 10, seed=0)
    assert len(a) == 100 and len(a.unique()) == 100
    assert torch.equal(torch.bincount(y[a]), torch.full((10,), 10))
    assert torch.equal(a, labelled_subset(y, 10, seed=0))
    assert not torch.equal(a, labelled_subset(y, 10, seed=1))
    with pytest.raises(ValueError, match="fewer than"):
        labelled_subset(y, 31)


def test_knn_indices_against_brute_force():
    g = torch.Generator().manual_seed(0)
    ref, q = torch.randn(50, 3, generator=g), torch.randn(7, 3, generator=g)
    got = knn_indices(q, ref, 4, chunk=3)
    want = torch.cdist(q, ref).argsort(1)[:, :4]
    assert torch.equal(got, want)
    self_nbrs = knn_indices(ref, ref, 2, exclude_self=True, chunk=16)
    assert not (self_nbrs == torch.arange(50)[:, None]).any()


def test_knn_graph_is_symmetric_binary_without_self_loops():
    x = torch.randn(30, 2, generator=torch.Generator().manual_seed(1))
    w = knn_graph(x, 3).to_dense()
    assert torch.equal(w, w.T) and set(w.unique().tolist()) <= {0.0, 1.0}
    assert w.diagonal().sum() == 0 and (w.sum(1) >= 3).all()


def test_label_spreading_converges_to_the_closed_form():
    """F* = (1 - alpha) (I - alpha S)^-1 Y, solved densely, is the fixed point of the loop."""
    g = torch.Generator().manual_seed(2)
    x = torch.cat([torch.randn(20, 2, generator=g), torch.randn(20, 2, generator=g) + 6])
    labelled, labels = torch.tensor([0, 25]), torch.tensor([0, 1])
    alpha = 0.9
    got = label_spreading(
        knn_graph(x, 4), labelled, labels, alpha=alpha, iterations=500, n_classes=2
    )
    w = knn_graph(x, 4).to_dense().double()
    s = w / w.sum(1).sqrt()[:, None] / w.sum(1).sqrt()[None, :]
    y0 = torch.zeros(40, 2, dtype=torch.float64)
    y0[labelled, labels] = 1
    f = (1 - alpha) * torch.linalg.solve(torch.eye(40, dtype=torch.float64) - alpha * s, y0)
    f = f / f.sum(1, keepdim=True)
    torch.testing.assert_close(got.double(), f, rtol=1e-4, atol=1e-5)
    # two well-separated clusters take the label of their one labelled member
    assert torch.equal(got.argmax(1), torch.cat([torch.zeros(20), torch.ones(20)]).long())
    votes = knn_vote(torch.tensor([[0.0, 0.0], [6.0, 6.0]]), x, got, k=3)
    assert votes.tolist() == [0, 1]
    with pytest.raises(ValueError, match="alpha"):
        label_spreading(knn_graph(x, 4), labelled, labels, alpha=1.0)


def test_linear_probe_separates_separable_classes():
    g = torch.Generator().manual_seed(3)
    x = torch.cat([torch.randn(30, 2, generator=g) - 4, torch.randn(30, 2, generator=g) + 4])
    y = torch.cat([torch.zeros(30), torch.ones(30)]).long()
    assert linear_probe(x[::3], y[::3], x, y) == 1.0
