"""Tests of aevae_lib.vq and the VQ-VAE losses of aevae_lib.objectives, against brute force,
finite differences and hand computations."""

from __future__ import annotations

import math

import pytest
import torch

from aevae_lib.objectives import vq_losses
from aevae_lib.vq import (
    VQVAE,
    VectorQuantizer,
    code_usage,
    nearest_codes,
    perplexity,
    restart_dead_codes,
    straight_through,
    vq_vae_loss,
)


def test_nearest_codes_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(7, 5, 3, generator=g)
    book = torch.randn(11, 3, generator=g)
    got = nearest_codes(z, book)
    assert got.shape == (7, 5)
    for b in range(7):
        for m in range(5):
            dists = [float(((z[b, m] - book[r]) ** 2).sum()) for r in range(11)]
            assert got[b, m].item() == min(range(11), key=dists.__getitem__)


def test_nearest_codes_ties_go_to_the_lowest_index_and_bad_shapes_are_refused():
    book = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0]])
    assert nearest_codes(torch.tensor([[0.0, 1.0]]), book).item() == 0
    assert nearest_codes(torch.tensor([[0.9, 0.0]]), book).item() == 0
    with pytest.raises(ValueError, match="codebook rows"):
        nearest_codes(torch.zeros(2, 3), book)


def test_straight_through_value_is_z_q_and_gradient_is_identity():
    z_e = torch.randn(4, 3, requires_grad=True)
    z_q = torch.randn(4, 3)
    out = straight_through(z_e, z_q)
    torch.testing.assert_close(out, z_q)
    weights = torch.randn(4, 3)
    (out * weights).sum().backward()
    torch.testing.assert_close(z_e.grad, weights)


def test_straight_through_gradient_equals_finite_differences_of_the_decoder_at_z_q():
    """The encoder's gradient under the straight-through estimator is the gradient of the loss
    with respect to the decoder's *input*, evaluated at z_q: checked against central
    differences of u -> loss(decoder(u)) at u = z_q, in double precision."""
    torch.manual_seed(0)
    model = VQVAE(n_slots=3, code_dim=2, n_codes=5, hidden=(16,)).double()
    x = torch.rand(2, 784, dtype=torch.float64).round()
    z_e = model.encode(x).detach().requires_grad_(True)
    z_q, _ = model.quantizer(z_e)
    logits = model.decode(straight_through(z_e, z_q.detach()))
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    loss.backward()

    @torch.no_grad()
    def f(u):
        return float(
            torch.nn.functional.binary_cross_entropy_with_logits(
                model.decode(u), x, reduction="sum"
            )
        )

    u0 = z_q.detach().clone()
    fd = torch.zeros_like(u0)
    h = 1e-6
    for idx in torch.cartesian_prod(*[torch.arange(s) for s in u0.shape]):
        e = torch.zeros_like(u0)
        e[tuple(idx)] = h
        fd[tuple(idx)] = (f(u0 + e) - f(u0 - e)) / (2 * h)
    torch.testing.assert_close(z_e.grad, fd, rtol=1e-5, atol=1e-6)


def test_the_true_gradient_through_rounding_is_zero():
    """Finite differences of the loss as a function of z_e itself (through the rounding) are 0
    away from a boundary: the pathwise gradient carries no information."""
    torch.manual_seed(1)
    model = VQVAE(n_slots=2, code_dim=2, n_codes=4, hidden=(8,)).double()
    x = torch.rand(1, 784, dtype=torch.float64).round()
    z_e = model.encode(x).detach()

    @torch.no_grad()
    def f(u):
        z_q, _ = model.quantizer(u)
        return float(
            torch.nn.functional.binary_cross_entropy_with_logits(
                model.decode(z_q), x, reduction="sum"
            )
        )

    e = torch.zeros_like(z_e)
    e[0, 0, 0] = 1e-7
    assert f(z_e + e) - f(z_e - e) == 0.0


def test_vq_losses_values_and_where_their_gradients_go():
    z_e = torch.tensor([[[1.0, 2.0], [0.0, -1.0]]], requires_grad=True)  # (1, 2, 2)
    book = torch.tensor([[0.5, 2.0], [0.0, 0.0]], requires_grad=True)
    z_q = book[torch.tensor([[0, 1]])]  # (1, 2, 2)
    terms = vq_losses(z_e, z_q)
    # by hand: (1 - 0.5)^2 + 0 + 0 + (-1 - 0)^2 = 1.25
    assert terms["codebook"].item() == pytest.approx(1.25)
    assert terms["commitment"].item() == pytest.approx(1.25)
    terms["codebook"].sum().backward()
    assert z_e.grad is None  # the codebook loss does not reach the encoder
    torch.testing.assert_close(book.grad, torch.tensor([[-1.0, 0.0], [0.0, 2.0]]))
    book.grad = None
    vq_losses(z_e, book[torch.tensor([[0, 1]])])["commitment"].sum().backward()
    assert book.grad is None  # the commitment loss does not reach the codebook
    torch.testing.assert_close(z_e.grad, torch.tensor([[[1.0, 0.0], [0.0, -2.0]]]))


def test_perplexity_and_usage_against_a_hand_computation():
    idx = torch.tensor([0, 0, 1, 3])  # frequencies 1/2, 1/4, 0, 1/4
    torch.testing.assert_close(
        code_usage(idx, 4), torch.tensor([0.5, 0.25, 0.0, 0.25], dtype=torch.float64)
    )
    entropy = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    assert perplexity(idx, 4) == pytest.approx(math.exp(entropy))
    assert perplexity(torch.arange(8), 8) == pytest.approx(8.0)
    assert perplexity(torch.zeros(5, dtype=torch.long), 8) == pytest.approx(1.0)


def test_restart_moves_only_dead_codes_onto_batch_vectors():
    book = torch.arange(12.0).view(6, 2)
    before = book.clone()
    counts = torch.tensor([3, 0, 1, 0, 0, 7])
    z_e = torch.randn(10, 2)
    moved = restart_dead_codes(book, counts, z_e, torch.Generator().manual_seed(0))
    assert moved == 3
    alive = counts > 0
    torch.testing.assert_close(book[alive], before[alive])
    for row in book[~alive]:  # each dead code now sits on a (distinct) batch vector
        assert ((z_e - row).abs().sum(1) == 0).any()
    assert len({tuple(r.tolist()) for r in book[~alive]}) == 3
    assert restart_dead_codes(book, torch.ones(6), z_e) == 0


def test_quantizer_restarts_every_window_in_training_only():
    torch.manual_seed(0)
    vq = VectorQuantizer(n_codes=16, code_dim=2, init_scale=1 / 16, restart_every=2)
    z = torch.randn(4, 8, 2) * 3  # far outside the codebook's box: few codes are chosen
    vq.eval()
    vq(z), vq(z)
    assert vq.restarted.item() == 0
    vq.train()
    _, first = vq(z)
    _, second = vq(z)  # the second call ends the window: unused codes move onto z
    assert vq.restarted.item() == 16 - first.unique().numel()
    assert second.unique().numel() > first.unique().numel()


def test_vq_vae_loss_terms_shapes_and_a_training_step():
    torch.manual_seed(0)
    model = VQVAE(n_slots=4, code_dim=3, n_codes=8, hidden=(32,))
    x = torch.rand(16, 784).round()
    out = model(x)
    assert out.x_out.shape == (16, 784) and out.z_e.shape == out.z_q.shape == (16, 4, 3)
    assert out.indices.shape == (16, 4)
    terms = vq_vae_loss(0.25)(model, x)
    torch.testing.assert_close(terms["loss"], terms["recon"] + 1.25 * terms["codebook"])
    before = [p.clone() for p in model.parameters()]
    terms["loss"].backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    with pytest.raises(ValueError, match="commitment"):
        vq_vae_loss(-1.0)


def test_quantizer_gradients_are_bit_for_bit_reproducible():
    """The codebook's gradient sums many rows into one entry; its order must not depend on
    threads (advanced indexing's backward did, and chapter 11's numbers drifted run to run)."""
    torch.manual_seed(0)
    vq = VectorQuantizer(n_codes=64, code_dim=8)
    z = torch.randn(256, 20, 8) / 64
    g = torch.randn(256, 20, 8)
    grads = []
    for _ in range(5):
        vq.codebook.grad = None
        (vq(z)[0] * g).sum().backward()
        grads.append(vq.codebook.grad.clone())
    assert all(torch.equal(grads[0], other) for other in grads[1:])
