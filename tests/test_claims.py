"""claims.claim: silent when the sentence holds, a readable failure when it does not."""

from __future__ import annotations

import pytest
import torch

from aevae_lib.claims import ClaimError, claim


def test_a_true_claim_is_silent():
    claim("two is more than one", 2 > 1, big=2, small=1)
    claim("a tensor condition", torch.tensor(True))


def test_a_false_claim_names_the_sentence_and_the_numbers():
    with pytest.raises(ClaimError) as err:
        claim("the VAE beats the AE", 0.81 > 0.84, vae=0.81, ae=0.84, codes=torch.arange(3))
    text = str(err.value)
    assert 'The chapter says: "the VAE beats the AE"' in text
    assert "vae = 0.81, ae = 0.84, codes = [0, 1, 2]" in text
    assert "changed a setting in a visible cell" in text
    assert isinstance(err.value, AssertionError)  # nbval and plain asserts treat it alike


def test_fast_mode_skips_a_claim_without_a_fast_form(monkeypatch):
    monkeypatch.setenv("AEVAE_FAST", "1")
    claim("holds only with all the data", False)  # skipped
    with pytest.raises(ClaimError, match=r"fast mode: the looser check"):
        claim("holds loosely in fast mode", False, fast=False, x=1.0)
    claim("the looser form holds", False, fast=True)


def test_full_mode_ignores_the_fast_form(monkeypatch):
    monkeypatch.setenv("AEVAE_FAST", "0")
    with pytest.raises(ClaimError):
        claim("checked in full", False, fast=True)


def test_the_statement_is_required():
    with pytest.raises(TypeError, match="statement must be the sentence"):
        claim("", True)
