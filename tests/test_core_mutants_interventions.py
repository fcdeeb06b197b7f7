"""router/core/interventions.py under mutation: every operator command, accepted and refused, as golden transitions.

The behaviour tests check that the maker-checker rules refuse; mutation testing found that little checks what an
accepted command commits (its record, the activations it withdraws, the state it leaves) or the words of each
refusal, which the operator reads. These scenarios pin both.
"""

from __future__ import annotations

from typing import Any

from router.core.gates import FOUR_EYES, GateRefused
from router.core.model import (
    ApprovalOutcome,
    Command,
    Intervention,
    RetriesExhausted,
    StartJourney,
    StepSucceeded,
)
from router.language.loader import parse
from tests.golden import Scenario, check

OPS = """
id: golden-ops
version: "1.0.0"
owning_domain: bank-payments
input_schema:
  type: object
  required: [payment]
  properties: {payment: {type: object, properties: {amount: {type: number}}}}
on_cancel: {emit: bank.payments.payment_withdrawn, reason: withdrawn}
start_at: check
steps:
  - {name: check, type: TASK, worker: w, sla_seconds: 60, retry: {max_attempts: 1}, next: details}
  - name: details
    type: INPUT
    sla_seconds: 600
    input_schema: {type: object, required: [iban], properties: {iban: {type: string}}}
    store_as: beneficiary
    next: approve
  - name: approve
    type: APPROVAL
    amount: payment.amount
    initiator: payment.maker
    covers: [payment]
    override: four-eyes
    sla_seconds: 7500
    levels:
      - {role: officer, timeout_seconds: 3600}
      - {role: manager, timeout_seconds: 3600}
    next: outcome
  - name: outcome
    type: DECISION
    branches: [{when: "approval.outcome == 'granted'", goto: release}]
    default: rejected
  - {name: release, type: TASK, worker: pay, sla_seconds: 60, next: pause}
  - {name: pause, type: WAIT, seconds: 60, next: released}
  - {name: released, type: SUCCESS}
  - {name: rejected, type: FAIL, error: PaymentRejected}
"""
DEFINITION = parse(OPS)
STRICT = parse(OPS.replace("    override: four-eyes\n", "").replace("id: golden-ops", "id: golden-ops-strict"))


class Desk(Scenario):
    """A payment journey and the operators' desk in front of it."""

    def __init__(self, definition=DEFINITION) -> None:
        super().__init__(definition)
        payment = {"payment": {"amount": 100, "maker": "mo"}, "note": "n"}
        self.send(StartJourney(journey_id="j", definition_id=definition.id, input=payment, actor="channel"), 1_000.0)
        self.now = 1_000.0

    def act(self, command: Command, actor: str = "olga", version: int | None = None, **fields: Any) -> Any:
        assert self.journey is not None
        self.now += 10
        expected = self.journey.version if version is None else version
        event = Intervention(
            journey_id="j",
            command=command,
            expected_version=expected,
            actor=actor,
            reason=f"{command.value} fix",
            **fields,
        )
        return self.send(event, self.now)

    def answer(self, activation: str, **output: Any) -> None:
        self.now += 10
        self.send(StepSucceeded(journey_id="j", activation_id=activation, actor="w", output=output), self.now)

    def grant(self) -> None:
        assert self.journey is not None
        (activation,) = self.journey.open.values()
        self.now += 10
        outcome = ApprovalOutcome(
            journey_id="j",
            activation_id=activation.id,
            outcome="granted",
            approvers=["alice", "bob"],
            digest=activation.digest,
        )
        self.send(outcome, self.now)


def test_retry_skip_and_the_refusals_on_the_way_are_golden() -> None:
    """Retry the task; skip it with an output; skip the input with bad then good data (kept under store_as); an
    approval is never skipped; once granted, the step behind it may be retried; a WAIT cannot be; the maker never
    intervenes; a stale version is refused."""
    d = Desk()
    d.act(Command.RETRY)
    d.act(Command.RETRY, actor="MO")
    d.act(Command.RETRY, version=1)
    d.act(Command.SKIP, output={"kyc": "ok"})
    d.act(Command.SKIP, output={"iban": 7})
    d.act(Command.SKIP, output={"iban": "DE00"})
    d.act(Command.SKIP)
    d.grant()
    d.act(Command.RETRY)
    d.answer("j.6")
    d.act(Command.RETRY)
    check("interventions/retry-and-skip", d.log)


def test_goto_and_the_four_eyes_override_are_golden() -> None:
    """goto needs a known step; past an overridable gate it is only proposed; the proposer and the maker cannot
    confirm; a second person can, once; on a definition whose gate allows no override, goto past it is refused."""
    d = Desk()
    d.act(Command.GOTO)
    d.act(Command.GOTO, step="nowhere")
    d.act(Command.GOTO, step="details")
    d.act(Command.GOTO, step="release")
    d.act(Command.CONFIRM, actor="Olga")
    d.act(Command.CONFIRM, actor="mo")
    d.act(Command.CONFIRM, actor="bob")
    d.act(Command.CONFIRM, actor="carol")
    check("interventions/goto-and-override", d.log)

    s = Desk(STRICT)
    refused = s.act(Command.GOTO, step="release")
    assert isinstance(refused, GateRefused) and refused.rule == "approval-gate"
    s.act(Command.GOTO, step="approve")
    check("interventions/goto-strict", s.log)


def test_a_confirmation_of_an_override_proposed_at_another_version_is_refused() -> None:
    """An override is confirmed only at the version it was proposed for: anything committed since voids it."""
    d = Desk()
    d.act(Command.GOTO, step="release")
    assert d.journey is not None
    moved = d.journey.model_copy(update={"version": d.journey.version + 1})
    d.journey = moved
    refused = d.act(Command.CONFIRM, actor="bob")
    assert isinstance(refused, GateRefused) and refused.rule == FOUR_EYES


def test_resume_is_for_escalated_journeys_only_and_re_enters_the_step() -> None:
    """Resume of a running journey is refused; of an escalated one, it opens the step afresh."""
    d = Desk()
    d.act(Command.RESUME)
    d.now += 10
    d.send(RetriesExhausted(journey_id="j", activation_id="j.1", error="Timeout", message="slow"), d.now)
    d.act(Command.RESUME, actor="mo")
    d.act(Command.RESUME)
    check("interventions/resume", d.log)


def test_patches_refused_plain_and_voiding_are_golden() -> None:
    """An empty patch, one breaking the input schema and one editing the maker are refused; a patch of a field no
    approval covers changes the state only; one of a covered field while the approval waits withdraws and asks it
    again; after a grant, one that changes what it certified sends the journey back to the approval."""
    d = Desk()
    d.act(Command.SKIP, output={})
    d.act(Command.SKIP, output={"iban": "DE00"})
    d.act(Command.PATCH)
    d.act(Command.PATCH, patch={"payment": {"amount": "lots"}})
    d.act(Command.PATCH, patch={"payment": {"amount": 100, "maker": "olga"}})
    d.act(Command.PATCH, patch={"note": "m"})
    d.act(Command.PATCH, patch={"payment": {"amount": 90, "maker": "mo"}})
    d.grant()
    d.act(Command.PATCH, patch={"payment": {"amount": 80, "maker": "mo"}})
    check("interventions/patch", d.log)


def test_cancel_withdraws_the_approval_publishes_on_cancel_and_ends_every_command() -> None:
    """A cancel (the maker may) ends the journey, withdraws its waiting approval and publishes the definition's
    on_cancel event; any command after it is refused."""
    d = Desk()
    d.act(Command.SKIP, output={})
    d.act(Command.SKIP, output={"iban": "DE00"})
    d.act(Command.CANCEL, actor="mo")
    d.act(Command.RETRY)
    check("interventions/cancel", d.log)
