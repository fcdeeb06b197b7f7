"""The journal: every committed transition becomes one immutable log entry and its CloudEvents."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from router.core.model import TransitionRecord
from router.ports import EventPublisher, TransitionLog


def _nothing(transition: TransitionRecord) -> None:
    pass


class Journal:
    def __init__(self, log: TransitionLog, publisher: EventPublisher) -> None:
        self.log, self.publisher = log, publisher
        self.counts: Counter[str] = Counter()

    def record(self, transition: TransitionRecord, on_new: Callable[[TransitionRecord], None] = _nothing) -> bool:
        """Append, call `on_new` if the entry is new, then publish; True when newly appended.

        `on_new` runs before the publish attempt: when publishing fails, the stream replays the record, which
        then appends nothing and republishes the same ids, so `on_new` has run exactly once for the transition.
        """
        appended = self.log.append(transition)
        self.counts["appended" if appended else "already logged"] += 1
        if appended:
            on_new(transition)
        self.publisher.publish(transition)
        self.counts["published"] += 1
        return appended

    def record_many(
        self, transitions: Sequence[TransitionRecord], on_new: Callable[[TransitionRecord], None] = _nothing
    ) -> int:
        """Append each (calling `on_new` for the new ones), then publish all their events together; the number of
        leading transitions fully journaled. The rest come back from the stream and append nothing the second time,
        so `on_new` still runs once per transition."""
        for transition in transitions:
            appended = self.log.append(transition)
            self.counts["appended" if appended else "already logged"] += 1
            if appended:
                on_new(transition)
        published = self.publisher.publish_many(transitions)
        self.counts["published"] += published
        return published
