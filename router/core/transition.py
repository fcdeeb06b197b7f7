"""Building a transition: enter steps (through decisions) until one waits, and derive its actions."""

from __future__ import annotations

import hashlib
from typing import Any

from router.core.gates import covered_paths, digest
from router.core.model import (
    Action,
    Activation,
    ActivationKind,
    ArmTimer,
    Journey,
    JourneyStatus,
    SendWork,
    StartApproval,
    TransitionRecord,
)
from router.core.outcomes import Commit, Rejected
from router.language.definition import (
    ApprovalStep,
    DecisionStep,
    Definition,
    FailStep,
    InputStep,
    ParallelStep,
    RetryPolicy,
    Step,
    SuccessStep,
    TaskStep,
    WaitStep,
    chain_timeout,
)
from router.language.expressions import search

MAX_TIMER_DELAY = 900  # SQS DelaySeconds limit; longer waits re-arm
TIMER_GRACE = 60  # a timer this late is presumed lost and re-armed by the watchdog
MAX_HOPS = 50  # steps entered in one transition before we call it a loop


# The journey item keeps a bounded summary, so its size (and each transition's write units) does not grow with
# the journey: the most recent PATH_WINDOW steps entered. The whole path is the transition log's `entered`.
PATH_WINDOW = 32
DAY = 86_400
# A journey's `error` says why it failed or why it waits for people; once it moves on (a late answer un-sticks it,
# it succeeds) the error is history, kept in the transition log, not a state it is in.
CARRY_ERROR = (JourneyStatus.FAILED, JourneyStatus.STUCK)


def transition(
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
    reason: str | None = None,
    status: JourneyStatus = JourneyStatus.RUNNING,
    waited: float | None = None,
    failure: dict[str, str] | None = None,
) -> Commit:
    """Enter `enter` (if any), passing through decisions, until a step waits or the journey ends.

    `failure`: the error a catch caught in this transition; a step that emits names it (error and step only:
    a worker's message may quote customer data)."""
    seq = journey.version + 1
    entered: list[str] = []
    opened: dict[str, Activation] = {}
    current, error = journey.step, journey.error
    lifecycle = list(lifecycle or [])
    emits: list[str] = []
    emitted: dict[str, Any] = {}
    name = enter
    while name is not None:
        if len(entered) >= MAX_HOPS:
            raise Rejected(f"{definition.id}: more than {MAX_HOPS} steps entered in one transition (a loop?)")
        step = definition.step(name)
        entered.append(name)
        current, name = name, None
        if isinstance(step, DecisionStep):
            name = _branch(step, journey.state)
        elif isinstance(step, SuccessStep):
            status = JourneyStatus.SUCCEEDED
            lifecycle.append("journey_completed")
        elif isinstance(step, FailStep):
            status, error = JourneyStatus.FAILED, {"error": step.error, "message": step.cause or "", "step": step.name}
            lifecycle.append("journey_failed")
        else:
            opened.update(open_step(journey.id, seq, step, now, journey.state))
        if isinstance(step, SuccessStep | FailStep) and step.emit:
            emits.append(step.emit)
            emitted = _emitted(step.reason, failure)
    if status is JourneyStatus.CANCELLED and definition.on_cancel is not None:
        emits.append(definition.on_cancel.emit)
        emitted = _emitted(definition.on_cancel.reason, None)
    finished = status in (JourneyStatus.SUCCEEDED, JourneyStatus.FAILED, JourneyStatus.CANCELLED)
    new = journey.model_copy(
        update={
            "version": seq,
            "status": status,
            "step": current,
            "open": {} if finished else {**journey.open, **opened},
            "path": (journey.path + entered)[-PATH_WINDOW:],
            "expires_at": now + definition.retention_days * DAY if finished else None,
            "error": error if status in CARRY_ERROR else None,
            "updated_at": now,
        }
    )
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
        reason=reason,
        emits=emits,
        emitted=emitted,
        business_key=journey.business_key,
        waited=waited,
        lasted=now - journey.created_at if finished else None,
        expires_at=now + definition.retention_days * DAY,  # retention counted from when each record was made
    )
    return Commit(journey=new, record=record, actions=actions_for(definition, new, seq, now))


def _emitted(reason: str | None, failure: dict[str, str] | None) -> dict[str, Any]:
    data: dict[str, Any] = {"reason": reason} if reason else {}
    if failure:
        data["failure"] = {key: failure[key] for key in ("error", "step") if key in failure}
    return data


def actions_for(definition: Definition, journey: Journey, seq: int, now: float) -> list[Action]:
    """The actions of transition `seq` still worth performing: those of its still-open activations."""
    return [
        a
        for activation in journey.open.values()
        if activation.opened_seq == seq
        for a in _activate(definition, journey, activation, now)
    ]


def _activate(definition: Definition, journey: Journey, activation: Activation, now: float) -> list[Action]:
    if activation.retrying:
        return []  # its retry chain re-dispatches it
    if activation.kind is ActivationKind.TASK:
        return [work_for(journey, activation)]
    if activation.kind is ActivationKind.TIMER:
        return [timer_for(journey.id, activation, now)]
    if activation.kind is ActivationKind.APPROVAL:
        return [approval_for(definition, journey, activation)]
    return []  # INPUT: the customer answers; nothing to send


def approval_for(definition: Definition, journey: Journey, activation: Activation) -> StartApproval:
    """The approval chain's input: its levels numbered, the amount and the maker read from the state now."""
    step = definition.step(activation.step)
    assert isinstance(step, ApprovalStep)
    amount = search(step.amount, journey.state, f"step {step.name!r}'s amount") if step.amount else None
    maker = search(step.initiator, journey.state, f"step {step.name!r}'s initiator") if step.initiator else None
    return StartApproval(
        activation_id=activation.id,
        journey_id=journey.id,
        step=step.name,
        levels=[{"level": n, **level.model_dump()} for n, level in enumerate(step.levels, 1)],
        amount=float(amount) if isinstance(amount, int | float) and not isinstance(amount, bool) else None,
        initiator=maker if isinstance(maker, str) and maker else journey.initiator,
        timeout_seconds=chain_timeout([level.timeout_seconds for level in step.levels]),
        digest=activation.digest or digest(covered_paths(step, journey.state), journey.state),
    )


def work_for(journey: Journey, activation: Activation) -> SendWork:
    assert activation.worker is not None
    return SendWork(
        worker=activation.worker,
        activation_id=activation.id,
        journey_id=journey.id,
        step=activation.step,
        state=journey.state,
    )


def timer_for(journey_id: str, activation: Activation, now: float) -> ArmTimer:
    remaining = max(0.0, (activation.wake_at or now) - now)
    return ArmTimer(
        activation_id=activation.id,
        journey_id=journey_id,
        delay_seconds=min(MAX_TIMER_DELAY, int(remaining + 0.999)),
    )


def open_step(journey_id: str, seq: int, step: Step, now: float, state: dict[str, Any]) -> dict[str, Activation]:
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
                opened_at=now,
            )
            for b in step.branches
        }
    fields: dict[str, Any]
    if isinstance(step, TaskStep):
        fields = {"kind": ActivationKind.TASK, "deadline": now + step.sla_seconds, "worker": step.worker}
    elif isinstance(step, InputStep):
        fields = {"kind": ActivationKind.INPUT, "deadline": now + step.sla_seconds}
    elif isinstance(step, WaitStep):
        wake = now + step.seconds
        fields = {"kind": ActivationKind.TIMER, "deadline": wake + TIMER_GRACE, "wake_at": wake}
    elif isinstance(step, ApprovalStep):
        covers = covered_paths(step, state)
        fields = {
            "kind": ActivationKind.APPROVAL,
            "deadline": now + step.sla_seconds,
            "covers": covers,
            "digest": digest(covers, state),
        }
    else:
        raise TypeError(f"step {step.name} does not wait")
    return {base: Activation(id=base, step=step.name, opened_seq=seq, opened_at=now, **fields)}


def retry_policy(definition: Definition, activation: Activation) -> tuple[RetryPolicy, int]:
    """The policy and SLA of the task or parallel branch an activation runs."""
    step = definition.step(activation.step)
    if isinstance(step, ParallelStep):
        branch = next(b for b in step.branches if b.name == activation.branch)
        return branch.retry, branch.sla_seconds
    assert isinstance(step, TaskStep)
    return step.retry, step.sla_seconds


def backoff(policy: RetryPolicy, activation_id: str) -> list[int]:
    """Waits before each attempt after the first: exponential, with equal jitter seeded by the activation.

    Seeded, not random, so deciding twice gives the same chain (the decision stays pure).
    """
    delays = []
    for attempt in range(1, policy.max_attempts):
        ceiling = policy.backoff_seconds * policy.backoff_rate ** (attempt - 1)
        draw = int.from_bytes(hashlib.sha256(f"{activation_id}:{attempt}".encode()).digest()[:4], "big") / 2**32
        delays.append(max(1, round(ceiling / 2 + draw * ceiling / 2)))
    return delays


def _branch(step: DecisionStep, state: dict[str, Any]) -> str:
    for branch in step.branches:
        if search(branch.when, state, f"a `when` of step {step.name!r}"):  # its error never quotes the state
            return branch.goto
    return step.default


def schema_errors(schema: dict[str, Any], data: Any) -> list[str]:
    """Every way `data` breaks `schema`, naming fields and rules but never echoing the values (personal data)."""
    from jsonschema import Draft202012Validator  # heavy to import; a consumer that never validates never loads it

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
