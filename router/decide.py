"""The pure decision: (definition, journey, event, now) -> what to commit and what to do next.

Nothing here performs I/O, reads the clock or the environment.
"""

from __future__ import annotations

from typing import Any

import jmespath
from jsonschema import Draft202012Validator

from router.definition import (
    ApprovalStep,
    DecisionStep,
    Definition,
    FailStep,
    InputStep,
    Model,
    ParallelStep,
    SuccessStep,
    TaskStep,
    WaitStep,
)
from router.model import (
    FINISHED,
    Action,
    Activation,
    ActivationKind,
    Answer,
    ArmTimer,
    Event,
    InputSubmitted,
    Journey,
    JourneyStatus,
    SendWork,
    StartJourney,
    StepFailed,
    StepSucceeded,
    TimerFired,
    TransitionRecord,
)

MAX_TIMER_DELAY = 900  # SQS DelaySeconds limit; longer waits re-arm
MAX_HOPS = 50  # steps entered in one transition before we call it a loop


_ACCEPTS: dict[ActivationKind, tuple[type, ...]] = {
    ActivationKind.TASK: (StepSucceeded, StepFailed),
    ActivationKind.INPUT: (InputSubmitted,),
    ActivationKind.TIMER: (TimerFired,),
    ActivationKind.APPROVAL: (),
}


class Rejected(ValueError):
    """The event can never be applied (bad input, unknown journey): record it, never retry it."""


class Commit(Model):
    journey: Journey
    record: TransitionRecord
    actions: list[Action]


class Absorb(Model):
    """Nothing to commit: a duplicate, a stale answer, or an early timer. Actions are re-performed."""

    reason: str
    actions: list[Action] = []


def decide(definition: Definition, journey: Journey | None, event: Event, now: float) -> Commit | Absorb:
    if isinstance(event, StartJourney):
        return _start(definition, journey, event, now)
    if journey is None:
        raise Rejected(f"journey {event.journey_id} does not exist")
    return _answer(definition, journey, event, now)


def actions_for(journey: Journey, seq: int, now: float) -> list[Action]:
    """The actions of transition `seq` that are still worth performing: its still-open activations."""
    actions: list[Action] = []
    for activation in journey.open.values():
        if activation.opened_seq != seq:
            continue
        if activation.kind is ActivationKind.TASK:
            assert activation.worker is not None
            actions.append(
                SendWork(
                    worker=activation.worker,
                    activation_id=activation.id,
                    journey_id=journey.id,
                    step=activation.step,
                    state=journey.state,
                )
            )
        elif activation.kind is ActivationKind.TIMER:
            actions.append(_timer(journey.id, activation, now))
    return actions


def _timer(journey_id: str, activation: Activation, now: float) -> ArmTimer:
    remaining = max(0.0, (activation.wake_at or now) - now)
    return ArmTimer(
        activation_id=activation.id,
        journey_id=journey_id,
        delay_seconds=min(MAX_TIMER_DELAY, int(remaining + 0.999)),
    )


def _start(definition: Definition, journey: Journey | None, event: StartJourney, now: float) -> Commit | Absorb:
    if journey is not None:
        return Absorb(reason="duplicate start", actions=actions_for(journey, 1, now))
    errors = schema_errors(definition.input_schema, event.input)
    if errors:
        raise Rejected(f"input does not match {definition.id} input_schema: {'; '.join(errors)}")
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
    return _transition(
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


def _answer(definition: Definition, journey: Journey, event: Answer, now: float) -> Commit | Absorb:
    if event.activation_id in journey.closed_by:
        seq = journey.closed_by[event.activation_id]
        return Absorb(reason="duplicate", actions=actions_for(journey, seq, now))
    activation = journey.open.get(event.activation_id)
    if activation is None:
        finished = journey.status in FINISHED
        return Absorb(reason="journey finished" if finished else "stale: activation not open")
    if not isinstance(event, _ACCEPTS[activation.kind]):
        raise Rejected(
            f"activation {activation.id} waits on a {activation.kind.value}; a {event.kind} cannot answer it"
        )
    if isinstance(event, TimerFired) and (activation.wake_at or 0) > now:
        return Absorb(reason="timer early", actions=[_timer(journey.id, activation, now)])

    step = definition.step(activation.step)
    state = dict(journey.state)
    closed = journey.model_copy(
        update={
            "open": {k: v for k, v in journey.open.items() if k != activation.id},
            "closed_by": {**journey.closed_by, activation.id: journey.version + 1},
        }
    )
    common: dict[str, Any] = {"activation_id": activation.id, "step_name": activation.branch or step.name}
    if isinstance(event, StepFailed):
        error = {"error": event.error, "message": event.message, "step": step.name}
        return _finish(
            definition,
            closed.model_copy(update={"error": error}),
            now,
            JourneyStatus.FAILED,
            event="step_failed",
            actor=event.actor,
            step_result=f"failed: {event.error}",
            lifecycle=["journey_failed"],
            **common,
        )
    if isinstance(event, InputSubmitted):
        assert isinstance(step, InputStep)
        errors = schema_errors(step.input_schema, event.data)
        if errors:
            raise Rejected(f"data for step {step.name!r} is not valid: {'; '.join(errors)}")
        state.update({step.store_as: event.data} if step.store_as else event.data)
        result, actor = "submitted", event.actor
    elif isinstance(event, StepSucceeded):
        state.update(event.output)
        result, actor = "succeeded", event.actor
    else:
        result, actor = "elapsed", "timer"

    closed = closed.model_copy(update={"state": state})
    if isinstance(step, ParallelStep) and any(a.step == step.name for a in closed.open.values()):
        return _transition(
            definition, closed, now, enter=None, event=event.kind, actor=actor, step_result=result, **common
        )
    assert isinstance(step, TaskStep | InputStep | WaitStep | ParallelStep | ApprovalStep)
    return _transition(
        definition, closed, now, enter=step.next, event=event.kind, actor=actor, step_result=result, **common
    )


def _transition(
    definition: Definition,
    journey: Journey,
    now: float,
    *,
    enter: str | None,
    event: str,
    actor: str,
    step_name: str,
    step_result: str,
    activation_id: str | None = None,
    lifecycle: list[str] | None = None,
) -> Commit:
    """Enter `enter` (if any), passing through decisions, until a step waits or the journey ends."""
    seq = journey.version + 1
    state, entered, status = journey.state, [], JourneyStatus.RUNNING
    opened: dict[str, Activation] = {}
    current, error = journey.step, journey.error
    lifecycle = list(lifecycle or [])
    name = enter
    while name is not None:
        if len(entered) >= MAX_HOPS:
            raise Rejected(f"{definition.id}: more than {MAX_HOPS} steps entered in one transition (a loop?)")
        step = definition.step(name)
        entered.append(name)
        current, name = name, None
        if isinstance(step, DecisionStep):
            name = _branch(step, state)
        elif isinstance(step, SuccessStep):
            status = JourneyStatus.SUCCEEDED
            lifecycle.append("journey_completed")
        elif isinstance(step, FailStep):
            status, error = JourneyStatus.FAILED, {"error": step.error, "message": step.cause or "", "step": step.name}
            lifecycle.append("journey_failed")
        else:
            opened.update(_open(journey.id, seq, step, now))
    record = TransitionRecord(
        journey_id=journey.id,
        seq=seq,
        at=now,
        definition_id=definition.id,
        definition_version=definition.version,
        owning_domain=definition.owning_domain,
        event=event,
        actor=actor,
        step_name=step_name,
        step_result=step_result,
        activation_id=activation_id,
        entered=entered,
        status=status,
        lifecycle=lifecycle,
    )
    new = journey.model_copy(
        update={
            "version": seq,
            "status": status,
            "step": current,
            "open": {**journey.open, **opened},
            "path": journey.path + entered,
            "error": error,
            "updated_at": now,
        }
    )
    return Commit(journey=new, record=record, actions=actions_for(new, seq, now))


def _finish(definition: Definition, journey: Journey, now: float, status: JourneyStatus, **record: Any) -> Commit:
    commit = _transition(definition, journey, now, enter=None, **record)
    done = commit.journey.model_copy(update={"status": status, "open": {}})
    return Commit(journey=done, record=commit.record.model_copy(update={"status": status}), actions=[])


def _branch(step: DecisionStep, state: dict[str, Any]) -> str:
    for branch in step.branches:
        if jmespath.search(branch.when, state):
            return branch.goto
    return step.default


def _open(journey_id: str, seq: int, step: Any, now: float) -> dict[str, Activation]:
    base = f"{journey_id}.{seq}"
    if isinstance(step, ParallelStep):
        return {
            f"{base}.{b.name}": Activation(
                id=f"{base}.{b.name}",
                step=step.name,
                kind=ActivationKind.TASK,
                opened_seq=seq,
                deadline=now + b.sla_seconds,
                worker=b.worker,
                branch=b.name,
            )
            for b in step.branches
        }
    if isinstance(step, TaskStep):
        fields = {"kind": ActivationKind.TASK, "deadline": now + step.sla_seconds, "worker": step.worker}
    elif isinstance(step, InputStep):
        fields = {"kind": ActivationKind.INPUT, "deadline": now + step.sla_seconds}
    elif isinstance(step, WaitStep):
        fields = {"kind": ActivationKind.TIMER, "deadline": now + step.seconds + 60, "wake_at": now + step.seconds}
    elif isinstance(step, ApprovalStep):
        fields = {"kind": ActivationKind.APPROVAL, "deadline": now + step.sla_seconds}
    else:
        raise TypeError(f"step {step.name} does not wait")
    return {base: Activation(id=base, step=step.name, opened_seq=seq, **fields)}


def schema_errors(schema: dict[str, Any], data: Any) -> list[str]:
    """Every way `data` breaks `schema`, naming fields and rules but never echoing the values (personal data)."""
    errors = []
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for error in validator.iter_errors(data):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        rule = (
            error.message
            if error.validator == "required"
            else f"must satisfy {error.validator}={error.validator_value!r}"
        )
        errors.append(f"{where}: {rule}")
    return errors
