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
    CloseToken,
    InputSubmitted,
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
