"""Approval gates on the pure core: what lies behind an approval, what it binds, and the four-eyes override."""

from __future__ import annotations

from typing import Any

import pytest

from router.core.decide import Commit
from router.core.gates import GateRefused, digest, gates_before
from router.core.model import (
    ApprovalOutcome,
    Command,
    Intervention,
    Journey,
    StartApproval,
    StartJourney,
    StepSucceeded,
    WithdrawApproval,
)
from router.language.loader import parse
from router.language.registry import Registry
from router.ports.memory import MemoryDispatcher, MemoryStore
from router.runtime.service import Router
from tests.journey_driver import FakeClock

GATED = """
id: gated
version: "1.0.0"
owning_domain: bank-payments
start_at: check
steps:
  - {name: check, type: TASK, worker: w, sla_seconds: 60, next: approve}
  - name: approve
    type: APPROVAL
    amount: payment.amount
    initiator: payment.maker
    covers: [payment]
    sla_seconds: 7500
    levels:
      - {role: officer, timeout_seconds: 3600}
      - {role: manager, timeout_seconds: 3600}
    next: outcome
  - name: outcome
    type: DECISION
    branches: [{when: "approval.outcome == 'granted'", goto: release}]
    default: rejected
  - {name: release, type: TASK, worker: pay, sla_seconds: 60, next: released}
  - {name: released, type: SUCCESS}
  - {name: rejected, type: FAIL}
"""
DEFINITION = parse(GATED)


class World:
    def __init__(self, definition_text: str = GATED) -> None:
        self.definition = parse(definition_text)
        self.store, self.dispatcher, self.clock = MemoryStore(), MemoryDispatcher(), FakeClock(1_000.0)
        self.router = Router(Registry([self.definition]), self.store, self.dispatcher, self.clock)
        payment = {"payment": {"amount": 100, "maker": "mo"}, "note": "n"}
        self.router.handle(StartJourney(journey_id="j", definition_id="gated", input=payment, actor="channel"))
        self.router.handle(StepSucceeded(journey_id="j", activation_id="j.1", actor="w"))

    def journey(self) -> Journey:
        journey = self.store.load("j")
        assert journey is not None
        return journey

    def act(self, command: Command, actor: str = "olga", **fields: Any) -> Commit:
        outcome = self.router.handle(
            Intervention(
                journey_id="j",
                command=command,
                expected_version=self.journey().version,
                actor=actor,
                reason="operator fix",
                **fields,
            )
        )
        assert isinstance(outcome, Commit)
        return outcome

    def grant(self, approvers: list[str] | None = None) -> Commit:
        (activation,) = self.journey().open.values()
        outcome = self.router.handle(
            ApprovalOutcome(
                journey_id="j",
                activation_id=activation.id,
                outcome="granted",
                approvers=approvers or ["alice", "bob"],
                digest=activation.digest,
            )
        )
        assert isinstance(outcome, Commit)
        return outcome


def test_the_steps_behind_an_approval_are_those_every_path_reaches_through_it() -> None:
    """Dominators: the release and both ends lie behind the approval; the step before it does not."""
    assert [g.name for g in gates_before(DEFINITION, "release")] == ["approve"]
    assert [g.name for g in gates_before(DEFINITION, "rejected")] == ["approve"]
    assert gates_before(DEFINITION, "check") == [] and gates_before(DEFINITION, "approve") == []


def test_the_digest_covers_only_the_named_fields_and_is_order_blind() -> None:
    a = {"payment": {"amount": 1, "maker": "mo"}, "note": "x"}
    b = {"note": "y", "payment": {"maker": "mo", "amount": 1}}
    assert digest(["payment"], a) == digest(["payment"], b)
    assert digest(["payment"], a) != digest(["payment"], {**a, "payment": {"amount": 2, "maker": "mo"}})


def test_the_approval_activation_and_its_chain_carry_the_digest_of_what_it_covers() -> None:
    world = World()
    (activation,) = world.journey().open.values()
    (start,) = [a for a in world.dispatcher.performed if isinstance(a, StartApproval)]
    assert activation.covers == ["payment"] and activation.digest == start.digest
    assert start.digest == digest(["payment"], world.journey().state)


def test_a_grant_on_another_digest_is_void_and_asks_again_from_level_one() -> None:
    world = World()
    (activation,) = world.journey().open.values()
    commit = world.router.handle(
        ApprovalOutcome(
            journey_id="j", activation_id=activation.id, outcome="granted", approvers=["a", "b"], digest="x"
        )
    )
    assert isinstance(commit, Commit) and commit.record.lifecycle == ["approval_voided"]
    assert commit.journey.step == "approve" and activation.id not in commit.journey.open
    assert "approve" not in commit.journey.granted and "release" not in commit.record.entered


@pytest.mark.parametrize("approvers", [["alice"], ["alice", "ALICE"], ["alice", "mo"]], ids=["one", "twice", "maker"])
def test_a_grant_not_by_enough_different_people_other_than_the_maker_is_refused(approvers: list[str]) -> None:
    world = World()
    with pytest.raises(GateRefused, match="approval-gate"):
        world.grant(approvers)
    assert world.journey().step == "approve"


def test_a_grant_records_what_was_certified_and_a_later_patch_of_it_goes_back_to_the_approval() -> None:
    """Granted, then the release fails; patching the amount voids the grant and asks again, retry cannot pass."""
    world = World()
    world.grant()
    assert world.journey().step == "release" and "approve" in world.journey().granted
    world.act(Command.PATCH, patch={"note": "not covered"})
    assert world.journey().step == "release"  # a field the approval does not cover changes nothing
    commit = world.act(Command.PATCH, patch={"payment": {"amount": 999_999, "maker": "mo"}})
    assert commit.journey.step == "approve" and commit.record.lifecycle == ["approval_voided"]
    assert "approve" not in commit.journey.granted
    with pytest.raises(GateRefused, match="approval-gate"):
        world.act(Command.GOTO, step="release")


def test_a_patch_while_the_approval_waits_withdraws_it_and_asks_again() -> None:
    world = World()
    (before,) = world.journey().open.values()
    commit = world.act(Command.PATCH, patch={"payment": {"amount": 5, "maker": "mo"}})
    (after,) = commit.journey.open.values()
    assert after.id != before.id and after.digest != before.digest
    withdrawn = [a for a in commit.actions if isinstance(a, WithdrawApproval)]
    assert [w.activation_id for w in withdrawn] == [before.id] and "patch by olga" in withdrawn[0].reason


def test_the_maker_field_is_never_patched_even_inside_a_bigger_object() -> None:
    world = World()
    with pytest.raises(GateRefused, match="maker-field"):
        world.act(Command.PATCH, patch={"payment": {"amount": 100, "maker": "someone-else"}})


def test_an_approval_cannot_be_skipped_whatever_output_is_offered() -> None:
    world = World()
    with pytest.raises(GateRefused, match="approval-gate"):
        world.act(Command.SKIP, output={"approval": {"outcome": "granted"}})
    assert world.journey().step == "approve" and world.journey().version == 2


OVERRIDABLE = GATED.replace("    covers: [payment]\n", "    covers: [payment]\n    override: four-eyes\n")


def test_an_override_needs_a_second_different_person_who_is_not_the_maker() -> None:
    """goto past an overridable gate is only proposed; the proposer and the maker cannot confirm; another can."""
    world = World(OVERRIDABLE)
    proposed = world.act(Command.GOTO, step="release", actor="olga")
    assert proposed.journey.step == "approve" and proposed.journey.override is not None
    for who in ("OLGA", "mo"):
        with pytest.raises(GateRefused, match="four-eyes"):
            world.act(Command.CONFIRM, actor=who)
    confirmed = world.act(Command.CONFIRM, actor="pete")
    assert confirmed.journey.step == "release" and "proposed by olga" in (confirmed.record.reason or "")
    assert confirmed.record.actor == "pete"


def test_a_confirmation_after_the_journey_moved_on_is_refused() -> None:
    world = World(OVERRIDABLE)
    world.act(Command.GOTO, step="release", actor="olga")
    world.act(Command.PATCH, patch={"note": "changed"}, actor="olga")  # any later transition drops the proposal
    with pytest.raises(GateRefused, match="four-eyes"):
        world.act(Command.CONFIRM, actor="pete")


def test_a_decision_failing_on_the_state_says_why_without_quoting_the_customers_value() -> None:
    """A `when` comparing a number with a string the customer typed: refused, and the value stays out of it."""
    from router.language.expressions import ExpressionError

    text = """
id: compare
version: "1.0.0"
owning_domain: bank-core
start_at: route
steps:
  - name: route
    type: DECISION
    branches: [{when: "abs(iban) > `5`", goto: done}]
    default: done
  - {name: done, type: SUCCESS}
"""
    router = Router(Registry([parse(text)]), MemoryStore(), MemoryDispatcher(), FakeClock())
    with pytest.raises(ExpressionError) as refused:
        router.handle(StartJourney(journey_id="x", definition_id="compare", input={"iban": "GB82SECRET"}))
    assert "SECRET" not in str(refused.value) and "route" in str(refused.value)
