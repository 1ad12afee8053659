"""What every checker shares: the verdict (``CheckResult``), calling the learner's function
safely, and comparing a per-example result with the reference, typical mistakes included.

Owns: ``CheckResult``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

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


def _call_and_compare(
    fn, inputs: tuple, called: str, ref: torch.Tensor, mistakes, what: str, example: str, **kw
) -> CheckResult | None:
    """Call ``fn`` on copies of ``inputs`` and compare its per-example result with ``ref``
    (``_per_example``; ``kw``: hints for ``_call``, rtol/atol): None when it matches."""
    hints = kw.pop("hints", None)
    copies = tuple(t.clone() if isinstance(t, torch.Tensor) else t for t in inputs)
    got, failed = _call(fn, copies, called, hints)
    if failed is not None:
        return failed
    return _per_example(_name(fn), got, ref, mistakes, inputs, what, example, **kw)


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
    passed: str | None = None,
) -> CheckResult | None:
    """Compare a result that should hold one value per example, shape (B,), with ``ref``.
    When it matches: the "passed" verdict with the text ``passed``, or None if there is none
    (more inputs to try). Else the verdict, with the hint of a matching typical mistake."""
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
        return None if passed is None else _passed(name, passed)
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


def _kl_inputs(seed: int, B: int, d: int):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(B, d, generator=g)
    logvar = torch.rand(B, d, generator=g) * 4 - 3  # log sigma^2 in [-3, 1]
    return mu, logvar
