"""Retries, escalation, the SLA watchdog and operator interventions, on the pure core."""

from __future__ import annotations

import pytest

from router.core.decide import Absorb, Commit, Rejected
from router.core.model import (
    Alert,
    CloseToken,
    Command,
    DeadlinePassed,
    Intervention,
    JourneyStatus,
    RetriesExhausted,
    StartJourney,
    StartRetryChain,
    StepFailed,
    StepSucceeded,
    TimerFired,
)
from router.core.transition import backoff
from router.language.loader import parse
from router.language.registry import Registry
from router.ports.memory import MemoryDispatcher, MemoryStore
from router.runtime.service import Router
from tests.journey_driver import FakeClock

FLOW = """
id: flow
version: "1.0.0"
owning_domain: bank-core
input_schema: {type: object, required: [name], properties: {name: {type: string}, amount: {type: number}}}
start_at: check
steps:
  - {name: check, type: TASK, worker: kyc, sla_seconds: 60, retry: {max_attempts: 3, backoff_seconds: 2}, next: details}
  - name: details
    type: INPUT
    sla_seconds: 600
    input_schema: {type: object, required: [passport], properties: {passport: {type: string}}}
    next: pause
  - {name: pause, type: WAIT, seconds: 30, next: done}
  - {name: done, type: SUCCESS}
"""


@pytest.fixture
def world():
    store, dispatcher, clock = MemoryStore(), MemoryDispatcher(), FakeClock(1_000.0)
    router = Router(Registry([parse(FLOW)]), store, dispatcher, clock)
    router.handle(StartJourney(journey_id="j", definition_id="flow", input={"name": "Ann"}, actor="alice"))
    return router, store, dispatcher, clock


def failed(retryable: bool = True, token: str | None = None) -> StepFailed:
    return StepFailed(
        journey_id="j",
        activation_id="j.1",
        error="Timeout",
        message="bureau slow",
        retryable=retryable,
        actor="kyc",
        task_token=token,
    )


def test_first_retryable_failure_commits_and_starts_one_retry_chain_with_backoff(world):
    """The chain is named after the activation and carries exponential, jittered, deterministic delays."""
    router, store, dispatcher, _ = world
    outcome = router.handle(failed())
    assert isinstance(outcome, Commit)
    (chain,) = [a for a in dispatcher.performed if isinstance(a, StartRetryChain)]
    assert chain.activation_id == "j.1" and len(chain.delays) == 2
    assert 1 <= chain.delays[0] <= 2 and 2 <= chain.delays[1] <= 4
    assert chain.delays == backoff(parse(FLOW).steps[0].retry, "j.1")
    assert store.journeys["j"].open["j.1"].retrying


def test_failed_attempt_inside_the_chain_only_tells_the_chain_to_go_on(world):
    """No transition; the attempt's token is failed so Step Functions backs off and tries again."""
    router, store, _, _ = world
    router.handle(failed())
    outcome = router.handle(failed(token="tok-2"))
    assert isinstance(outcome, Absorb)
    assert outcome.actions == [
        CloseToken(activation_id="j.1", journey_id="j", task_token="tok-2", success=False, error="Timeout: bureau slow")
    ]
    assert store.journeys["j"].version == 2


def test_success_inside_the_chain_commits_and_closes_the_attempt(world):
    """The answer moves the journey on and closes the chain's token with success."""
    router, _, _, _ = world
    router.handle(failed())
    outcome = router.handle(StepSucceeded(journey_id="j", activation_id="j.1", output={}, actor="kyc", task_token="t3"))
    assert isinstance(outcome, Commit) and outcome.journey.step == "details"
    assert any(isinstance(a, CloseToken) and a.success for a in outcome.actions)


def test_exhausted_retries_escalate_once_with_one_alert_and_a_readable_reason(world):
    """STUCK with the last error; a redelivered exhaustion is absorbed without a second alert."""
    router, store, dispatcher, _ = world
    router.handle(failed())
    exhausted = RetriesExhausted(journey_id="j", activation_id="j.1", message="Timeout")
    router.handle(exhausted)
    router.handle(exhausted)
    journey = store.journeys["j"]
    assert journey.status is JourneyStatus.STUCK
    assert journey.error == {"error": "Escalated", "message": "RetriesExhausted: Timeout", "step": "check"}
    assert len([a for a in dispatcher.performed if isinstance(a, Alert)]) == 1
    assert store.records[-1].lifecycle == ["journey_stuck"]


def test_watchdog_treats_a_silent_task_as_a_timeout_and_starts_its_retry_chain(world):
    """A lost work message is caught when the activation passes its deadline."""
    router, _, dispatcher, clock = world
    assert isinstance(router.handle(DeadlinePassed(journey_id="j")), Absorb)
    clock.advance(61)
    outcome = router.handle(DeadlinePassed(journey_id="j"))
    assert isinstance(outcome, Commit) and "Timeout" in outcome.record.step_result
    assert any(isinstance(a, StartRetryChain) for a in dispatcher.performed)


def test_watchdog_reminds_the_customer_once_then_expires_the_input(world):
    """At the INPUT step's SLA a reminder; a second SLA later the journey fails as InputExpired."""
    router, store, _, clock = world
    router.handle(StepSucceeded(journey_id="j", activation_id="j.1", output={}, actor="kyc"))
    clock.advance(601)
    reminder = router.handle(DeadlinePassed(journey_id="j"))
    assert isinstance(reminder, Commit) and reminder.record.lifecycle == ["input_reminder"]
    clock.advance(601)
    router.handle(DeadlinePassed(journey_id="j"))
    assert store.journeys["j"].status is JourneyStatus.FAILED
    assert store.journeys["j"].error["error"] == "InputExpired"


def test_watchdog_rearms_a_lost_timer(world):
    """A WAIT whose timer message never came back is re-armed, then completes when it fires."""
    router, store, _dispatcher, clock = world
    router.handle(StepSucceeded(journey_id="j", activation_id="j.1", output={}, actor="kyc"))
    from router.core.model import InputSubmitted

    router.handle(InputSubmitted(journey_id="j", activation_id="j.2", data={"passport": "P1"}))
    clock.advance(30 + 61)
    rearm = router.handle(DeadlinePassed(journey_id="j"))
    assert isinstance(rearm, Commit) and rearm.actions[0].delay_seconds == 0
    router.handle(TimerFired(journey_id="j", activation_id="j.3"))
    assert store.journeys["j"].status is JourneyStatus.SUCCEEDED


def command(name: Command, version: int, **fields) -> Intervention:
    return Intervention(
        journey_id="j", command=name, expected_version=version, actor="olga", reason="customer called", **fields
    )


def test_skip_validates_the_supplied_output_against_the_step(world):
    """Skipping an INPUT needs data its schema accepts; the audit records actor and reason."""
    router, _, _, _ = world
    router.handle(StepSucceeded(journey_id="j", activation_id="j.1", output={}, actor="kyc"))
    with pytest.raises(Rejected, match="passport"):
        router.handle(command(Command.SKIP, 2, output={"passport": 7}))
    outcome = router.handle(command(Command.SKIP, 2, output={"passport": "P7"}))
    assert isinstance(outcome, Commit) and outcome.journey.step == "pause"
    assert (outcome.record.actor, outcome.record.reason) == ("olga", "customer called")


def test_intervention_on_a_stale_version_is_refused(world):
    """The operator must have seen the journey as it is: a moved-on version is refused, nothing changes."""
    router, store, _, _ = world
    with pytest.raises(Rejected, match="moved on"):
        router.handle(command(Command.CANCEL, 7))
    assert store.journeys["j"].status is JourneyStatus.RUNNING


def test_intervention_without_a_reason_is_refused():
    """A reason is part of the audit trail: an empty one does not even make a command."""
    with pytest.raises(ValueError, match="reason"):
        Intervention(journey_id="j", command=Command.CANCEL, expected_version=1, actor="olga", reason="")


def test_interventions_on_finished_journeys_are_refused(world):
    """Cancelled is final: a later retry is refused with a clear error."""
    router, _, _, _ = world
    router.handle(command(Command.CANCEL, 1))
    with pytest.raises(Rejected, match="CANCELLED"):
        router.handle(command(Command.RETRY, 2))


def test_retry_withdraws_the_old_activation_so_its_late_answer_is_stale(world):
    """After a retry the old activation's answer is absorbed as stale and the new one moves the journey."""
    router, store, _dispatcher, _ = world
    router.handle(command(Command.RETRY, 1))
    late = router.handle(StepSucceeded(journey_id="j", activation_id="j.1", output={}, actor="kyc"))
    assert isinstance(late, Absorb) and late.reason.startswith("stale")
    assert list(store.journeys["j"].open) == ["j.2"]


def test_resume_is_only_for_escalated_journeys_and_redispatches_the_step(world):
    """Resume refuses a running journey; on a STUCK one it opens a fresh activation and runs again."""
    router, _, _, _ = world
    with pytest.raises(Rejected, match="not STUCK"):
        router.handle(command(Command.RESUME, 1))
    router.handle(failed(retryable=True))
    router.handle(RetriesExhausted(journey_id="j", activation_id="j.1"))
    outcome = router.handle(command(Command.RESUME, 3))
    assert isinstance(outcome, Commit) and outcome.journey.status is JourneyStatus.RUNNING
    assert list(outcome.journey.open) == ["j.4"]


def test_patch_must_keep_the_state_valid_and_goto_needs_a_real_step(world):
    """A patch that breaks the input schema is refused; goto an unknown step is refused."""
    router, store, _, _ = world
    with pytest.raises(Rejected, match="input_schema"):
        router.handle(command(Command.PATCH, 1, patch={"amount": "lots"}))
    router.handle(command(Command.PATCH, 1, patch={"amount": 10}))
    assert store.journeys["j"].state["amount"] == 10
    with pytest.raises(Rejected, match="no step"):
        router.handle(command(Command.GOTO, 2, step="nowhere"))
    router.handle(command(Command.GOTO, 2, step="done"))
    assert store.journeys["j"].status is JourneyStatus.SUCCEEDED


def test_every_unfinished_journey_says_why_it_waits(world):
    """Waiting on a worker, retrying with the last error, escalated, and overdue read plainly."""
    from router.core.reasons import waiting_on, why

    router, store, _, clock = world
    assert why(store.journeys["j"], clock()).startswith("waiting on worker kyc at step check")
    assert waiting_on(store.journeys["j"]) == "worker:kyc"
    router.handle(failed())
    assert "retrying after Timeout: bureau slow" in why(store.journeys["j"], clock())
    assert why(store.journeys["j"], clock() + 10_000).startswith("orphaned: step check passed its deadline")
    router.handle(RetriesExhausted(journey_id="j", activation_id="j.1", message="Timeout"))
    assert why(store.journeys["j"], clock()) == "escalated at step check: RetriesExhausted: Timeout"
    assert waiting_on(store.journeys["j"]) == "escalated"
