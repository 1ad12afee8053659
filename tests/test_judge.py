"""Tests of aevae_lib.judge: accuracy, nearest distances and the report, against brute force."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from aevae_lib import judge


class FixedClassifier(nn.Module):
    """A 'judge' whose logits are a fixed linear map of the image: easy to compute by hand."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.linear = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
        with torch.no_grad():
            self.linear.weight.copy_(weight)

    def forward(self, x):
        return self.linear(x)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_accuracy_counts_the_argmax_over_batches_of_any_size():
    model = FixedClassifier(torch.randn(10, 784, generator=_gen()))
    x = torch.rand(4500, 784, generator=_gen(1))  # more than two of the 2000-image batches
    predicted = (x @ model.linear.weight.T).argmax(1)
    y = predicted.clone()
    y[::3] = (y[::3] + 1) % 10  # every third label wrong: 1500 wrong
    assert judge.accuracy(model, x, y) == pytest.approx(3000 / 4500)


def test_nearest_distance_matches_brute_force_whatever_the_chunk():
    images, reference = torch.rand(37, 20, generator=_gen()), torch.rand(50, 20, generator=_gen(1))
    brute = torch.tensor(
        [min(float((a - b).norm()) for b in reference) for a in images], dtype=torch.float32
    )
    for chunk in (1, 5, 256):
        torch.testing.assert_close(judge.nearest_distance(images, reference, chunk), brute)


def test_report_gives_confidence_entropy_counts_and_distance_by_hand():
    weight = torch.zeros(10, 784)
    weight[3, :392] = 50.0  # ink in the top half: a confident "3"
    weight[7, 392:] = 50.0  # ink in the bottom half: a confident "7"
    model = FixedClassifier(weight)
    images = torch.zeros(4, 784)
    images[:3, :392] = 1.0
    images[3, 392:] = 1.0
    report = judge.judge_report(model, images, reference=images[:1])
    assert report["class_counts"] == [0, 0, 0, 3, 0, 0, 0, 1, 0, 0]
    assert report["confidence"] == pytest.approx(1.0, abs=1e-6)
    p = torch.tensor([0.75, 0.25])
    assert report["class_entropy"] == pytest.approx(float(-(p * p.log()).sum()))
    assert report["max_class_entropy"] == pytest.approx(math.log(10))
    # three images equal the reference (distance 0), one differs in all 784 pixels
    assert report["nn_distance"] == pytest.approx(math.sqrt(784) / 4)


def test_uniform_logits_give_confidence_one_tenth_and_no_distance_without_reference():
    model = FixedClassifier(torch.zeros(10, 784))
    report = judge.judge_report(model, torch.rand(6, 784, generator=_gen()))
    assert report["confidence"] == pytest.approx(0.1)
    assert "nn_distance" not in report


def test_report_refuses_images_of_the_wrong_shape():
    model = FixedClassifier(torch.zeros(10, 784))
    with pytest.raises(ValueError, match=r"images must have shape \(n, 784\), got \(2, 28, 28\)"):
        judge.judge_report(model, torch.zeros(2, 28, 28))
