"""How far a customer's journey has come: percent along the path still ahead, and what is needed next.

Pure: from the definition and the journey alone. The path ahead is the shortest one from the current
step to a SUCCESS step; decisions are instant, so they count neither as done nor as ahead.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from router.core.model import ActivationKind, Journey, JourneyStatus
from router.language.definition import Definition, InputStep, StepType, successors


def steps_ahead(definition: Definition, start: str) -> int | None:
    """Non-decision steps from `start` (included) to the nearest SUCCESS step (excluded); None if none is reachable."""
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        name = queue.popleft()
        if definition.step(name).type is StepType.SUCCESS:
            return _counted(definition, name, previous) - 1
        for target in successors(definition.step(name)):
            if target not in previous:
                previous[target] = name
                queue.append(target)
    return None


def _counted(definition: Definition, name: str | None, previous: dict[str, str | None]) -> int:
    count = 0
    while name is not None:
        count += definition.step(name).type is not StepType.DECISION
        name = previous[name]
    return count


def percent(definition: Definition, journey: Journey) -> int:
    """0 at the first step, 100 once it succeeded; otherwise steps done / (done + ahead), rounded down.
    A journey that ended elsewhere (failed, cancelled) reports how far it had come when it ended. Steps of
    the path this definition does not have (renamed or dropped by a migration) are not counted."""
    if journey.status is JourneyStatus.SUCCEEDED:
        return 100
    counted = {s.name for s in definition.steps if s.type not in (StepType.DECISION, StepType.FAIL)}
    path = [s for s in journey.path if s in counted]
    current = journey.step if journey.step in path else (path[-1] if path else None)
    if current is None:
        return 0
    done = len(set(path) - {current})
    ahead = steps_ahead(definition, current) or 1  # off every path to success: one step short of it
    return min(99, 100 * done // (done + ahead))


def needed(definition: Definition, journey: Journey) -> dict[str, Any] | None:
    """The INPUT step waiting on the customer, with its label and the schema of what to send; None if none."""
    for activation in journey.open.values():
        if activation.kind is ActivationKind.INPUT:
            step = definition.step(activation.step)
            assert isinstance(step, InputStep)
            return {"step": step.name, "label": step.label, "input_schema": step.input_schema}
    return None
