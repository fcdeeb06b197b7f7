"""Subscription kinds: at most one MODIFY or TERMINATE journey per subscription at a time.

A MODIFY or TERMINATE definition names the subscription it acts on by the journey's business key. Its
start takes the subscription's lock (a conditional write) just before the start is committed; the journey's
finishing commit gives it back. A start that finds the lock held by another journey still under way is
refused, naming that journey. A lock whose holder has finished (its release was lost to a crash) or never
started (its start was refused after the lock was taken) is taken over, so a lost release never blocks a
subscription for good.
"""

from __future__ import annotations

from typing import Protocol

from router.core.model import FINISHED, Journey
from router.core.outcomes import Rejected
from router.language.definition import LOCKING, Definition

START_GRACE = 900  # seconds a lock may name a journey not yet committed: far longer than a start takes


class Held(Exception):
    """The lock is someone else's; carries who holds it and since when."""

    def __init__(self, holder: str, acquired_at: float) -> None:
        self.holder, self.acquired_at = holder, acquired_at
        super().__init__(f"held by {holder}")


class Locks(Protocol):
    def acquire(self, key: str, holder: str, definition_id: str, now: float) -> None:
        """Take the lock unless another holds it (raise Held); taking one's own lock again is a no-op."""
        ...

    def take_over(self, key: str, holder: str, stale: str, definition_id: str, now: float) -> None:
        """Take the lock from `stale` if it still holds it (else raise Held with the new holder)."""
        ...

    def release(self, key: str, holder: str, now: float) -> None:
        """Give the lock back if `holder` holds it; anything else leaves it as it is."""
        ...

    def current(self, key: str) -> tuple[str, float] | None:
        """(holder, acquired_at), or None while nobody holds it."""
        ...


class SubscriptionBusy(Rejected):
    """Another MODIFY or TERMINATE of the subscription is under way: refused, naming it."""

    def __init__(self, subscription: str, holder: str) -> None:
        self.subscription, self.holder = subscription, holder
        super().__init__(f"subscription {subscription} is being changed by journey {holder}: wait for it to end")


def lock_key(definition: Definition, business_key: str | None) -> str | None:
    """The lock a journey of this definition takes, if any."""
    if definition.kind not in LOCKING or not business_key:
        return None
    return f"lock#subscription#{business_key}"


def is_stale(holder: Journey | None, acquired_at: float, now: float) -> bool:
    """A lock its holder no longer needs: the holder finished, or never started and is now past its grace."""
    if holder is None:
        return now - acquired_at > START_GRACE
    return holder.status in FINISHED


class SubscriptionGate:
    """Takes and gives back subscription locks around the router's commits (router/runtime/service.py)."""

    def __init__(self, locks: Locks, journeys: JourneyReader) -> None:
        self.locks, self.journeys = locks, journeys

    def acquire(self, definition: Definition, journey: Journey, now: float) -> None:
        key = lock_key(definition, journey.business_key)
        if key is None:
            return
        try:
            self.locks.acquire(key, journey.id, definition.id, now)
        except Held as held:
            if not is_stale(self.journeys.load(held.holder), held.acquired_at, now):
                raise SubscriptionBusy(str(journey.business_key), held.holder) from None
            try:
                self.locks.take_over(key, journey.id, held.holder, definition.id, now)
            except Held as again:  # another start took it over first
                raise SubscriptionBusy(str(journey.business_key), again.holder) from None

    def release(self, definition: Definition, journey: Journey, now: float) -> None:
        key = lock_key(definition, journey.business_key)
        if key is not None and journey.status in FINISHED:
            self.locks.release(key, journey.id, now)

    def holder(self, definition: Definition, business_key: str | None, now: float) -> str | None:
        """Who holds the subscription's lock and is still under way (for a quick refusal before queueing)."""
        key = lock_key(definition, business_key)
        current = self.locks.current(key) if key else None
        if current is None:
            return None
        holder, acquired_at = current
        return None if is_stale(self.journeys.load(holder), acquired_at, now) else holder


class JourneyReader(Protocol):
    def load(self, journey_id: str) -> Journey | None: ...
