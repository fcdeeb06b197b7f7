"""The approval desk: opens tickets for the approval chain and records decisions, from every channel.

Staff application events, the command line and the HTTP API all call `record`; it checks
`router.core.approvals.authorize`, writes the decision once (OPEN -> DECIDED, conditionally) and has it
passed on. Only the approvals function holds a token closer; other callers hand the answer to it.
Passing a decision on (`answer`) opens the next level under the same token when one is left, and
otherwise answers the token with the outcome. A level nobody decides by its deadline is lapsed
(`lapse`, from the watchdog's sweep): OPEN -> EXPIRED, and the token answered "expired".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from router.core.approvals import (
    AuditEntry,
    Decision,
    Refused,
    Ticket,
    TicketClosed,
    TicketMessage,
    TicketStatus,
    Verdict,
    answer_for,
    audit_entry,
    authorize,
    is_repeat,
    lapse_entry,
    next_ticket,
    ticket_from,
    ticket_id_for,
    withdrawn_answer,
)
from router.core.model import Journey
from router.core.outcomes import Rejected
from router.language.definition import LAPSE_SLACK, SWEEP_SLACK, ApprovalStep, Model
from router.language.registry import Registry
from router.ports import Handoff, JourneyStore, TicketConflict, TicketEvents, TicketStore, TokenCloser

_TOO_LATE = "ticket {} expired before the decision reached the approval chain: it took no effect"


class Recorded(Model):
    ticket: Ticket
    repeat: bool = False  # the same decision had been recorded before: nothing new was written
    told: bool = False  # the chain took it already; False: the approvals function will tell it


class ApprovalDesk:
    def __init__(
        self,
        tickets: TicketStore,
        journeys: JourneyStore,
        registry: Registry,
        clock: Callable[[], float],
        *,
        events: TicketEvents | None = None,
        tokens: TokenCloser | None = None,
        handoff: Handoff | None = None,
    ) -> None:
        if (tokens is None) == (handoff is None):
            raise ValueError("an approval desk either closes tokens itself or hands them off, not both")
        self.tickets, self.journeys, self.registry, self.clock = tickets, journeys, registry, clock
        self.events, self.tokens, self.handoff = events, tokens, handoff
        self.counts: Counter[str] = Counter()

    # -- from the approval chain

    def open(self, message: TicketMessage) -> Ticket:
        """Store the first level's ticket with its token, then announce it; a redelivery announces it again."""
        journey = self._journey(message.journey_id)
        definition = self.registry.get(journey.definition_id, journey.definition_version)
        step = definition.step(message.step)
        levels = len(step.levels) if isinstance(step, ApprovalStep) else None
        ticket = ticket_from(message, definition.id, levels, self.clock())
        return self._open(ticket, message.task_token, definition.owning_domain)

    def _open(self, ticket: Ticket, token: str, domain: str) -> Ticket:
        if not self.tickets.put(ticket, token):
            self.counts["ticket redelivered"] += 1
            ticket = self.tickets.get(ticket.ticket_id) or ticket
        else:
            self.counts["ticket opened"] += 1
        if self.events is not None and ticket.status is TicketStatus.OPEN:  # a redelivery announces it again
            self.events.requested(ticket, domain)
        return ticket

    # -- from people

    def record(self, decision: Decision) -> Recorded:
        """Authorize and record one decision exactly once; raise Refused (audited) or TicketClosed."""
        now = self.clock()
        ticket = self.tickets.get(decision.ticket_id)
        if ticket is None:
            raise TicketClosed(f"there is no ticket {decision.ticket_id}")
        if is_repeat(ticket, decision):
            return self._repeat(ticket)
        try:
            authorize(ticket, decision, self.journeys.load(ticket.journey_id), now)
        except Refused as refused:
            self.tickets.audit(ticket.ticket_id, audit_entry(decision, "refused", str(refused), now))
            self.counts["refused"] += 1
            raise
        decided = ticket.model_copy(
            update={
                "status": TicketStatus.DECIDED,
                "decision": decision.decision,
                "decided_by": decision.approver,
                "decided_at": now,
                "reason": decision.reason,
            }
        )
        try:
            decided = self.tickets.decide(decided, audit_entry(decision, "recorded", decision.reason or "", now))
        except TicketConflict as conflict:
            current = conflict.current
            if current is not None and is_repeat(current, decision):
                return self._repeat(current)
            raise TicketClosed(
                f"ticket {decision.ticket_id} was decided meanwhile: "
                f"{current.decision if current else '?'} by {current.decided_by if current else '?'}"
            ) from None
        self.counts["recorded"] += 1
        return Recorded(ticket=decided, told=self._tell(decided))

    def answer(self, ticket_id: str) -> bool:
        """Pass a recorded decision (or a lapse) on (approvals function only): open the next level under the same
        token when this one was approved and one is left, else answer the token. True when it took effect."""
        if self.tokens is None:
            raise RuntimeError("only the approvals function answers task tokens")
        ticket = self.tickets.get(ticket_id)
        if ticket is None or ticket.status is TicketStatus.OPEN:
            raise TicketClosed(f"ticket {ticket_id} has no decision to pass on")
        if ticket.answered_at is not None:
            return ticket.status is TicketStatus.DECIDED  # told before: a redelivery
        token = self.tickets.token(ticket_id)
        if not token:
            raise TicketClosed(f"ticket {ticket_id} has no task token")
        now = self.clock()
        if ticket.decision is Verdict.APPROVE and ticket.later:
            journey = self._journey(ticket.journey_id)
            if ticket.activation_id not in journey.open:  # withdrawn (cancelled, retried) since it was recorded
                self.tickets.answered(ticket_id, TicketStatus.DECIDED, now)
                self.counts["withdrawn"] += 1
                return False
            domain = self.registry.get(journey.definition_id, journey.definition_version).owning_domain
            self._open(next_ticket(ticket, now), token, domain)
            self.tickets.answered(ticket_id, TicketStatus.DECIDED, now)
            self.counts["next level opened"] += 1
            return True
        if self.tokens.close(token, answer_for(ticket)):
            self.tickets.answered(ticket_id, ticket.status, now)
            self.counts["chain told"] += 1
            return True
        if ticket.decision is None:  # a lapse the chain no longer waited for (its own timer, or withdrawn)
            self.tickets.answered(ticket_id, TicketStatus.EXPIRED, now)
            return False
        # Before the chain's end the token only closes once answered: our earlier attempt got through.
        ends = ticket.deadline - LAPSE_SLACK if ticket.chain_deadline is None else ticket.chain_deadline + SWEEP_SLACK
        if now < ends:
            self.tickets.answered(ticket_id, TicketStatus.DECIDED, now)
            return True
        lapsed = AuditEntry(
            at=now,
            actor="approval-chain",
            action=(ticket.decision.value if ticket.decision else "decide"),
            result="expired",
            detail="the approval had expired before the decision reached it; the decision took no effect",
        )
        self.tickets.answered(ticket_id, TicketStatus.EXPIRED, now, lapsed)
        self.counts["too late"] += 1
        return False

    def lapse(self, ticket_id: str) -> bool:
        """A level nobody decided by its deadline: OPEN -> EXPIRED (audited), then the chain told "expired".
        False when there is nothing to lapse: decided in time, not due yet (the next sweep finds it), gone."""
        ticket = self.tickets.get(ticket_id)
        now = self.clock()
        if ticket is None or ticket.status is TicketStatus.DECIDED or ticket.answered_at is not None:
            return False
        if ticket.status is TicketStatus.OPEN:
            if now < ticket.deadline:
                return False
            try:
                self.tickets.expire(ticket_id, lapse_entry(ticket, now))
            except TicketConflict:
                return False  # a decision won the race: it is passed on as usual
            self.counts["lapsed"] += 1
        elif ticket.decision is not None:
            return False  # decided, but too late for the chain: nothing to tell it
        return self.answer(ticket_id)

    def withdraw(self, activation_id: str, step: str, reason: str) -> int:
        """The journey no longer waits on this approval activation: its OPEN tickets are withdrawn (audited, the
        approvers told why), and its chain is answered "withdrawn" so it stops waiting. Returns how many tickets
        were withdrawn; a redelivery withdraws none and answers nothing new."""
        journey_id = activation_id.split(".", 1)[0]
        journey = self.journeys.load(journey_id)
        levels = 0
        if journey is not None:
            found = self.registry.get(journey.definition_id, journey.definition_version).step(step)
            levels = len(found.levels) if isinstance(found, ApprovalStep) else 0
        now, withdrawn = self.clock(), 0
        for level in range(1, levels + 1):
            ticket = self.tickets.get(ticket_id_for(activation_id, level))
            if ticket is None or ticket.status is not TicketStatus.OPEN:
                continue
            entry = AuditEntry(at=now, actor="router", action="withdraw", result="withdrawn", detail=reason[:1000])
            try:
                ticket = self.tickets.withdraw(ticket.ticket_id, entry)
            except TicketConflict:
                continue  # decided or lapsed meanwhile: passed on (or not) as usual, against a journey that moved on
            withdrawn += 1
            self.counts["withdrawn"] += 1
            if self.events is not None and journey is not None:
                domain = self.registry.get(journey.definition_id, journey.definition_version).owning_domain
                self.events.withdrawn(ticket, domain, reason)
            token = self.tickets.token(ticket.ticket_id)
            if token and self.tokens is not None:
                self.tokens.close(token, withdrawn_answer(ticket, reason))
                self.tickets.answered(ticket.ticket_id, TicketStatus.WITHDRAWN, now)
        return withdrawn

    def open_tickets(self, limit: int = 100) -> list[Ticket]:
        return self.tickets.open_tickets(self.clock(), limit)

    def ticket(self, ticket_id: str) -> Ticket | None:
        return self.tickets.get(ticket_id)

    # --

    def _repeat(self, ticket: Ticket) -> Recorded:
        self.counts["repeat"] += 1
        if ticket.status is TicketStatus.EXPIRED:
            raise TicketClosed(_TOO_LATE.format(ticket.ticket_id))
        return Recorded(ticket=ticket, repeat=True, told=self._tell(ticket))

    def _tell(self, ticket: Ticket) -> bool:
        """Answer the token here, or hand that to the approvals function; a lapsed decision is an error."""
        if self.tokens is None:
            assert self.handoff is not None
            self.handoff.answer_later(ticket.ticket_id)
            return False
        if not self.answer(ticket.ticket_id):
            raise TicketClosed(_TOO_LATE.format(ticket.ticket_id))
        return True

    def _journey(self, journey_id: str) -> Journey:
        journey = self.journeys.load(journey_id)
        if journey is None:
            raise Rejected(f"journey {journey_id} does not exist")
        return journey
