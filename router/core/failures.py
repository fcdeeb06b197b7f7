"""Retries, escalation and deadlines: what happens when a step fails or a journey stops moving."""

from __future__ import annotations

from typing import Any

from router.core.model import (
    Action,
    Activation,
    ActivationKind,
    Alert,
    CloseToken,
    Journey,
    JourneyStatus,
    StartRetryChain,
)
from router.core.outcomes import Absorb, Commit
from router.core.transition import TIMER_GRACE, backoff, retry_policy, timer_for, transition, work_for
from router.language.definition import Catch, Definition, InputStep, TaskStep

CHAIN_SLACK = 60  # seconds past a retry chain's worst case before the watchdog calls it orphaned


def retryable_failure(
    definition: Definition,
    journey: Journey,
    activation: Activation,
    error: str,
    now: float,
    task_token: str | None = None,
) -> Commit | Absorb:
    """The first retryable failure starts the activation's retry chain; later ones tell the chain to go on."""
    if task_token is not None or activation.retrying:
        actions: list[Action] = (
            [
                CloseToken(
                    activation_id=activation.id,
                    journey_id=journey.id,
                    task_token=task_token,
                    success=False,
                    error=error[:200],
                )
            ]
            if task_token
            else []
        )
        return Absorb(reason="attempt failed: the retry chain goes on", actions=actions)
    policy, sla = retry_policy(definition, activation)
    delays = backoff(policy, activation.id)
    if not delays:
        return escalate(definition, journey, activation, error, now)
    retrying = activation.model_copy(
        update={
            "retrying": True,
            "last_error": error[:500],
            "deadline": now + sum(delays) + len(delays) * sla + CHAIN_SLACK,
        }
    )
    commit = _update(definition, journey, retrying, now, result=f"retrying after {error[:200]}")
    chain = StartRetryChain(
        activation_id=activation.id,
        journey_id=journey.id,
        delays=delays,
        attempt_timeout=sla,
        work=work_for(journey, activation),
    )
    return commit.model_copy(update={"actions": [chain]})


def catcher(definition: Definition, activation: Activation, names: set[str]) -> Catch | None:
    """The TASK's first catch naming one of `names` (or all errors); parallel branches have none."""
    step = definition.step(activation.step)
    if activation.branch is not None or not isinstance(step, TaskStep):
        return None
    return next((c for c in step.catch if c.catches(names)), None)


def error_names(*errors: str | None) -> set[str]:
    """The error names in "Name: message" strings: what a catch's `errors` are compared with."""
    return {name for e in errors if e and (name := e.partition(":")[0].strip())}


def fall_back(
    definition: Definition,
    journey: Journey,
    activation: Activation,
    catch: Catch,
    failure: dict[str, str],
    now: float,
    actor: str = "engine",
) -> Commit:
    """The failed TASK's activation closes and the journey goes on at the catch's step, the error in its state."""
    caught = journey.model_copy(
        update={
            "open": {k: v for k, v in journey.open.items() if k != activation.id},
            "closed_by": {**journey.closed_by, activation.id: journey.version + 1},
            "state": {**journey.state, catch.result_path: failure},
            "status": JourneyStatus.RUNNING,
        }
    )
    return transition(
        definition,
        caught,
        now,
        enter=catch.next,
        event="caught",
        actor=actor,
        step_name=activation.step,
        step_result=f"caught {failure['error']}: {catch.next}",
        activation_id=activation.id,
        failure=failure,
    )


def escalate(
    definition: Definition, journey: Journey, activation: Activation, error: str, now: float
) -> Commit | Absorb:
    """Park the journey as STUCK for people, with a readable reason and one alert; unless the TASK catches the
    error (by its name, or the name of the failure that started its retries): then it goes to the fallback."""
    if journey.status is JourneyStatus.STUCK:
        return Absorb(reason="already escalated")
    catch = catcher(definition, activation, error_names(error, activation.last_error))
    if catch is not None and activation.kind is ActivationKind.TASK:
        name = error.partition(":")[0].strip() or "Escalated"
        cause = {"error": name, "message": error.partition(":")[2].strip()[:500], "step": activation.step}
        if activation.last_error:
            cause["first_error"] = activation.last_error[:500]
        return fall_back(definition, journey, activation, catch, cause, now)
    escalated = journey.model_copy(
        update={
            "status": JourneyStatus.STUCK,
            "error": {"error": "Escalated", "message": error[:500], "step": activation.step},
        }
    )
    commit = transition(
        definition,
        escalated,
        now,
        enter=None,
        event="escalated",
        actor="engine",
        step_name=activation.branch or activation.step,
        step_result=f"escalated: {error[:200]}",
        activation_id=activation.id,
        lifecycle=["journey_stuck"],
        status=JourneyStatus.STUCK,
    )
    alert = Alert(
        activation_id=activation.id,
        journey_id=journey.id,
        subject=f"Journey {journey.id} is stuck at {activation.step}",
        message=f"{definition.id} {definition.version}: step {activation.step} escalated: {error[:500]}",
    )
    return commit.model_copy(update={"actions": [alert]})


def deadline_passed(definition: Definition, journey: Journey, now: float) -> Commit | Absorb:
    """The watchdog's verdict on the journey's most overdue activation (one per tick)."""
    if journey.status is not JourneyStatus.RUNNING:
        return Absorb(reason=f"not running ({journey.status.value})")
    overdue = sorted((a for a in journey.open.values() if a.deadline <= now), key=lambda a: a.deadline)
    if not overdue:
        return Absorb(reason="nothing overdue")
    activation = overdue[0]
    if activation.kind is ActivationKind.TASK:
        if activation.retrying:
            return escalate(definition, journey, activation, "orphaned: the retry chain did not finish in time", now)
        return retryable_failure(definition, journey, activation, "Timeout: no answer within the step's SLA", now)
    if activation.kind is ActivationKind.TIMER:  # the timer message was lost: arm it again
        rearmed = activation.model_copy(update={"deadline": now + TIMER_GRACE})
        commit = _update(definition, journey, rearmed, now, result="timer re-armed")
        return commit.model_copy(update={"actions": [timer_for(journey.id, rearmed, now)]})
    if activation.kind is ActivationKind.INPUT:
        return _input_overdue(definition, journey, activation, now)
    return escalate(definition, journey, activation, "orphaned: the approval did not resolve in time", now)


def _input_overdue(definition: Definition, journey: Journey, activation: Activation, now: float) -> Commit:
    step = definition.step(activation.step)
    assert isinstance(step, InputStep)
    if not activation.reminded:
        reminded = activation.model_copy(update={"reminded": True, "deadline": now + step.sla_seconds})
        commit = _update(definition, journey, reminded, now, result="customer reminded")
        return commit.model_copy(update={"record": commit.record.model_copy(update={"lifecycle": ["input_reminder"]})})
    expired = journey.model_copy(
        update={
            "open": {k: v for k, v in journey.open.items() if k != activation.id},
            "error": None if step.on_expiry else {"error": "InputExpired", "message": "", "step": step.name},
        }
    )
    common: dict[str, Any] = {
        "event": "input_expired",
        "actor": "engine",
        "step_name": step.name,
        "activation_id": activation.id,
    }
    if step.on_expiry:
        return transition(definition, expired, now, enter=step.on_expiry, step_result="expired", **common)
    return transition(
        definition,
        expired,
        now,
        enter=None,
        step_result="expired",
        lifecycle=["journey_failed"],
        status=JourneyStatus.FAILED,
        **common,
    )


def _update(definition: Definition, journey: Journey, activation: Activation, now: float, result: str) -> Commit:
    """A transition that only changes one open activation's bookkeeping."""
    changed = journey.model_copy(update={"open": {**journey.open, activation.id: activation}})
    return transition(
        definition,
        changed,
        now,
        enter=None,
        event="activation_updated",
        actor="engine",
        step_name=activation.branch or activation.step,
        step_result=result,
        activation_id=activation.id,
        status=journey.status,
    )
