"""`journeys start --wait`: poll a journey until it ends or waits on a person, and say how it stands."""

from __future__ import annotations

import time
from collections.abc import Callable

from cli.client import JourneysClient
from router.core.model import FINISHED, ActivationKind, Journey, JourneyStatus

POLL_SECONDS = 0.5
PEOPLE = (ActivationKind.INPUT, ActivationKind.APPROVAL)  # a customer or an approver must act


def settled(journey: Journey | None) -> bool:
    """Nothing more happens without someone: finished, escalated, or waiting on a customer or approver."""
    if journey is None:
        return False
    if journey.status in FINISHED or journey.status is JourneyStatus.STUCK:
        return True
    return any(a.kind in PEOPLE for a in journey.open.values())


def wait_for(
    client: JourneysClient,
    journey_id: str,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Journey | None:
    """The journey once settled, or as it stands when `timeout` runs out (None: never committed)."""
    deadline = clock() + timeout
    journey = client.get(journey_id)
    while not settled(journey) and clock() < deadline:
        sleep(POLL_SECONDS)
        journey = client.get(journey_id)
    return journey


def outcome(journey: Journey | None) -> str:
    if journey is None:
        return "not started yet: the start is still queued (see `journeys show`)"
    if journey.status in FINISHED:
        error = f" ({journey.error['error']})" if journey.error else ""
        return f"{journey.status.value} at {journey.step}{error}"
    if journey.status is JourneyStatus.STUCK:
        return f"STUCK at {journey.step}: an operator must act (journeys show {journey.id})"
    people = [a for a in journey.open.values() if a.kind in PEOPLE]
    if people:
        who = "a customer" if people[0].kind is ActivationKind.INPUT else "an approver"
        return f"WAITING at {people[0].step} for {who}"
    return f"still RUNNING at {journey.step} (timed out waiting)"
