"""Auto-checked exercises: your function against the library's reference, with a hint.

Each ``check_*`` function calls the function you wrote on random inputs (seeded, so a check
gives the same verdict every time), compares the result with the library's own
implementation, and returns a :class:`CheckResult` that prints as one short verdict:

- ``passed``: right on every input tried;
- ``not done``: your function still raises ``NotImplementedError`` (the exercise's stub);
- ``wrong``: a wrong result, with a hint that names the mistake when it is a typical one
  (a missing 1/2, a sum over the batch instead of the dimensions, ``sample()`` instead of
  ``rsample()``, a standard deviation where a variance was meant, ...);
- ``error``: your function raised, with the error and how it was called.

A check never raises on a wrong answer, so a notebook with an unfinished exercise still runs
from top to bottom; ``bool(result)`` or ``result.passed`` tells whether it passed.

    from aevae_lib.exercises import check_kl
    check_kl(kl_to_prior)   # kl_to_prior(mu, logvar) -> one KL per example, shape (B,)

Chapter 4: :func:`check_kl`, :func:`check_bernoulli_log_likelihood`.
Chapter 6: :func:`check_reparameterize`, :func:`check_pathwise_gradient`.
Chapter 7: :func:`check_iw_bound`, :func:`check_toy_elbo`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from . import objectives, toy
from .gradients import toy_gradient_samples

__all__ = [
    "CheckResult",
    "check_bernoulli_log_likelihood",
    "check_iw_bound",
    "check_kl",
    "check_pathwise_gradient",
    "check_reparameterize",
    "check_toy_elbo",
]

_MARK = {"passed": "✓", "not done": "…", "wrong": "✗", "error": "✗"}


@dataclass
class CheckResult:
    """The verdict of one check. Displays as its message (the last line of a cell shows it)."""

    name: str  # the name of the function that was checked
    status: str  # "passed", "not done", "wrong" or "error"
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return f"{_MARK[self.status]} {self.message}"

    __repr__ = __str__


@dataclass
class _Mistake:
    """A typical wrong answer: what it computes (same arguments as the reference), and the
    hint to give when the learner's result matches it."""

    hint: str
    compute: Callable


# --- helpers --------------------------------------------------------------------------------


def _name(fn) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def _shape(t) -> str:
    return str(tuple(t.shape)) if torch.is_tensor(t) else type(t).__name__


def _fmt(t: torch.Tensor, n: int = 3) -> str:
    values = t.detach().double().flatten()[:n].tolist()
    more = ", ..." if t.numel() > n else ""
    return "[" + ", ".join(f"{v:.4g}" for v in values) + more + "]"


def _not_done(name: str) -> CheckResult:
    return CheckResult(
        name,
        "not done",
        f"{name} is not written yet: replace `raise NotImplementedError` with your code, run "
        "that cell, then run this check again.",
    )


def _raised(name: str, exc: BaseException, called: str, hints: dict[str, str]) -> CheckResult:
    text = f"{type(exc).__name__}: {exc}".strip()
    first = text.splitlines()[0][:300]
    hint = next((h for pattern, h in hints.items() if pattern.lower() in text.lower()), "")
    message = f"{name} raised {first}\n  (called as {called})."
    if hint:
        message += f"\n  Hint: {hint}"
    return CheckResult(name, "error", message)


def _call(fn, args, called: str, hints: dict[str, str] | None = None):
    """Run ``fn(*args)``; return (value, None) or (None, the CheckResult of what went wrong)."""
    name = _name(fn)
    try:
        return fn(*args), None
    except NotImplementedError:
        return None, _not_done(name)
    except Exception as exc:  # the learner's code may raise anything: report it readably
        return None, _raised(name, exc, called, hints or {})


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float, atol: float) -> bool:
    if not (torch.is_tensor(a) and torch.is_tensor(b)) or a.shape != b.shape:
        return False
    a, b = a.detach().double(), b.detach().double()
    return bool(torch.isfinite(a).all() and torch.allclose(a, b, rtol=rtol, atol=atol))


def _as_tensor(value):
    if torch.is_tensor(value):
        return value
    if isinstance(value, (int, float)):
        return torch.tensor(float(value))
    return None


def _per_example(
    name: str,
    got,
    ref: torch.Tensor,
    mistakes: Sequence[_Mistake],
    args: tuple,
    what: str,
    example: str,
    rtol: float = 1e-4,
    atol: float = 1e-5,
) -> CheckResult | None:
    """Compare a result that should hold one value per example, shape (B,), with ``ref``.
    None when it matches; else the verdict, with the hint of a matching typical mistake."""
    value = _as_tensor(got)
    if value is None:
        return CheckResult(
            name,
            "wrong",
            f"{name} returned {type(got).__name__}; it should return a tensor of "
            f"{what}, shape {_shape(ref)}.",
        )
    if value.shape != ref.shape:
        hint = ""
        if value.numel() == 1:
            if _close(value.reshape(()), ref.sum(), 1e-4, 1e-4):
                hint = "you summed over the batch too."
            elif _close(value.reshape(()), ref.mean(), 1e-4, 1e-4):
                hint = "you averaged over the batch."
            else:
                hint = "it reduced the batch to one number."
            hint = (
                f"Hint: {hint} Return one value per example: add up over the dimensions "
                "of each example only (dim=-1), and leave the batch dimension alone."
            )
        elif value.dim() == 2 and value.shape == args[0].shape:
            hint = (
                "Hint: you returned one value per dimension. Sum over the dimensions of "
                "each example (dim=-1)."
            )
        return CheckResult(
            name,
            "wrong",
            f"{name} returned shape {_shape(value)}, expected {_shape(ref)}: {what}. {hint}".strip(),
        )
    if _close(value, ref, rtol, atol):
        return None
    finite = bool(torch.isfinite(value.detach()).all())
    for mistake in mistakes if finite else []:
        try:
            wrong = mistake.compute(*args)
        except Exception:  # a mistake's formula may not apply to these inputs
            continue
        if _close(value, wrong, rtol, atol):
            return CheckResult(name, "wrong", f"{name} is not right yet. Hint: {mistake.hint}")
    message = (
        f"{name} is not right yet: for {example} it returned {_fmt(value)}, the right values "
        f"are {_fmt(ref)}."
    )
    if not finite:
        message += " Some values are inf or nan: look for a log of 0 or of a negative number."
    return CheckResult(name, "wrong", message)


def _passed(name: str, text: str) -> CheckResult:
    return CheckResult(name, "passed", f"{name} is right: {text}")


# --- chapter 4: the closed-form KL and the Bernoulli log-likelihood --------------------------


def _kl_inputs(seed: int, B: int, d: int):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(B, d, generator=g)
    logvar = torch.rand(B, d, generator=g) * 4 - 3  # log sigma^2 in [-3, 1]
    return mu, logvar


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
        got, failed = _call(
            fn,
            (mu.clone(), logvar.clone()),
            f"{name}(mu, logvar) with mu and logvar of shape ({B}, {d})",
        )
        if failed is not None:
            return failed
        ref = objectives.gaussian_kl(mu, logvar)
        verdict = _per_example(
            name,
            got,
            ref,
            _KL_MISTAKES,
            (mu, logvar),
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
        got, failed = _call(
            fn,
            (x.clone(), logits.clone()),
            f"{name}(x, logits) with x and logits of shape ({B}, {D})",
            hints,
        )
        if failed is not None:
            return failed
        ref = objectives.bernoulli_log_likelihood(x, logits)
        verdict = _per_example(
            name,
            got,
            ref,
            _BERNOULLI_MISTAKES,
            (x, logits),
            "one log-likelihood per image",
            f"x = {_fmt(x[0], 4)}, logits = {_fmt(logits[0], 4)} (first image)",
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
    verdict = _per_example(
        name,
        got,
        ref,
        _BERNOULLI_MISTAKES,
        (x, logits),
        "one log-likelihood per image",
        "logits up to 40",
        rtol=1e-4,
        atol=1e-3,
    )
    if verdict is not None:
        return verdict
    return _passed(
        name,
        "it matches the summed Bernoulli log-likelihood on 3 random batches, "
        "including logits of +-40.",
    )


# --- chapter 6: reparameterize and the pathwise gradient -------------------------------------

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


# --- chapter 7: the importance-weighted bound and the toy's ELBO -----------------------------

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
    verdict = _per_example(
        name,
        got,
        objectives.iw_bound(log_w),
        _IW_MISTAKES,
        (log_w,),
        "one bound per data point",
        "log weights near -800",
        rtol=1e-9,
        atol=1e-6,
    )
    if verdict is not None:
        return verdict
    return _passed(
        name,
        f"it matches log (1/k) sum_i w_i for k = {k} on 3 batches, including "
        "log weights near -800 where exp underflows.",
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
