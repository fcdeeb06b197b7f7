"""The ports the router's service talks through; adapters/ implements them on AWS, testing.py in memory."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from router.model import Action, Journey, TransitionRecord


class VersionConflict(Exception):
    """Another writer committed first; carries the journey as it is now."""

    def __init__(self, current: Journey | None) -> None:
        self.current = current
        super().__init__(f"journey moved on to version {current.version if current else 'none'}")


class PayloadTooLarge(ValueError):
    """A write or message over an AWS limit, caught before calling AWS."""


class JourneyStore(Protocol):
    def load(self, journey_id: str) -> Journey | None: ...

    def commit(self, journey: Journey, record: TransitionRecord) -> None:
        """Write `journey` if the stored version is `journey.version - 1`, else raise VersionConflict."""
        ...


class Dispatcher(Protocol):
    def perform(self, actions: Sequence[Action]) -> None: ...


class TransitionLog(Protocol):
    def append(self, record: TransitionRecord) -> bool:
        """Write the record once; False when it was already there."""
        ...

    def read(self, journey_id: str) -> list[TransitionRecord]: ...


class EventPublisher(Protocol):
    def publish(self, record: TransitionRecord) -> None:
        """Publish the transition's CloudEvents; ids are deterministic, so a repeat is harmless."""
        ...
