"""Checks of a chapter's sentences against the numbers the chapter just computed.

A chapter that says "the VAE's samples are judged more confidently than the autoencoder's"
follows the sentence with a hidden cell::

    claim("VAE samples are judged more confidently than AE decodes",
          r_vae > r_ae, vae=r_vae, ae=r_ae)

``claim`` owns one job: when the sentence stops being true, fail with a message that says
which sentence, what this run measured, and why that may have happened. Claims are written
for the book's full run. Fast mode (``AEVAE_FAST=1``) trains shorter on less data, so a
claim is skipped there unless it passes ``fast=``, a looser condition the fast run must meet.

Owns: ``ClaimError``, ``claim``.

Used in: every chapter's hidden cells.
"""

from __future__ import annotations

from .runtime import fast_mode


class ClaimError(AssertionError):
    """A sentence of the chapter no longer matches the numbers of this run."""


def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if hasattr(value, "tolist"):  # a tensor or an array: its values, briefly
        text = str(value.tolist())
        return text if len(text) <= 80 else text[:77] + "..."
    return repr(value)


def claim(statement: str, holds, *, fast=None, **measured) -> None:
    """Fail loudly, with the chapter's own words, when ``holds`` is false.

    Args:
        statement: the sentence of the chapter this checks, in the chapter's words.
        holds: the condition in the full run (a bool, or a one-element tensor).
        fast: the condition in fast mode; None skips the claim there.
        measured: the numbers the condition compares, shown in the message.

    Raises:
        ClaimError: naming the sentence and the measured values.
    """
    if not isinstance(statement, str) or not statement.strip():
        raise TypeError("statement must be the sentence being checked, as a non-empty string")
    condition = holds
    if fast_mode():
        if fast is None:
            return
        condition = fast
    if bool(condition):
        return
    numbers = ", ".join(f"{name} = {_show(value)}" for name, value in measured.items())
    mode = " (fast mode: the looser check)" if fast_mode() else ""
    raise ClaimError(
        f'The chapter says: "{statement}", but this run{mode} measured '
        f"{numbers or 'values that contradict it'}. If you changed a setting in a visible "
        "cell (epochs, code size, data), the sentence may simply not describe your model: "
        "the text is written for the book's settings. With the book's settings, this is a "
        "bug in the book; please report it."
    )
