"""Maker-checker as a property: whatever one person does, through every channel, a payment is never released.

The engine runs in memory (router, approval desk, ticket store, token closer), with the approval chain and the
release worker simulated faithfully: the chain answers the router with the outcome the desk gave its token, and
the proof the router issued; the worker answers with its work's proof. Hypothesis then drives arbitrary
sequences of decisions, interventions, forged answers and the passing of time.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from router.core.approvals import Decision, NotRecorded, TicketMessage, TicketStatus, Verdict
from router.core.identity import canonical
from router.core.model import (
    ApprovalOutcome,
    Command,
    Intervention,
    SendWork,
    StartApproval,
    StartJourney,
    StepSucceeded,
    WithdrawApproval,
)
from router.core.outcomes import Rejected
from router.core.proofs import proof_for
from router.language.registry import Registry
from router.ports.memory import MemoryDispatcher, MemoryStore, MemoryTicketEvents, MemoryTickets, MemoryTokens
from router.runtime.approval_desk import ApprovalDesk
from router.runtime.service import Router
from tests.journey_driver import FakeClock
from tests.test_approvals import DEFINITION

PAYMENT = DEFINITION  # the two-level payment of the approval tests
KEY = b"property-test-proof-key"
ROLES = ["officer", "manager", "OFFICER", "Manager", "operator", "auditor"]
STEPS = [step.name for step in PAYMENT.steps]


def spellings(name: str) -> st.SearchStrategy[str]:
    """The same person, as a hostile insider might spell them: case, fullwidth, invisible characters, spaces."""
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c.isalpha() else c for c in name)
    return st.sampled_from(
        [name, name.upper(), name.title(), fullwidth, f" {name} ", name[:2] + "\u200b" + name[2:], name + "\u00ad"]
    )


@dataclass
class Bank:
    """The engine in memory, with the approval chain and the release worker played as AWS would play them."""

    clock: FakeClock = field(default_factory=lambda: FakeClock(10_000.0))
    store: MemoryStore = field(default_factory=MemoryStore)
    dispatcher: MemoryDispatcher = field(default_factory=MemoryDispatcher)
    tickets: MemoryTickets = field(default_factory=MemoryTickets)
    tokens: MemoryTokens = field(default_factory=MemoryTokens)
    done: int = 0  # actions performed so far
    told: set[str] = field(default_factory=set)  # tokens whose answer reached the router

    def __post_init__(self) -> None:
        registry = Registry([PAYMENT])
        self.router = Router(registry, self.store, self.dispatcher, self.clock, proof_key=KEY)
        self.desk = ApprovalDesk(
            self.tickets, self.store, registry, self.clock, events=MemoryTicketEvents(), tokens=self.tokens
        )
        payment = {"payment": {"amount": 2_500, "maker": "mallory", "beneficiary": "GB82WEST"}}
        self.router.handle(StartJourney(journey_id="j", definition_id="pay", input=payment, actor="channel"))
        self.pump()

    def pump(self) -> None:
        """Perform what the engine asked for: open tickets, withdraw them, pass chains' answers on, release."""
        while self.done < len(self.dispatcher.performed) or self._untold():
            for action in self.dispatcher.performed[self.done :]:
                self.done += 1
                self._perform(action)
            for token in self._untold():
                self.told.add(token)
                answer = self.tokens.answers[token]
                activation = token.removeprefix("tok-")
                outcome = ApprovalOutcome(
                    journey_id="j", activation_id=activation, proof=proof_for(KEY, "j", activation), **answer
                )
                self._try(lambda outcome=outcome: self.router.handle(outcome))

    def _untold(self) -> list[str]:
        return [token for token in self.tokens.answers if token not in self.told]

    def _perform(self, action: Any) -> None:
        if isinstance(action, StartApproval):
            message = TicketMessage(
                journey_id=action.journey_id,
                activation_id=action.activation_id,
                step=action.step,
                levels=action.levels,
                amount=action.amount,
                initiator=action.initiator,
                started_at=datetime.fromtimestamp(self.clock(), tz=UTC),
                timeout_seconds=action.timeout_seconds,
                digest=action.digest,
                task_token=f"tok-{action.activation_id}",
            )
            self._try(lambda: self.desk.open(message))
        elif isinstance(action, WithdrawApproval):
            self.desk.withdraw(action.activation_id, action.step, action.reason)
        elif isinstance(action, SendWork):
            answer = StepSucceeded(
                journey_id=action.journey_id,
                activation_id=action.activation_id,
                actor=action.worker,
                proof=action.proof,
            )
            self._try(lambda: self.router.handle(answer))

    @staticmethod
    def _try(call: Any) -> None:
        with contextlib.suppress(Rejected, NotRecorded, ValueError):  # refused: what a hostile sequence mostly gets
            call()

    def released(self) -> bool:
        return any("release" in record.entered for record in self.store.records)

    def open_tickets(self) -> list[str]:
        return sorted(t.ticket_id for t in self.tickets.tickets.values() if t.status is TicketStatus.OPEN)


def operation(people: list[str]) -> st.SearchStrategy[tuple[Any, ...]]:
    """One thing someone does: decide a ticket, intervene, forge an answer, or let time pass."""
    who = st.sampled_from(people).flatmap(lambda name: st.one_of(st.just(name), st.just(name), spellings(name)))
    roles = st.one_of(
        st.sampled_from([["officer"], ["manager"], ["officer", "manager"]]),  # the honest path, often enough
        st.lists(st.sampled_from(ROLES), max_size=4),
    )
    decide = st.tuples(
        st.just("decide"), who, roles, st.sampled_from([Verdict.APPROVE] * 4 + [Verdict.REJECT]), st.integers(0, 5)
    )
    return st.one_of(
        *[decide] * 16,  # decisions are most of what happens; the rest interleave
        st.tuples(st.just("goto"), who, st.sampled_from(STEPS)),
        st.tuples(st.just("patch"), who, st.sampled_from(["amount", "maker", "beneficiary", "other"])),
        st.tuples(st.just("skip"), who),
        st.tuples(st.just("retry"), who),
        st.tuples(st.just("resume"), who),
        st.tuples(st.just("confirm"), who),
        st.tuples(
            st.just("forge"), st.sampled_from(["grant", "grant-stolen-proof", "step"]), st.lists(who, max_size=3)
        ),
        st.tuples(st.just("wait"), st.one_of(st.integers(1, 600), st.integers(3_000, 8_000))),
    )


def play(bank: Bank, op: tuple[Any, ...]) -> None:
    kind = op[0]
    journey = bank.store.load("j")
    assert journey is not None
    if kind == "decide":
        _, who, roles, verdict, pick = op
        tickets = bank.open_tickets() or sorted(bank.tickets.tickets)
        if not tickets:
            return
        reason = "looked at it" if verdict is Verdict.REJECT else None
        bank._try(
            lambda: bank.desk.record(
                Decision(
                    ticket_id=tickets[pick % len(tickets)], decision=verdict, approver=who, roles=roles, reason=reason
                )
            )
        )
    elif kind in ("goto", "skip", "retry", "resume", "confirm", "patch"):
        fields: dict[str, Any] = {}
        if kind == "goto":
            fields["step"] = op[2]
        if kind == "skip":
            fields["output"] = {"approval": {"outcome": "granted", "approvers": ["a", "b"]}}
        if kind == "patch":
            payment = dict(journey.state["payment"])
            changed = {"amount": 999_999, "maker": "someone-else", "beneficiary": "XX00EVIL"}
            if op[2] in changed:
                payment[op[2]] = changed[op[2]]
            fields["patch"] = {"payment": payment} if op[2] != "other" else {"note": "x"}
        command = Intervention(
            journey_id="j",
            command=Command(kind),
            expected_version=journey.version,
            actor=op[1],
            reason="because I can",
            **fields,
        )
        bank._try(lambda: bank.router.handle(command))
    elif kind == "forge":
        _, how, approvers = op
        for activation in list(journey.open):
            digest = journey.open[activation].digest
            if how == "step":
                forged: Any = StepSucceeded(journey_id="j", activation_id=activation, actor="x", proof="forged")
            else:
                proof = proof_for(b"not-the-key", "j", activation) if how == "grant" else proof_for(KEY, "j", "j.0")
                forged = ApprovalOutcome(
                    journey_id="j",
                    activation_id=activation,
                    outcome="granted",
                    approvers=approvers,
                    digest=digest,
                    proof=proof,
                )
            bank._try(lambda forged=forged: bank.router.handle(forged))
    elif kind == "wait":
        bank.clock.advance(op[1])
        for ticket_id in bank.tickets.lapsed(bank.clock()):
            bank._try(lambda ticket_id=ticket_id: bank.desk.lapse(ticket_id))
    bank.pump()


# Three times the profile's examples: 300 normally, 90 under the `mutation` profile (tests/conftest.py).
QUICK = settings(
    max_examples=3 * settings.default.max_examples, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@QUICK
@given(st.lists(operation(["mallory"]), max_size=30))
def test_one_person_holding_any_roles_never_releases_a_payment(ops: list[tuple[Any, ...]]) -> None:
    """The maker, under any spelling and with any roles, through decisions, interventions, forged answers and
    time: the release step is never entered."""
    bank = Bank()
    for op in ops:
        play(bank, op)
        assert not bank.released()


@QUICK
@given(st.lists(operation(["mallory", "olga"]), max_size=30))
def test_the_maker_and_one_accomplice_never_release_a_payment(ops: list[tuple[Any, ...]]) -> None:
    """The maker plus one other person: two levels need two people other than the maker, so never."""
    bank = Bank()
    for op in ops:
        play(bank, op)
        assert not bank.released()


@QUICK
@given(st.lists(operation(["alice", "bob", "carol", "mallory"]), max_size=40))
def test_a_release_needs_every_level_approved_by_a_different_person_on_the_same_digest(
    ops: list[tuple[Any, ...]],
) -> None:
    """With several people, a release happens only if each level of one approval was decided 'approve' by a
    different person, none the maker, each holding the level's role, all on the digest the grant recorded."""
    bank = Bank()
    for op in ops:
        play(bank, op)
        if not bank.released():
            continue
        journey = bank.store.load("j")
        assert journey is not None
        grant = journey.granted["approve"]
        activation = next(
            r.activation_id for r in bank.store.records if r.event == "approval_outcome" and r.step_result == "granted"
        )
        assert activation is not None
        levels = [bank.tickets.get(f"{activation}.L{n}") for n in (1, 2)]
        assert all(t is not None and t.decision is Verdict.APPROVE for t in levels)
        people = [canonical(t.decided_by or "") for t in levels if t]
        assert len(set(people)) == 2 and "mallory" not in people
        assert all(t.digest == grant.digest for t in levels if t)
        event("released")  # hypothesis --hypothesis-show-statistics: how often the honest path was found
        return
