"""Classification from a few labels and many unlabelled examples, on codes or pixels.

Chapter 10 compares, on the same 100 labelled images (``labelled_subset``: 10 per class,
drawn with a fixed seed), a classifier trained on the labelled images alone with one that also
uses the 60,000 unlabelled images. The semi-supervised method here is *label spreading*
(Zhou et al. 2004) on a k-nearest-neighbour graph: each labelled point is a source of its class,
and class scores flow along the graph's edges, so a whole cluster of similar images takes the
label of the few labelled members it contains. With F the (N, C) class scores, Y the one-hot
labels (zero rows for unlabelled points), W the symmetric k-NN adjacency matrix, D its degree
matrix and S = D^-1/2 W D^-1/2,

    F <- alpha S F + (1 - alpha) Y,   which converges to   F* = (1 - alpha) (I - alpha S)^-1 Y.

The graph is only as good as its distances: on a VAE's codes, neighbours share their digit
more often than in pixel space, which is why the codes help (the M1 idea of Kingma et al.
2014, with label spreading as its classifier).

Owns: ``labelled_subset``, ``knn_indices``, ``knn_graph``, ``label_spreading``, ``knn_vote``,
``linear_probe``.

Used in: notebooks/10_conditional_vae.ipynb.
"""

from __future__ import annotations

import torch

from .models import _positive_int


def labelled_subset(
    y: torch.Tensor, per_class: int, seed: int = 0, n_classes: int = 10
) -> torch.Tensor:
    """Indices of ``per_class`` examples of each class, drawn without replacement by a
    generator seeded with ``seed``: the same choice on every machine. Grouped by class."""
    _positive_int(per_class, "per_class")
    gen = torch.Generator().manual_seed(seed)
    y = y.cpu()
    picks = []
    for c in range(n_classes):
        members = torch.nonzero(y == c).flatten()
        if len(members) < per_class:
            raise ValueError(f"class {c} has {len(members)} examples, fewer than {per_class}")
        picks.append(members[torch.randperm(len(members), generator=gen)[:per_class]])
    return torch.cat(picks)


@torch.no_grad()
def knn_indices(
    queries: torch.Tensor,
    reference: torch.Tensor,
    k: int,
    exclude_self: bool = False,
    chunk: int = 500,
) -> torch.Tensor:
    """Indices (n, k) of the k nearest rows of ``reference`` (N, d) for each query (n, d),
    nearest first (Euclidean). ``exclude_self``: the queries are the reference itself, and a
    point is not its own neighbour."""
    _positive_int(k, "k")
    out = []
    for start in range(0, len(queries), chunk):
        block = queries[start : start + chunk]
        dist = torch.cdist(block, reference)  # (b, N)
        if exclude_self:
            rows = torch.arange(len(block))
            dist[rows, rows + start] = float("inf")
        out.append(dist.topk(k, dim=1, largest=False).indices)
    return torch.cat(out)


def knn_graph(features: torch.Tensor, k: int) -> torch.Tensor:
    """The symmetric k-NN adjacency matrix of the rows of ``features`` (N, d), sparse (N, N):
    W_ab = 1 if b is among the k nearest neighbours of a, or a among those of b."""
    features = features.float().cpu()
    n = len(features)
    nbrs = knn_indices(features, features, k, exclude_self=True)  # (N, k)
    rows = torch.arange(n).repeat_interleave(k)
    cols = nbrs.flatten()
    idx = torch.cat([torch.stack([rows, cols]), torch.stack([cols, rows])], dim=1)
    w = torch.sparse_coo_tensor(
        idx, torch.ones(idx.shape[1]), (n, n), check_invariants=False
    ).coalesce()
    return torch.sparse_coo_tensor(
        w.indices(), torch.ones_like(w.values()), (n, n), check_invariants=False
    ).coalesce()


def label_spreading(
    graph: torch.Tensor,
    labelled: torch.Tensor,
    labels: torch.Tensor,
    *,
    alpha: float = 0.99,
    iterations: int = 200,
    n_classes: int = 10,
) -> torch.Tensor:
    """Class scores (N, C) of every node of ``graph`` (sparse (N, N), from ``knn_graph``) after
    spreading ``labels`` (n,) of the nodes ``labelled`` (n,); each row sums to 1 where any
    score arrived. ``alpha`` in (0, 1): how far labels spread (the rest anchors the labelled
    points)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    n = graph.shape[0]
    w = graph.coalesce()
    scale = torch.sparse.sum(w, dim=1).to_dense().rsqrt()  # D^-1/2, (N,)
    i, j = w.indices()
    s = torch.sparse_coo_tensor(
        w.indices(), scale[i] * scale[j] * w.values(), (n, n), check_invariants=False
    ).coalesce()
    y0 = torch.zeros(n, n_classes)
    y0[labelled.cpu(), labels.cpu().long()] = 1.0  # (N, C), zero rows for unlabelled points
    f = y0.clone()
    for _ in range(iterations):
        f = alpha * torch.sparse.mm(s, f) + (1 - alpha) * y0
    total = f.sum(1, keepdim=True)
    return torch.where(total > 0, f / total.clamp_min(1e-30), f)


def linear_probe(
    features: torch.Tensor,
    labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
) -> float:
    """Test accuracy of a multinomial logistic regression (scikit-learn, its default L2
    penalty C = 1) trained on ``features`` (n, d) with ``labels`` (n,)."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=5000).fit(features.cpu().numpy(), labels.cpu().numpy())
    return float(clf.score(test_features.cpu().numpy(), test_labels.cpu().numpy()))


def knn_vote(
    queries: torch.Tensor, reference: torch.Tensor, scores: torch.Tensor, k: int = 10
) -> torch.Tensor:
    """Predicted class of each query (n, d): the class with the largest sum of ``scores``
    (N, C) over its k nearest rows of ``reference`` (N, d). (n,)"""
    nbrs = knn_indices(queries.float().cpu(), reference.float().cpu(), k)  # (n, k)
    return scores[nbrs].sum(1).argmax(1)
