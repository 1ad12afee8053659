"""The judge as a metric: a digit classifier's verdict on a set of images, on one common scale.

The classifier itself is an ordinary zoo model (``zoo.trained_judge``, ``configs.JudgeConfig``).
For a set of images ``judge_report`` gives
    confidence      mean of the judge's top class probability (real test digits: about 0.99),
    class_entropy   entropy (nats) of the histogram of predicted classes (ln 10 = 2.30 if all
                    ten digits appear equally often; 0 if every image looks like one digit),
    nn_distance     mean Euclidean distance to the nearest training image (small = close to
                    real data; a copy of a training image would give 0).

Owns: ``judge_report``, ``accuracy``, ``nearest_distance``.

Used in: notebooks/03_why_random_z_fails.ipynb (first), 04_vae.ipynb (samples of the AE and
the VAE), 05_vae_latent_space.ipynb (decoded grids, interpolation paths, the AE-VAE table) and
08_evaluating_vaes.ipynb.
"""

from __future__ import annotations

import math

import torch


@torch.no_grad()
def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    correct = sum(
        (model(xb).argmax(1) == yb).sum().item()
        for xb, yb in zip(x.split(2000), y.split(2000), strict=True)
    )
    return correct / len(x)


@torch.no_grad()
def nearest_distance(
    images: torch.Tensor, reference: torch.Tensor, chunk: int = 256
) -> torch.Tensor:
    """Euclidean distance from each image (n, D) to its nearest row of ``reference`` (N, D)."""
    out = []
    for block in images.split(chunk):
        out.append(torch.cdist(block, reference).min(dim=1).values)
    return torch.cat(out)


@torch.no_grad()
def judge_report(
    judge: torch.nn.Module, images: torch.Tensor, reference: torch.Tensor | None = None
) -> dict:
    """Score ``images`` (n, 784) in [0, 1]: confidence, class entropy, class counts, NN distance."""
    if images.dim() != 2 or images.shape[1] != 784:
        raise ValueError(f"images must have shape (n, 784), got {tuple(images.shape)}")
    judge.eval()
    device = next(judge.parameters()).device
    probs = torch.softmax(judge(images.to(device)), dim=1).cpu()  # (n, 10)
    counts = torch.bincount(probs.argmax(1), minlength=10)
    freq = counts.double() / counts.sum()
    nonzero = freq[freq > 0]
    report = {
        "confidence": probs.max(1).values.mean().item(),
        "class_entropy": float(-(nonzero * nonzero.log()).sum()),
        "max_class_entropy": math.log(10),
        "class_counts": counts.tolist(),
    }
    if reference is not None:
        report["nn_distance"] = nearest_distance(images.cpu(), reference.cpu()).mean().item()
    return report
