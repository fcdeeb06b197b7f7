"""Checks an operator's `skip` and `goto` before they move a journey: will the step it lands on find its inputs?

A worker's inputs are its function's parameters, filled from the journey state by name (workers/step.py);
a decision's are the state paths its conditions read; an approval's, its amount and initiator. Moving a
journey to a step whose inputs were never produced only fails it later, far from the operator who moved it.
"""

from __future__ import annotations

from typing import Any, cast

import jmespath

from router.core.model import Command, Journey
from router.core.outcomes import Rejected
from router.language.definition import ApprovalStep, DecisionStep, Definition, InputStep, ParallelStep, TaskStep
from workers.step import Workers


def missing_inputs(definition: Definition, step_name: str, state: dict[str, Any], workers: Workers) -> list[str]:
    """What step `step_name` would need from `state` and not find there, in words; empty when all is there."""
    step = definition.step(step_name)
    if isinstance(step, TaskStep):
        return workers.problems(step.worker, state)
    if isinstance(step, ParallelStep):
        return [p for branch in step.branches for p in workers.problems(branch.worker, state)]
    if isinstance(step, ApprovalStep):
        return [
            f"{e} (the approval's {k})"
            for k, e in (("amount", step.amount), ("initiator", step.initiator))
            if e and jmespath.search(e, state) is None
        ]
    if isinstance(step, DecisionStep):
        paths = dict.fromkeys(p for b in step.branches for p in _paths(_tree(b.when)))
        absent = [p for p in paths if jmespath.search(p, state) is None]
        # one condition may test for absence on purpose; a decision none of whose inputs exist is a mistake
        return [f"{p} (read by the decision)" for p in absent] if absent and len(absent) == len(paths) else []
    return []


def _tree(expression: str) -> dict[str, Any]:
    """The expression's parse tree; jmespath's stubs name it a TypedDict, which _paths walks as a plain dict."""
    return cast(dict[str, Any], jmespath.compile(expression).parsed)


def _paths(node: dict[str, Any]) -> list[str]:
    """The state paths (a.b.c) a JMESPath expression reads."""
    if node["type"] == "field":
        return [node["value"]]
    children = node.get("children", [])
    if node["type"] == "subexpression" and all(c["type"] == "field" for c in children):
        return [".".join(c["value"] for c in children)]
    return [p for child in children if isinstance(child, dict) for p in _paths(child)]


def check_move(
    definition: Definition,
    journey: Journey,
    command: Command,
    target: str | None,
    output: dict[str, Any] | None,
    workers: Workers,
) -> None:
    """Refuse now, with what is missing, a skip or goto that would land the journey on a step lacking inputs.
    The command line and the API both call it before the router."""
    if command is Command.SKIP and journey.step:
        step = definition.step(journey.step)
        given = output or {}
        if isinstance(step, InputStep) and step.store_as:
            given = {step.store_as: given}
        following = getattr(step, "next", None)
        if following:
            missing = missing_inputs(definition, following, {**journey.state, **given}, workers)
            if missing:
                raise Rejected(
                    f"skipping {step.name!r} with that output leaves {following!r} without what it needs: "
                    f"{'; '.join(missing)}. Give the output {step.name!r} would have produced"
                )
    if command is Command.GOTO and target:
        try:
            definition.step(target)
        except KeyError:
            names = ", ".join(s.name for s in definition.steps)
            raise Rejected(f"{definition.id} has no step {target!r}; its steps are {names}") from None
        missing = missing_inputs(definition, target, journey.state, workers)
        if missing:
            raise Rejected(
                f"{target!r} needs what the journey never produced: {'; '.join(missing)}. "
                "Go to an earlier step that produces it, or patch it in first"
            )
