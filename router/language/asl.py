"""Compile a definition into a Step Functions Standard state machine where every step is a state.

This is the design banks run today, kept for comparison (issue #8): each TASK is an SQS send with
`.waitForTaskToken` to the worker's queue, answered by the same workers (`reply: token`), its
output merged into the state by a Pass; each DECISION a Choice; retries a Retry; SLAs TimeoutSeconds.

The journey state lives under `$.state` for the whole execution (the first state wraps the start
input), so a step's output can be merged with `States.JsonMerge` without leaving scratch keys in
it: JSONata and `Assign` would be neater but do not run on the emulator.
Pure: no AWS, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

import jmespath

from router.language.definition import (
    RETRYABLE_ERROR,
    ApprovalStep,
    DecisionStep,
    Definition,
    FailStep,
    InputStep,
    ParallelBranch,
    ParallelStep,
    RetryPolicy,
    Step,
    SuccessStep,
    TaskStep,
    WaitStep,
)

# Queues that are not a worker's: where INPUT steps and approval levels wait for their answer.
INPUT_QUEUE = "customer-input"
APPROVAL_QUEUE = "approvals"
START = "start"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NUMERIC = {"lt": "NumericLessThan", "lte": "NumericLessThanEquals", "gt": "NumericGreaterThan"}
_NUMERIC |= {"gte": "NumericGreaterThanEquals"}

Json = dict[str, Any]


class UnsupportedExpression(ValueError):
    """A DECISION `when` outside the JMESPath subset that translates into Choice rules."""


def placeholder(queue: str) -> str:
    """The DefinitionSubstitutions key for a queue: `${QueueKyc}` for worker kyc."""
    return "${Queue" + "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", queue) if part) + "}"


def queues_of(definition: Definition) -> set[str]:
    """The queues a compiled machine sends to: its workers', and the input and approval queues if used."""
    names: set[str] = set()
    for step in definition.steps:
        if isinstance(step, TaskStep):
            names.add(step.worker)
        elif isinstance(step, ParallelStep):
            names |= {branch.worker for branch in step.branches}
        elif isinstance(step, InputStep):
            names.add(INPUT_QUEUE)
        elif isinstance(step, ApprovalStep):
            names.add(APPROVAL_QUEUE)
    return names


def compile_definition(definition: Definition, queues: Mapping[str, str] | None = None) -> Json:
    """The state machine, as a dict to dump as JSON. `queues` maps worker (or INPUT_QUEUE, APPROVAL_QUEUE)
    to a queue URL; a queue it does not name becomes a DefinitionSubstitutions placeholder."""
    urls = dict(queues or {})
    states: Json = {
        START: {"Type": "Pass", "Parameters": {"state.$": "$"}, "Next": definition.start_at},
    }
    for step in definition.steps:
        states |= _states(definition, step, urls)
    comment = f"{definition.id} {definition.version} ({definition.content_hash}), every step a state"
    return {"Comment": comment, "StartAt": START, "States": states}


def _url(urls: Mapping[str, str], queue: str) -> str:
    return urls.get(queue, placeholder(queue))


def _states(definition: Definition, step: Step, urls: Mapping[str, str]) -> Json:
    if isinstance(step, TaskStep):
        merge = f"{step.name}/merge"
        task = _task(definition, step.name, step.worker, step.sla_seconds, step.retry, urls)
        states = {step.name: task | {"ResultPath": "$.output", "Next": merge}, merge: _merge("$.output", step.next)}
        return states | _catches(step, states[step.name])
    if isinstance(step, DecisionStep):
        return {step.name: choice(step)}
    if isinstance(step, InputStep):
        return _input(step, urls)
    if isinstance(step, WaitStep):
        return {step.name: {"Type": "Wait", "Seconds": step.seconds, "Next": step.next}}
    if isinstance(step, ParallelStep):
        return _parallel(definition, step, urls)
    if isinstance(step, ApprovalStep):
        return _approval(definition, step, urls)
    if isinstance(step, SuccessStep):
        return {step.name: {"Type": "Succeed"}}
    assert isinstance(step, FailStep)
    return {step.name: {"Type": "Fail", "Error": step.error, "Cause": step.cause or step.error}}


def _catches(step: TaskStep, task: Json) -> Json:
    """Each catch as ASL's Catch: the error (Error, Cause) placed in the state at `result_path`, then its step.

    A compiled machine sees every worker failure as Journeys.StepFailed or Journeys.Retryable, not by the
    worker's error name, so only a catch of ALL errors compiles."""
    states: Json = {}
    for number, catch in enumerate(step.catch, start=1):
        if not catch.catches(set()):
            raise UnsupportedExpression(
                f"step {step.name!r}: a compiled machine cannot tell worker errors by name; catch ALL to compile it"
            )
        place, merge = f"{step.name}/catch-{number}", f"{step.name}/catch-{number}/merge"
        task.setdefault("Catch", []).append({"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": place})
        states[place] = {
            "Type": "Pass",
            "Parameters": {"state.$": "$.state", "failure": {f"{catch.result_path}.$": "$.caught"}},
            "Next": merge,
        }
        states[merge] = _merge("$.failure", catch.next)
    return states


def _task(
    definition: Definition, step: str, worker: str, sla: int, policy: RetryPolicy, urls: Mapping[str, str]
) -> Json:
    """A work message in the shape the workers read, answered through its task token."""
    work = {
        "kind": "send_work",
        "worker": worker,
        "activation_id.$": f"States.Format('{{}}/{step}', $$.Execution.Name)",
        "journey_id.$": "$$.Execution.Name",
        "step": step,
        "state.$": "$.state",
    }
    body = {"work": work, "task_token.$": "$$.Task.Token", "reply": "token"}
    task: Json = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": _url(urls, worker), "MessageBody": body},
        "TimeoutSeconds": sla,
    }
    if policy.max_attempts > 1:
        task["Retry"] = [retry(policy)]
    return task


def retry(policy: RetryPolicy) -> Json:
    """The step's policy as a Retry: max_attempts counts the first attempt, MaxAttempts does not.

    A worker's retryable failure and an SLA timeout are retried, as the engine does; a terminal one is not.
    """
    return {
        "ErrorEquals": [RETRYABLE_ERROR, "States.Timeout"],
        "IntervalSeconds": max(1, round(policy.backoff_seconds)),
        "BackoffRate": float(policy.backoff_rate),
        "MaxAttempts": policy.max_attempts - 1,
        "JitterStrategy": "FULL",
    }


def _merge(path: str, next_state: str) -> Json:
    """Merge the answer at `path` into the state (shallow, as the engine does) and drop the scratch keys."""
    return {"Type": "Pass", "Parameters": {"state.$": f"States.JsonMerge($.state, {path}, false)"}, "Next": next_state}


def _input(step: InputStep, urls: Mapping[str, str]) -> Json:
    merge = f"{step.name}/merge"
    body = {
        "kind": "input_requested",
        "journey_id.$": "$$.Execution.Name",
        "step": step.name,
        "task_token.$": "$$.Task.Token",
    }
    task: Json = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": _url(urls, INPUT_QUEUE), "MessageBody": body},
        "TimeoutSeconds": step.sla_seconds,
        "ResultPath": "$.output",
        "Next": merge,
    }
    if step.store_as:
        task["ResultSelector"] = {f"{step.store_as}.$": "$"}
    if step.on_expiry:
        task["Catch"] = [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.failure", "Next": step.on_expiry}]
    return {step.name: task, merge: _merge("$.output", step.next)}


def _parallel(definition: Definition, step: ParallelStep, urls: Mapping[str, str]) -> Json:
    merge = f"{step.name}/merge"
    branches = [_branch(definition, step, branch, urls) for branch in step.branches]
    merged = "$.state"
    for index in range(len(step.branches)):
        merged = f"States.JsonMerge({merged}, $.outputs[{index}], false)"
    parallel = {"Type": "Parallel", "Branches": branches, "ResultPath": "$.outputs", "Next": merge}
    return {step.name: parallel, merge: {"Type": "Pass", "Parameters": {"state.$": merged}, "Next": step.next}}


def _branch(definition: Definition, step: ParallelStep, branch: ParallelBranch, urls: Mapping[str, str]) -> Json:
    name = f"{step.name}/{branch.name}"
    task = _task(definition, name, branch.worker, branch.sla_seconds, branch.retry, urls) | {"End": True}
    return {"StartAt": name, "States": {name: task}}


def _approval(definition: Definition, step: ApprovalStep, urls: Mapping[str, str]) -> Json:
    """One token wait per level, in order; each answer is an outcome (router.core.approvals.answer_for): granted
    (this level approved), rejected or expired, with the approvers so far."""
    states: Json = {}
    done = f"{step.name}/merge"
    amount = {"amount.$": f"$.state.{step.amount}"} if step.amount else {"amount": None}
    maker = {"initiator.$": f"$.state.{step.initiator}"} if step.initiator else {"initiator": "journey"}
    for number, level in enumerate(step.levels, start=1):
        name, decided = _level(step, number), f"{step.name}/level-{number}/decided"
        ticket = {
            "kind": "ticket",
            "journey_id.$": "$$.Execution.Name",
            "activation_id.$": f"States.Format('{{}}/{step.name}', $$.Execution.Name)",
            "step": step.name,
            "levels": [{"level": number, **level.model_dump(mode="json")}],
            **amount,
            **maker,
            "task_token.$": "$$.Task.Token",
        }
        if number > 1:
            ticket["approvers.$"] = "$.answer.approvers"
        states[name] = {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": _url(urls, APPROVAL_QUEUE), "MessageBody": ticket},
            "TimeoutSeconds": level.timeout_seconds,
            "ResultPath": "$.answer",
            "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.failure", "Next": f"{step.name}/expired"}],
            "Next": decided,
        }
        following = _level(step, number + 1) if number < len(step.levels) else f"{step.name}/granted"
        ended = [
            {"Variable": "$.answer.outcome", "StringEquals": outcome, "Next": f"{step.name}/{outcome}"}
            for outcome in ("rejected", "expired")
        ]
        states[decided] = {"Type": "Choice", "Choices": ended, "Default": following}
    for outcome in ("granted", "rejected", "expired"):
        decided_by: Json = {"approvers.$": "$.answer.approvers"} if outcome != "expired" else {"approvers": []}
        result = {step.store_as: {"outcome": outcome, **decided_by}}
        states[f"{step.name}/{outcome}"] = {
            "Type": "Pass",
            "Parameters": {"state.$": "$.state", "output": result},
            "Next": done,
        }
    states[done] = _merge("$.output", step.next)
    return states


def _level(step: ApprovalStep, number: int) -> str:
    return step.name if number == 1 else f"{step.name}/level-{number}"


# -- DECISION: the JMESPath subset the definitions use, as Choice rules


def choice(step: DecisionStep) -> Json:
    rules = []
    for branch in step.branches:
        try:
            rule = condition(branch.when)
        except UnsupportedExpression as exc:
            raise UnsupportedExpression(f"step {step.name!r}: cannot translate {branch.when!r}: {exc}") from None
        rules.append(rule | {"Next": branch.goto})
    return {"Type": "Choice", "Choices": rules, "Default": step.default}


def condition(expression: str) -> Json:
    """A Choice rule (without Next) true exactly when the JMESPath expression is truthy on the state."""
    try:
        parsed = jmespath.compile(expression).parsed
    except jmespath.exceptions.ParseError as exc:
        raise UnsupportedExpression(f"not JMESPath: {exc}") from None
    return _rule(cast(Json, parsed))  # jmespath's stubs name its AST node a TypedDict; we walk it as a dict


def _rule(node: Json) -> Json:
    kind = node["type"]
    if kind == "and_expression":
        return {"And": [_rule(child) for child in node["children"]]}
    if kind == "or_expression":
        return {"Or": [_rule(child) for child in node["children"]]}
    if kind == "not_expression":
        return {"Not": _rule(node["children"][0])}
    if kind in ("field", "subexpression"):
        return _truthy(_path(node))
    if kind == "comparator":
        return _compare(node)
    raise UnsupportedExpression(f"{kind.replace('_', ' ')} has no Choice rule equivalent")


def _path(node: Json) -> str:
    """`a.b` as `$.state.a.b`; only plain field chains have a Choice equivalent."""
    if node["type"] == "field" and _NAME.match(node["value"]):
        return f"$.state.{node['value']}"
    if node["type"] == "subexpression":
        return ".".join(
            [_path(node["children"][0]), *(_path(c).removeprefix("$.state.") for c in node["children"][1:])]
        )
    raise UnsupportedExpression(f"only field paths like a.b can be compared, not a {node['type'].replace('_', ' ')}")


def _present(path: str, rule: Json) -> Json:
    """Guard a comparison: a missing path is null to JMESPath but an error to a Choice rule."""
    return {"And": [{"Variable": path, "IsPresent": True}, rule]}


def _truthy(path: str) -> Json:
    """JMESPath truthiness (not null, false, "", [] or {}), short of empty arrays and objects."""
    return {
        "And": [
            {"Variable": path, "IsPresent": True},
            {"Variable": path, "IsNull": False},
            {"Not": {"Variable": path, "BooleanEquals": False}},
            {"Not": {"Variable": path, "StringEquals": ""}},
        ]
    }


def _compare(node: Json) -> Json:
    left, right = node["children"]
    operator = node["value"]
    if left["type"] == "literal" and right["type"] != "literal":
        left, right = right, left
        operator = {"lt": "gt", "gt": "lt", "lte": "gte", "gte": "lte"}.get(operator, operator)
    if right["type"] != "literal":
        raise UnsupportedExpression("a comparison needs a path on one side and a literal on the other")
    path, value = _path(left), right["value"]
    if operator in ("eq", "ne"):
        equal = _present(path, _equals(path, value))
        return equal if operator == "eq" else {"Not": equal}
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnsupportedExpression(f"{operator} needs a number, not {value!r}")
    return _present(path, {"Variable": path, _NUMERIC[operator]: value})


def _equals(path: str, value: Any) -> Json:
    if value is None:
        return {"Variable": path, "IsNull": True}
    if isinstance(value, bool):
        return {"Variable": path, "BooleanEquals": value}
    if isinstance(value, str):
        return {"Variable": path, "StringEquals": value}
    if isinstance(value, int | float):
        return {"Variable": path, "NumericEquals": value}
    raise UnsupportedExpression(f"cannot compare with {value!r}")
