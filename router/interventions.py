"""Operator interventions: retry, skip, goto, patch, cancel, resume; each audited like any transition."""

from __future__ import annotations

from typing import Any

from router.definition import ApprovalStep, Definition, InputStep, ParallelStep, TaskStep
from router.model import FINISHED, Command, Intervention, Journey, JourneyStatus
from router.outcomes import Commit, Rejected
from router.transition import schema_errors, transition

_REDISPATCHABLE = (TaskStep, InputStep, ParallelStep, ApprovalStep)


def intervene(definition: Definition, journey: Journey, command: Intervention, now: float) -> Commit:
    if journey.status in FINISHED:
        raise Rejected(f"journey {journey.id} is {journey.status.value}: there is nothing to {command.command.value}")
    if command.expected_version != journey.version:
        raise Rejected(
            f"journey {journey.id} moved on (version {journey.version}, you saw {command.expected_version}): "
            "look again before intervening"
        )
    handler = _HANDLERS[command.command]
    return handler(definition, journey, command, now)


def _base(journey: Journey, **update: Any) -> Journey:
    """The journey with every open activation withdrawn: late answers to them are stale, not duplicates."""
    return journey.model_copy(update={"open": {}, "status": JourneyStatus.RUNNING, "error": None, **update})


def _record(command: Intervention, result: str) -> dict[str, Any]:
    return {
        "event": f"intervention_{command.command.value}",
        "actor": command.actor,
        "reason": command.reason,
        "step_result": result,
    }


def _current(definition: Definition, journey: Journey, command: Intervention) -> Any:
    if journey.step is None:
        raise Rejected(f"journey {journey.id} is not at a step")
    step = definition.step(journey.step)
    if not isinstance(step, _REDISPATCHABLE):
        raise Rejected(f"step {step.name!r} is a {step.type.value}: it cannot be {command.command.value}ped")
    return step


def _retry(definition: Definition, journey: Journey, command: Intervention, now: float) -> Commit:
    """Run the current step again from scratch, with a fresh activation."""
    step = _current(definition, journey, command)
    return transition(
        definition, _base(journey), now, enter=step.name, step_name=step.name, **_record(command, "retried")
    )


def _resume(definition: Definition, journey: Journey, command: Intervention, now: float) -> Commit:
    if journey.status is not JourneyStatus.STUCK:
        raise Rejected(f"journey {journey.id} is {journey.status.value}, not STUCK: resume is for escalated journeys")
    step = _current(definition, journey, command)
    return transition(
        definition, _base(journey), now, enter=step.name, step_name=step.name, **_record(command, "resumed")
    )


def _skip(definition: Definition, journey: Journey, command: Intervention, now: float) -> Commit:
    """Complete the current step with an operator-supplied output, validated as the step would."""
    step = _current(definition, journey, command)
    output = command.output or {}
    if isinstance(step, InputStep):
        errors = schema_errors(step.input_schema, output)
        if errors:
            raise Rejected(f"output for step {step.name!r} is not valid: {'; '.join(errors)}")
        output = {step.store_as: output} if step.store_as else output
    elif isinstance(step, ApprovalStep):
        raise Rejected("an approval cannot be skipped: approvers decide it (cancel or goto instead)")
    state = {**journey.state, **output}
    return transition(
        definition,
        _base(journey, state=state),
        now,
        enter=step.next,
        step_name=step.name,
        **_record(command, "skipped"),
    )


def _goto(definition: Definition, journey: Journey, command: Intervention, now: float) -> Commit:
    if not command.step:
        raise Rejected("goto needs a step to go to")
    try:
        definition.step(command.step)
    except KeyError:
        raise Rejected(f"{definition.id} has no step {command.step!r}") from None
    return transition(
        definition,
        _base(journey),
        now,
        enter=command.step,
        step_name=journey.step or command.step,
        **_record(command, f"moved to {command.step}"),
    )


def _patch(definition: Definition, journey: Journey, command: Intervention, now: float) -> Commit:
    """Merge a correction into the state; the result must still satisfy the journey's input schema."""
    if not command.patch:
        raise Rejected("patch needs a non-empty JSON object to merge into the state")
    state = {**journey.state, **command.patch}
    errors = schema_errors(definition.input_schema, state)
    if errors:
        raise Rejected(f"the patched state breaks {definition.id}'s input_schema: {'; '.join(errors)}")
    patched = journey.model_copy(update={"state": state})
    return transition(
        definition,
        patched,
        now,
        enter=None,
        step_name=journey.step or "",
        status=journey.status,
        **_record(command, f"patched {', '.join(sorted(command.patch))}"),
    )


def _cancel(definition: Definition, journey: Journey, command: Intervention, now: float) -> Commit:
    return transition(
        definition,
        _base(journey),
        now,
        enter=None,
        step_name=journey.step or "",
        lifecycle=["journey_cancelled"],
        status=JourneyStatus.CANCELLED,
        **_record(command, "cancelled"),
    )


_HANDLERS = {
    Command.RETRY: _retry,
    Command.RESUME: _resume,
    Command.SKIP: _skip,
    Command.GOTO: _goto,
    Command.PATCH: _patch,
    Command.CANCEL: _cancel,
}
