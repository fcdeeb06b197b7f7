"""Approvals on the pure core: the maker-checker rules, the desk on in-memory ports, emits and validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from router.adapters.events import cloudevents_for, entry_for, ticket_event
from router.core.approvals import (
    Decision,
    Refused,
    Ticket,
    TicketClosed,
    TicketMessage,
    TicketStatus,
    Verdict,
    authorize,
    decision_from_event,
)
from router.core.decide import Commit
from router.core.model import (
    ApprovalOutcome,
    Command,
    Intervention,
    Journey,
    JourneyStatus,
    StartApproval,
    StartJourney,
    StepSucceeded,
)
from router.core.outcomes import Rejected
from router.language.definition import LAPSE_SLACK, SWEEP_SLACK
from router.language.loader import DefinitionError, parse
from router.language.registry import Registry
from router.ports.memory import (
    MemoryDispatcher,
    MemoryHandoff,
    MemoryStore,
    MemoryTicketEvents,
    MemoryTickets,
    MemoryTokens,
)
from router.runtime.approval_desk import ApprovalDesk
from router.runtime.service import Router
from tests.journey_driver import FakeClock

PAYMENT = """
id: pay
version: "1.0.0"
owning_domain: bank-payments
start_at: approve
steps:
  - name: approve
    type: APPROVAL
    amount: payment.amount
    initiator: payment.maker
    sla_seconds: 7500
    levels:
      - {role: officer, limit: 10000, timeout_seconds: 3600}
      - {role: manager, timeout_seconds: 3600}
    next: outcome
  - name: outcome
    type: DECISION
    branches: [{when: "approval.outcome == 'granted'", goto: release}]
    default: rejected
  - {name: release, type: TASK, worker: pay, sla_seconds: 60, next: released}
  - {name: released, type: SUCCESS, emit: bank.payments.approval_granted}
  - {name: rejected, type: FAIL, error: PaymentRejected, emit: bank.payments.approval_rejected}
"""
DEFINITION = parse(PAYMENT)
OFFICER, MANAGER = ["officer"], ["manager"]


class World:
    """A payment journey waiting on its approval chain, and the desk in front of it."""

    def __init__(self, amount: float = 2_500, maker: str = "mo") -> None:
        self.clock = FakeClock(10_000.0)
        self.store, self.dispatcher = MemoryStore(), MemoryDispatcher()
        self.router = Router(Registry([DEFINITION]), self.store, self.dispatcher, self.clock)
        payment = {"payment": {"amount": amount, "maker": maker}}
        self.router.handle(StartJourney(journey_id="j", definition_id="pay", input=payment, actor="channel"))
        (self.start,) = [a for a in self.dispatcher.performed if isinstance(a, StartApproval)]
        self.tickets, self.tokens, self.events = MemoryTickets(), MemoryTokens(), MemoryTicketEvents()
        self.desk = ApprovalDesk(
            self.tickets, self.store, Registry([DEFINITION]), self.clock, events=self.events, tokens=self.tokens
        )

    def ask(self) -> Ticket:
        """What the state machine does: put one ticket message, all levels, its start, its timer and the token,
        on the approval queue (here at once: the chain started at the clock's now)."""
        message = TicketMessage(
            journey_id="j",
            activation_id=self.start.activation_id,
            step=self.start.step,
            levels=self.start.levels,
            amount=self.start.amount,
            initiator=self.start.initiator,
            started_at=datetime.fromtimestamp(self.clock(), tz=UTC),
            timeout_seconds=self.start.timeout_seconds,
            digest=self.start.digest,
            task_token="token-1",
        )
        return self.desk.open(message)

    def chain_ends(self) -> float:
        return 10_000 + self.start.timeout_seconds

    def level_two(self) -> Ticket:
        """Level 1 approved by olivia: the desk opened level 2 under the same token."""
        self.desk.record(decision(self.ask(), "olivia", OFFICER))
        ticket = self.tickets.get("j.1.L2")
        assert ticket is not None
        return ticket

    def journey(self) -> Journey:
        journey = self.store.load("j")
        assert journey is not None
        return journey


def decision(ticket: Ticket, who: str, roles: list[str], verdict: str = "approve", reason: str | None = None):
    return Decision(ticket_id=ticket.ticket_id, decision=Verdict(verdict), approver=who, roles=roles, reason=reason)


# -- what the router asks the chain for


def test_the_approval_chain_gets_numbered_levels_the_amount_and_the_maker_from_the_state() -> None:
    """The maker is read where the step says; limits and timeouts travel with each level."""
    start = World(amount=7_000, maker="maker-mo").start
    assert start.activation_id == "j.1" and start.amount == 7_000 and start.initiator == "maker-mo"
    assert [(lvl["level"], lvl["role"], lvl["limit"]) for lvl in start.levels] == [
        (1, "officer", 10000),
        (2, "manager", None),
    ]
    assert start.timeout_seconds == 3600 + 3600 + 2 * LAPSE_SLACK + SWEEP_SLACK  # the backstop, after every level


def test_a_rejection_names_who_rejected_in_the_state_and_the_transition() -> None:
    """The DECISION reads approval.outcome; the log says who rejected and why."""
    world = World()
    outcome = ApprovalOutcome(
        journey_id="j",
        activation_id="j.1",
        outcome="rejected",
        approvers=["olivia"],
        rejected_by="max",
        reason="beneficiary unknown",
    )
    commit = world.router.handle(outcome)
    assert isinstance(commit, Commit)
    assert commit.journey.state["approval"] == {"outcome": "rejected", "approvers": ["olivia"], "rejected_by": "max"}
    assert (commit.record.actor, commit.record.reason) == ("max", "beneficiary unknown")
    assert commit.record.lifecycle == ["approval_rejected", "journey_failed"]
    assert commit.record.emits == ["bank.payments.approval_rejected"]


# -- emit: a definition's own domain events


def test_an_emitting_end_step_publishes_its_domain_event_once_with_a_deterministic_id() -> None:
    """The event rides the journal like lifecycle events: same bus, id journey/seq/type, domain as source."""
    world = World()
    world.router.handle(
        ApprovalOutcome(
            journey_id="j", activation_id="j.1", outcome="granted", approvers=["a", "b"], digest=world.start.digest
        )
    )
    commit = world.router.handle(StepSucceeded(journey_id="j", activation_id="j.2", output={}, actor="pay"))
    assert isinstance(commit, Commit) and commit.record.emits == ["bank.payments.approval_granted"]
    events = {e.get_type(): e for e in cloudevents_for(commit.record)}
    emitted = events["bank.payments.approval_granted"]
    assert emitted.get_id() == "j/3/bank.payments.approval_granted"
    entry = entry_for(emitted, "bank-payments-bus")
    assert (entry["Source"], entry["DetailType"]) == ("bank.payments", "bank.payments.approval_granted")
    platform = entry_for(events["bank.platform.journey_completed"], "bus")
    assert platform["Source"] == "bank.platform"


def test_emit_must_be_a_dotted_event_type() -> None:
    """A typo in an event type is a load error, not a silently unroutable event."""
    with pytest.raises(DefinitionError, match="emit"):
        parse(PAYMENT.replace("emit: bank.payments.approval_granted", "emit: Approval Granted!"))


def test_an_approval_whose_sla_is_shorter_than_its_levels_fails_to_load() -> None:
    """The watchdog must not escalate a chain that is still within its levels' timeouts."""
    with pytest.raises(DefinitionError, match="shorter than its levels' timeouts"):
        parse(PAYMENT.replace("sla_seconds: 7500", "sla_seconds: 7300"))  # 7,200 s of levels, 300 s of slack


def test_a_limit_without_an_amount_fails_to_load() -> None:
    with pytest.raises(DefinitionError, match="no `amount`"):
        parse(PAYMENT.replace("    amount: payment.amount\n", ""))


# -- the rules (authorize is pure)


@pytest.fixture
def world() -> World:
    return World()


def test_two_different_people_with_the_roles_grant_both_levels_and_the_token_is_answered_once(world: World) -> None:
    """Level 1's approval opens level 2 under the same token (nothing answered yet); level 2's answers it."""
    first = world.ask()
    assert (first.level, first.role, [lvl.level for lvl in first.later]) == (1, "officer", [2])
    world.clock.advance(600)
    recorded = world.desk.record(decision(first, "olivia", OFFICER))
    assert recorded.told and not recorded.repeat and world.tokens.calls == 0
    second = world.tickets.get("j.1.L2")
    assert second is not None and (second.level, second.role, second.approvers, second.later) == (
        2,
        "manager",
        ["olivia"],
        [],
    )
    assert (second.opened_at, second.deadline, second.status) == (10_600, 10_600 + 3600, TicketStatus.OPEN)
    assert world.events.requested_events == [("j.1.L1", "bank-payments"), ("j.1.L2", "bank-payments")]
    world.desk.record(decision(second, "max", [*MANAGER, "auditor"]))
    answer = {
        "outcome": "granted",
        "approvers": ["olivia", "max"],
        "rejected_by": None,
        "reason": None,
        "digest": world.start.digest,
    }
    assert world.tokens.answers == {"token-1": answer} and world.tokens.calls == 1
    assert world.tickets.get(second.ticket_id).status is TicketStatus.DECIDED  # type: ignore[union-attr]


def test_a_rejection_is_an_answer_naming_who_and_why(world: World) -> None:
    second = world.level_two()
    world.desk.record(decision(second, "max", MANAGER, "reject", "beneficiary unknown"))
    assert world.tokens.answers["token-1"] == {
        "outcome": "rejected",
        "approvers": ["olivia"],
        "rejected_by": "max",
        "reason": "beneficiary unknown",
        "digest": world.start.digest,
    }
    assert world.tickets.get("j.1.L3") is None


def test_a_rejection_without_a_reason_is_invalid() -> None:
    with pytest.raises(ValueError, match="reason"):
        Decision(ticket_id="t", decision=Verdict.REJECT, approver="max", roles=MANAGER)


REFUSALS = [
    ("the maker named in the state", 1, [], "mo", OFFICER, "maker-checker"),
    ("the maker, in other letters", 1, [], " MO ", OFFICER, "maker-checker"),
    ("whoever started the journey", 1, [], "channel", OFFICER, "maker-checker"),
    ("one person at both levels", 2, ["olivia"], "Olivia", MANAGER, "different person"),
    ("an approver without the role", 1, [], "olivia", ["manager", "clerk"], "does not hold role 'officer'"),
]


@pytest.mark.parametrize(("case", "level", "earlier", "who", "roles", "phrase"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_decisions_are_audited_and_never_reach_the_chain(
    world: World, case: str, level: int, earlier: list[str], who: str, roles: list[str], phrase: str
) -> None:
    """A clear reason, one audit entry, no token answered, the ticket still open, the journey untouched."""
    ticket = world.ask() if level == 1 else world.level_two()
    assert ticket.approvers == earlier
    before = world.journey()
    with pytest.raises(Refused, match=phrase):
        world.desk.record(decision(ticket, who, roles))
    after = world.tickets.get(ticket.ticket_id)
    assert after is not None and after.status is TicketStatus.OPEN
    assert [(e.actor, e.result) for e in after.audit[1:]] == [(who, "refused")]
    assert phrase in after.audit[-1].detail
    assert world.tokens.calls == 0 and world.journey() == before


def test_an_approver_over_the_limit_is_refused_but_may_still_reject() -> None:
    """Limits bound what a role may approve; rejecting is always within a role's power."""
    world = World(amount=25_000)
    ticket = world.ask()
    with pytest.raises(Refused, match="25,000 is over the officer limit of 10,000"):
        world.desk.record(decision(ticket, "olivia", OFFICER))
    assert world.tokens.calls == 0
    world.desk.record(decision(ticket, "olivia", OFFICER, "reject", "over my limit; escalate"))
    assert world.tokens.answers["token-1"]["outcome"] == "rejected"


def test_a_limit_with_no_amount_in_the_state_is_refused() -> None:
    world = World()
    ticket = world.ask().model_copy(update={"amount": None})
    with pytest.raises(Refused, match="amount is unknown"):
        authorize(ticket, decision(ticket, "olivia", OFFICER), world.journey(), world.clock())


def test_a_decision_for_a_cancelled_journey_is_refused_and_audited(world: World) -> None:
    ticket = world.ask()
    cancel = Intervention(journey_id="j", command=Command.CANCEL, expected_version=1, actor="ops", reason="dup")
    world.router.handle(cancel)
    with pytest.raises(Refused, match="CANCELLED"):
        world.desk.record(decision(ticket, "olivia", OFFICER))
    assert world.tickets.get(ticket.ticket_id).audit[-1].result == "refused"  # type: ignore[union-attr]
    assert world.tokens.calls == 0


def test_a_decision_after_the_journey_moved_on_is_refused(world: World) -> None:
    """An operator's retry opens a new approval: the old chain's tickets take no more decisions."""
    ticket = world.ask()
    retry = Intervention(journey_id="j", command=Command.RETRY, expected_version=1, actor="ops", reason="re-ask")
    world.router.handle(retry)
    assert "j.2" in world.journey().open
    with pytest.raises(Refused, match="withdrawn"):
        world.desk.record(decision(ticket, "olivia", OFFICER))


def test_the_same_decision_twice_is_recorded_once(world: World) -> None:
    """A redelivered decision is recognised, writes nothing, and does not answer the token again."""
    ticket = world.ask()
    world.desk.record(decision(ticket, "olivia", OFFICER))
    again = world.desk.record(decision(ticket, "olivia", OFFICER))
    stored = world.tickets.get(ticket.ticket_id)
    assert again.repeat and stored is not None
    assert [e.result for e in stored.audit] == ["opened", "recorded"]
    assert sorted(world.tickets.tickets) == ["j.1.L1", "j.1.L2"] and len(world.events.requested_events) == 2


def test_a_second_persons_decision_on_a_decided_ticket_is_a_clear_error_that_changes_nothing(world: World) -> None:
    ticket = world.ask()
    world.desk.record(decision(ticket, "olivia", OFFICER))
    before = world.tickets.get(ticket.ticket_id)
    with pytest.raises(TicketClosed, match="already decided: approve by olivia"):
        world.desk.record(decision(ticket, "oscar", OFFICER, "reject", "no"))
    assert world.tickets.get(ticket.ticket_id) == before and world.tokens.calls == 0


def test_a_decision_after_the_deadline_is_a_clear_error_that_changes_nothing(world: World) -> None:
    ticket = world.ask()
    world.clock.advance(3600)
    with pytest.raises(TicketClosed, match="expired"):
        world.desk.record(decision(ticket, "olivia", OFFICER))
    assert world.tickets.get(ticket.ticket_id) == ticket and world.tokens.calls == 0


def test_a_decision_that_reaches_the_chain_after_its_timer_is_marked_and_reported(world: World) -> None:
    """Recorded in time, but passed on only after the chain's own timer ran out: it took no effect."""
    ticket = world.ask()
    cli = ApprovalDesk(world.tickets, world.store, Registry([DEFINITION]), world.clock, handoff=MemoryHandoff())
    world.clock.advance(3590)
    cli.record(decision(ticket, "olivia", OFFICER, "reject", "too risky"))
    world.clock.now = world.chain_ends()  # the approvals function was down until the chain gave up
    world.tokens.expired.add("token-1")
    assert not world.desk.answer(ticket.ticket_id)
    stored = world.tickets.get(ticket.ticket_id)
    assert stored is not None and stored.status is TicketStatus.EXPIRED
    assert [e.result for e in stored.audit] == ["opened", "recorded", "expired"]


class CrashOnce(MemoryTickets):
    """Once armed, crashes on the next `answered`: the approvals function dies after acting, before noting it."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False

    def answered(self, *args: Any, **kwargs: Any) -> None:
        if self.armed:
            self.armed = False
            raise ConnectionError("the function died")
        super().answered(*args, **kwargs)


def _crashing_world() -> World:
    world = World()
    world.tickets = CrashOnce()
    world.desk = ApprovalDesk(
        world.tickets, world.store, Registry([DEFINITION]), world.clock, events=world.events, tokens=world.tokens
    )
    return world


def test_a_final_answer_redelivered_after_a_crash_near_the_deadline_still_took_effect() -> None:
    """The token was answered, then the function died; the redelivery finds it closed. Before the chain's end only
    our own answer closes it, so the decision stands: DECIDED, not 'took no effect'."""
    world = _crashing_world()
    first = world.ask()
    world.desk.record(decision(first, "olivia", OFFICER))
    second = world.tickets.get("j.1.L2")
    assert second is not None
    world.clock.now = second.deadline - 20
    cli = ApprovalDesk(world.tickets, world.store, Registry([DEFINITION]), world.clock, handoff=MemoryHandoff())
    cli.record(decision(second, "max", MANAGER))
    world.tickets.armed = True  # type: ignore[attr-defined]
    with pytest.raises(ConnectionError):
        world.desk.answer(second.ticket_id)
    assert world.tokens.answers["token-1"]["outcome"] == "granted"
    world.clock.advance(60)  # redelivered after the level's deadline, before the chain's end
    assert world.desk.answer(second.ticket_id)
    stored = world.tickets.get(second.ticket_id)
    assert stored is not None and stored.status is TicketStatus.DECIDED and stored.answered_at is not None


def test_a_next_level_opened_before_a_crash_is_opened_once_when_the_answer_is_redelivered() -> None:
    world = _crashing_world()
    first = world.ask()
    cli = ApprovalDesk(world.tickets, world.store, Registry([DEFINITION]), world.clock, handoff=MemoryHandoff())
    cli.record(decision(first, "olivia", OFFICER))
    world.tickets.armed = True  # type: ignore[attr-defined]
    with pytest.raises(ConnectionError):
        world.desk.answer(first.ticket_id)
    opened = world.tickets.get("j.1.L2")
    assert opened is not None
    assert world.desk.answer(first.ticket_id)
    assert world.tickets.get("j.1.L2") == opened and world.tokens.calls == 0
    assert world.tickets.get(first.ticket_id).answered_at is not None  # type: ignore[union-attr]


def test_an_approval_passed_on_after_the_journey_was_withdrawn_opens_no_next_level(world: World) -> None:
    ticket = world.ask()
    cli = ApprovalDesk(world.tickets, world.store, Registry([DEFINITION]), world.clock, handoff=MemoryHandoff())
    cli.record(decision(ticket, "olivia", OFFICER))
    cancel = Intervention(journey_id="j", command=Command.CANCEL, expected_version=1, actor="ops", reason="dup")
    world.router.handle(cancel)
    assert not world.desk.answer(ticket.ticket_id)
    assert world.tickets.get("j.1.L2") is None and world.tokens.calls == 0
    assert world.events.requested_events == [("j.1.L1", "bank-payments")]


def test_an_unknown_ticket_is_a_clear_error() -> None:
    world = World()
    with pytest.raises(TicketClosed, match="no ticket nope"):
        world.desk.record(Decision(ticket_id="nope", decision=Verdict.APPROVE, approver="x", roles=OFFICER))


# -- tickets: opening, listing, the token kept apart


def test_a_redelivered_ticket_message_opens_one_ticket_and_announces_the_same_id(world: World) -> None:
    first, again = world.ask(), world.ask()
    assert first == again and len(world.tickets.tickets) == 1
    assert world.events.requested_events == [(first.ticket_id, "bank-payments")] * 2
    assert (first.ticket_id, first.levels, first.deadline) == ("j.1.L1", 2, 10_000 + 3600)
    world.desk.record(decision(first, "olivia", OFFICER))
    world.ask()  # redelivered once level 1 is decided: level 2 is announced, level 1 not again
    assert world.events.requested_events[2:] == [("j.1.L2", "bank-payments")]


def test_tickets_and_their_announcements_never_carry_the_token(world: World) -> None:
    ticket = world.ask()
    event = ticket_event(ticket)
    assert "token" not in json.dumps(ticket.model_dump(mode="json"))
    assert "token-1" not in json.dumps(event.get_data()) and "token" not in str(event.get_attributes())
    assert event.get_id() == "j/j.1.L1/approval_requested"
    assert world.desk.open_tickets() == [ticket]
    message = TicketMessage.model_validate({**_ticket_message(), "task_token": "secret-token"})
    assert "secret-token" not in repr(message)


def _ticket_message() -> dict[str, Any]:
    level = {"level": 1, "role": "officer", "limit": None, "timeout_seconds": 60}
    return {"journey_id": "j", "activation_id": "j.1", "step": "approve", "levels": [level], "initiator": "mo"}


def test_a_desk_that_may_not_answer_tokens_hands_the_decision_to_the_approvals_function() -> None:
    """The command line records and authorizes at once; the approvals function tells the chain."""
    world = World()
    ticket = world.ask()
    handoff = MemoryHandoff()
    cli = ApprovalDesk(world.tickets, world.store, Registry([DEFINITION]), world.clock, handoff=handoff)
    recorded = cli.record(decision(ticket, "olivia", OFFICER))
    assert not recorded.told and handoff.pending == [ticket.ticket_id] and world.tokens.calls == 0
    assert world.desk.answer(ticket.ticket_id) and world.tickets.get("j.1.L2") is not None  # level 2 opened
    assert world.desk.answer(ticket.ticket_id)  # a redelivered hand-off: opens and announces nothing again
    assert world.events.requested_events[-1] == ("j.1.L2", "bank-payments") and len(world.events.requested_events) == 2
    second = world.tickets.get("j.1.L2")
    assert second is not None
    cli.record(decision(second, "max", MANAGER))
    assert world.desk.answer(second.ticket_id) and world.tokens.answers["token-1"]["approvers"] == ["olivia", "max"]
    assert world.desk.answer(second.ticket_id) and world.tokens.calls == 1
    with pytest.raises(RuntimeError, match="only the approvals function"):
        cli.answer(ticket.ticket_id)


def _vouch(token: str) -> tuple[str, list[str]]:
    """A stand-in issuer: 'signed:NAME:ROLE' is NAME holding ROLE; anything else is refused as the real one is."""
    signed, _, rest = token.partition(":")
    if signed != "signed":
        raise Rejected("the approver's token is not valid")
    name, _, role = rest.partition(":")
    return name, [role]


def test_a_staff_application_event_becomes_a_decision_by_whom_its_token_names() -> None:
    """Plain detail or a CloudEvent's data; the channel is the event's source; the approver and roles are the
    token's, whatever roles the event lists."""
    detail = {"ticket_id": "t", "decision": "approve", "token": "signed:Olivia:officer", "roles": ["manager"]}
    plain = decision_from_event({"detail-type": "approval_recorded", "source": "bank.staff", "detail": detail}, _vouch)
    cloud = {"specversion": "1.0", "id": "1", "source": "/staff", "type": "approval_recorded", "data": detail}
    wrapped = decision_from_event({"detail-type": "approval_recorded", "source": "bank.staff", "detail": cloud}, _vouch)
    assert plain == wrapped and plain.channel == "bank.staff"
    assert (plain.approver, plain.roles) == ("olivia", ["officer"])


@pytest.mark.parametrize(
    ("detail", "why"),
    [
        ({"ticket_id": "t", "decision": "approve", "approver": "olivia", "roles": ["officer"]}, "no approver token"),
        ({"ticket_id": "t", "decision": "approve", "token": "forged:olivia:officer"}, "not valid"),
        ({"ticket_id": "t", "decision": "approve", "token": "signed:mo:officer", "approver": "olivia"}, "other than"),
    ],
    ids=["no token", "forged token", "someone else's token"],
)
def test_an_approval_event_without_its_approvers_signed_token_is_refused(detail: dict[str, Any], why: str) -> None:
    """Invented approvers on the bus decide nothing: identity comes only from a token the issuer signed."""
    with pytest.raises(Rejected, match=why):
        decision_from_event({"detail-type": "approval_recorded", "source": "bank.staff", "detail": detail}, _vouch)


def test_the_journey_status_check_covers_every_finished_status() -> None:
    world = World()
    ticket = world.ask()
    for status in (JourneyStatus.SUCCEEDED, JourneyStatus.FAILED, JourneyStatus.CANCELLED):
        finished = world.journey().model_copy(update={"status": status})
        with pytest.raises(Refused, match=status.value):
            authorize(ticket, decision(ticket, "olivia", OFFICER), finished, world.clock())
    authorize(ticket, decision(ticket, "olivia", OFFICER), world.journey(), world.clock())


# -- a level nobody decides: the watchdog finds it, the desk lapses it


def test_a_level_nobody_decides_lapses_and_the_chain_is_told_expired(world: World) -> None:
    second = world.level_two()
    world.clock.advance(3599)
    assert world.tickets.lapsed(world.clock()) == [] and not world.desk.lapse(second.ticket_id)  # not due yet
    world.clock.advance(1)
    assert world.tickets.lapsed(world.clock()) == [second.ticket_id]
    assert world.desk.lapse(second.ticket_id)
    stored = world.tickets.get(second.ticket_id)
    assert stored is not None and stored.status is TicketStatus.EXPIRED and stored.answered_at == world.clock()
    assert [(e.actor, e.result) for e in stored.audit] == [("approval-chain", "opened"), ("watchdog", "expired")]
    reason = "level 2 (manager) was not decided within 3600 s"
    assert stored.audit[-1].detail == reason
    expired = {
        "outcome": "expired",
        "approvers": ["olivia"],
        "rejected_by": None,
        "reason": reason,
        "digest": second.digest,
    }
    assert world.tokens.answers == {"token-1": expired}
    assert not world.desk.lapse(second.ticket_id) and world.tokens.calls == 1  # the next sweep's repeat
    assert world.tickets.lapsed(world.clock()) == []
    with pytest.raises(TicketClosed, match="expired"):
        world.desk.record(decision(second, "max", MANAGER))


def test_a_decision_that_wins_the_race_with_the_sweep_is_not_lapsed(world: World) -> None:
    ticket = world.ask()
    world.desk.record(decision(ticket, "olivia", OFFICER, "reject", "unknown payee"))
    world.clock.advance(7200)
    assert not world.desk.lapse(ticket.ticket_id)
    assert world.tokens.answers["token-1"]["outcome"] == "rejected" and world.tokens.calls == 1


def test_a_decision_written_between_the_sweeps_read_and_its_write_wins(world: World) -> None:
    """The lapse read the ticket OPEN; a decision landed before its conditional write: the lapse backs off."""
    ticket = world.ask()
    world.clock.advance(3600)
    stale = world.tickets.get(ticket.ticket_id)
    decided = ticket.model_copy(update={"status": TicketStatus.DECIDED, "decision": Verdict.REJECT})
    world.tickets.tickets[ticket.ticket_id] = decided.model_copy(update={"decided_by": "olivia", "reason": "x"})
    world.tickets.get = lambda _id: stale  # type: ignore[method-assign]
    assert not world.desk.lapse(ticket.ticket_id)
    assert world.tickets.tickets[ticket.ticket_id].status is TicketStatus.DECIDED and world.tokens.calls == 0


def test_a_lapse_the_chain_had_stopped_waiting_for_is_noted_and_changes_nothing(world: World) -> None:
    """The backstop timer (or a withdrawal) closed the token first: the ticket is closed, nothing else."""
    ticket = world.ask()
    world.tokens.expired.add("token-1")
    world.clock.advance(3600)
    assert not world.desk.lapse(ticket.ticket_id)
    stored = world.tickets.get(ticket.ticket_id)
    assert stored is not None and stored.status is TicketStatus.EXPIRED and stored.answered_at is not None
    assert world.tokens.answers == {}


def test_a_level_passed_on_late_never_outlives_the_chains_own_timer() -> None:
    """Level 1 decided in time, but passed on when the chain has less left than level 2's timeout: level 2's
    deadline is the chain's less SWEEP_SLACK, so the watchdog lapses it before the chain's timer runs out."""
    world = World()
    first = world.ask()
    chain_ends = world.chain_ends() - SWEEP_SLACK
    assert (first.chain_deadline, first.deadline) == (chain_ends, 10_000 + 3600)
    handoff = MemoryHandoff()
    cli = ApprovalDesk(world.tickets, world.store, Registry([DEFINITION]), world.clock, handoff=handoff)
    world.clock.advance(3500)
    cli.record(decision(first, "olivia", OFFICER))
    world.clock.advance(3000)  # the hand-off waited (the approvals function was down)
    assert world.desk.answer(first.ticket_id)
    second = world.tickets.get("j.1.L2")
    assert second is not None and second.deadline == chain_ends < world.clock() + 3600
