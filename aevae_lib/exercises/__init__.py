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

Owns: the checkers below (one module per chapter) and ``CheckResult``; the shared machinery
is in ``_core``.

Chapter 4: :func:`check_kl`, :func:`check_bernoulli_log_likelihood`.
Chapter 6: :func:`check_reparameterize`, :func:`check_pathwise_gradient`.
Chapter 7: :func:`check_iw_bound`, :func:`check_toy_elbo`.
"""

from ._core import CheckResult
from .ch04 import check_bernoulli_log_likelihood, check_kl
from .ch06 import check_pathwise_gradient, check_reparameterize
from .ch07 import check_iw_bound, check_toy_elbo

__all__ = [
    "CheckResult",
    "check_bernoulli_log_likelihood",
    "check_iw_bound",
    "check_kl",
    "check_pathwise_gradient",
    "check_reparameterize",
    "check_toy_elbo",
]
