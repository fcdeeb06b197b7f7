"""router/core/failures.py under mutation: retries, escalation, catches and the watchdog, pinned as golden transitions.

Mutation testing found that the behaviour tests check a failure's status and its kind of action, but not the
retry chain's deadline and delays, the truncation of errors, the record each bookkeeping transition writes, the
reminder's new deadline or which of several overdue activations the watchdog acts on first.
"""

from __future__ import annotations

from router.core.failures import CHAIN_SLACK, error_names
from router.core.model import (
    ApprovalOutcome,
    DeadlinePassed,
    InputSubmitted,
    JourneyStatus,
    RetriesExhausted,
    StartJourney,
    StartRetryChain,
    StepFailed,
    StepSucceeded,
)
from router.core.reasons import why
from router.core.transition import TIMER_GRACE
from router.language.loader import parse
from tests.golden import Scenario, check

FAILURES = """
id: golden-failures
version: "1.0.0"
owning_domain: bank-core
start_at: route
steps:
  - name: route
    type: DECISION
    branches:
      - {when: "start == 'verify'", goto: verify}
      - {when: "start == 'once'", goto: once}
      - {when: "start == 'pause'", goto: pause}
      - {when: "start == 'details'", goto: details}
      - {when: "start == 'later'", goto: later}
      - {when: "start == 'screens'", goto: screens}
      - {when: "start == 'approve'", goto: approve}
    default: check
  - {name: check, type: TASK, worker: kyc, sla_seconds: 60, retry: {max_attempts: 3, backoff_seconds: 2}, next: done}
  - name: verify
    type: TASK
    worker: bureau
    sla_seconds: 30
    retry: {max_attempts: 2, backoff_seconds: 5, backoff_rate: 3}
    next: done
    catch: [{errors: [Bureau], next: manual}]
  - {name: once, type: TASK, worker: kyc, sla_seconds: 60, retry: {max_attempts: 1}, next: done}
  - {name: pause, type: WAIT, seconds: 30, next: done}
  - {name: details, type: INPUT, sla_seconds: 600, input_schema: {type: object}, next: done}
  - {name: later, type: INPUT, sla_seconds: 600, input_schema: {type: object}, next: done, on_expiry: manual}
  - name: screens
    type: PARALLEL
    branches:
      - {name: fraud, worker: fraud, sla_seconds: 60, retry: {max_attempts: 2, backoff_seconds: 4}}
      - {name: sanctions, worker: sanctions, sla_seconds: 90}
    next: done
  - {name: approve, type: APPROVAL, sla_seconds: 7500, levels: [{role: officer, timeout_seconds: 3600}], next: done}
  - {name: manual, type: INPUT, sla_seconds: 86400, input_schema: {type: object}, next: done}
  - {name: done, type: SUCCESS}
"""
DEFINITION = parse(FAILURES)
LONG = "x" * 600  # longer than any truncation: what the chain, the alert and the record keep is pinned


def at(step: str) -> Scenario:
    s = Scenario(DEFINITION)
    s.send(StartJourney(journey_id="j", definition_id=DEFINITION.id, input={"start": step}, actor="ann"), 1_000.0)
    return s


def failed(activation: str = "j.1", error: str = "Timeout", token: str | None = None, **more) -> StepFailed:
    return StepFailed(
        journey_id="j",
        activation_id=activation,
        error=error,
        message=LONG,
        retryable=True,
        actor="w",
        task_token=token,
        **more,
    )


def test_a_retried_step_escalates_once_and_a_late_answer_un_sticks_it() -> None:
    """The first retryable failure starts the chain (its delays, deadline and last error); an attempt's failure with
    a token tells the chain to go on; one without is absorbed; exhaustion escalates once, with an alert; the watchdog
    leaves a STUCK journey alone; a late success moves it on."""
    s = at("check")
    s.send(failed(), 1_010.0)
    s.send(failed(token="attempt-2"), 1_013.0)
    s.send(failed(), 1_014.0)
    s.send(RetriesExhausted(journey_id="j", activation_id="j.1", error="Timeout", message=LONG), 1_200.0)
    s.send(RetriesExhausted(journey_id="j", activation_id="j.1"), 1_201.0)
    s.send(DeadlinePassed(journey_id="j"), 9_000.0)
    assert s.journey is not None and s.journey.status is JourneyStatus.STUCK
    assert s.journey.error is not None and s.journey.error["error"] == "Escalated"
    s.send(StepSucceeded(journey_id="j", activation_id="j.1", actor="kyc"), 9_001.0)
    s.send(DeadlinePassed(journey_id="j"), 9_002.0)
    check("failures/retry-escalate-recover", s.log)
    # Recovered: the escalation is history (in the transition log), not an error the finished journey carries.
    assert s.journey.status is JourneyStatus.SUCCEEDED and s.journey.error is None
    assert why(s.journey, 9_003.0) == "succeeded"


def test_the_watchdog_retries_an_overdue_task_then_escalates_its_orphaned_chain() -> None:
    """Nothing overdue is absorbed; an overdue task is a Timeout that starts its chain; a chain that outlives its
    deadline is orphaned and escalated."""
    s = at("check")
    s.send(DeadlinePassed(journey_id="j"), 1_059.0)
    s.send(DeadlinePassed(journey_id="j"), 1_060.0)
    assert s.journey is not None
    s.send(DeadlinePassed(journey_id="j"), s.journey.open["j.1"].deadline)
    check("failures/watchdog-task", s.log)


def test_exhausted_retries_fall_back_to_the_catch_that_names_the_first_failure() -> None:
    """Retries exhausted after a caught error: the catch names the failure that started the retries, and the cause
    keeps both the last error and the first."""
    s = at("verify")
    s.send(failed(error="Bureau"), 1_010.0)
    s.send(RetriesExhausted(journey_id="j", activation_id="j.1", message="gave up"), 1_100.0)
    check("failures/exhausted-caught", s.log)

    d = at("verify")
    d.send(DeadlinePassed(journey_id="j"), 1_030.0)
    assert d.journey is not None
    d.send(DeadlinePassed(journey_id="j"), d.journey.open["j.1"].deadline)
    check("failures/orphaned-uncaught", d.log)


def test_a_step_with_one_attempt_escalates_at_its_first_failure() -> None:
    """max_attempts 1: no retry chain, the journey is escalated at once."""
    s = at("once")
    s.send(failed(), 1_010.0)
    check("failures/one-attempt", s.log)


def test_a_lost_timer_is_re_armed_and_an_ignored_input_reminded_then_expired() -> None:
    """A timer past its grace is armed again; an input is reminded once (its deadline renewed), then expires: the
    journey fails, or goes to the step's on_expiry."""
    t = at("pause")
    t.send(DeadlinePassed(journey_id="j"), 1_000.0 + 30 + TIMER_GRACE)
    check("failures/timer-rearmed", t.log)

    i = at("details")
    i.send(DeadlinePassed(journey_id="j"), 1_600.0)
    i.send(DeadlinePassed(journey_id="j"), 2_199.0)
    i.send(DeadlinePassed(journey_id="j"), 2_200.0)
    i.send(DeadlinePassed(journey_id="j"), 2_201.0)
    check("failures/input-expired", i.log)

    o = at("later")
    o.send(DeadlinePassed(journey_id="j"), 1_600.0)
    o.send(DeadlinePassed(journey_id="j"), 2_200.0)
    o.send(InputSubmitted(journey_id="j", activation_id="j.3", data={}), 2_300.0)
    check("failures/input-on-expiry", o.log)


def test_parallel_branches_retry_under_their_own_policy_and_the_most_overdue_goes_first() -> None:
    """A branch's failure retries with the branch's policy and SLA; the watchdog takes the most overdue activation
    first; a branch escalated names the branch."""
    s = at("screens")
    s.send(DeadlinePassed(journey_id="j"), 1_200.0)
    s.send(RetriesExhausted(journey_id="j", activation_id="j.1.fraud", error="Timeout"), 1_250.0)
    check("failures/parallel", s.log)

    f = at("screens")
    f.send(failed("j.1.sanctions"), 1_010.0)
    check("failures/parallel-default-policy", f.log)


def test_an_approval_that_never_resolves_is_escalated() -> None:
    """An approval past its SLA: the chain that should have answered is orphaned; the journey is escalated."""
    s = at("approve")
    s.send(DeadlinePassed(journey_id="j"), 8_500.0)
    assert s.journey is not None and s.journey.status is JourneyStatus.STUCK and s.journey.error is not None
    s.send(ApprovalOutcome(journey_id="j", activation_id="j.1", outcome="expired"), 8_600.0)
    check("failures/approval-orphaned", s.log)
    assert s.journey.status is JourneyStatus.SUCCEEDED and s.journey.error is None


def test_the_retry_chain_deadline_covers_every_wait_and_attempt_plus_slack() -> None:
    """The chain's deadline: now, every delay, one SLA per remaining attempt, and CHAIN_SLACK."""
    s = at("check")
    out = s.send(failed(), 1_010.0)
    (chain,) = out.actions
    assert isinstance(chain, StartRetryChain) and chain.attempt_timeout == 60
    assert s.journey is not None
    assert s.journey.open["j.1"].deadline == 1_010.0 + sum(chain.delays) + 2 * 60 + CHAIN_SLACK


def test_error_names_are_the_names_before_the_colon_of_every_error_given() -> None:
    """Blank and missing errors name nothing; a name is what stands before the first colon, trimmed."""
    assert error_names("Timeout: slow", None, "", " Bureau :x:y", "Plain") == {"Timeout", "Bureau", "Plain"}
    assert error_names(": no name") == set()


def test_exhausted_retries_are_caught_by_the_name_of_the_last_error_too() -> None:
    """The retries started on a Timeout and ended on Bureau, which the step catches: the journey goes to the
    catch's step; the cause is split at the first colon (name, then the whole message) and kept to 500 chars."""
    s = at("verify")
    s.send(failed(error="Timeout"), 1_010.0)
    message = "refused: id 3: " + LONG
    out = s.send(RetriesExhausted(journey_id="j", activation_id="j.1", error="Bureau", message=message), 1_100.0)
    assert s.journey is not None and s.journey.step == "manual" and s.journey.status is JourneyStatus.RUNNING
    assert out.record.event == "caught" and out.record.step_result == "caught Bureau: manual"
    (catch,) = DEFINITION.step("verify").catch
    failure = s.journey.state[catch.result_path]
    assert failure["error"] == "Bureau" and failure["message"] == message[:500] and len(failure["message"]) == 500
    assert failure["first_error"].startswith("Timeout: xxx")


def test_exhausted_retries_with_no_error_name_are_caught_as_escalated_by_the_first_failure() -> None:
    """A chain that gave up without naming its error: the catch still applies by the name of the failure that
    started the retries, and the failure handed to the catch's step is called Escalated."""
    s = at("verify")
    s.send(failed(error="Bureau"), 1_010.0)
    s.send(RetriesExhausted(journey_id="j", activation_id="j.1", error="", message="gave up"), 1_100.0)
    assert s.journey is not None and s.journey.step == "manual"
    (catch,) = DEFINITION.step("verify").catch
    assert s.journey.state[catch.result_path]["error"] == "Escalated"
    assert s.journey.state[catch.result_path]["message"] == "gave up"


def test_a_branch_that_starts_retrying_while_another_is_escalated_leaves_the_journey_stuck() -> None:
    """One branch escalated the journey (STUCK, in the operators' queue); the other branch's first failure starts
    its own retry chain, and the journey stays STUCK: only a person un-sticks it."""
    s = at("screens")
    s.send(RetriesExhausted(journey_id="j", activation_id="j.1.sanctions", error="Timeout"), 1_010.0)
    assert s.journey is not None and s.journey.status is JourneyStatus.STUCK
    out = s.send(failed("j.1.fraud"), 1_020.0)
    assert [a.kind for a in out.actions] == ["start_retry_chain"]
    assert out.record.status is JourneyStatus.STUCK and s.journey.status is JourneyStatus.STUCK
    assert s.journey.open["j.1.fraud"].retrying
