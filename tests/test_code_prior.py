"""Tests of aevae_lib.code_prior: the per-slot categorical prior and the autoregressive MADE."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from aevae_lib.code_prior import AutoregressivePrior, PositionPrior, code_prior_loss, made_masks


def test_position_prior_counts_with_add_one_smoothing():
    idx = torch.tensor([[0, 2], [0, 1], [1, 1]])  # slot 0: counts 2, 1, 0; slot 1: 0, 2, 1
    prior = PositionPrior(2, 3).fit(idx)
    want = torch.tensor([[3 / 6, 2 / 6, 1 / 6], [1 / 6, 3 / 6, 2 / 6]]).log()
    torch.testing.assert_close(prior.log_probs, want)
    assert prior.log_prob(torch.tensor([[0, 1]])).item() == pytest.approx(math.log(3 / 6 * 3 / 6))
    draws = prior.sample(20_000, torch.Generator().manual_seed(0))
    freq = torch.bincount(draws[:, 0], minlength=3).double() / 20_000
    torch.testing.assert_close(freq, want[0].exp().double(), atol=0.02, rtol=0)


def test_made_output_m_depends_only_on_earlier_slots():
    mask_in, mask_out = made_masks(4, 3, 10)
    connect = (mask_out @ mask_in) > 0  # (M K, M K): output unit <- input unit
    for m_out, m_in in itertools.product(range(4), range(4)):
        block = connect[m_out * 3 : (m_out + 1) * 3, m_in * 3 : (m_in + 1) * 3]
        assert bool(block.any()) == (m_in < m_out), (m_out, m_in)


def test_autoregressive_prior_is_normalized_and_autoregressive():
    torch.manual_seed(0)
    prior = AutoregressivePrior(n_slots=3, n_codes=3, hidden=16)
    for p in prior.parameters():
        torch.nn.init.normal_(p, std=1.0)
    every = torch.tensor(list(itertools.product(range(3), repeat=3)))  # all 27 tuples
    total = prior.log_prob(every).exp().sum().item()
    assert total == pytest.approx(1.0, abs=1e-5)  # sums to one over all index tuples
    a, b = torch.tensor([[0, 1, 2]]), torch.tensor([[0, 1, 0]])  # differ in the last slot
    torch.testing.assert_close(prior.logits(a), prior.logits(b))  # no row sees the last slot
    c = torch.tensor([[2, 1, 2]])  # differs from a in the first slot only
    torch.testing.assert_close(prior.logits(a)[:, 0], prior.logits(c)[:, 0])
    assert not torch.allclose(prior.logits(a)[:, 1:], prior.logits(c)[:, 1:])


def test_autoregressive_samples_follow_the_model():
    torch.manual_seed(0)
    prior = AutoregressivePrior(n_slots=2, n_codes=2, hidden=8)
    for p in prior.parameters():
        torch.nn.init.normal_(p, std=1.0)
    draws = prior.sample(20_000, torch.Generator().manual_seed(1))
    every = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]])
    want = prior.log_prob(every).exp().detach().double()
    got = torch.stack([((draws == t).all(1)).double().mean() for t in every])
    torch.testing.assert_close(got, want, atol=0.015, rtol=0)


def test_training_lowers_the_code_length():
    torch.manual_seed(0)
    data = torch.randint(2, (256, 1)).repeat(1, 4)  # all slots equal: very predictable
    prior = AutoregressivePrior(n_slots=4, n_codes=2, hidden=32)
    opt = torch.optim.Adam(prior.parameters(), lr=1e-2)
    first = code_prior_loss(prior, data.float())["loss"].item()
    for _ in range(200):
        loss = code_prior_loss(prior, data.float())["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    # 4 ln 2 nats at first; the best possible is ln 2 (only the first slot is a coin flip)
    assert first > 2.5 and loss.item() < math.log(2) + 0.05
    with pytest.raises(ValueError, match="indices must"):
        prior.log_prob(torch.tensor([[0, 1, 2, 0]]))
