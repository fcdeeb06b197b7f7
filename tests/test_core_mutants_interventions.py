"""router/core/interventions.py under mutation: every operator command, accepted and refused, as golden transitions.

The behaviour tests check that the maker-checker rules refuse; mutation testing found that little checks what an
accepted command commits (its record, the activations it withdraws, the state it leaves) or the words of each
refusal, which the operator reads. These scenarios pin both.
"""

from __future__ import annotations

from typing import Any

from router.core.gates import APPROVAL_GATE, FOUR_EYES, GateRefused
from router.core.model import (
    ApprovalOutcome,
    Command,
    InputSubmitted,
    Intervention,
    JourneyStatus,
    RetriesExhausted,
    StartJourney,
    StepSucceeded,
)
from router.core.outcomes import Rejected
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


# A worker after the approval that hands back a changed payment: the grant no longer stands for what follows.
LATER = parse(
    OPS.replace("  - {name: release, type: TASK, worker: pay, sla_seconds: 60, next: pause}\n", "")
    .replace(
        "  - {name: pause, type: WAIT, seconds: 60, next: released}\n",
        "  - {name: release, type: TASK, worker: pay, sla_seconds: 60, next: notify}\n"
        "  - {name: notify, type: TASK, worker: mail, sla_seconds: 60, next: released}\n",
    )
    .replace("id: golden-ops", "id: golden-ops-later")
)


def granted(definition=LATER) -> Desk:
    """A desk whose journey was granted and now waits on the release task behind the approval."""
    d = Desk(definition)
    d.answer("j.1")
    d.send(InputSubmitted(journey_id="j", activation_id="j.2", data={"iban": "DE00"}), d.now)
    d.grant()
    assert d.journey is not None and d.journey.step == "release"
    return d


def test_retry_and_resume_of_a_step_behind_an_approval_granted_on_other_values_are_refused() -> None:
    """The release worker changed the payment the approval certified: no operator may run the step behind the
    approval again, whether by retry or (once escalated) by resume. The gate names the approval."""
    d = granted()
    (release,) = d.journey.open
    d.answer(release, payment={"amount": 5_000, "maker": "mo"})
    assert d.journey.step == "notify"
    refused = d.act(Command.RETRY)
    assert isinstance(refused, GateRefused) and refused.rule == APPROVAL_GATE
    assert "lies behind approval 'approve'" in str(refused)
    (notify,) = d.journey.open
    d.now += 10
    d.send(RetriesExhausted(journey_id="j", activation_id=notify, error="Timeout"), d.now)
    assert d.journey.status is JourneyStatus.STUCK
    refused = d.act(Command.RESUME)
    assert isinstance(refused, GateRefused) and refused.rule == APPROVAL_GATE
    assert d.journey.status is JourneyStatus.STUCK and d.journey.open == {notify: d.journey.open[notify]}


def test_resume_of_an_escalated_step_behind_an_approval_still_granted_runs_it_again() -> None:
    """An escalated release behind a grant that still stands: resume opens the release afresh and sends its work."""
    d = granted()
    (release,) = d.journey.open
    d.now += 10
    d.send(RetriesExhausted(journey_id="j", activation_id=release, error="Timeout"), d.now)
    assert d.journey.status is JourneyStatus.STUCK
    resumed = d.act(Command.RESUME)
    assert not isinstance(resumed, Exception)
    assert d.journey.status is JourneyStatus.RUNNING and d.journey.step == "release"
    (again,) = d.journey.open.values()
    assert again.id != release and again.worker == "pay"
    assert [a.kind for a in resumed.actions] == ["send_work"]


def test_an_override_proposed_on_a_stuck_journey_leaves_it_stuck_until_confirmed() -> None:
    """A goto past the overridable approval, proposed while the journey is escalated, is only recorded: the
    journey stays STUCK (in the operators' queue) and keeps its open activation until a second person confirms."""
    d = Desk()
    d.now += 10
    d.send(RetriesExhausted(journey_id="j", activation_id="j.1", error="Timeout"), d.now)
    assert d.journey is not None and d.journey.status is JourneyStatus.STUCK
    proposed = d.act(Command.GOTO, step="release")
    assert not isinstance(proposed, Exception)
    assert proposed.record.status is JourneyStatus.STUCK
    assert d.journey.status is JourneyStatus.STUCK and list(d.journey.open) == ["j.1"]
    assert d.journey.override is not None and d.journey.override.step == "release"
    d.act(Command.CONFIRM, actor="bob")
    assert d.journey.status is JourneyStatus.RUNNING and d.journey.step == "release"


def test_a_skip_behind_a_standing_grant_goes_on_and_one_that_changes_what_it_certified_is_refused() -> None:
    """Skipping the release with an output beside the payment moves on (the grant still stands); skipping it with
    an output that changes the certified payment is refused by the gate, and the journey stays where it was."""
    d = granted()
    (release,) = d.journey.open
    refused = d.act(Command.SKIP, output={"payment": {"amount": 5_000, "maker": "mo"}})
    assert isinstance(refused, GateRefused) and refused.rule == APPROVAL_GATE
    assert d.journey.step == "release" and list(d.journey.open) == [release]
    d.act(Command.SKIP, output={"reference": "R1"})
    assert d.journey.step == "notify" and d.journey.state["reference"] == "R1"
    assert "approve" in d.journey.granted


def test_a_goto_to_a_step_behind_a_standing_grant_moves_there_without_asking_for_an_override() -> None:
    """The approval was granted on the payment as it is: a goto past it is an ordinary move, not a proposal."""
    d = granted()
    moved = d.act(Command.GOTO, step="notify")
    assert not isinstance(moved, Exception) and moved.record.step_result == "moved to notify"
    assert d.journey.step == "notify" and d.journey.override is None


def test_a_wait_cannot_be_skipped() -> None:
    """Skip is for steps that wait on someone; a WAIT is refused with a message that names the step and its type."""
    d = Desk()
    d.act(Command.SKIP, output={})
    d.act(Command.SKIP, output={"iban": "DE00"})
    d.grant()
    assert d.journey is not None
    d.answer(next(iter(d.journey.open)))
    assert d.journey.step == "pause"
    refused = d.act(Command.SKIP)
    assert type(refused) is Rejected and str(refused) == "step 'pause' is a WAIT: it cannot be skipped"


PLAIN = parse(
    """
id: plain-input
version: "1"
owning_domain: x
input_schema: {type: object, properties: {a: {type: string}, b: {type: string}}}
start_at: ask
steps:
  - name: ask
    type: INPUT
    sla_seconds: 600
    input_schema: {type: object, required: [x, y], properties: {x: {type: string}, y: {type: string}}}
    next: work
  - {name: work, type: TASK, worker: w, sla_seconds: 60, next: done}
  - {name: done, type: SUCCESS}
"""
)


def test_skip_and_patch_report_every_schema_error_and_an_input_without_store_as_merges_into_the_state() -> None:
    """Every rule the operator's data breaks is listed, separated by '; '; an INPUT step without store_as takes
    the skipped output into the state as it is; a patch of two fields names both, sorted."""
    d = Desk(PLAIN)
    refused = d.act(Command.SKIP, output={"x": 1})
    assert (
        str(refused)
        == "output for step 'ask' is not valid: (root): 'y' is a required property; x: must satisfy type='string'"
    )
    d.act(Command.SKIP, output={"x": "1", "y": "2"})
    assert d.journey is not None and d.journey.state["x"] == "1" and d.journey.state["y"] == "2"
    refused = d.act(Command.PATCH, patch={"a": 1, "b": 2})
    assert str(refused) == (
        "the patched state breaks plain-input's input_schema: a: must satisfy type='string'; "
        "b: must satisfy type='string'"
    )
    patched = d.act(Command.PATCH, patch={"b": "2", "a": "1"})
    assert patched.record.step_result == "patched a, b"


def test_a_patch_of_a_stuck_journey_keeps_it_stuck_and_any_patch_drops_a_proposed_override() -> None:
    """A patch is a correction, not a resume: an escalated journey stays STUCK. A pending override was proposed
    on the state before the patch, so the patch withdraws it (the journey shows no proposal to confirm)."""
    d = Desk()
    d.act(Command.GOTO, step="release")
    assert d.journey is not None and d.journey.override is not None
    d.act(Command.PATCH, patch={"note": "m"})
    assert d.journey.override is None
    d.now += 10
    d.send(RetriesExhausted(journey_id="j", activation_id="j.1", error="Timeout"), d.now)
    assert d.journey.status is JourneyStatus.STUCK
    patched = d.act(Command.PATCH, patch={"note": "o"})
    assert patched.record.status is JourneyStatus.STUCK and d.journey.status is JourneyStatus.STUCK


BYPASS = parse(
    """
id: bypass
version: "1"
owning_domain: x
start_at: route
steps:
  - name: route
    type: DECISION
    branches: [{when: "fast", goto: join}]
    default: approve
  - name: approve
    type: APPROVAL
    covers: [amount]
    sla_seconds: 7500
    levels: [{role: officer, timeout_seconds: 3600}]
    next: join
  - {name: join, type: TASK, worker: w, sla_seconds: 60, next: wrap}
  - {name: wrap, type: TASK, worker: w, sla_seconds: 60, next: done}
  - {name: done, type: SUCCESS}
"""
)


def test_a_skip_that_changes_what_an_approval_certified_drops_that_grant_from_the_journey() -> None:
    """`join` can be reached without the approval, so a skip there may change the amount; the grant certified
    the old amount, and the journey no longer holds it."""
    s = Scenario(BYPASS)
    s.send(StartJourney(journey_id="j", definition_id="bypass", input={"amount": 5, "fast": False}, actor="c"), 1.0)
    assert s.journey is not None
    asked = s.journey.open["j.1"]
    grant = ApprovalOutcome(
        journey_id="j", activation_id="j.1", outcome="granted", approvers=["ann"], digest=asked.digest
    )
    s.send(grant, 2.0)
    assert s.journey.step == "join" and "approve" in s.journey.granted
    skip = Intervention(
        journey_id="j", command=Command.SKIP, expected_version=2, actor="olga", reason="fix it", output={"amount": 9}
    )
    s.send(skip, 3.0)
    assert s.journey.step == "wrap" and s.journey.state["amount"] == 9
    assert s.journey.granted == {}
