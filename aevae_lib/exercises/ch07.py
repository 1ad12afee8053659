"""Checkers of chapter 07: the importance-weighted bound and the toy model's ELBO.

Owns: ``check_iw_bound``, ``check_toy_elbo``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .. import objectives, toy
from ._core import CheckResult, _as_tensor, _call, _fmt, _Mistake, _name, _passed, _per_example

_IW_MISTAKES = [
    _Mistake(
        "you averaged the log weights: that estimates the ELBO, a mean of logs. The "
        "importance-weighted bound is the log of the mean weight, "
        "log (1/k) sum_i exp(log w_i): use torch.logsumexp(log_w, dim=0) - log k.",
        lambda lw: lw.mean(0),
    ),
    _Mistake(
        "the -log k is missing: logsumexp gives the log of the *sum* of the weights, and the "
        "bound needs the log of their mean.",
        lambda lw: torch.logsumexp(lw, 0),
    ),
    _Mistake(
        "log k has the wrong sign: the log of the mean is logsumexp - log k.",
        lambda lw: torch.logsumexp(lw, 0) + math.log(lw.shape[0]),
    ),
    _Mistake(
        "you kept only the largest weight (max); the bound averages all k of them.",
        lambda lw: lw.max(0).values,
    ),
    _Mistake(
        "you divided the log of the sum by k; subtract log k instead.",
        lambda lw: torch.logsumexp(lw, 0) / lw.shape[0],
    ),
]


def check_iw_bound(fn: Callable, k: int = 10) -> CheckResult:
    """Check ``fn(log_w)``: the importance-weighted bound log (1/k) sum_i w_i from the log
    weights ``log_w`` of shape (k, B); the result has shape (B,).

    The reference is :func:`aevae_lib.objectives.iw_bound`.
    """
    name = _name(fn)
    for seed, (offset, B) in enumerate([(-90.0, 6), (-3.0, 3)]):
        g = torch.Generator().manual_seed(200 + seed)
        log_w = offset + 3.0 * torch.randn(k, B, generator=g, dtype=torch.float64)
        got, failed = _call(fn, (log_w.clone(),), f"{name}(log_w) with log_w of shape ({k}, {B})")
        if failed is not None:
            return failed
        ref = objectives.iw_bound(log_w)
        value = _as_tensor(got)
        if value is not None and value.shape == (k,):
            return CheckResult(
                name,
                "wrong",
                f"{name} returned shape ({k},): one value per "
                f"sample. Hint: reduce over the k samples, dim=0 of the ({k}, {B}) "
                "log weights, to get one bound per data point.",
            )
        verdict = _per_example(
            name,
            got,
            ref,
            _IW_MISTAKES,
            (log_w,),
            "one bound per data point",
            f"the log weights of the first data point, {_fmt(log_w[:, 0], 4)}",
            rtol=1e-6,
            atol=1e-6,
        )
        if verdict is not None:
            return verdict
    # log weights of a real image are hundreds of nats below 0: exp underflows to 0
    log_w = -800.0 + torch.randn(
        k, 4, generator=torch.Generator().manual_seed(9), dtype=torch.float64
    )
    got, failed = _call(fn, (log_w.clone(),), f"{name}(log_w) with log weights near -800")
    if failed is not None:
        return failed
    value = _as_tensor(got)
    if value is not None and value.shape == (4,) and not torch.isfinite(value.detach()).all():
        return CheckResult(
            name,
            "wrong",
            f"{name} is right for moderate log weights but returns -inf near -800, where "
            "exp(log w) underflows to 0. Hint: never exponentiate directly: "
            "torch.logsumexp(log_w, dim=0) subtracts the largest log weight first.",
        )
    return _per_example(
        name,
        got,
        objectives.iw_bound(log_w),
        _IW_MISTAKES,
        (log_w,),
        "one bound per data point",
        "log weights near -800",
        rtol=1e-9,
        atol=1e-6,
        passed=(
            f"it matches log (1/k) sum_i w_i for k = {k} on 3 batches, including "
            "log weights near -800 where exp underflows."
        ),
    )


def _toy_elbo_inputs(seed: int):
    model = toy.LinearGaussian.random(D=4, d=2, noise_std=0.7, seed=seed)
    _, x = model.sample(3, torch.Generator().manual_seed(300 + seed))
    g = torch.Generator().manual_seed(400 + seed)
    q_mean = torch.randn(3, 2, generator=g, dtype=torch.float64)
    q_std = 0.3 + torch.rand(3, 2, generator=g, dtype=torch.float64)
    return model, x, q_mean, q_std


def _toy_parts(model, x, q_mean, q_std):
    """The pieces of the closed-form ELBO: (normalizer, squared residual, trace, KL)."""
    var = model.noise_std**2
    resid = (x - q_mean @ model.W.T - model.b).pow(2).sum(-1)
    trace = q_std.pow(2) @ model.W.pow(2).sum(0)  # tr(W^T W diag(sigma^2)), (B,)
    kl = objectives.gaussian_kl(q_mean, q_std.pow(2).log())
    normalizer = -0.5 * model.D * (math.log(2 * math.pi) + math.log(var))
    return normalizer, resid, trace, kl, var


def _toy_mistake(kind):
    def compute(model, x, q_mean, q_std):
        c, resid, trace, kl, var = _toy_parts(model, x, q_mean, q_std)
        if kind == "no trace":
            return c - resid / (2 * var) - kl
        if kind == "plus kl":
            return c - (resid + trace) / (2 * var) + kl
        if kind == "no normalizer":
            return -(resid + trace) / (2 * var) - kl
        if kind == "no half":
            return c - (resid + trace) / var - kl
        if kind == "std for var":
            s = model.noise_std
            return (
                -0.5 * model.D * (math.log(2 * math.pi) + math.log(s))
                - (resid + trace) / (2 * s)
                - kl
            )
        if kind == "trace with std":
            trace_sd = q_std @ model.W.pow(2).sum(0)
            return c - (resid + trace_sd) / (2 * var) - kl
        if kind == "kl with std":
            return c - (resid + trace) / (2 * var) - objectives.gaussian_kl(q_mean, q_std.log())
        raise ValueError(kind)

    return compute


_TOY_MISTAKES = [
    _Mistake(
        "you evaluated log p(x | z) at the mean of q only. Under q, "
        "E||x - W z - b||^2 = ||x - W m - b||^2 + tr(W^T W diag(sigma^2)): the spread of q "
        "adds a trace term.",
        _toy_mistake("no trace"),
    ),
    _Mistake(
        "the KL enters with a minus sign: ELBO = E_q[log p(x | z)] - KL(q || p(z)).",
        _toy_mistake("plus kl"),
    ),
    _Mistake(
        "the Gaussian's normalizing constant -D/2 log(2 pi s^2) is missing; the ELBO bounds "
        "log p(x), which includes it.",
        _toy_mistake("no normalizer"),
    ),
    _Mistake(
        "the squared error needs the factor 1 / (2 s^2), not 1 / s^2.", _toy_mistake("no half")
    ),
    _Mistake(
        "s is the noise's standard deviation; the Gaussian needs its variance s^2.",
        _toy_mistake("std for var"),
    ),
    _Mistake(
        "the trace term needs the variances sigma_j^2 of q, not its standard deviations.",
        _toy_mistake("trace with std"),
    ),
    _Mistake(
        "the KL needs log sigma^2 (logvar = 2 log q_std), not log q_std.",
        _toy_mistake("kl with std"),
    ),
]


def check_toy_elbo(fn: Callable) -> CheckResult:
    """Check ``fn(model, x, q_mean, q_std)``: the ELBO of the linear-Gaussian model
    (:class:`aevae_lib.toy.LinearGaussian`) in closed form, for a diagonal Gaussian
    q = N(q_mean, diag(q_std^2)) per data point.

    ``x`` has shape (B, D), ``q_mean`` and ``q_std`` (B, d); the result has shape (B,). The
    reference is :func:`aevae_lib.toy.elbo_exact`.
    """
    name = _name(fn)
    for seed in (0, 1):
        model, x, q_mean, q_std = _toy_elbo_inputs(seed)
        got, failed = _call(
            fn,
            (model, x.clone(), q_mean.clone(), q_std.clone()),
            f"{name}(model, x, q_mean, q_std) with x of shape (3, 4) and q_mean, "
            "q_std of shape (3, 2)",
        )
        if failed is not None:
            return failed
        ref = toy.elbo_exact(model, x, toy.diagonal_gaussian(q_mean, q_std))
        verdict = _per_example(
            name,
            got,
            ref,
            _TOY_MISTAKES,
            (model, x, q_mean, q_std),
            "one ELBO per data point",
            f"the first data point, q_mean = {_fmt(q_mean[0])}, q_std = {_fmt(q_std[0])}",
            rtol=1e-6,
            atol=1e-6,
        )
        if verdict is not None:
            value = _as_tensor(got)
            if (
                verdict.message.endswith("are " + _fmt(ref) + ".")
                and value is not None
                and value.shape == ref.shape
                and ((value.detach().double() - ref).abs() < 0.02 * ref.abs() + 0.05).all()
            ):
                verdict.message += (
                    " It is close: a Monte Carlo estimate? The exercise asks for "
                    "the exact closed form."
                )
            return verdict
    return _passed(
        name,
        "it matches the closed-form ELBO of the linear-Gaussian model on 2 "
        "random models and batches.",
    )
