"""CAP-090: every way a payment approval ends publishes exactly one outcome to the payments domain.

On the emulator: granted and released, rejected, expired (the level lapses at the watchdog's sweep),
cancelled (withdrawn) and a release the scheme refuses; in memory: a release whose retries run out.
Counted on EventBridge itself: each journey's outcome entries as the journal put them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from cli.client import JourneysClient
from devstack.emulator import Emulator
from devstack.pollers import SchedulePoller
from devstack.stack import LocalStack
from reliability.instruments import Calls, inbox_ticket, open_ticket, settled
from router.adapters.events import cloudevents_for
from router.core.model import (
    ApprovalOutcome,
    Command,
    Intervention,
    JourneyStatus,
    RetriesExhausted,
    StartJourney,
    TransitionRecord,
)
from router.language.definition import ApprovalStep, Definition
from router.language.registry import Registry
from router.ports.memory import MemoryDispatcher, MemoryStore
from router.runtime.service import Router
from tests.journey_driver import FakeClock
from tests.test_approvals_emulator import BENEFICIARY, MANAGER, OFFICER, waited
from workers.samples import SAMPLES as SAMPLE_WORKERS

pytestmark = pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")

GRANTED, REJECTED = "bank.payments.approval_granted", "bank.payments.approval_rejected"


def quick(definition: Definition) -> Definition:
    """payment-approval as it is, but each level lapses after 2 s, so expiry can be watched."""
    steps = [
        s.model_copy(update={"levels": [lv.model_copy(update={"timeout_seconds": 2}) for lv in s.levels]})
        if isinstance(s, ApprovalStep)
        else s
        for s in definition.steps
    ]
    return definition.model_copy(update={"id": "payment-approval-quick", "steps": steps})


@dataclass
class Payments:
    stack: LocalStack
    client: JourneysClient
    calls: Calls

    def start(self, payment_id: str, definition: str = "payment-approval") -> str:
        payment = {"payment_id": payment_id, "amount": 25_000, "currency": "GBP", "beneficiary": BENEFICIARY}
        return self.client.start(definition, {**payment, "initiated_by": "maker-mo"}, actor="maker-mo")

    def decide(self, journey_id: str, level: int, verdict: str, who: str, roles: list[str]) -> None:
        ticket = inbox_ticket(self.client, journey_id, level)
        self.client.decide(
            ticket.ticket_id, verdict, who, roles, reason="not this one" if verdict == "reject" else None
        )

    def outcomes(self, journey_id: str) -> list[dict[str, Any]]:
        """The payments-domain events the journal put on EventBridge for this journey, in order."""
        found = []
        for published in self.calls.published:
            if published.entry["DetailType"] in (GRANTED, REJECTED):
                event = json.loads(published.entry["Detail"])
                if event["data"]["workflow_id"] == journey_id:
                    found.append({"type": event["type"], **event["data"]})
        return found


@pytest.fixture(scope="module")
def payments(emulator: Emulator) -> Iterator[Payments]:
    emulator.reset()
    calls = Calls()
    deployed = list(Registry.from_directory(known_workers=SAMPLE_WORKERS.names()))
    registry = Registry([*deployed, quick(next(d for d in deployed if d.id == "payment-approval"))])
    with LocalStack(emulator, registry=registry, hooks=calls.hooks()) as stack:
        yield Payments(stack, JourneysClient(stack.runtimes["AdvanceFunction"]), calls)


def only_outcome(payments: Payments, journey_id: str) -> dict[str, Any]:
    payments.stack.wait_quiet()
    outcomes = payments.outcomes(journey_id)
    assert len(outcomes) == 1, outcomes
    return outcomes[0]


def test_pending_then_two_approvals_then_released_emits_granted_once(payments: Payments) -> None:
    """The chain step by step: pending at level 1, still pending after it (level 2 open), released after level 2;
    one approval_granted, known to the domain by its payment."""
    journey_id = payments.start("PAY-CAP090-GRANTED")
    payments.decide(journey_id, 1, "approve", "olivia", OFFICER)
    inbox_ticket(payments.client, journey_id, 2)
    pending = payments.client.get(journey_id)
    assert pending is not None and (pending.status, pending.step) == (JourneyStatus.RUNNING, "approve-payment")
    assert payments.outcomes(journey_id) == []
    payments.decide(journey_id, 2, "approve", "max", MANAGER)
    journey = settled(payments.client, journey_id, lambda j: j.status is JourneyStatus.SUCCEEDED)
    assert journey.path[-2:] == ["release", "released"]
    outcome = only_outcome(payments, journey_id)
    assert outcome["type"] == GRANTED and "reason" not in outcome


def test_first_approval_then_nobody_decides_emits_rejected_expired_once(payments: Payments) -> None:
    """Level 2 lapses (the watchdog's sweep): approval-expired, one approval_rejected with reason expired."""
    journey_id = payments.start("PAY-CAP090-EXPIRED", definition="payment-approval-quick")
    payments.decide(journey_id, 1, "approve", "olivia", OFFICER)
    second = open_ticket(payments.client, journey_id, 2)  # due in 2 s: by key, not from the inbox it may leave
    waited(lambda: True if time.time() >= second.deadline else None)
    (watchdog,) = [p for p in payments.stack.pollers if isinstance(p, SchedulePoller)]
    watchdog.next_at = 0
    watchdog.wake.set()
    journey = settled(payments.client, journey_id, lambda j: j.status is JourneyStatus.FAILED)
    assert journey.path[-1] == "approval-expired"
    outcome = only_outcome(payments, journey_id)
    assert (outcome["type"], outcome["reason"]) == (REJECTED, "expired")


def test_a_rejection_emits_rejected_once(payments: Payments) -> None:
    journey_id = payments.start("PAY-CAP090-REJECTED")
    payments.decide(journey_id, 1, "approve", "olivia", OFFICER)
    payments.decide(journey_id, 2, "reject", "max", MANAGER)
    settled(payments.client, journey_id, lambda j: j.status is JourneyStatus.FAILED)
    outcome = only_outcome(payments, journey_id)
    assert (outcome["type"], outcome["reason"]) == (REJECTED, "rejected")


def test_a_cancelled_payment_emits_rejected_withdrawn_once(payments: Payments) -> None:
    """An operator cancels while the approval is pending: one approval_rejected, reason withdrawn."""
    journey_id = payments.start("PAY-CAP090-WITHDRAWN")
    inbox_ticket(payments.client, journey_id, 1)
    journey = payments.client.get(journey_id)
    assert journey is not None
    cancel = Intervention(
        journey_id=journey_id,
        command=Command.CANCEL,
        expected_version=journey.version,
        actor="ops-olga",
        reason="the customer withdrew the payment",
    )
    payments.stack.runtimes["AdvanceFunction"].router.handle(cancel)
    assert payments.client.get(journey_id).status is JourneyStatus.CANCELLED  # type: ignore[union-attr]
    outcome = only_outcome(payments, journey_id)
    assert (outcome["type"], outcome["reason"]) == (REJECTED, "withdrawn")


def test_a_release_the_scheme_refuses_emits_rejected_naming_the_failure_once(payments: Payments) -> None:
    """Granted, but the release fails for good: release-failed, one approval_rejected naming the error and step
    (never the worker's message); no approval_granted."""
    journey_id = payments.start("PAY-REFUSED-CAP090")
    payments.decide(journey_id, 1, "approve", "olivia", OFFICER)
    payments.decide(journey_id, 2, "approve", "max", MANAGER)
    journey = settled(payments.client, journey_id, lambda j: j.status is JourneyStatus.FAILED)
    assert journey.path[-2:] == ["release", "release-failed"]
    assert journey.state["release_error"]["error"] == "SchemeRefused"
    outcome = only_outcome(payments, journey_id)
    assert (outcome["type"], outcome["reason"]) == (REJECTED, "release_failed")
    assert outcome["failure"] == {"error": "SchemeRefused", "step": "release"}


def test_a_release_whose_retries_run_out_emits_rejected_instead_of_escalating() -> None:
    """In memory: the retry chain gives up on the release; the journey ends at release-failed (not STUCK) and its
    one transition there carries one approval_rejected; a duplicate of the exhaustion emits nothing more."""
    definition = next(
        d for d in Registry.from_directory(known_workers=SAMPLE_WORKERS.names()) if d.id == "payment-approval"
    )
    store = MemoryStore()
    router = Router(Registry([definition]), store, MemoryDispatcher(), FakeClock())
    payment = {"payment_id": "P-1", "amount": 10, "currency": "GBP", "beneficiary": BENEFICIARY, "initiated_by": "mo"}
    router.handle(StartJourney(journey_id="j-1", definition_id="payment-approval", input=payment))
    (approval,) = store.load("j-1").open.values()  # type: ignore[union-attr]
    granted = {"outcome": "granted", "approvers": ["a", "b"], "digest": approval.digest}
    router.handle(ApprovalOutcome(journey_id="j-1", activation_id=approval.id, **granted))
    release = next(iter(store.load("j-1").open))  # type: ignore[union-attr]
    records: list[TransitionRecord] = []
    for _ in range(2):
        outcome = router.handle(RetriesExhausted(journey_id="j-1", activation_id=release, message="5 attempts"))
        records += [outcome.record] if hasattr(outcome, "record") else []
    journey = store.load("j-1")
    assert journey is not None and (journey.status, journey.step) == (JourneyStatus.FAILED, "release-failed")
    events = [e for r in records for e in cloudevents_for(r) if e.get_type() in (GRANTED, REJECTED)]
    assert len(events) == 1
    assert events[0].get_data()["failure"] == {"error": "RetriesExhausted", "step": "release"}  # type: ignore[index]
