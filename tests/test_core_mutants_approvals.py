"""router/core/approvals.py under mutation: tickets, the rule book's edges and the approval event's fields.

Mutation testing found the behaviour tests always open tickets from a chain that states its start and timeout,
never decide at exactly a role's limit, never check what a next level resets, and never read the reason or digest
an approval event carries. Each test here pins one of those.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from router.core.approvals import (
    AuditEntry,
    Decision,
    LevelSpec,
    Refused,
    Ticket,
    TicketMessage,
    TicketStatus,
    Verdict,
    answer_for,
    audit_entry,
    authorize,
    decision_from_event,
    is_repeat,
    lapse_entry,
    lapse_reason,
    next_ticket,
    ticket_from,
    withdrawn_answer,
)
from router.core.model import Activation, ActivationKind, Journey, JourneyStatus
from router.core.outcomes import Rejected
from router.language.definition import SWEEP_SLACK

LEVELS = [
    LevelSpec(level=1, role="officer", limit=10_000, timeout_seconds=3600),
    LevelSpec(level=2, role="manager", limit=50_000, timeout_seconds=1800),
]
OPENED = AuditEntry(at=1_000.0, actor="approval-chain", action="opened", result="opened")


def message(**fields: Any) -> TicketMessage:
    base = {
        "journey_id": "j",
        "activation_id": "j.1",
        "step": "approve",
        "levels": LEVELS,
        "amount": 10_000.0,
        "initiator": "mo",
        "approvers": ["earlier"],
        "digest": "d1",
        "task_token": "token",
    }
    return TicketMessage(**{**base, **fields})


@pytest.mark.parametrize(
    ("started_at", "timeout", "deadline", "chain_deadline"),
    [
        (None, None, 1_000.0 + 3600, None),
        (datetime.fromtimestamp(0, tz=UTC), None, 1_000.0 + 3600, None),
        (None, 600, 1_000.0 + 3600, None),
        (datetime.fromtimestamp(0, tz=UTC), 9_000, 1_000.0 + 3600, 9_000.0 - SWEEP_SLACK),
        (datetime.fromtimestamp(0, tz=UTC), 2_000, 2_000.0 - SWEEP_SLACK, 2_000.0 - SWEEP_SLACK),
    ],
    ids=["no-chain-times", "start-only", "timeout-only", "chain-later", "chain-sooner"],
)
def test_a_ticket_lasts_its_level_timeout_unless_the_chain_stops_waiting_first(
    started_at: datetime | None, timeout: int | None, deadline: float, chain_deadline: float | None
) -> None:
    """The chain's deadline counts only when the message states both its start and its timeout."""
    ticket = ticket_from(message(started_at=started_at, timeout_seconds=timeout), "pay", 2, 1_000.0)
    assert (ticket.deadline, ticket.chain_deadline) == (deadline, chain_deadline)


def test_a_ticket_from_a_message_carries_the_earlier_approvers_and_an_opening_audit_entry() -> None:
    """What the message says about earlier levels, the amount and the digest, and one 'opened' entry by the chain."""
    ticket = ticket_from(message(), "pay", 2, 1_000.0)
    assert (ticket.ticket_id, ticket.level, ticket.role, ticket.limit) == ("j.1.L1", 1, "officer", 10_000)
    assert (ticket.approvers, ticket.amount, ticket.digest, ticket.later) == (["earlier"], 10_000.0, "d1", LEVELS[1:])
    assert ticket.audit == [OPENED]


def decided(ticket: Ticket, who: str = "olivia", verdict: Verdict = Verdict.APPROVE, reason: str | None = None):
    return ticket.model_copy(
        update={
            "status": TicketStatus.DECIDED,
            "decision": verdict,
            "decided_by": who,
            "decided_at": 1_500.0,
            "reason": reason,
            "answered_at": 1_501.0,
        }
    )


def test_the_next_level_is_a_fresh_open_ticket_with_its_own_role_and_limit() -> None:
    """Level 2 asked at 2000: its role, limit and timeout; the approver of level 1 joins the list; nothing of level
    1's decision remains (not even the reason its approver gave); one new 'opened' entry."""
    first = decided(ticket_from(message(), "pay", 2, 1_000.0), reason="invoice checked")
    second = next_ticket(first, 2_000.0)
    assert (second.ticket_id, second.level, second.role, second.limit) == ("j.1.L2", 2, "manager", 50_000)
    assert (second.approvers, second.later, second.opened_at, second.deadline) == (
        ["earlier", "olivia"],
        [],
        2_000.0,
        2_000.0 + 1800,
    )
    assert (
        second.status,
        second.decision,
        second.decided_by,
        second.decided_at,
        second.reason,
        second.answered_at,
    ) == (TicketStatus.OPEN, None, None, None, None, None)
    assert second.audit == [OPENED.model_copy(update={"at": 2_000.0})]


def test_a_level_passed_on_after_the_chain_stopped_had_no_time_at_all() -> None:
    """A lapse says how long the level had: none, not negative and not one second, when its deadline came first."""
    ticket = ticket_from(message(), "pay", 2, 1_000.0).model_copy(update={"deadline": 900.0})
    assert lapse_reason(ticket) == "level 1 (officer) was not decided within 0 s"
    entry = lapse_entry(ticket, 1_100.0)
    assert (entry.actor, entry.action, entry.result, entry.detail) == (
        "watchdog",
        "expire",
        "expired",
        lapse_reason(ticket),
    )


def journey(digest: str = "d1") -> Journey:
    activation = Activation(
        id="j.1", step="approve", kind=ActivationKind.APPROVAL, opened_seq=1, deadline=9e9, digest=digest
    )
    return Journey(
        id="j",
        definition_id="pay",
        definition_version="1",
        definition_hash="h",
        status=JourneyStatus.RUNNING,
        version=1,
        step="approve",
        state={},
        open={"j.1": activation},
        initiator="channel",
        created_at=0.0,
        updated_at=0.0,
    )


def decision(verdict: str = "approve", digest: str | None = None, who: str = "olivia", reason: str | None = None):
    return Decision(
        ticket_id="j.1.L1", decision=Verdict(verdict), approver=who, roles=["officer"], digest=digest, reason=reason
    )


def test_a_decision_at_exactly_the_limit_and_on_the_ticket_digest_is_allowed() -> None:
    """The limit is the most a role may approve: equal is within it; the digest the approver saw is the ticket's."""
    ticket = ticket_from(message(amount=10_000.0), "pay", 2, 1_000.0)
    authorize(ticket, decision(digest="d1"), journey(), 1_100.0)
    with pytest.raises(Refused, match=r"10,000\.01 is over the officer limit of 10,000"):
        authorize(ticket.model_copy(update={"amount": 10_000.01}), decision(), journey(), 1_100.0)


@pytest.mark.parametrize(
    ("ticket_digest", "activation_digest", "seen"),
    [("d1", "d2", None), ("d1", "d1", "d0")],
    ids=["the-journey-asked-again", "the-approver-saw-another"],
)
def test_a_decision_on_other_values_than_the_approval_covers_now_is_refused(ticket_digest, activation_digest, seen):
    """Whether the approval was asked again since the ticket opened, or the approver looked at other values."""
    ticket = ticket_from(message(digest=ticket_digest), "pay", 2, 1_000.0)
    with pytest.raises(Refused, match=r"^what ticket j\.1\.L1 covers has changed since it was opened: look again$"):
        authorize(ticket, decision(digest=seen), journey(activation_digest), 1_100.0)


def test_a_decision_for_a_journey_that_is_gone_says_so() -> None:
    """No journey at all (deleted after its retention): refused as gone."""
    ticket = ticket_from(message(), "pay", 2, 1_000.0)
    with pytest.raises(Refused, match=r"^journey j is gone: its approvals take no decisions$"):
        authorize(ticket, decision(), None, 1_100.0)


def test_only_the_same_persons_same_decision_is_a_repeat() -> None:
    """The same approver's other verdict is a new decision (refused later as already decided), not a redelivery."""
    ticket = decided(ticket_from(message(), "pay", 2, 1_000.0), who="olivia")
    assert is_repeat(ticket, decision(who="OLIVIA"))
    assert not is_repeat(ticket, decision("reject", who="olivia", reason="no"))
    assert not is_repeat(ticket, decision(who="max"))
    assert not is_repeat(ticket_from(message(), "pay", 2, 1_000.0), decision())


def test_a_rejection_answer_always_has_a_text_reason_and_a_withdrawal_keeps_a_thousand_characters() -> None:
    """Every key of the token's answer is present and typed: a rejection's reason is text even when none was kept."""
    rejected = decided(ticket_from(message(), "pay", 2, 1_000.0), verdict=Verdict.REJECT, reason=None)
    assert answer_for(rejected)["reason"] == ""
    assert withdrawn_answer(rejected, "w" * 1500)["reason"] == "w" * 1000


def test_an_audit_entry_keeps_the_channel_and_a_thousand_characters_of_detail() -> None:
    """Who decided through which channel, and at most 1000 characters of detail."""
    made = Decision(ticket_id="t", decision=Verdict.APPROVE, approver="olivia", channel="cli")
    entry = audit_entry(made, "refused", "d" * 1500, 5.0)
    assert (entry.channel, entry.action, entry.detail) == ("cli", "approve", "d" * 1000)


def vouch(token: str) -> tuple[str, list[str]]:
    return token.split(":")[0], ["officer"]


def event(detail: Any, **envelope: Any) -> dict[str, Any]:
    return {"detail-type": "approval_recorded", "detail": detail, **envelope}


def test_an_approval_event_carries_its_reason_digest_and_source_and_defaults_the_channel() -> None:
    """The reason and digest the staff application sent reach the decision; no source: the channel is 'event'."""
    detail = {"ticket_id": "t", "decision": "reject", "reason": "unknown payee", "digest": "d1", "token": "olivia:x"}
    made = decision_from_event(event(detail), vouch)
    assert (made.reason, made.digest, made.channel, made.approver) == ("unknown payee", "d1", "event", "olivia")


def test_only_a_cloudevent_envelope_is_unwrapped() -> None:
    """A detail with specversion and data is a CloudEvent: its data is the decision."""
    data = {"ticket_id": "t", "decision": "approve", "token": "olivia:x"}
    made = decision_from_event(event({"specversion": "1.0", "data": data}), vouch)
    assert made.ticket_id == "t"


@pytest.mark.parametrize(
    ("message", "why"),
    [
        (
            {"detail-type": "ticket_opened", "detail": {}},
            "the approvals queue takes approval_recorded events, not 'ticket_opened'",
        ),
        (event("text"), "^approval_recorded carries no decision$"),
        (event({"ticket_id": "t", "decision": "approve", "token": 42}), "carries no approver token"),
        (event({"ticket_id": "t", "decision": "approve", "token": ""}), "carries no approver token"),
    ],
    ids=["other-type", "no-decision", "token-not-text", "token-empty"],
)
def test_an_event_that_is_not_a_signed_decision_is_refused_saying_why(message: dict[str, Any], why: str) -> None:
    """The wrong event type (named), no decision object, a token that is not a non-empty string."""
    with pytest.raises(Rejected, match=why):
        decision_from_event(message, vouch)
