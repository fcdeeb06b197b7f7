"""Approvals on the local stack: tickets, decisions through both channels, the chain and the journey."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from cli.client import JourneysClient
from devstack.emulator import Emulator
from devstack.pollers import SchedulePoller
from devstack.stack import LocalStack
from reliability.instruments import Calls, inbox_ticket, open_ticket
from router.adapters.dispatch import execution_name
from router.core.approvals import Refused, Ticket, TicketClosed, TicketStatus
from router.core.model import Command, Intervention, Journey, JourneyStatus
from router.language.loader import parse
from router.language.registry import Registry
from workers.samples import SAMPLES as SAMPLE_WORKERS

pytestmark = pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")
T = TypeVar("T")


# -- the whole chain on the local stack

QUICK = """
id: quick-approval
version: "1.0.0"
owning_domain: bank-payments
start_at: approve
steps:
  - name: approve
    type: APPROVAL
    amount: amount
    initiator: initiated_by
    sla_seconds: 300
    levels:
      - {role: payments-officer, limit: 50000, timeout_seconds: 2}
      - {role: payments-manager, timeout_seconds: 2}
    next: outcome
  - name: outcome
    type: DECISION
    branches:
      - {when: "approval.outcome == 'granted'", goto: done}
      - {when: "approval.outcome == 'expired'", goto: expired}
    default: rejected
  - {name: done, type: SUCCESS}
  - {name: rejected, type: FAIL, error: Rejected}
  - {name: expired, type: FAIL, error: Expired}
"""
OFFICER, MANAGER = ["payments-officer"], ["payments-manager"]
BENEFICIARY = {"name": "Difference Engines plc", "iban": "GB82WEST12345698765432"}


@dataclass
class Chain:
    stack: LocalStack
    client: JourneysClient
    calls: Calls

    def start(self, amount: float = 25_000, maker: str = "mo", definition: str = "payment-approval") -> str:
        payment = {"payment_id": f"P-{time.monotonic_ns()}", "amount": amount, "currency": "GBP"}
        return self.client.start(definition, {**payment, "beneficiary": BENEFICIARY, "initiated_by": maker})

    def ticket(self, journey_id: str, level: int) -> Ticket:
        return inbox_ticket(self.client, journey_id, level)

    def stored_by_id(self, ticket_id: str) -> Ticket:
        stored = self.client.desk.ticket(ticket_id)
        assert stored is not None, ticket_id
        return stored

    def stored(self, ticket: Ticket) -> Ticket:
        stored = self.client.desk.ticket(ticket.ticket_id)
        assert stored is not None
        return stored

    def journey(self, journey_id: str) -> Journey:
        journey = self.client.get(journey_id)
        assert journey is not None
        return journey

    def ended(self, journey_id: str) -> Journey:
        def finished() -> Journey | None:
            journey = self.client.get(journey_id)  # None until the start is consumed
            return journey if journey and journey.status is not JourneyStatus.RUNNING else None

        return waited(finished)

    def execution(self, ticket: Ticket) -> str:
        machine = self.client.settings.approval_state_machine_arn
        arn = machine.replace(":stateMachine:", ":execution:") + ":" + execution_name(ticket.activation_id)
        return str(self.stack.client("stepfunctions").describe_execution(executionArn=arn)["status"])

    def staff_event(self, ticket: Ticket, who: str, roles: list[str], verdict: str = "approve", **extra: Any) -> None:
        """What the staff application publishes: approval_recorded on the payments bus."""
        token = self.stack.issuer.issue(who, roles)  # the approver's own signed token, as the staff app holds it
        detail = {"ticket_id": ticket.ticket_id, "decision": verdict, "approver": who, "token": token, **extra}
        bus = self.client.settings.domain_buses["bank-payments"]
        entry = {"EventBusName": bus, "Source": "bank.staff", "DetailType": "approval_recorded"}
        response = self.stack.client("events").put_events(Entries=[{**entry, "Detail": json.dumps(detail)}])
        assert not response.get("FailedEntryCount"), response

    def answered_tokens(self) -> int:
        return self.calls.by_consumer["ApprovalsFunction", "sfn.SendTaskSuccess"]


def _if(value: T, condition: Callable[[T], bool]) -> T | None:
    return value if condition(value) else None


def waited(probe: Callable[[], T | None], timeout: float = 20) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value is not None:
            return value
        time.sleep(0.1)
    raise TimeoutError("the local stack did not get there in time")


@pytest.fixture(scope="module")
def chain(emulator: Emulator) -> Iterator[Chain]:
    emulator.reset()
    calls = Calls()
    registry = Registry([*Registry.from_directory(known_workers=SAMPLE_WORKERS.names()), parse(QUICK)])
    with LocalStack(emulator, registry=registry, hooks=calls.hooks()) as stack:
        yield Chain(stack, JourneysClient(stack.runtimes["AdvanceFunction"]), calls)


def refused_leaving_all_unchanged(chain: Chain, ticket: Ticket, attempt: Callable[[], object], phrase: str) -> None:
    """The refusal is clear and audited; the journey's version and the execution stay as they were."""
    journey, audit = chain.journey(ticket.journey_id), chain.stored(ticket).audit
    with pytest.raises(Refused, match=phrase):
        attempt()
    time.sleep(0.3)  # anything wrongly set in motion would show by now
    after = chain.stored(ticket)
    assert after.status is TicketStatus.OPEN and len(after.audit) == len(audit) + 1
    assert after.audit[-1].result == "refused" and phrase in after.audit[-1].detail
    assert chain.journey(ticket.journey_id).version == journey.version
    assert chain.execution(ticket) == "RUNNING"


def test_two_different_people_approve_and_the_payment_is_released(chain: Chain) -> None:
    """Level one through the staff application's event, level two through the command line's desk."""
    journey_id = chain.start()
    first = chain.ticket(journey_id, 1)
    assert (first.role, first.limit, first.amount, first.initiator, first.levels) == (
        "payments-officer",
        50_000,
        25_000,
        "mo",
        2,
    )
    chain.staff_event(first, "olivia", OFFICER)
    second = chain.ticket(journey_id, 2)
    assert second.approvers == ["olivia"]
    assert chain.client.decide(second.ticket_id, "approve", "max", MANAGER).ticket.status is TicketStatus.DECIDED
    journey = chain.ended(journey_id)
    assert (journey.status, journey.path[-1]) == (JourneyStatus.SUCCEEDED, "released")
    assert journey.state["approval"] == {"outcome": "granted", "approvers": ["olivia", "max"]}
    assert chain.execution(second) == "SUCCEEDED"
    chain.stack.wait_quiet()
    published = {p.entry["DetailType"]: p for p in chain.calls.published if journey_id in p.entry["Detail"]}
    assert published["bank.payments.approval_granted"].entry["Source"] == "bank.payments"
    assert {"bank.platform.approval_requested", "bank.platform.approval_granted"} <= published.keys()
    tokens = [chain.client.desk.tickets.token(t.ticket_id) for t in (first, second)]  # type: ignore[attr-defined]
    assert all(token and token not in p.entry["Detail"] for token in tokens for p in chain.calls.published)


def test_a_rejection_at_level_two_fails_the_payment(chain: Chain) -> None:
    journey_id = chain.start()
    chain.client.decide(chain.ticket(journey_id, 1).ticket_id, "approve", "olivia", OFFICER)
    second = chain.ticket(journey_id, 2)
    chain.client.decide(second.ticket_id, "reject", "max", MANAGER, reason="beneficiary not verified")
    journey = chain.ended(journey_id)
    assert (journey.status, journey.path[-1]) == (JourneyStatus.FAILED, "payment-rejected")
    assert journey.state["approval"] == {"outcome": "rejected", "approvers": ["olivia"], "rejected_by": "max"}
    chain.stack.wait_quiet()  # the journal writes the timeline off the critical path
    timeline = chain.client.timeline(journey_id)
    assert (timeline[1].actor, timeline[1].reason) == ("max", "beneficiary not verified")
    emitted = [p for p in chain.calls.published if p.entry["DetailType"] == "bank.payments.approval_rejected"]
    assert [json.loads(p.entry["Detail"])["subject"] for p in emitted if journey_id in p.entry["Detail"]]


def test_a_level_nobody_decides_lapses_at_the_watchdogs_sweep_and_a_late_decision_changes_nothing(
    chain: Chain,
) -> None:
    """Level 2 (2 s) is left undecided: the watchdog's next sweep lapses it, long before the chain's own timer."""
    journey_id = chain.start(definition="quick-approval")
    first = open_ticket(chain.client, journey_id, 1)  # each level is due in 2 s: by key, not from the inbox
    chain.client.decide(first.ticket_id, "approve", "olivia", OFFICER)
    second = open_ticket(chain.client, journey_id, 2)
    waited(lambda: _if(second, lambda t: time.time() >= t.deadline))
    (watchdog,) = [p for p in chain.stack.pollers if isinstance(p, SchedulePoller)]
    watchdog.next_at = 0
    watchdog.wake.set()
    journey = chain.ended(journey_id)
    assert (journey.status, journey.path[-1]) == (JourneyStatus.FAILED, "expired")
    assert journey.state["approval"] == {"outcome": "expired", "approvers": ["olivia"]}
    lapsed = chain.stored(second)
    assert (lapsed.status, lapsed.decision, lapsed.audit[-1].actor) == (TicketStatus.EXPIRED, None, "watchdog")
    assert chain.execution(second) == "SUCCEEDED"  # told by the desk, not timed out
    with pytest.raises(TicketClosed, match="expired"):
        chain.client.decide(second.ticket_id, "approve", "max", MANAGER)
    after = chain.stored(second)
    assert (after.status, after.decision) == (TicketStatus.EXPIRED, None)
    assert chain.journey(journey_id).version == journey.version


def test_the_maker_cannot_approve_through_either_channel(chain: Chain) -> None:
    journey_id = chain.start(maker="mo")
    ticket = chain.ticket(journey_id, 1)
    refused_leaving_all_unchanged(
        chain, ticket, lambda: chain.client.decide(ticket.ticket_id, "approve", "mo", OFFICER), "maker-checker"
    )
    audit = len(chain.stored(ticket).audit)
    chain.staff_event(ticket, "Mo", OFFICER)  # the staff application's path: refused and audited the same way
    refusal = waited(lambda: _if(chain.stored(ticket), lambda t: len(t.audit) > audit))
    assert (refusal.status, refusal.audit[-1].result, refusal.audit[-1].channel) == (
        TicketStatus.OPEN,
        "refused",
        "bank.staff",
    )
    assert chain.execution(ticket) == "RUNNING"


def test_one_person_cannot_approve_both_levels(chain: Chain) -> None:
    journey_id = chain.start()
    chain.client.decide(chain.ticket(journey_id, 1).ticket_id, "approve", "olivia", OFFICER)
    second = chain.ticket(journey_id, 2)
    refused_leaving_all_unchanged(
        chain,
        second,
        lambda: chain.client.decide(second.ticket_id, "approve", "olivia", OFFICER + MANAGER),
        "different person",
    )


def test_an_approver_without_the_role_is_refused(chain: Chain) -> None:
    journey_id = chain.start()
    ticket = chain.ticket(journey_id, 1)
    refused_leaving_all_unchanged(
        chain, ticket, lambda: chain.client.decide(ticket.ticket_id, "approve", "oscar", ["clerk"]), "does not hold"
    )


def test_an_approver_over_the_limit_is_refused(chain: Chain) -> None:
    journey_id = chain.start(amount=60_000)
    ticket = chain.ticket(journey_id, 1)
    refused_leaving_all_unchanged(
        chain,
        ticket,
        lambda: chain.client.decide(ticket.ticket_id, "approve", "olivia", OFFICER),
        "over the payments-officer limit",
    )


def test_the_same_decision_delivered_twice_is_recorded_once(chain: Chain) -> None:
    """Two identical staff events: one decision, one token answer, one approval outcome."""
    journey_id = chain.start()
    ticket = chain.ticket(journey_id, 1)
    answered = chain.answered_tokens()
    chain.staff_event(ticket, "olivia", OFFICER)
    chain.staff_event(ticket, "olivia", OFFICER)
    second = chain.ticket(journey_id, 2)
    chain.client.decide(second.ticket_id, "approve", "max", MANAGER)
    assert chain.client.decide(second.ticket_id, "approve", "max", MANAGER).repeat  # the command line, twice
    journey = chain.ended(journey_id)
    chain.stack.wait_quiet()
    assert journey.status is JourneyStatus.SUCCEEDED
    assert [e.result for e in chain.stored(ticket).audit] == ["opened", "recorded"]
    assert chain.answered_tokens() - answered == 1  # one token for both levels, answered once
    outcomes = [r for r in chain.client.timeline(journey_id) if r.event == "approval_outcome"]
    assert len(outcomes) == 1


def test_cancelling_a_journey_withdraws_its_open_tickets_and_stops_its_chain(chain: Chain) -> None:
    """Tickets of a cancelled journey leave the inbox, audited with the reason; the chain stops waiting."""
    journey_id = chain.start()
    ticket = chain.ticket(journey_id, 1)
    journey = chain.journey(journey_id)
    cancel = Intervention(
        journey_id=journey_id,
        command=Command.CANCEL,
        expected_version=journey.version,
        actor="ops-olga",
        reason="the customer withdrew the payment",
    )
    chain.stack.runtimes["AdvanceFunction"].router.handle(cancel)
    assert chain.journey(journey_id).status is JourneyStatus.CANCELLED
    withdrawn = waited(lambda: _if(chain.stored(ticket), lambda t: t.status is TicketStatus.WITHDRAWN))
    assert withdrawn.audit[-1].action == "withdraw" and "the customer withdrew" in withdrawn.audit[-1].detail
    with pytest.raises(TicketClosed, match="withdrawn"):
        chain.client.decide(ticket.ticket_id, "approve", "olivia", OFFICER)
    assert waited(lambda: _if(chain.execution(ticket), lambda status: status != "RUNNING")) == "SUCCEEDED"
    assert ticket.ticket_id not in {t.ticket_id for t in chain.client.approvals()}  # gone from every inbox
