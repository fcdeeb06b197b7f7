"""What a decision comes to: a transition to commit, something to absorb, or a refusal."""

from __future__ import annotations

from router.core.model import Action, Journey, TransitionRecord
from router.language.definition import Model


class Rejected(ValueError):
    """The event can never be applied (bad input, unknown journey, a refused command): never retry it."""


class Commit(Model):
    journey: Journey
    record: TransitionRecord
    actions: list[Action]


class Absorb(Model):
    """Nothing to commit: a duplicate, a stale answer, an early timer. Its actions are (re-)performed."""

    reason: str
    actions: list[Action] = []
