"""router/core/decide.py under mutation: every kind of answer, pinned whole as golden transitions.

The tests written for behaviour check the fields each one is about; mutation testing found decisions whose other
fields (the record's event and step_result, waited, the close-token action, the absorbed reason, a refusal's
message) could change with every test still passing. These scenarios pin the whole outcome instead.
"""

from __future__ import annotations

import pytest

from router.core.decide import decide
from router.core.gates import GateRefused
from router.core.model import (
    ApprovalOutcome,
    ArmTimer,
    CloseToken,
    Command,
    InputSubmitted,
    Intervention,
    JourneyStatus,
    StartJourney,
    StepFailed,
    StepSucceeded,
    TimerFired,
)
from router.language.loader import parse
from tests.golden import Scenario, check

FLOW = """
id: golden
version: "1.0.0"
owning_domain: bank-core
retention_days: 30
input_schema: {type: object, required: [name], properties: {name: {type: string}}}
start_at: check
steps:
  - name: check
    type: TASK
    worker: kyc
    sla_seconds: 60
    next: route
    catch: [{errors: [Fraud], next: refused, result_path: failure}]
  - name: route
    type: DECISION
    branches: [{when: "kyc == 'CLEAR'", goto: screens}]
    default: details
  - name: details
    type: INPUT
    sla_seconds: 600
    input_schema: {type: object, required: [passport], properties: {passport: {type: string}}}
    store_as: documents
    next: screens
  - name: screens
    type: PARALLEL
    branches:
      - {name: fraud, worker: fraud, sla_seconds: 60}
      - {name: sanctions, worker: sanctions, sla_seconds: 90}
    next: pause
  - {name: pause, type: WAIT, seconds: 30, next: done}
  - {name: done, type: SUCCESS, emit: bank.core.kyc_done, reason: completed}
  - {name: refused, type: FAIL, error: Refused, cause: the bureau refused, emit: bank.core.kyc_refused, reason: refused}
"""
DEFINITION = parse(FLOW)

PAYMENT = """
id: golden-pay
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
    branches: [{when: "approval.outcome == 'granted'", goto: released}]
    default: rejected
  - {name: released, type: SUCCESS}
  - {name: rejected, type: FAIL, error: PaymentRejected}
"""
PAY = parse(PAYMENT)


def started(definition=DEFINITION, **fields) -> Scenario:
    scenario = Scenario(definition)
    start = {"journey_id": "j", "definition_id": definition.id, "actor": "channel", "business_key": "bk-1"}
    scenario.send(StartJourney(**{**start, "input": {"name": "Ann"}, **fields}), now=1_000.0)
    return scenario


def test_a_journey_through_task_decision_parallel_and_wait_to_its_end_is_golden() -> None:
    """Start, the task answered with a token (and redelivered), both branches (the first leaves it waiting), an early
    timer, the timer, the end: each transition whole, its waited, its actions and the end's emits, lasted and expiry."""
    s = started()
    answer = StepSucceeded(journey_id="j", activation_id="j.1", output={"kyc": "CLEAR"}, actor="kyc", task_token="t1")
    s.send(answer, 1_010.0)
    s.send(answer, 1_011.0, redelivered=True)
    s.send(StepSucceeded(journey_id="j", activation_id="j.2.fraud", output={"fraud": "ok"}, actor="fraud"), 1_020.0)
    s.send(StepSucceeded(journey_id="j", activation_id="j.2.sanctions", actor="sanctions"), 1_030.0)
    s.send(TimerFired(journey_id="j", activation_id="j.4"), 1_040.0)
    s.send(TimerFired(journey_id="j", activation_id="j.4"), 1_061.0)
    check("decide/happy-path", s.log)


def test_duplicates_stale_answers_and_refused_events_are_golden() -> None:
    """A duplicate start and answer (a plain copy sends nothing, a redelivery re-sends what is still open), a
    stale activation, an answer of the wrong kind, bad input, an unknown journey, an answer after the end."""
    s = started()
    s.send(StartJourney(journey_id="j", definition_id="golden", input={"name": "Ann"}), 1_001.0)
    s.send(StartJourney(journey_id="j", definition_id="golden", input={"name": "Ann"}), 1_001.0, redelivered=True)
    s.send(InputSubmitted(journey_id="j", activation_id="j.1", data={"passport": "P1"}), 1_002.0)
    s.send(StepSucceeded(journey_id="j", activation_id="j.1", output={"kyc": "REFER"}, actor="kyc"), 1_003.0)
    answer = StepSucceeded(journey_id="j", activation_id="j.1", actor="kyc", task_token="t1")
    s.send(answer, 1_004.0)
    s.send(answer, 1_004.0, redelivered=True)
    s.send(StepSucceeded(journey_id="j", activation_id="j.9", actor="kyc"), 1_005.0)
    s.send(InputSubmitted(journey_id="j", activation_id="j.2", data={"passport": 7}), 1_006.0)
    s.send(InputSubmitted(journey_id="j", activation_id="j.2", data={"passport": "P1"}, actor="ann"), 1_007.0)
    check("decide/duplicates-and-refusals", s.log)

    fresh = Scenario(DEFINITION)
    fresh.send(StartJourney(journey_id="k", definition_id="golden", input={"name": 3}), 1_000.0)
    fresh.send(StepSucceeded(journey_id="k", activation_id="k.1", actor="kyc"), 1_000.0)
    check("decide/refused-start-and-unknown-journey", fresh.log)


def test_a_failed_step_fails_the_journey_or_falls_back_to_its_catch_and_both_are_golden() -> None:
    """A terminal failure nobody catches fails the journey (its token closed); a caught one goes to the catch's
    step with the error under its result_path and the FAIL step's emit naming the failure."""
    s = started()
    s.send(
        StepFailed(journey_id="j", activation_id="j.1", error="Bad", message="no", actor="kyc", task_token="t"), 1_020.0
    )
    s.send(StepSucceeded(journey_id="j", activation_id="j.1", actor="kyc"), 1_021.0)
    check("decide/terminal-failure", s.log)

    c = started()
    c.send(
        StepFailed(journey_id="j", activation_id="j.1", error="Fraud", message="id theft", actor="kyc", task_token="t"),
        1_020.0,
    )
    check("decide/caught-failure", c.log)


def test_approval_outcomes_granted_rejected_expired_and_voided_are_golden() -> None:
    """Granted on the digest asked (the grant recorded), rejected with a reason, expired, and a grant on a digest
    the covered fields no longer have: voided, asked again from level 1."""
    payment = {"payment": {"amount": 2_500, "maker": "mo"}}
    for outcome in ("granted", "rejected", "expired"):
        s = started(PAY, input=payment)
        assert s.journey is not None
        (activation,) = s.journey.open.values()
        fields = {
            "granted": {"approvers": ["olivia", "max"], "digest": activation.digest},
            "rejected": {"approvers": ["olivia"], "rejected_by": "max", "reason": "beneficiary unknown"},
            "expired": {},
        }[outcome]
        s.send(ApprovalOutcome(journey_id="j", activation_id=activation.id, outcome=outcome, **fields), 1_500.0)
        check(f"decide/approval-{outcome}", s.log)

    v = started(PAY, input=payment)
    v.send(
        ApprovalOutcome(
            journey_id="j", activation_id="j.1", outcome="granted", approvers=["olivia", "max"], digest="stale"
        ),
        1_500.0,
    )
    v.send(ApprovalOutcome(journey_id="j", activation_id="j.2", outcome="granted", approvers=["olivia", "mo"]), 1_600.0)
    v.send(
        ApprovalOutcome(journey_id="j", activation_id="j.2", outcome="granted", approvers=["olivia", "OLIVIA"]), 1_600.0
    )
    check("decide/approval-voided-and-refused", v.log)


def test_a_grant_names_every_approver_and_a_maker_named_only_in_the_state_is_refused() -> None:
    """The grant kept on the journey lists its approvers; a grant that includes the maker the step's `initiator`
    names in the state (not the journey's initiator) is refused by the approval-gate rule."""
    s = started(PAY, input={"payment": {"amount": 10, "maker": "mo"}})
    assert s.journey is not None
    d = s.journey.open["j.1"].digest
    refused = s.send(
        ApprovalOutcome(journey_id="j", activation_id="j.1", outcome="granted", approvers=["Mo", "ann"], digest=d),
        1_100.0,
    )
    assert isinstance(refused, GateRefused) and refused.rule == "approval-gate"
    assert "must come from 2 different people, none of them the maker" in str(refused)
    s.send(
        ApprovalOutcome(journey_id="j", activation_id="j.1", outcome="granted", approvers=["ann", "bob"], digest=d),
        1_100.0,
    )
    assert s.journey.granted["approve"].approvers == ["ann", "bob"]


def test_the_close_token_of_an_answer_carries_its_ids_and_token() -> None:
    """An answer that came through a retry chain closes its token: success, with the activation and journey."""
    s = started()
    out = s.send(
        StepSucceeded(journey_id="j", activation_id="j.1", output={"kyc": "CLEAR"}, actor="kyc", task_token="tok"),
        1_010.0,
    )
    closes = [a for a in out.actions if isinstance(a, CloseToken)]
    assert closes == [CloseToken(activation_id="j.1", journey_id="j", task_token="tok", success=True)]


def test_a_duplicate_is_a_plain_copy_unless_the_caller_says_it_was_redelivered() -> None:
    """`redelivered` defaults to False: a duplicate answer decided without it re-sends none of its work."""
    s = started()
    answer = StepSucceeded(journey_id="j", activation_id="j.1", output={"kyc": "CLEAR"}, actor="kyc")
    s.send(answer, 1_010.0)
    assert s.journey is not None
    assert decide(DEFINITION, s.journey, answer, 1_011.0).actions == []
    assert len(decide(DEFINITION, s.journey, answer, 1_011.0, redelivered=True).actions) == 2


NO_MAKER = PAYMENT.replace("    initiator: payment.maker\n", "").replace("id: golden-pay", "id: golden-pay-plain")


@pytest.mark.parametrize(
    ("definition", "state"),
    [(PAY, {}), (PAY, {"payment": {"amount": 5, "maker": 7}}), (parse(NO_MAKER), {"payment": {"amount": 5}})],
    ids=["nothing-to-cover", "maker-not-text", "no-maker-field"],
)
def test_a_grant_on_an_unchanged_state_is_applied_whatever_the_approval_covers_or_names(definition, state) -> None:
    """An approval opened on an empty state (it covers no field), one whose maker field holds no text, and one with
    no maker field at all: two other people's grant on the digest asked is applied and the journey moves on."""
    s = Scenario(definition)
    s.send(StartJourney(journey_id="j", definition_id=definition.id, input=state, actor="channel"), 1_000.0)
    assert s.journey is not None
    d = s.journey.open["j.1"].digest
    s.send(
        ApprovalOutcome(journey_id="j", activation_id="j.1", outcome="granted", approvers=["ann", "bob"], digest=d),
        1_100.0,
    )
    assert s.journey.status is JourneyStatus.SUCCEEDED and s.journey.granted["approve"].digest == d


def test_a_redelivered_duplicate_start_re_sends_the_approval_its_first_transition_opened() -> None:
    """A retried start of a journey that begins with an approval: the approval chain is started again (idempotent
    by activation), with the same levels, amount, maker and digest as the first time."""
    s = started(PAY, input={"payment": {"amount": 2_500, "maker": "mo"}})
    first = s.log[0]["commit"]["actions"]
    again = s.send(StartJourney(journey_id="j", definition_id=PAY.id, input={}), 1_001.0, redelivered=True)
    assert [a.model_dump(mode="json") for a in again.actions] == first
    assert first[0]["kind"] == "start_approval" and first[0]["initiator"] == "mo"


def test_a_redelivered_answer_re_arms_its_timer_for_the_time_still_to_wait() -> None:
    """The answer that entered a WAIT, retried after a crash: the timer is armed again for what is left of the
    wait at the time of the retry, not for the whole wait."""
    s = started()
    s.send(StepSucceeded(journey_id="j", activation_id="j.1", output={"kyc": "CLEAR"}, actor="kyc"), 1_010.0)
    s.send(StepSucceeded(journey_id="j", activation_id="j.2.fraud", actor="fraud"), 1_020.0)
    last = StepSucceeded(journey_id="j", activation_id="j.2.sanctions", actor="sanctions")
    s.send(last, 1_030.0)
    again = s.send(last, 1_042.0, redelivered=True)
    assert again.actions == [ArmTimer(activation_id="j.4", journey_id="j", delay_seconds=18)]


NO_COVERS = PAYMENT.replace("id: golden-pay", "id: golden-pay-all")  # no `covers`: every field it was entered with


def test_a_field_added_while_an_approval_waits_is_not_one_it_covers_so_the_grant_stands() -> None:
    """An approval without `covers` certifies the fields the state had when it opened. A patch that only adds a
    new field does not ask it again, and a grant on the digest asked is applied, not voided."""
    definition = parse(NO_COVERS)
    s = Scenario(definition)
    start = StartJourney(journey_id="j", definition_id=definition.id, input={"payment": {"amount": 5}}, actor="c")
    s.send(start, 1_000.0)
    assert s.journey is not None
    asked = s.journey.open["j.1"]
    assert asked.covers == ["payment"]
    patch = Intervention(
        journey_id="j",
        command=Command.PATCH,
        expected_version=1,
        actor="olga",
        reason="add a note",
        patch={"note": "n"},
    )
    s.send(patch, 1_050.0)
    assert list(s.journey.open) == ["j.1"] and s.journey.state["note"] == "n"
    s.send(
        ApprovalOutcome(
            journey_id="j", activation_id="j.1", outcome="granted", approvers=["ann", "bob"], digest=asked.digest
        ),
        1_100.0,
    )
    assert s.journey.status is JourneyStatus.SUCCEEDED
    assert s.journey.granted["approve"].paths == ["payment"]


PAUSED_THEN_APPROVED = parse(
    """
id: paused
version: "1"
owning_domain: x
input_schema: {type: object, properties: {a: {type: string}, b: {type: string}}}
start_at: pause
steps:
  - {name: pause, type: WAIT, seconds: 30, next: check}
  - {name: check, type: TASK, worker: w, sla_seconds: 60, next: approve}
  - name: approve
    type: APPROVAL
    sla_seconds: 7500
    levels: [{role: officer, timeout_seconds: 3600}]
    next: done
  - {name: done, type: SUCCESS, emit: x.done}
"""
)


def test_redelivered_duplicates_re_send_the_timer_left_and_the_approval_their_transitions_opened() -> None:
    """A retried start of a journey that begins with a WAIT arms the timer for what is left of the wait; a retried
    answer whose transition entered an approval starts that approval chain again."""
    s = Scenario(PAUSED_THEN_APPROVED)
    s.send(StartJourney(journey_id="j", definition_id="paused", input={}, actor="c"), 1_000.0)
    again = s.send(StartJourney(journey_id="j", definition_id="paused", input={}), 1_010.0, redelivered=True)
    assert again.actions == [ArmTimer(activation_id="j.1", journey_id="j", delay_seconds=20)]
    s.send(TimerFired(journey_id="j", activation_id="j.1"), 1_030.0)
    answer = StepSucceeded(journey_id="j", activation_id="j.2", actor="w")
    first = s.send(answer, 1_040.0)
    again = s.send(answer, 1_041.0, redelivered=True)
    assert [a.kind for a in first.actions] == ["start_approval"] and again.actions == first.actions


def test_a_domain_event_without_a_reason_carries_no_reason_key() -> None:
    """The SUCCESS step emits without a `reason`: the event's data is empty, not {"reason": null}."""
    s = Scenario(PAUSED_THEN_APPROVED)
    s.send(StartJourney(journey_id="j", definition_id="paused", input={}, actor="c"), 1_000.0)
    s.send(TimerFired(journey_id="j", activation_id="j.1"), 1_030.0)
    s.send(StepSucceeded(journey_id="j", activation_id="j.2", actor="w"), 1_040.0)
    assert s.journey is not None
    d = s.journey.open["j.3"].digest
    out = s.send(
        ApprovalOutcome(journey_id="j", activation_id="j.3", outcome="granted", approvers=["ann"], digest=d), 1_050.0
    )
    assert out.record.emits == ["x.done"] and out.record.emitted == {}


def test_bad_input_at_the_start_and_at_an_input_step_lists_every_broken_rule() -> None:
    fresh = Scenario(PAUSED_THEN_APPROVED)
    refused = fresh.send(StartJourney(journey_id="k", definition_id="paused", input={"a": 1, "b": 2}), 1_000.0)
    assert str(refused) == (
        "input does not match paused input_schema: a: must satisfy type='string'; b: must satisfy type='string'"
    )
    asking = parse(
        """
id: asking
version: "1"
owning_domain: x
start_at: details
steps:
  - name: details
    type: INPUT
    sla_seconds: 600
    input_schema: {type: object, required: [passport, country]}
    next: done
  - {name: done, type: SUCCESS}
"""
    )
    s = Scenario(asking)
    s.send(StartJourney(journey_id="j", definition_id="asking", input={"name": "Ann"}), 1_000.0)
    refused = s.send(InputSubmitted(journey_id="j", activation_id="j.1", data={}), 1_006.0)
    assert str(refused) == (
        "data for step 'details' is not valid: (root): 'passport' is a required property; "
        "(root): 'country' is a required property"
    )


def test_a_stale_or_late_answer_still_closes_the_token_it_came_with() -> None:
    """An answer to an activation no longer open, or after the end, is absorbed; the task token it carries is
    closed, so the worker's state machine stops waiting."""
    s = started()
    out = s.send(StepSucceeded(journey_id="j", activation_id="j.9", actor="kyc", task_token="old"), 1_005.0)
    assert out.reason == "stale: activation not open"
    assert out.actions == [CloseToken(activation_id="j.9", journey_id="j", task_token="old", success=True)]


def test_a_branch_that_fails_for_good_fails_the_journey_and_withdraws_the_other_branch() -> None:
    """A parallel branch's terminal failure fails the journey; the other branch is no longer open, so its late
    answer is absorbed as after the end, never applied."""
    s = started()
    s.send(StepSucceeded(journey_id="j", activation_id="j.1", output={"kyc": "CLEAR"}, actor="kyc"), 1_010.0)
    s.send(StepFailed(journey_id="j", activation_id="j.2.fraud", error="Bad", message="no", actor="fraud"), 1_020.0)
    assert s.journey is not None and s.journey.status is JourneyStatus.FAILED and s.journey.open == {}
    late = s.send(StepSucceeded(journey_id="j", activation_id="j.2.sanctions", actor="sanctions"), 1_030.0)
    assert late.reason == "journey finished"
