"""Proofs: the engine trusts an answer on its queues only if it carries the proof the router issued with the work.

A proof is an HMAC-SHA256, under a key only the engine's functions hold, of the journey and the activation it
answers (an activation id is the journey id, the sequence of the transition that opened it and its branch: it
names one step entered once, so a proof binds journey, step and attempt). The router service attaches one to
every piece of work, timer, retry chain and approval chain it starts; workers and chains hand it back with their
answer, and the router refuses an answer whose proof is missing or wrong before deciding anything. A sender who
can put messages on the queue but did not receive the work cannot make one, and one proof answers nothing but
its own activation.
Pure: the key is passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from router.core.outcomes import Rejected


class Unproven(Rejected):
    """An answer without the router's proof for its activation: never applied (parked with its reason)."""


def proof_for(key: bytes, journey_id: str, activation_id: str) -> str:
    message = f"{journey_id}\x1f{activation_id}".encode()
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode().rstrip("=")


def verify(key: bytes, journey_id: str, activation_id: str, proof: str | None) -> None:
    """Raise Unproven unless `proof` is the router's for exactly this journey and activation."""
    if not proof:
        raise Unproven(f"an answer for activation {activation_id} carries no proof: it was not sent by the engine")
    if not hmac.compare_digest(proof, proof_for(key, journey_id, activation_id)):
        raise Unproven(f"the proof on an answer for activation {activation_id} is not the engine's: refused")
