"""Checkers of chapter 06: ``reparameterize`` and the pathwise gradient.

Owns: ``check_reparameterize``, ``check_pathwise_gradient``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..gradients import toy_gradient_samples
from ._core import CheckResult, _as_tensor, _call, _close, _fmt, _kl_inputs, _name, _passed, _shape

_NO_GRAD_HINTS = {
    "does not require grad": "no gradient reaches mu and sigma. A draw from .sample() (or "
    "torch.normal, or anything under torch.no_grad / .detach()) is cut off from its "
    "parameters: use .rsample(), or write z = mu + sigma * eps with eps = torch.randn_like(mu).",
    "has no attribute 'grad'": "read the gradients from the tensors that require them.",
    "can't call numpy": "stay in torch: numpy cuts the autograd graph.",
    "'NoneType'": "a .grad is None: no gradient reached that tensor (did you draw z with "
    ".sample() instead of .rsample(), or forget requires_grad=True?).",
}


def check_reparameterize(fn: Callable) -> CheckResult:
    """Check ``fn(mu, logvar)``: one draw z ~ N(mu, diag(exp(logvar))) per entry, written as
    z = mu + sigma * eps with eps ~ N(0, I), so that gradients reach mu and logvar.

    ``mu`` and ``logvar`` have shape (B, d); so has z. The reference is
    :meth:`aevae_lib.models.VAE.reparameterize`.
    """
    name = _name(fn)
    mu, logvar = _kl_inputs(7, 4, 3)
    mu.requires_grad_(True)
    logvar.requires_grad_(True)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        z, failed = _call(
            fn,
            (mu, logvar),
            f"{name}(mu, logvar) with shape (4, 3), both requiring gradients",
            _NO_GRAD_HINTS,
        )
    if failed is not None:
        return failed
    if not torch.is_tensor(z) or z.shape != mu.shape:
        return CheckResult(
            name,
            "wrong",
            f"{name} returned {_shape(z)}; it should return z with "
            f"the shape of mu, {_shape(mu)}: one draw per entry.",
        )
    if not z.requires_grad or z.grad_fn is None:
        return CheckResult(
            name,
            "wrong",
            f"{name} returns a z that carries no gradient. Hint: {_NO_GRAD_HINTS['does not require grad']}",
        )
    g_mu, g_lv = torch.autograd.grad(z.sum(), [mu, logvar], allow_unused=True)
    if g_mu is None:
        return CheckResult(name, "wrong", f"{name} is not right yet: z does not depend on mu.")
    if g_lv is None or not g_lv.abs().sum() > 0:
        return CheckResult(
            name,
            "wrong",
            f"{name} is not right yet: z does not depend on logvar, so the encoder could never "
            "learn its variances. Hint: sigma = exp(logvar / 2), z = mu + sigma * eps.",
        )
    z = z.detach()
    if not _close(g_mu, torch.ones_like(mu), 1e-5, 1e-6):
        return CheckResult(
            name,
            "wrong",
            f"{name} is not right yet: dz/dmu should be 1 for every entry (z = mu + sigma * eps).",
        )
    # z = mu + exp(logvar / 2) * eps  =>  dz/dlogvar = (z - mu) / 2
    if not _close(g_lv, 0.5 * (z - mu.detach()), 1e-4, 1e-5):
        if _close(g_lv, z - mu.detach(), 1e-4, 1e-5):
            hint = (
                "you used the variance exp(logvar) as the standard deviation; "
                "sigma = exp(logvar / 2) = sqrt(exp(logvar))."
            )
        else:
            hint = (
                "z should be mu + exp(logvar / 2) * eps: then dz/dlogvar = (z - mu) / 2, "
                "and yours is different."
            )
        return CheckResult(name, "wrong", f"{name} is not right yet. Hint: {hint}")
    # the distribution: many draws of the same (mu, logvar) rows
    n = 20_000
    row_mu = torch.tensor([0.5, -1.0, 2.0])
    row_lv = torch.tensor([0.0, -2.0, 1.0])
    with torch.random.fork_rng():
        torch.manual_seed(1)
        zs, failed = _call(
            fn,
            (row_mu.expand(n, 3).clone(), row_lv.expand(n, 3).clone()),
            f"{name}(mu, logvar) with shape ({n}, 3)",
        )
    if failed is not None:
        return failed
    zs = zs.detach().double()
    sd = row_lv.double().mul(0.5).exp()
    mean_err = (zs.mean(0) - row_mu.double()).abs() / (sd / math.sqrt(n))
    sd_ratio = zs.std(0) / sd
    if (zs.std(0) < 1e-6).all():
        return CheckResult(
            name,
            "wrong",
            f"{name} is not right yet: every row of the batch got "
            "the same z. Hint: draw one eps per entry, eps = torch.randn_like(mu), "
            "not one for the whole batch.",
        )
    corr = torch.corrcoef(zs.T)
    if (corr - torch.eye(3, dtype=zs.dtype)).abs().max() > 0.1:
        return CheckResult(
            name,
            "wrong",
            f"{name} is not right yet: the d coordinates of z move "
            "together. Hint: draw an independent eps for every entry "
            "(torch.randn_like(mu)), not one per example.",
        )
    if (mean_err > 6).any() or ((sd_ratio - 1).abs() > 0.05).any():
        if ((zs - row_mu.double()) >= 0).all():
            hint = "all your draws lie above mu: eps must be standard normal, torch.randn, not torch.rand (uniform on [0, 1))."
        else:
            hint = (
                f"the draws have mean {_fmt(zs.mean(0))} and standard deviation "
                f"{_fmt(zs.std(0))}; they should be {_fmt(row_mu)} and {_fmt(sd)}."
            )
        return CheckResult(name, "wrong", f"{name} is not right yet. Hint: {hint}")
    return _passed(
        name,
        "gradients reach mu and logvar exactly as z = mu + sigma * eps "
        "prescribes, and 20,000 draws have the right means, standard deviations "
        "and independent coordinates.",
    )


def _toy_cases():
    """(psi, mu, sigma, exact gradient [d/dmu, d/dsigma] of E psi(z), description)."""
    return [
        (
            lambda z: (z - 2.0) ** 2,
            0.5,
            1.0,
            torch.tensor([2 * (0.5 - 2.0), 2 * 1.0], dtype=torch.float64),
            "psi(z) = (z - 2)^2",
        ),
        (
            torch.sin,
            0.3,
            0.7,
            torch.tensor(
                [math.cos(0.3) * math.exp(-0.245), -0.7 * math.sin(0.3) * math.exp(-0.245)],
                dtype=torch.float64,
            ),
            "psi(z) = sin z",
        ),
    ]


def check_pathwise_gradient(fn: Callable, n: int = 100_000) -> CheckResult:
    """Check ``fn(psi, mu, sigma, n)``: the pathwise (reparameterization) estimate of the
    gradient of E_{z ~ N(mu, sigma^2)}[psi(z)] in (mu, sigma), from ``n`` samples.

    ``mu`` and ``sigma`` are floats; ``psi`` maps a tensor of z values elementwise to psi(z).
    The result is a tensor of two numbers, [d/dmu, d/dsigma]. The reference is
    :func:`aevae_lib.gradients.toy_gradient_samples` with ``estimator="pathwise"``.
    """
    name = _name(fn)
    for i, (psi, mu, sigma, exact, what) in enumerate(_toy_cases()):
        with torch.random.fork_rng():
            torch.manual_seed(10 + i)
            got, failed = _call(
                fn,
                (psi, mu, sigma, n),
                f"{name}(psi, mu={mu}, sigma={sigma}, n={n}) with {what}",
                _NO_GRAD_HINTS,
            )
        if failed is not None:
            return failed
        value = _as_tensor(got) if not isinstance(got, (tuple, list)) else None
        if isinstance(got, (tuple, list)) and len(got) == 2:
            try:
                value = torch.stack(
                    [torch.as_tensor(g, dtype=torch.float64).reshape(()) for g in got]
                )
            except (TypeError, RuntimeError, ValueError):
                value = None
        if value is None or value.numel() != 2:
            extra = ""
            if value is not None and value.dim() == 2 and value.shape[-1] == 2:
                extra = " It looks like one estimate per sample: average them over the samples."
            return CheckResult(
                name,
                "wrong",
                f"{name} returned {_shape(got)}; it should return "
                f"two numbers, [d/dmu, d/dsigma].{extra}",
            )
        value = value.detach().double().reshape(2)
        samples = toy_gradient_samples(
            psi, mu, sigma, 20_000, "pathwise", torch.Generator().manual_seed(3)
        )
        se = samples.std(0) / math.sqrt(n)
        score = toy_gradient_samples(
            psi, mu, sigma, 20_000, "score", torch.Generator().manual_seed(3)
        )
        se_score = score.std(0) / math.sqrt(n)
        if ((value - exact).abs() <= 6 * se + 1e-3).all():
            continue
        hint = ""
        with torch.enable_grad():
            m = torch.tensor(mu, dtype=torch.float64, requires_grad=True)
            dpsi = torch.autograd.grad(psi(m), m)[0].item()
        if abs(value[0] - dpsi) < 1e-3 and abs(value[1]) < 1e-3:
            hint = (
                "you differentiated psi at z = mu: that is the gradient of psi(mu), not of "
                "the expectation. Draw z = mu + sigma * eps first."
            )
        elif abs(value[1] - value[0]) < 6 * se[0] + 1e-3 and abs(exact[1] - exact[0]) > 0.1:
            hint = (
                "the sigma component equals the mu component: dz/dsigma = eps, so the sigma "
                "component is psi'(z) * eps."
            )
        elif ((value / n - exact).abs() <= 6 * se + 1e-3).all():
            hint = "you summed over the samples: average them (divide by the number of samples)."
        elif (
            abs(value[0] - exact[0]) <= 6 * se[0] + 1e-3
            and abs(value[1] - sigma * exact[1]) <= 6 * sigma * se[1] + 1e-3
        ):
            hint = "your sigma component is the derivative in log sigma; the exercise asks for d/dsigma."
        elif ((value - exact).abs() <= 6 * se_score + 1e-3).all():
            hint = (
                "your average is near the right value but far noisier than a pathwise "
                "estimate: is this the score-function estimator? Differentiate through "
                "z = mu + sigma * eps instead."
            )
        message = (
            f"{name} is not right yet: for {what}, mu = {mu}, sigma = {sigma} it returned "
            f"{_fmt(value)}, the exact gradient is {_fmt(exact)} (the pathwise estimate "
            f"with n = {n:,} lands within about {_fmt(3 * se)} of it)."
        )
        if hint:
            message = f"{name} is not right yet. Hint: {hint}\n  ({message.split(': ', 1)[1]})"
        return CheckResult(name, "wrong", message)
    return _passed(
        name,
        f"with n = {n:,} samples it lands on the exact gradient for "
        "psi(z) = (z - 2)^2 and for psi(z) = sin z, within a few standard errors.",
    )
