"""router/core/proofs.py under mutation: a proof answers its own journey and activation, and nothing else.

Before these tests, every mutant of proofs.py survived the pure tests: the maker-checker properties hand proofs
back, but they only assert that nothing bad is released, and refusing every answer releases nothing either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from router.core.proofs import Unproven, proof_for, verify

KEY = b"k" * 32


def test_a_proof_is_the_unpadded_urlsafe_hmac_of_journey_and_activation() -> None:
    """The wire form other components check: HMAC-SHA256 of `journey \\x1f activation`, urlsafe base64, no '='."""
    mac = hmac.new(KEY, b"j-1\x1fj-1.4", hashlib.sha256).digest()
    assert proof_for(KEY, "j-1", "j-1.4") == base64.urlsafe_b64encode(mac).decode().rstrip("=")
    assert len(proof_for(KEY, "j-1", "j-1.4")) == 43 and not proof_for(KEY, "j-1", "j-1.4").endswith("=")


def test_the_proof_for_an_activation_is_accepted() -> None:
    """verify returns quietly for the router's own proof."""
    verify(KEY, "j-1", "j-1.4", proof_for(KEY, "j-1", "j-1.4"))


@pytest.mark.parametrize(
    ("journey", "activation", "key"),
    [("j-2", "j-1.4", KEY), ("j-1", "j-1.5", KEY), ("j-1", "j-1.4", b"another key")],
    ids=["other-journey", "other-activation", "other-key"],
)
def test_a_proof_for_anything_else_is_refused(journey: str, activation: str, key: bytes) -> None:
    """A proof made for another journey, another activation or under another key answers nothing here."""
    with pytest.raises(Unproven, match=r"the proof on an answer for activation j-1\.4 is not the engine's"):
        verify(KEY, "j-1", "j-1.4", proof_for(key, journey, activation))


@pytest.mark.parametrize("proof", [None, ""])
def test_an_answer_without_a_proof_is_refused_as_not_sent_by_the_engine(proof: str | None) -> None:
    """No proof at all: refused, saying so."""
    with pytest.raises(Unproven, match=r"activation j-1\.4 carries no proof: it was not sent by the engine"):
        verify(KEY, "j-1", "j-1.4", proof)


def test_the_separator_keeps_journey_and_activation_apart() -> None:
    """Moving characters between the journey id and the activation id gives another proof."""
    assert proof_for(KEY, "j-1", "1.4") != proof_for(KEY, "j-11", ".4")
