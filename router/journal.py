"""The journal: every committed transition becomes one immutable log entry and its CloudEvents."""

from __future__ import annotations

from collections import Counter

from router.model import TransitionRecord
from router.ports import EventPublisher, TransitionLog


class Journal:
    def __init__(self, log: TransitionLog, publisher: EventPublisher) -> None:
        self.log, self.publisher = log, publisher
        self.counts: Counter[str] = Counter()

    def record(self, transition: TransitionRecord) -> bool:
        """Append then publish; True when newly appended. A replayed stream record appends nothing and
        republishes the same ids."""
        appended = self.log.append(transition)
        self.counts["appended" if appended else "already logged"] += 1
        self.publisher.publish(transition)
        self.counts["published"] += 1
        return appended
