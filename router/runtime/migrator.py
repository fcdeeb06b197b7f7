"""Executing a migration plan through the router's store and dispatcher: commit each move, then act."""

from __future__ import annotations

from dataclasses import dataclass, field

from router.core.migration import MigrationPlan, Move, migrate
from router.core.outcomes import Rejected
from router.language.definition import Definition
from router.ports import VersionConflict
from router.runtime.service import Router


@dataclass
class Executed:
    moved: list[Move] = field(default_factory=list)
    refused: list[tuple[Move, str]] = field(default_factory=list)


def execute(router: Router, plan: MigrationPlan, old: Definition, new: Definition, actor: str, reason: str) -> Executed:
    """Each move is one conditional write; a journey that moved on since the plan is refused, not retried."""
    done = Executed()
    for move in plan.moves:
        journey = router.store.load(move.journey_id)
        try:
            if journey is None:
                raise Rejected(f"journey {move.journey_id} does not exist")
            commit = migrate(old, new, journey, move, actor, reason, router.clock())
            router.store.commit(commit.journey, commit.record)
        except (Rejected, VersionConflict) as exc:
            done.refused.append((move, str(exc)))
            continue
        router.dispatcher.perform(commit.actions)
        done.moved.append(move)
    return done
