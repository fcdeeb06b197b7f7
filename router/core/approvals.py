"""Approval tickets and the one rule book every decision passes, whatever channel it came through.

Pure: no I/O, no clock. A ticket is one level of one APPROVAL activation. The approval state machine
waits on one task token for all the levels of an activation: the desk opens level 1's ticket, opens
each next level itself when one is approved, and answers the token once, with the outcome. The token
never appears here (the ticket store keeps it apart).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, model_validator

from router.core.identity import canonical, holds, same, suspicious
from router.core.model import FINISHED, Journey
from router.core.outcomes import Rejected
from router.language.definition import SWEEP_SLACK, Model


class TicketStatus(StrEnum):
    OPEN = "OPEN"
    DECIDED = "DECIDED"
    EXPIRED = "EXPIRED"  # lapsed (nobody decided in time), or decided after the chain had stopped waiting
    WITHDRAWN = "WITHDRAWN"  # the journey stopped waiting on it (cancelled, moved away, what it covers changed)


class Verdict(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class NotRecorded(Rejected):
    """A decision that was not recorded; the message is clear enough to show the person who made it."""


class Refused(NotRecorded):
    """The rules do not let this person make this decision now. Audited on the ticket."""


class TicketClosed(NotRecorded):
    """The ticket no longer takes decisions (decided, expired, unknown). Nothing is written."""


class LevelSpec(Model):
    level: int = Field(ge=1)
    role: str
    limit: float | None = None
    timeout_seconds: int = Field(gt=0)


class TicketMessage(Model):
    """What a state machine puts on the approval queue with a task token: the levels that token waits on,
    in order. The first is asked now; each later one once the one before it is approved. The approval
    chain sends all of a step's levels; a compiled every-step machine (router/language/asl.py) one per token."""

    kind: Literal["ticket"] = "ticket"
    journey_id: str
    activation_id: str
    step: str
    levels: list[LevelSpec] = Field(min_length=1)
    amount: float | None = None
    initiator: str
    approvers: list[str] = []
    started_at: datetime | None = None  # when the chain started (its context's Execution.StartTime) ...
    timeout_seconds: int | None = Field(None, gt=0)  # ... and how long it waits: no level may outlive that
    digest: str | None = None  # of the fields the approvers certify (router/core/gates.py)
    task_token: str = Field(repr=False, min_length=1)


class AuditEntry(Model):
    at: float
    actor: str
    action: str  # opened, approve, reject, expire
    result: str  # opened, recorded, refused, expired
    detail: str = ""
    channel: str = ""


class Ticket(Model):
    ticket_id: str
    journey_id: str
    activation_id: str
    definition_id: str
    step: str
    level: int
    levels: int | None = None
    role: str
    limit: float | None = None
    amount: float | None = None
    initiator: str
    digest: str | None = None  # what the approvers certify: each decision is taken on it, and void if it changes
    approvers: list[str] = []  # who approved the levels before this one
    later: list[LevelSpec] = []  # the levels still to ask, under the same token, once this one is approved
    chain_deadline: float | None = None  # the chain's timer, less SWEEP_SLACK: caps every level's deadline
    opened_at: float
    deadline: float
    status: TicketStatus = TicketStatus.OPEN
    decision: Verdict | None = None
    decided_by: str | None = None
    decided_at: float | None = None
    reason: str | None = None
    answered_at: float | None = None  # when the chain was told; None until then
    audit: list[AuditEntry] = []


class Decision(Model):
    """One person's decision on one ticket, from the staff application, the command line or the API."""

    ticket_id: str = Field(min_length=1)
    decision: Verdict
    approver: str = Field(min_length=1, max_length=200)
    roles: list[str] = []
    reason: str | None = Field(None, max_length=1000)
    channel: str = "staff-app"
    digest: str | None = None  # the digest the approver saw (the ticket's); a decision on another one is refused

    @model_validator(mode="after")
    def _rejection_says_why(self) -> Decision:
        if self.decision is Verdict.REJECT and not (self.reason or "").strip():
            raise ValueError("a rejection needs a reason")
        return self

    @model_validator(mode="after")
    def _plain_identity(self) -> Decision:
        for name in [self.approver, *self.roles]:
            why = suspicious(name)
            if why:
                raise ValueError(f"an approver or role name cannot be trusted: {why}")
        return self


def ticket_id_for(activation_id: str, level: int) -> str:
    """Deterministic, so a redelivered ticket message finds the ticket it already opened."""
    return f"{activation_id}.L{level}"


def ticket_from(message: TicketMessage, definition_id: str, levels: int | None, now: float) -> Ticket:
    level, *later = message.levels
    chain_deadline = None
    if message.started_at is not None and message.timeout_seconds is not None:
        chain_deadline = message.started_at.timestamp() + message.timeout_seconds - SWEEP_SLACK
    return Ticket(
        ticket_id=ticket_id_for(message.activation_id, level.level),
        journey_id=message.journey_id,
        activation_id=message.activation_id,
        definition_id=definition_id,
        step=message.step,
        level=level.level,
        levels=levels,
        role=level.role,
        limit=level.limit,
        amount=message.amount,
        initiator=message.initiator,
        digest=message.digest,
        approvers=message.approvers,
        later=later,
        chain_deadline=chain_deadline,
        opened_at=now,
        deadline=_deadline(now, level, chain_deadline),
        audit=[AuditEntry(at=now, actor="approval-chain", action="opened", result="opened")],
    )


def _deadline(now: float, level: LevelSpec, chain_deadline: float | None) -> float:
    """The level's own timeout from now, unless the chain would stop waiting before (a decision passed on late)."""
    own = now + level.timeout_seconds
    return own if chain_deadline is None else min(own, chain_deadline)


def next_ticket(ticket: Ticket, now: float) -> Ticket:
    """The level after an approved `ticket`, asked now, under the same token; its approver joins the list."""
    assert ticket.decision is Verdict.APPROVE
    assert ticket.decided_by is not None
    assert ticket.later
    level, *later = ticket.later
    return ticket.model_copy(
        update={
            "ticket_id": ticket_id_for(ticket.activation_id, level.level),
            "level": level.level,
            "role": level.role,
            "limit": level.limit,
            "approvers": [*ticket.approvers, ticket.decided_by],
            "later": later,
            "opened_at": now,
            "deadline": _deadline(now, level, ticket.chain_deadline),
            "status": TicketStatus.OPEN,
            "decision": None,
            "decided_by": None,
            "decided_at": None,
            "reason": None,
            "answered_at": None,
            "audit": [AuditEntry(at=now, actor="approval-chain", action="opened", result="opened")],
        }
    )


def lapse_entry(ticket: Ticket, now: float) -> AuditEntry:
    """The audit entry of a level nobody decided before its deadline."""
    return AuditEntry(at=now, actor="watchdog", action="expire", result="expired", detail=lapse_reason(ticket))


def _money(value: float) -> str:
    return f"{value:,.2f}".removesuffix(".00")


def closed_reason(ticket: Ticket, now: float) -> str | None:
    """Why the ticket takes no decision now, or None while it is open."""
    if ticket.status is TicketStatus.DECIDED:
        return f"ticket {ticket.ticket_id} was already decided: {ticket.decision} by {ticket.decided_by}"
    if ticket.status is TicketStatus.WITHDRAWN:
        return f"ticket {ticket.ticket_id} was withdrawn: the journey no longer waits on it"
    if ticket.status is TicketStatus.EXPIRED or now >= ticket.deadline:
        return f"ticket {ticket.ticket_id} expired: level {ticket.level} had to be decided by {ticket.deadline:.0f}"
    return None


def authorize(ticket: Ticket, decision: Decision, journey: Journey | None, now: float) -> None:
    """Raise TicketClosed or Refused unless `decision` may be recorded on `ticket` now; every path calls this."""
    closed = closed_reason(ticket, now)
    if closed:
        raise TicketClosed(closed)
    who = decision.approver
    if journey is None or journey.status in FINISHED:
        status = journey.status.value if journey else "gone"
        raise Refused(f"journey {ticket.journey_id} is {status}: its approvals take no decisions")
    activation = journey.open.get(ticket.activation_id)
    if activation is None:
        raise Refused(f"journey {ticket.journey_id} no longer waits on this approval (it was withdrawn)")
    if ticket.digest != activation.digest or (decision.digest is not None and decision.digest != ticket.digest):
        raise Refused(f"what ticket {ticket.ticket_id} covers has changed since it was opened: look again")
    if any(same(who, maker) for maker in (ticket.initiator, journey.initiator)):
        raise Refused(f"{who} initiated this request: the maker can never decide it (maker-checker)")
    if any(same(who, earlier) for earlier in ticket.approvers):
        raise Refused(f"{who} already approved an earlier level: each level needs a different person")
    if not holds(decision.roles, ticket.role):
        raise Refused(f"{who} does not hold role {ticket.role!r}, which level {ticket.level} needs")
    if decision.decision is Verdict.APPROVE and ticket.limit is not None:
        if ticket.amount is None:
            raise Refused(
                f"the amount is unknown, so {ticket.role}'s limit of {_money(ticket.limit)} cannot be checked"
            )
        if ticket.amount > ticket.limit:
            raise Refused(f"{_money(ticket.amount)} is over the {ticket.role} limit of {_money(ticket.limit)}")


def is_repeat(ticket: Ticket, decision: Decision) -> bool:
    """The same person's same decision, already recorded: a redelivery, not a new decision."""
    return (
        ticket.status is not TicketStatus.OPEN
        and ticket.decision is decision.decision
        and same(ticket.decided_by or "", decision.approver)
    )


def answer_for(ticket: Ticket) -> dict[str, Any]:
    """The task-token output: the approval_outcome the approval state machine passes on to the journey
    (infra/statemachines/approval.asl.json), every key always present. Granted: this level was approved
    and no level is left under this token. Expired: nobody decided this level in time."""
    answer: dict[str, Any] = {
        "approvers": ticket.approvers,
        "rejected_by": None,
        "reason": None,
        "digest": ticket.digest,
    }
    if ticket.decision is None:
        return answer | {"outcome": "expired", "reason": lapse_reason(ticket)}
    assert ticket.decided_by is not None
    if ticket.decision is Verdict.APPROVE:
        return answer | {"outcome": "granted", "approvers": [*ticket.approvers, ticket.decided_by]}
    return answer | {"outcome": "rejected", "rejected_by": ticket.decided_by, "reason": ticket.reason or ""}


def withdrawn_answer(ticket: Ticket, reason: str) -> dict[str, Any]:
    """The task-token output for a chain the journey stopped waiting on: the outcome it passes on is stale."""
    return {"outcome": "withdrawn", "approvers": [], "rejected_by": None, "reason": reason[:1000], "digest": None}


def lapse_reason(ticket: Ticket) -> str:
    allowed = max(0.0, ticket.deadline - ticket.opened_at)  # none, for a level passed on after the chain's time
    return f"level {ticket.level} ({ticket.role}) was not decided within {allowed:.0f} s"


def audit_entry(decision: Decision, result: str, detail: str, now: float) -> AuditEntry:
    return AuditEntry(
        at=now,
        actor=decision.approver,
        action=decision.decision.value,
        result=result,
        detail=detail[:1000],
        channel=decision.channel,
    )


RECORDED = "approval_recorded"


def decision_from_event(message: dict[str, Any], vouch: Callable[[str], tuple[str, list[str]]]) -> Decision:
    """A staff application's approval_recorded EventBridge event (plain detail, or a CloudEvent's data).

    The approver and their roles are whom the signed token in the event names (`vouch` verifies it and raises
    Rejected when it cannot); an event naming someone else, or carrying no token, is refused."""
    if message.get("detail-type") not in (RECORDED, f"workflow_{RECORDED}"):
        raise Rejected(f"the approvals queue takes {RECORDED} events, not {message.get('detail-type')!r}")
    detail = message.get("detail")
    if isinstance(detail, dict) and {"specversion", "data"} <= detail.keys():
        detail = detail["data"]
    if not isinstance(detail, dict):
        raise Rejected(f"{RECORDED} carries no decision")
    token = detail.get("token")
    if not isinstance(token, str) or not token:
        raise Rejected(f"{RECORDED} carries no approver token: who decided cannot be verified")
    approver, roles = vouch(token)
    named = detail.get("approver")
    if named is not None and not (isinstance(named, str) and same(named, approver)):
        raise Rejected(f"{RECORDED} names an approver other than the one its token was issued to")
    fields = {k: v for k, v in detail.items() if k in ("ticket_id", "decision", "reason", "digest")}
    return Decision.model_validate(
        {**fields, "approver": canonical(approver), "roles": roles, "channel": str(message.get("source") or "event")}
    )
