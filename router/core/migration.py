"""Moving in-flight journeys from one definition version to another: planned purely, each move audited.

A plan says exactly which journeys would move, from which step to which, and which stay where they are
and why. Executing a move is an operator transition like an intervention: refused unless the journey is
still where the plan saw it (same version, step and pinned definition), then committed as one transition
that re-pins the journey to the new version and enters the mapped step afresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from jmespath.parser import ParsedResult

from router.core.model import FINISHED, Journey, JourneyStatus
from router.core.outcomes import Commit, Rejected
from router.core.transition import transition
from router.language.definition import Definition, Model
from router.language.expressions import ExpressionError, compiled, search


class Move(Model):
    journey_id: str
    from_step: str
    to_step: str
    expected_version: int  # the journey's version when planned; a journey that moved on is not moved


class Leftover(Model):
    journey_id: str
    step: str | None
    reason: str


class MigrationPlan(Model):
    definition_id: str
    from_version: str
    to_version: str
    moves: list[Move]
    left: list[Leftover]


def plan(
    journeys: Iterable[Journey],
    old: Definition,
    new: Definition,
    mapping: Mapping[str, str],
    where: str | None = None,
) -> MigrationPlan:
    """Which unfinished journeys on `old` move (their step is mapped) and which are left, and why."""
    _check(old, new, mapping, where)
    selector = compiled(where, "--where") if where else None
    moves, left = [], []
    for journey in sorted(journeys, key=lambda j: j.id):
        if (journey.definition_id, journey.definition_version) != (old.id, old.version):
            continue
        if journey.status in FINISHED or (selector and not _selects(selector, journey)):
            continue
        if journey.definition_hash != old.content_hash:
            reason = f"pinned to content {journey.definition_hash}, not {old.content_hash}"
            left.append(Leftover(journey_id=journey.id, step=journey.step, reason=reason))
        elif journey.step is None or journey.step not in mapping:
            left.append(Leftover(journey_id=journey.id, step=journey.step, reason=f"no mapping for {journey.step}"))
        else:
            to_step = mapping[journey.step]
            moves.append(
                Move(journey_id=journey.id, from_step=journey.step, to_step=to_step, expected_version=journey.version)
            )
    return MigrationPlan(definition_id=old.id, from_version=old.version, to_version=new.version, moves=moves, left=left)


def migrate(
    old: Definition, new: Definition, journey: Journey, move: Move, actor: str, reason: str, now: float
) -> Commit:
    """The audited transition of one planned move, or Rejected if the journey is no longer as planned."""
    if journey.version != move.expected_version or journey.step != move.from_step:
        raise Rejected(
            f"journey {journey.id} moved on (version {journey.version} at {journey.step}, planned at "
            f"version {move.expected_version} at {move.from_step}): plan again"
        )
    if journey.status in FINISHED:
        raise Rejected(f"journey {journey.id} is {journey.status.value}: there is nothing to migrate")
    pinned = (journey.definition_id, journey.definition_version, journey.definition_hash)
    if pinned != (old.id, old.version, old.content_hash):
        raise Rejected(f"journey {journey.id} runs {' '.join(pinned)}, not {old.id} {old.version} {old.content_hash}")
    moved = journey.model_copy(
        update={
            "open": {},  # answers to the old activations are stale from now on
            "status": JourneyStatus.RUNNING,
            "error": None,
            "definition_version": new.version,
            "definition_hash": new.content_hash,
        }
    )
    return transition(
        new,
        moved,
        now,
        enter=move.to_step,
        event="migrated",
        actor=actor,
        step_name=move.from_step,
        step_result=f"migrated {old.version} -> {new.version}: {move.from_step} -> {move.to_step}",
        reason=reason,
    )


def _selects(selector: ParsedResult, journey: Journey) -> bool:
    """Whether --where picks `journey`; a failure names the journey and the problem, never its state's values."""
    try:
        return bool(search(selector, _view(journey), f"--where on journey {journey.id}"))
    except ExpressionError as exc:
        raise Rejected(str(exc)) from None


def _view(journey: Journey) -> dict[str, Any]:
    """What a --where expression sees."""
    return {
        "id": journey.id,
        "step": journey.step,
        "status": journey.status.value,
        "business_key": journey.business_key,
        "state": journey.state,
    }


def _check(old: Definition, new: Definition, mapping: Mapping[str, str], where: str | None) -> None:
    problems = []
    if old.id != new.id or old.version == new.version:
        problems.append(
            f"a migration is between two versions of one definition, not {old.id} {old.version} "
            f"and {new.id} {new.version}"
        )
    old_steps, new_steps = {s.name for s in old.steps}, {s.name for s in new.steps}
    problems += [f"{old.version} has no step {name!r}" for name in mapping if name not in old_steps]
    problems += [f"{new.version} has no step {name!r}" for name in mapping.values() if name not in new_steps]
    if where:
        try:
            compiled(where, "--where")
        except ExpressionError as exc:  # says where it stops; the expression may hold customer data, never repeated
            problems.append(str(exc))
    if problems:
        raise Rejected("; ".join(problems))
