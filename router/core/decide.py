"""The pure decision: (definition, journey, event, now) -> what to commit and what to do next.

Nothing here performs I/O, reads the clock or the environment.
"""

from __future__ import annotations

from typing import Any

import jmespath

from router.core.failures import catcher, deadline_passed, escalate, fall_back, retryable_failure
from router.core.gates import APPROVAL_GATE, GateRefused, covered_paths, digest
from router.core.identity import canonical
from router.core.interventions import intervene
from router.core.model import (
    FINISHED,
    Action,
    Activation,
    ActivationKind,
    Answer,
    ApprovalOutcome,
    CloseToken,
    DeadlinePassed,
    Event,
    Grant,
    InputSubmitted,
    Intervention,
    Journey,
    JourneyStatus,
    RetriesExhausted,
    StartJourney,
    StepFailed,
    StepSucceeded,
    TimerFired,
)
from router.core.outcomes import Absorb, Commit, Rejected
from router.core.transition import actions_for, schema_errors, timer_for, transition
from router.language.definition import LOCKING, ApprovalStep, Definition, InputStep, ParallelStep

__all__ = ["Absorb", "Commit", "Rejected", "decide", "schema_errors"]

_ACCEPTS: dict[ActivationKind, tuple[type, ...]] = {
    ActivationKind.TASK: (StepSucceeded, StepFailed, RetriesExhausted),
    ActivationKind.INPUT: (InputSubmitted,),
    ActivationKind.TIMER: (TimerFired,),
    ActivationKind.APPROVAL: (ApprovalOutcome,),
}


def decide(
    definition: Definition, journey: Journey | None, event: Event, now: float, redelivered: bool = False
) -> Commit | Absorb:
    """`redelivered`: the event's message is a retry of an unfinished attempt (see Absorb)."""
    if isinstance(event, StartJourney):
        return _start(definition, journey, event, now, redelivered)
    if journey is None:
        raise Rejected(f"journey {event.journey_id} does not exist")
    if isinstance(event, Intervention):
        return intervene(definition, journey, event, now)
    if isinstance(event, DeadlinePassed):
        return deadline_passed(definition, journey, now)
    return _answer(definition, journey, event, now, redelivered)


def _start(
    definition: Definition, journey: Journey | None, event: StartJourney, now: float, redelivered: bool
) -> Commit | Absorb:
    if journey is not None:
        return Absorb(reason="duplicate start", actions=_redo(definition, journey, 1, now, redelivered))
    errors = schema_errors(definition.input_schema, event.input)
    if errors:
        raise Rejected(f"input does not match {definition.id} input_schema: {'; '.join(errors)}")
    if definition.kind in LOCKING and not event.business_key:
        raise Rejected(f"{definition.id} is a {definition.kind} journey: its business_key names the subscription")
    draft = Journey(
        id=event.journey_id,
        definition_id=definition.id,
        definition_version=definition.version,
        definition_hash=definition.content_hash,
        status=JourneyStatus.RUNNING,
        version=0,
        step=None,
        state=dict(event.input),
        initiator=event.actor,
        business_key=event.business_key,
        created_at=now,
        updated_at=now,
    )
    return transition(
        definition,
        draft,
        now,
        enter=definition.start_at,
        event="start",
        actor=event.actor,
        step_name=definition.start_at,
        step_result="started",
        lifecycle=["journey_started"],
    )


def _redo(definition: Definition, journey: Journey, seq: int, now: float, redelivered: bool) -> list[Action]:
    """A duplicate re-performs its transition's still-open actions only when its message is a retry.

    A retry may follow a crash between commit and send, so the sends are repeated (they are
    idempotent by activation). A plain duplicate copy sends nothing: re-sending for it would make
    every later step of the journey run twice over (the worker replays, the replay is a duplicate...).
    """
    return actions_for(definition, journey, seq, now) if redelivered else []


CLOSED_WINDOW = 16
"""Consumed activations the journey item remembers, newest last. An answer to one of them is a duplicate: absorbed,
and when redelivered (a crash between commit and send) its transition's still-open actions are sent again. An
older one is neither open nor remembered: absorbed as stale, so it is still never applied twice. Its transition is
then at least CLOSED_WINDOW answers behind, so its actions were sent (the journey moved on from them), and the
watchdog re-dispatches whatever passes its deadline anyway. Bounded, the item does not grow with the journey."""


def recent_closures(closed_by: dict[str, int], activation_id: str, seq: int) -> dict[str, int]:
    return dict(list({**closed_by, activation_id: seq}.items())[-CLOSED_WINDOW:])


def _answer(definition: Definition, journey: Journey, event: Answer, now: float, redelivered: bool) -> Commit | Absorb:
    close = _close_token(event, success=True)
    if event.activation_id in journey.closed_by:
        seq = journey.closed_by[event.activation_id]
        return Absorb(reason="duplicate", actions=_redo(definition, journey, seq, now, redelivered) + close)
    activation = journey.open.get(event.activation_id)
    if activation is None:
        finished = journey.status in FINISHED
        return Absorb(reason="journey finished" if finished else "stale: activation not open", actions=close)
    if not isinstance(event, _ACCEPTS[activation.kind]):
        raise Rejected(
            f"activation {activation.id} waits on its {activation.kind.value}; {event.kind} cannot answer it"
        )
    if isinstance(event, TimerFired) and (activation.wake_at or 0) > now:
        return Absorb(reason="timer early", actions=[timer_for(journey.id, activation, now)])
    if isinstance(event, StepFailed) and event.retryable:
        return retryable_failure(
            definition, journey, activation, f"{event.error}: {event.message}", now, event.task_token
        )
    if isinstance(event, RetriesExhausted):
        return escalate(definition, journey, activation, f"{event.error}: {event.message}", now)

    step = definition.step(activation.step)
    if isinstance(event, ApprovalOutcome) and event.outcome == "granted":
        assert isinstance(step, ApprovalStep)
        void = _void_if_stale(definition, journey, step, activation, event, now)
        if void is not None:
            return void.model_copy(update={"actions": void.actions + close})
    closed = journey.model_copy(
        update={
            "open": {k: v for k, v in journey.open.items() if k != activation.id},
            "closed_by": recent_closures(journey.closed_by, activation.id, journey.version + 1),
            "status": JourneyStatus.RUNNING,  # a late answer un-sticks an escalated journey
        }
    )
    common: dict[str, Any] = {"activation_id": activation.id, "step_name": activation.branch or step.name}
    if activation.opened_at is not None:
        common["waited"] = now - activation.opened_at
    if isinstance(event, StepFailed):
        error = {"error": event.error, "message": event.message, "step": step.name}
        catch = catcher(definition, activation, {event.error})
        if catch is not None:
            commit = fall_back(definition, journey, activation, catch, error, now, actor=event.actor)
            return commit.model_copy(update={"actions": commit.actions + close})
        commit = transition(
            definition,
            closed.model_copy(update={"error": error}),
            now,
            enter=None,
            event="step_failed",
            actor=event.actor,
            step_result=f"failed: {event.error}",
            lifecycle=["journey_failed"],
            status=JourneyStatus.FAILED,
            **common,
        )
        return commit.model_copy(update={"actions": commit.actions + close})

    state, result, actor = _outcome(step, event, dict(journey.state))
    closed = closed.model_copy(update={"state": state})
    if isinstance(event, ApprovalOutcome) and event.outcome == "granted":
        assert isinstance(step, ApprovalStep)
        assert activation.covers is not None
        grant = Grant(
            digest=digest(activation.covers, journey.state), paths=activation.covers, approvers=event.approvers
        )
        closed = closed.model_copy(update={"granted": {**journey.granted, step.name: grant}})
    lifecycle = [f"approval_{event.outcome}"] if isinstance(event, ApprovalOutcome) else []
    reason = event.reason if isinstance(event, ApprovalOutcome) else None
    waiting = isinstance(step, ParallelStep) and any(a.step == step.name for a in closed.open.values())
    commit = transition(
        definition,
        closed,
        now,
        enter=None if waiting else getattr(step, "next", None),
        event=event.kind,
        actor=actor,
        step_result=result,
        lifecycle=lifecycle,
        reason=reason,
        **common,
    )
    return commit.model_copy(update={"actions": commit.actions + close})


def _void_if_stale(
    definition: Definition,
    journey: Journey,
    step: ApprovalStep,
    activation: Activation,
    event: ApprovalOutcome,
    now: float,
) -> Commit | None:
    """A grant counts only if distinct people approved every level, none the maker, all on the digest the fields
    the approval covers have now; a grant on other values is void: the approval is asked again from level 1."""
    people = {canonical(a) for a in event.approvers}
    makers = {canonical(m) for m in (journey.initiator, _maker(step, journey.state)) if m}
    if len(people) != len(event.approvers) or len(people) < len(step.levels) or people & makers:
        raise GateRefused(
            APPROVAL_GATE,
            f"a grant of {step.name!r} must come from {len(step.levels)} different "
            "people, none of them the maker; this one does not, and is not applied",
        )
    current = digest(activation.covers or covered_paths(step, journey.state), journey.state)
    if event.digest == activation.digest == current:
        return None
    reopened = journey.model_copy(update={"open": {k: v for k, v in journey.open.items() if k != activation.id}})
    return transition(
        definition,
        reopened,
        now,
        enter=step.name,
        event="approval_voided",
        actor="router",
        step_name=step.name,
        step_result="voided: asked again from level 1",
        activation_id=activation.id,
        lifecycle=["approval_voided"],
        reason="the fields the approval covers changed after it was asked: every level decides again",
    )


def _maker(step: ApprovalStep, state: dict[str, Any]) -> str | None:
    maker = jmespath.search(step.initiator, state) if step.initiator else None
    return maker if isinstance(maker, str) else None


def _outcome(step: Any, event: Answer, state: dict[str, Any]) -> tuple[dict[str, Any], str, str]:
    """The state after an answer, the step's result and who produced it."""
    if isinstance(event, InputSubmitted):
        assert isinstance(step, InputStep)
        errors = schema_errors(step.input_schema, event.data)
        if errors:
            raise Rejected(f"data for step {step.name!r} is not valid: {'; '.join(errors)}")
        state.update({step.store_as: event.data} if step.store_as else event.data)
        return state, "submitted", event.actor
    if isinstance(event, StepSucceeded):
        state.update(event.output)
        return state, "succeeded", event.actor
    if isinstance(event, ApprovalOutcome):
        assert isinstance(step, ApprovalStep)
        decided: dict[str, Any] = {"outcome": event.outcome, "approvers": event.approvers}
        if event.rejected_by:
            decided["rejected_by"] = event.rejected_by
        state[step.store_as] = decided
        return state, event.outcome, event.rejected_by or ", ".join(event.approvers) or "approval"
    return state, "elapsed", "timer"


def _close_token(event: Answer, success: bool) -> list[Action]:
    token = getattr(event, "task_token", None)
    if not token:
        return []
    return [
        CloseToken(activation_id=event.activation_id, journey_id=event.journey_id, task_token=token, success=success)
    ]
