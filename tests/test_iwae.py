"""aevae_lib.iwae and objectives.iwae_loss: the IWAE loss is the IW bound of ``likelihood`` on
the same samples, its gradient is the weighted sum of per-sample gradients, and step timing."""

from __future__ import annotations

import math

import pytest
import torch

from aevae_lib import evaluate, iwae, likelihood, objectives
from aevae_lib.models import VAE
from aevae_lib.objectives import vae_loss
from aevae_lib.train import fit


def _model_and_data(seed: int = 0):
    torch.manual_seed(seed)
    model = VAE(input_dim=64, latent_dim=3, hidden=[16])
    x = (torch.rand(12, 64, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    return model, x


@pytest.mark.parametrize("k", [1, 5, 16])
def test_iwae_loss_is_the_iw_bound_of_likelihood_on_the_same_samples(k):
    model, x = _model_and_data()
    mine = iwae.log_weights(model, x, k, generator=torch.Generator().manual_seed(3))
    reference = likelihood.log_importance_weights(model, x, k, seed=3)  # fixed noise, seed 3
    torch.testing.assert_close(mine.detach(), reference)
    loss = objectives.iwae_loss(mine)["loss"]
    bound = torch.logsumexp(reference, 0) - math.log(k)  # the IW bound, written out
    torch.testing.assert_close(loss.detach(), -bound.mean())
    torch.testing.assert_close(
        loss.detach(), -evaluate.iw_log_likelihood(model, x, k, seed=3).mean()
    )


def test_iwae_gradient_is_the_normalized_weight_sum_of_per_sample_gradients():
    model, x = _model_and_data()
    k = 6
    log_w = iwae.log_weights(model, x[:1], k, generator=torch.Generator().manual_seed(0))  # (k, 1)
    params = list(model.parameters())
    autograd = torch.autograd.grad(objectives.iwae_loss(log_w)["loss"], params, retain_graph=True)
    weights = torch.softmax(log_w.detach()[:, 0], dim=0)  # normalized importance weights
    manual = [torch.zeros_like(p) for p in params]
    for i in range(k):  # brute force: one backward pass per sample
        grads = torch.autograd.grad(log_w[i, 0], params, retain_graph=True, allow_unused=True)
        for m, g in zip(manual, grads, strict=True):
            if g is not None:
                m -= weights[i] * g
    for a, m in zip(autograd, manual, strict=True):
        torch.testing.assert_close(a, m, rtol=1e-5, atol=1e-6)


def test_k_1_is_the_single_sample_elbo():
    model, x = _model_and_data()
    log_w = iwae.log_weights(model, x, 1, generator=torch.Generator().manual_seed(2))
    terms = objectives.iwae_loss(log_w)
    torch.testing.assert_close(terms["loss"], terms["neg_elbo"])
    assert set(terms) == {"loss", "neg_elbo"}


def test_a_proposal_of_your_own_equal_to_the_encoders_gives_the_same_weights():
    model, x = _model_and_data()
    mu, logvar = model.encode(x)
    a = iwae.log_weights(model, x, 4, generator=torch.Generator().manual_seed(5))
    b = iwae.log_weights(
        model, x, 4, mu=mu, logvar=logvar, generator=torch.Generator().manual_seed(5)
    )
    torch.testing.assert_close(a, b)


def test_training_with_the_iwae_loss_lowers_it():
    model, x = _model_and_data()
    x = x.repeat(8, 1)  # 96 images
    history = fit(
        model, x, loss_fn=iwae.iwae_fit_loss(5), epochs=15, batch_size=32, lr=1e-2, progress=False
    )
    assert history["loss"][-1] < history["loss"][0] - 5
    assert history["loss"][-1] <= history["neg_elbo"][-1]  # the bound is above the ELBO


def test_bad_arguments_are_refused():
    model, x = _model_and_data()
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        iwae.log_weights(model, x, 0)
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        iwae.iwae_fit_loss(2.0)
    with pytest.raises(ValueError, match="both mu and logvar"):
        iwae.log_weights(model, x, 2, mu=torch.zeros(12, 3))
    with pytest.raises(ValueError, match="shape \\(k, B\\)"):
        objectives.iwae_loss(torch.zeros(5))


def test_seconds_per_step_times_every_objective_and_leaves_the_models_alone():
    model, x = _model_and_data()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    times = iwae.seconds_per_step(
        {"vae": (model, vae_loss()), "iwae": (model, iwae.iwae_fit_loss(5))}, x, steps=3
    )
    assert set(times) == {"vae", "iwae"} and all(t > 0 for t in times.values())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng)
    with pytest.raises(ValueError, match="at least one"):
        iwae.seconds_per_step({}, x)
