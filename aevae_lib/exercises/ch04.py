"""Checkers of chapter 04: the closed-form KL and the Bernoulli log-likelihood.

Owns: ``check_kl``, ``check_bernoulli_log_likelihood``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import objectives
from ._core import (
    CheckResult,
    _as_tensor,
    _call,
    _call_and_compare,
    _close,
    _fmt,
    _kl_inputs,
    _Mistake,
    _name,
    _passed,
    _per_example,
)

_KL_MISTAKES = [
    _Mistake(
        "your result is twice the KL: the closed form has a factor 1/2 in front of the sum.",
        lambda mu, lv: (mu.pow(2) + lv.exp() - lv - 1).sum(-1),
    ),
    _Mistake(
        "the sign is flipped: a KL divergence is never negative. Use "
        "1/2 * sum(mu^2 + sigma^2 - log sigma^2 - 1).",
        lambda mu, lv: -objectives.gaussian_kl(mu, lv),
    ),
    _Mistake(
        "you used the standard deviation exp(logvar / 2) where the formula needs the variance "
        "sigma^2 = exp(logvar).",
        lambda mu, lv: 0.5 * (mu.pow(2) + (0.5 * lv).exp() - lv - 1).sum(-1),
    ),
    _Mistake(
        "the log term should be log sigma^2, which is logvar itself; you used log sigma = "
        "logvar / 2.",
        lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() - 0.5 * lv - 1).sum(-1),
    ),
    _Mistake(
        "the variance is exp(logvar), not logvar: logvar is the logarithm of sigma^2.",
        lambda mu, lv: 0.5 * (mu.pow(2) + lv - lv.abs().log() - 1).sum(-1),
    ),
    _Mistake(
        "you averaged over the d latent dimensions; the KL of a diagonal Gaussian is a sum "
        "over them.",
        lambda mu, lv: objectives.gaussian_kl(mu, lv) / mu.shape[-1],
    ),
    _Mistake(
        "the -1 inside the sum is missing (it makes the KL exactly 0 when q is the prior).",
        lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() - lv).sum(-1),
    ),
    _Mistake(
        "the mu^2 term is missing: moving the mean away from 0 costs KL too.",
        lambda mu, lv: 0.5 * (lv.exp() - lv - 1).sum(-1),
    ),
    _Mistake(
        "the log sigma^2 term has the wrong sign: it enters as -log sigma^2.",
        lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() + lv - 1).sum(-1),
    ),
]


def check_kl(fn: Callable) -> CheckResult:
    """Check ``fn(mu, logvar)``: KL(N(mu, diag(exp(logvar))) || N(0, I)) per example.

    ``mu`` and ``logvar`` have shape (B, d); the result has shape (B,). The reference is
    :func:`aevae_lib.objectives.gaussian_kl`.
    """
    name = _name(fn)
    for seed, (B, d) in enumerate([(5, 3), (7, 4), (1, 6)]):
        mu, logvar = _kl_inputs(seed, B, d)
        verdict = _call_and_compare(
            fn,
            (mu, logvar),
            f"{name}(mu, logvar) with mu and logvar of shape ({B}, {d})",
            objectives.gaussian_kl(mu, logvar),
            _KL_MISTAKES,
            "one KL per example",
            f"mu = {_fmt(mu[0])}, logvar = {_fmt(logvar[0])} (first example)",
        )
        if verdict is not None:
            return verdict
    zero = torch.zeros(3, 2)
    got, failed = _call(fn, (zero, zero.clone()), f"{name}(mu, logvar) with mu = logvar = 0")
    if failed is not None:
        return failed
    if not _close(_as_tensor(got), torch.zeros(3), 1e-5, 1e-6):
        return CheckResult(
            name,
            "wrong",
            f"{name} is not right yet: when q is the prior "
            "(mu = 0, logvar = 0) the KL must be exactly 0.",
        )
    return _passed(
        name, "it matches the closed-form KL on 3 random batches, and gives 0 when q is the prior."
    )


def _bernoulli_inputs(seed: int, B: int, D: int, scale: float = 3.0):
    g = torch.Generator().manual_seed(100 + seed)
    x = (torch.rand(B, D, generator=g) < 0.3).float()  # binarized pixels
    logits = torch.randn(B, D, generator=g) * scale
    return x, logits


def _bce(x, logits):
    p = torch.sigmoid(logits)
    return x * p.log() + (1 - x) * (1 - p).log()


_BERNOULLI_MISTAKES = [
    _Mistake(
        "the sign is flipped: that is the binary cross-entropy, the *negative* "
        "log-likelihood. A log-likelihood of binary pixels is never positive.",
        lambda x, l: -objectives.bernoulli_log_likelihood(x, l),
    ),
    _Mistake(
        "you averaged over the pixels (as PyTorch's binary_cross_entropy does by default, "
        "reduction='mean'); the book sums over the D pixels of an image.",
        lambda x, l: objectives.bernoulli_log_likelihood(x, l) / x.shape[-1],
    ),
    _Mistake(
        "only the pixels that are on count in your sum: add the (1 - x) log(1 - p) term for "
        "the pixels that are off.",
        lambda x, l: (x * torch.sigmoid(l).log()).sum(-1),
    ),
    _Mistake(
        "you applied the sigmoid twice: F.binary_cross_entropy_with_logits and F.logsigmoid "
        "take the logits themselves.",
        lambda x, l: objectives.bernoulli_log_likelihood(x, torch.sigmoid(l)),
    ),
    _Mistake(
        "you swapped the two terms: x goes with log p and (1 - x) with log(1 - p).",
        lambda x, l: ((1 - x) * torch.sigmoid(l).log() + x * (1 - torch.sigmoid(l)).log()).sum(-1),
    ),
]


def check_bernoulli_log_likelihood(fn: Callable) -> CheckResult:
    """Check ``fn(x, logits)``: log p(x | z) of independent Bernoulli pixels, summed over the
    pixels of each image, with P(x_i = 1) = sigmoid(logits_i).

    ``x`` (binary) and ``logits`` have shape (B, D); the result has shape (B,). The reference
    is :func:`aevae_lib.objectives.bernoulli_log_likelihood`.
    """
    name = _name(fn)
    hints = {
        "should be between 0 and 1": "F.binary_cross_entropy wants probabilities in [0, 1], "
        "and logits can be any number: use F.binary_cross_entropy_with_logits (or "
        "F.logsigmoid) on the logits.",
    }
    for seed, (B, D) in enumerate([(4, 10), (6, 7)]):
        x, logits = _bernoulli_inputs(seed, B, D)
        verdict = _call_and_compare(
            fn,
            (x, logits),
            f"{name}(x, logits) with x and logits of shape ({B}, {D})",
            objectives.bernoulli_log_likelihood(x, logits),
            _BERNOULLI_MISTAKES,
            "one log-likelihood per image",
            f"x = {_fmt(x[0], 4)}, logits = {_fmt(logits[0], 4)} (first image)",
            hints=hints,
        )
        if verdict is not None:
            if "inf or nan" in verdict.message:
                verdict.message += (
                    " With logits, log(sigmoid(a)) is F.logsigmoid(a), and "
                    "log(1 - sigmoid(a)) is F.logsigmoid(-a)."
                )
            return verdict
    # a confident decoder: logits of +-40 saturate sigmoid in float32
    x, logits = _bernoulli_inputs(9, 3, 8, scale=40.0)
    got, failed = _call(fn, (x.clone(), logits.clone()), f"{name}(x, logits) with logits up to 40")
    if failed is not None:
        return failed
    ref = objectives.bernoulli_log_likelihood(x, logits)
    value = _as_tensor(got)
    if value is not None and value.shape == ref.shape and not torch.isfinite(value.detach()).all():
        return CheckResult(
            name,
            "wrong",
            f"{name} is right for moderate logits but gives inf or nan for large ones "
            f"(|logits| up to 40, a confident decoder): sigmoid rounds to exactly 0 or 1 and its "
            "log is -inf. Hint: compute in log space: F.logsigmoid(logits) for log p and "
            "F.logsigmoid(-logits) for log(1 - p), or -F.binary_cross_entropy_with_logits(logits, "
            "x, reduction='none').",
        )
    return _per_example(
        name,
        got,
        ref,
        _BERNOULLI_MISTAKES,
        (x, logits),
        "one log-likelihood per image",
        "logits up to 40",
        rtol=1e-4,
        atol=1e-3,
        passed=(
            "it matches the summed Bernoulli log-likelihood on 3 random batches, "
            "including logits of +-40."
        ),
    )
