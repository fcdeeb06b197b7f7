"""In-memory implementations of the ports, for unit tests and the CPU benchmark."""

from __future__ import annotations

from collections.abc import Sequence

from router.model import Action, Journey, TransitionRecord
from router.ports import VersionConflict


class MemoryStore:
    def __init__(self) -> None:
        self.journeys: dict[str, Journey] = {}
        self.records: list[TransitionRecord] = []

    def load(self, journey_id: str) -> Journey | None:
        return self.journeys.get(journey_id)

    def commit(self, journey: Journey, record: TransitionRecord) -> None:
        current = self.journeys.get(journey.id)
        if (current.version if current else 0) != journey.version - 1:
            raise VersionConflict(current)
        self.journeys[journey.id] = journey
        self.records.append(record)


class MemoryDispatcher:
    def __init__(self) -> None:
        self.performed: list[Action] = []

    def perform(self, actions: Sequence[Action]) -> None:
        self.performed.extend(actions)


class MemoryLog:
    def __init__(self) -> None:
        self.records: dict[tuple[str, int], TransitionRecord] = {}

    def append(self, record: TransitionRecord) -> bool:
        key = (record.journey_id, record.seq)
        if key in self.records:
            return False
        self.records[key] = record
        return True

    def read(self, journey_id: str) -> list[TransitionRecord]:
        return sorted((r for (j, _), r in self.records.items() if j == journey_id), key=lambda r: r.seq)


class MemoryPublisher:
    def __init__(self) -> None:
        self.published: list[TransitionRecord] = []

    def publish(self, record: TransitionRecord) -> None:
        self.published.append(record)
