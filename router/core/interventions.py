"""Operator interventions: retry, skip, goto, patch, cancel, resume, confirm; each audited like any transition."""

from __future__ import annotations

from typing import Any

import jmespath

from router.core.gates import (
    APPROVAL_GATE,
    FOUR_EYES,
    MAKER_FIELD,
    GateRefused,
    check_entry,
    digest,
    gates_before,
    maker_paths,
    voided,
)
from router.core.identity import same
from router.core.model import (
    FINISHED,
    ActivationKind,
    Command,
    Grant,
    Intervention,
    Journey,
    JourneyStatus,
    Override,
    WithdrawApproval,
)
from router.core.outcomes import Commit, Rejected
from router.core.transition import schema_errors, transition
from router.language.definition import ApprovalStep, Definition, InputStep, ParallelStep, TaskStep

_REDISPATCHABLE = (TaskStep, InputStep, ParallelStep, ApprovalStep)


def intervene(definition: Definition, journey: Journey, command: Intervention, now: float) -> Commit:
    """Apply an operator's command, or raise Rejected (GateRefused naming the maker-checker rule broken).

    No command moves a journey past an approval that was not granted on the current values of what it covers,
    or edits the field naming a maker; a command that changes covered fields voids the approval's decisions
    and asks it again from level 1. Approval activations the journey stops waiting on are withdrawn."""
    if journey.status in FINISHED:
        raise Rejected(f"journey {journey.id} is {journey.status.value}: there is nothing to {command.command.value}")
    if command.expected_version != journey.version:
        raise Rejected(
            f"journey {journey.id} moved on (version {journey.version}, you saw {command.expected_version}): "
            "look again before intervening"
        )
    if command.command not in (Command.CANCEL, Command.CONFIRM) and _is_maker(definition, journey, command.actor):
        raise GateRefused(MAKER_FIELD, f"{command.actor} is this journey's maker: the maker never intervenes in it")
    handler = _HANDLERS[command.command]
    commit = handler(definition, journey, command, now)
    return _withdrawn(journey, commit, command)


def _withdrawn(before: Journey, commit: Commit, command: Intervention) -> Commit:
    """The commit, with a WithdrawApproval for each approval activation it stopped waiting on."""
    why = f"{command.command.value} by {command.actor}: {command.reason}"
    withdrawals = [
        WithdrawApproval(activation_id=a.id, journey_id=before.id, step=a.step, reason=why)
        for a in before.open.values()
        if a.kind is ActivationKind.APPROVAL and a.id not in commit.journey.open
    ]
    return commit.model_copy(update={"actions": [*commit.actions, *withdrawals]}) if withdrawals else commit


def _is_maker(definition: Definition, journey: Journey, actor: str) -> bool:
    makers = [journey.initiator, *(_value(path, journey.state) for path in maker_paths(definition))]
    return any(isinstance(m, str) and same(m, actor) for m in makers)


def _value(path: str, state: dict[str, Any]) -> Any:
    return jmespath.search(path, state)


def _checked_state(definition: Definition, journey: Journey, state: dict[str, Any]) -> None:
    """Refuse a new state that edits a maker field."""
    for path in sorted(maker_paths(definition)):
        if _value(path, state) != _value(path, journey.state):
            raise GateRefused(MAKER_FIELD, f"{path!r} names the maker of an approval: no intervention may change it")


def _base(journey: Journey, **update: Any) -> Journey:
    """The journey with every open activation withdrawn: late answers to them are stale, not duplicates."""
    return journey.model_copy(
        update={"open": {}, "status": JourneyStatus.RUNNING, "error": None, "override": None, **update}
    )


def _record(command: Intervention, result: str) -> dict[str, Any]:
    return {
        "event": f"intervention_{command.command.value}",
        "actor": command.actor,
        "reason": command.reason,
        "step_result": result,
    }


def _current(definition: Definition, journey: Journey, done: str) -> Any:
    """The step the journey is at, if an operator may act on it (`done`: what the command would do to it)."""
    if journey.step is None:
        raise Rejected(f"journey {journey.id} is not at a step")
    step = definition.step(journey.step)
    if not isinstance(step, _REDISPATCHABLE):
        raise Rejected(f"step {step.name!r} is a {step.type.value}: it cannot be {done}")
    return step


def _retry(definition: Definition, journey: Journey, command: Intervention, now: float) -> Commit:
    """Run the current step again from scratch, with a fresh activation."""
    step = _current(definition, journey, "retried")
    check_entry(definition, journey.granted, journey.state, step.name)
    return transition(
        definition, _base(journey), now, enter=step.name, step_name=step.name, **_record(command, "retried")
    )


def _resume(definition: Definition, journey: Journey, command: Intervention, now: float) -> Commit:
    if journey.status is not JourneyStatus.STUCK:
        raise Rejected(f"journey {journey.id} is {journey.status.value}, not STUCK: resume is for escalated journeys")
    step = _current(definition, journey, "resumed")
    check_entry(definition, journey.granted, journey.state, step.name)
    return transition(
        definition, _base(journey), now, enter=step.name, step_name=step.name, **_record(command, "resumed")
    )


def _skip(definition: Definition, journey: Journey, command: Intervention, now: float) -> Commit:
    """Complete the current step with an operator-supplied output, validated as the step would."""
    step = _current(definition, journey, "skipped")
    output = command.output or {}
    if isinstance(step, InputStep):
        errors = schema_errors(step.input_schema, output)
        if errors:
            raise Rejected(f"output for step {step.name!r} is not valid: {'; '.join(errors)}")
        output = {step.store_as: output} if step.store_as else output
    elif isinstance(step, ApprovalStep):
        raise GateRefused(APPROVAL_GATE, "an approval cannot be skipped: approvers decide it (cancel or goto instead)")
    state = {**journey.state, **output}
    _checked_state(definition, journey, state)
    moved = _base(journey, state=state, granted=_standing(journey, state))
    check_entry(definition, moved.granted, state, step.next)
    return transition(definition, moved, now, enter=step.next, step_name=step.name, **_record(command, "skipped"))


def _goto(definition: Definition, journey: Journey, command: Intervention, now: float) -> Commit:
    if not command.step:
        raise Rejected("goto needs a step to go to")
    try:
        definition.step(command.step)
    except KeyError:
        names = ", ".join(s.name for s in definition.steps)
        raise Rejected(f"{definition.id} has no step {command.step!r}; its steps are {names}") from None
    try:
        check_entry(definition, journey.granted, journey.state, command.step)
    except GateRefused:
        overridable = [g for g in gates_before(definition, command.step) if g.override == "four-eyes"]
        if len(overridable) != len(gates_before(definition, command.step)):
            raise
        return _propose(definition, journey, command, overridable[0].name, now)
    return transition(
        definition,
        _base(journey),
        now,
        enter=command.step,
        step_name=journey.step or command.step,
        **_record(command, f"moved to {command.step}"),
    )


def _propose(definition: Definition, journey: Journey, command: Intervention, gate: str, now: float) -> Commit:
    """A move past an approval the definition lets operators override: recorded, done only once confirmed."""
    assert command.step is not None
    proposal = Override(
        step=command.step, gate=gate, proposed_by=command.actor, reason=command.reason, version=journey.version + 1
    )
    return transition(
        definition,
        journey.model_copy(update={"override": proposal}),
        now,
        enter=None,
        step_name=journey.step or "",
        status=journey.status,
        **_record(command, f"override of {gate} to {command.step} proposed: a second person must confirm"),
    )


def _confirm(definition: Definition, journey: Journey, command: Intervention, now: float) -> Commit:
    """The second person's confirmation of a proposed override (four eyes): never the proposer, never the maker."""
    proposal = journey.override
    if proposal is None or proposal.version != journey.version:
        raise GateRefused(FOUR_EYES, f"journey {journey.id} has no override waiting for confirmation")
    if same(proposal.proposed_by, command.actor):
        raise GateRefused(FOUR_EYES, f"{command.actor} proposed this override: a second, different person confirms it")
    if _is_maker(definition, journey, command.actor):
        raise GateRefused(FOUR_EYES, f"{command.actor} is this journey's maker: the maker never confirms an override")
    reason = f"override of {proposal.gate} proposed by {proposal.proposed_by} ({proposal.reason}); {command.reason}"
    return transition(
        definition,
        _base(journey),
        now,
        enter=proposal.step,
        step_name=journey.step or proposal.step,
        **{**_record(command, f"override confirmed: moved to {proposal.step}"), "reason": reason},
    )


def _patch(definition: Definition, journey: Journey, command: Intervention, now: float) -> Commit:
    """Merge a correction into the state; the result must still satisfy the journey's input schema. A change to
    fields an approval covers voids its decisions: the journey goes back to that approval, asked from level 1."""
    if not command.patch:
        raise Rejected("patch needs a non-empty JSON object to merge into the state")
    state = {**journey.state, **command.patch}
    errors = schema_errors(definition.input_schema, state)
    if errors:
        raise Rejected(f"the patched state breaks {definition.id}'s input_schema: {'; '.join(errors)}")
    _checked_state(definition, journey, state)
    patched = journey.model_copy(update={"state": state, "granted": _standing(journey, state), "override": None})
    result = f"patched {', '.join(sorted(command.patch))}"
    again = _reopened(definition, journey, patched)
    if again is not None:
        reason = f"{command.reason} (changed fields an approval covers: {again} is asked again from level 1)"
        return transition(
            definition,
            _base(patched),
            now,
            enter=again,
            step_name=journey.step or again,
            lifecycle=["approval_voided"],
            **{**_record(command, result), "reason": reason},
        )
    return transition(
        definition,
        patched,
        now,
        enter=None,
        step_name=journey.step or "",
        status=journey.status,
        **_record(command, result),
    )


def _standing(journey: Journey, state: dict[str, Any]) -> dict[str, Grant]:
    """The journey's grants still standing on `state`: one whose covered fields changed is void."""
    return {name: grant for name, grant in journey.granted.items() if name not in voided(journey.granted, state)}


def _reopened(definition: Definition, before: Journey, after: Journey) -> str | None:
    """The approval to ask again after a state change: one waiting whose covered fields changed, else the first
    voided gate the journey's current step lies behind."""
    for activation in before.open.values():
        covers = activation.covers if activation.kind is ActivationKind.APPROVAL else None
        if covers is not None and digest(covers, after.state) != activation.digest:
            return activation.step
    if before.step is None:
        return None
    lost = set(before.granted) - set(after.granted)
    for gate in gates_before(definition, before.step):
        if gate.name in lost:
            return gate.name
    return None


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
    Command.CONFIRM: _confirm,
}
