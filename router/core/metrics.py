"""Which metrics an outcome comes to: names, units and dimensions. Pure; the consumers emit them (EMF).

CATALOGUE is the one list: the README's table, the template's dashboard and the tests all read it.
Every metric also carries Powertools' `service` dimension: the consumer that emitted it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from router.core.model import TransitionRecord
from router.core.outcomes import Absorb, Commit

NAMESPACE = "Journeys"


@dataclass(frozen=True)
class Spec:
    unit: str
    dimensions: tuple[str, ...]  # besides `service`
    emitted_by: tuple[str, ...]  # consumer modules
    meaning: str


_ROUTED = ("start", "advance", "retry", "watchdog")
_QUEUED = ("start", "advance", "worker", "retry", "approvals")
_JOURNEY = ("definition", "version")
_STEP = ("definition", "step")

CATALOGUE: Mapping[str, Spec] = {
    "JourneysStarted": Spec("Count", _JOURNEY, ("journal",), "journeys started"),
    "JourneysCompleted": Spec("Count", _JOURNEY, ("journal",), "journeys that reached a SUCCESS step"),
    "JourneysFailed": Spec("Count", _JOURNEY, ("journal",), "journeys that failed (a FAIL step, a failed step)"),
    "JourneysEscalated": Spec("Count", _JOURNEY, ("journal",), "journeys escalated to STUCK"),
    "JourneysCancelled": Spec("Count", _JOURNEY, ("journal",), "journeys cancelled by an operator"),
    "JourneyDuration": Spec(
        "Milliseconds", ("definition", "outcome"), ("journal",), "from a journey's start to its end, by how it ended"
    ),
    "StepOutcomes": Spec("Count", (*_STEP, "outcome"), ("journal",), "transitions by step and result"),
    "StepLatency": Spec("Milliseconds", _STEP, ("journal",), "from a step's activation to its answer"),
    "StepRetries": Spec("Count", _STEP, ("journal",), "retry chains started (a retryable failure)"),
    "TransitionCost": Spec("None", ("definition",), ("journal",), "list-price USD of each transition"),
    "TransitionsCommitted": Spec("Count", (), _ROUTED, "transitions committed"),
    "TransitionLatency": Spec("Milliseconds", (), _ROUTED, "load, decide, commit and act, per event"),
    "VersionConflicts": Spec("Count", (), _ROUTED, "commits that lost a version race and were re-decided"),
    "DuplicatesAbsorbed": Spec("Count", ("reason",), _ROUTED, "events absorbed: duplicates, stale answers"),
    "MessagesProcessed": Spec("Count", (), _QUEUED, "SQS messages handled (parked ones included)"),
    "MessagesFailed": Spec("Count", (), _QUEUED, "messages reported failed, to come back (retryable)"),
    "MessagesRejected": Spec("Count", (), _QUEUED, "messages parked in the DLQ (no retry can fix them)"),
    "MessagesBusy": Spec("Count", (), _QUEUED, "messages sent again later because AWS throttled them (never DLQ)"),
    "WorkerRuns": Spec("Count", ("worker", "outcome"), ("worker",), "step worker answers by outcome"),
    "WorkDeferred": Spec("Count", ("worker",), ("worker",), "work put back while its worker's circuit is open"),
    "TicketsOpened": Spec("Count", (), ("approvals",), "approval chains asking their first level"),
    "TicketsLapsed": Spec("Count", (), ("approvals",), "levels nobody decided in time: the chain told expired"),
    "TicketsWithdrawn": Spec("Count", (), ("approvals",), "open levels withdrawn: the journey stopped waiting on them"),
    "DecisionsRecorded": Spec("Count", (), ("approvals",), "approval decisions recorded"),
    "DecisionsRefused": Spec("Count", (), ("approvals",), "decisions not recorded: refused, or the ticket closed"),
    "ActivationsOverdue": Spec("Count", (), ("watchdog",), "journeys found with an activation past its SLA"),
    "TicketsOverdue": Spec("Count", (), ("watchdog",), "approval levels found past their deadline, to lapse"),
}

_LIFECYCLE = {
    "journey_started": "JourneysStarted",
    "journey_completed": "JourneysCompleted",
    "journey_failed": "JourneysFailed",
    "journey_stuck": "JourneysEscalated",
    "journey_cancelled": "JourneysCancelled",
}


@dataclass(frozen=True)
class Point:
    name: str
    value: float
    dimensions: tuple[tuple[str, str], ...] = ()

    @property
    def unit(self) -> str:
        return CATALOGUE[self.name].unit


def outcome_of(step_result: str) -> str:
    """A bounded dimension value: 'failed: KycDown' -> 'failed', 'retrying after ...' -> 'retrying'."""
    return step_result.split(":", 1)[0].split(" ", 1)[0] or "unknown"


def for_transition(record: TransitionRecord) -> list[Point]:
    """What the journal counts for one newly logged transition (once: a replayed stream record is not new)."""
    journey = (("definition", record.definition_id), ("version", record.definition_version))
    step = (("definition", record.definition_id), ("step", record.step_name))
    outcome = outcome_of(record.step_result)
    points = [Point(_LIFECYCLE[e], 1, journey) for e in record.lifecycle if e in _LIFECYCLE]
    if record.lasted is not None:  # the transition that finished the journey: completed, failed or cancelled
        ended = (("definition", record.definition_id), ("outcome", record.status.value.lower()))
        points.append(Point("JourneyDuration", round(record.lasted * 1000, 3), ended))
    points.append(Point("StepOutcomes", 1, (*step, ("outcome", outcome))))
    if record.waited is not None:
        points.append(Point("StepLatency", round(record.waited * 1000, 3), step))
    if outcome == "retrying":
        points.append(Point("StepRetries", 1, step))
    points.append(Point("TransitionCost", record.cost_usd, (("definition", record.definition_id),)))
    return points


def for_outcome(outcome: Commit | Absorb, seconds: float, conflicts: int) -> list[Point]:
    """What a consumer that routes an event counts: its commit or absorption, its latency, lost races."""
    points = [Point("TransitionLatency", round(seconds * 1000, 3))]
    if isinstance(outcome, Commit):
        points.append(Point("TransitionsCommitted", 1))
    else:
        reason = outcome.reason.split(":", 1)[0].replace(" ", "-")  # duplicate, stale, timer-early, ...
        points.append(Point("DuplicatesAbsorbed", 1, (("reason", reason),)))
    if conflicts:
        points.append(Point("VersionConflicts", conflicts))
    return points
