"""One contract for the ticket store, run on the in-memory fake and on DynamoDB (the emulator)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from devstack.emulator import CREDENTIALS, Emulator
from router.adapters.tickets import DynamoTicketStore
from router.core.approvals import AuditEntry, Ticket, TicketStatus, Verdict
from router.ports import TicketConflict, TicketStore
from router.ports.memory import MemoryTickets
from tests.approval_stack import tickets_table


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[TicketStore]:
    if request.param == "memory":
        yield MemoryTickets()
        return
    emulator: Emulator = request.getfixturevalue("fresh_emulator")
    client = boto3.Session(**CREDENTIALS).client("dynamodb", endpoint_url=emulator.url)
    yield DynamoTicketStore(client, tickets_table(client))


def ticket(ticket_id: str = "j.1.L1", deadline: float = 2_000.0, **update: object) -> Ticket:
    opened = AuditEntry(at=1_000.0, actor="approval-chain", action="opened", result="opened")
    base = Ticket(
        ticket_id=ticket_id,
        journey_id="j",
        activation_id="j.1",
        definition_id="pay",
        step="approve",
        level=1,
        levels=2,
        role="officer",
        limit=50_000.0,
        amount=12_345.67,
        initiator="mo",
        approvers=[],
        opened_at=1_000.0,
        deadline=deadline,
        audit=[opened],
    )
    return base.model_copy(update=update)


def entry(result: str, actor: str = "olivia") -> AuditEntry:
    return AuditEntry(at=1_100.0, actor=actor, action="approve", result=result, detail="d", channel="cli")


def decided(t: Ticket, who: str = "olivia") -> Ticket:
    return t.model_copy(
        update={"status": TicketStatus.DECIDED, "decision": Verdict.APPROVE, "decided_by": who, "decided_at": 1_100.0}
    )


def test_a_ticket_is_stored_once_and_read_back_without_its_token(store: TicketStore) -> None:
    assert store.put(ticket(), "token-1") and not store.put(ticket(), "token-other")
    assert store.get("j.1.L1") == ticket()
    assert store.token("j.1.L1") == "token-1"
    assert store.get("nope") is None and store.token("nope") is None


def test_audit_entries_append_whatever_the_status(store: TicketStore) -> None:
    store.put(ticket(), "t")
    store.audit("j.1.L1", entry("refused", "mo"))
    store.decide(decided(ticket()), entry("recorded"))
    store.audit("j.1.L1", entry("refused", "oscar"))
    with pytest.raises(TicketConflict):
        store.audit("nope", entry("refused"))
    stored = store.get("j.1.L1")
    assert stored is not None
    assert [(e.actor, e.result) for e in stored.audit] == [
        ("approval-chain", "opened"),
        ("mo", "refused"),
        ("olivia", "recorded"),
        ("oscar", "refused"),
    ]


def test_only_an_open_ticket_takes_a_decision_and_the_loser_sees_the_winner(store: TicketStore) -> None:
    store.put(ticket(), "t")
    won = store.decide(decided(ticket(), "olivia"), entry("recorded"))
    assert (won.status, won.decided_by, won.audit[-1].result) == (TicketStatus.DECIDED, "olivia", "recorded")
    with pytest.raises(TicketConflict) as lost:
        store.decide(decided(ticket(), "oscar"), entry("recorded", "oscar"))
    assert lost.value.current == won
    with pytest.raises(TicketConflict) as missing:
        store.decide(decided(ticket("other")), entry("recorded"))
    assert missing.value.current is None


def test_answered_moves_a_decided_ticket_once(store: TicketStore) -> None:
    store.put(ticket(), "t")
    store.decide(decided(ticket()), entry("recorded"))
    store.answered("j.1.L1", TicketStatus.EXPIRED, 1_200.0, entry("expired", "approval-chain"))
    store.answered("j.1.L1", TicketStatus.DECIDED, 1_300.0)  # a late repeat changes nothing
    stored = store.get("j.1.L1")
    assert stored is not None
    assert (stored.status, stored.answered_at, stored.audit[-1].result) == (TicketStatus.EXPIRED, 1_200.0, "expired")


def test_open_tickets_lists_only_open_ones_still_due_soonest_first(store: TicketStore) -> None:
    store.put(ticket("late", deadline=3_000.0), "t1")
    store.put(ticket("soon", deadline=2_000.0), "t2")
    store.put(ticket("past", deadline=900.0), "t3")
    store.put(ticket("done", deadline=2_500.0), "t4")
    store.decide(decided(ticket("done", deadline=2_500.0)), entry("recorded"))
    assert [t.ticket_id for t in store.open_tickets(now=1_000.0)] == ["soon", "late"]
    assert [t.ticket_id for t in store.open_tickets(now=1_000.0, limit=1)] == ["soon"]


def test_lapsed_lists_open_tickets_past_their_deadline_and_expire_closes_one_once(store: TicketStore) -> None:
    """The watchdog's sweep and the lapse: OPEN -> EXPIRED only while OPEN; a decision that won is returned."""
    store.put(ticket("past", deadline=900.0), "t1")
    store.put(ticket("due", deadline=1_000.0), "t2")
    store.put(ticket("ahead", deadline=3_000.0), "t3")
    store.put(ticket("decided", deadline=800.0), "t4")
    won = store.decide(decided(ticket("decided", deadline=800.0)), entry("recorded"))
    assert store.lapsed(now=1_000.0) == ["past", "due"] and store.lapsed(now=1_000.0, limit=1) == ["past"]
    lapse = AuditEntry(at=1_000.0, actor="watchdog", action="expire", result="expired", detail="late")
    expired = store.expire("past", lapse)
    assert (expired.status, expired.decision, expired.audit[-1]) == (TicketStatus.EXPIRED, None, lapse)
    with pytest.raises(TicketConflict) as again:
        store.expire("past", lapse)
    assert again.value.current == expired
    with pytest.raises(TicketConflict) as lost:
        store.expire("decided", lapse)
    assert lost.value.current == won
    store.answered("past", TicketStatus.EXPIRED, 1_010.0)  # the chain told: noted once
    assert store.get("past").answered_at == 1_010.0  # type: ignore[union-attr]
    assert store.lapsed(now=1_000.0) == ["due"]
