"""Golden transitions: what the pure core decided for a scenario, pinned in tests/data/golden/<name>.json.

A scenario feeds events to `decide` one after another (each commit's journey is the next one's input) and records
every outcome whole: the committed journey, the transition record, the actions, the reason a duplicate was absorbed,
or the refusal and its message. Any change to any of it fails the test, so a change to the core cannot silently
alter journeys in flight or what the log and the domain events say. After an intended change, regenerate with
JOURNEYS_UPDATE_GOLDEN=1 and read the diff before committing it. A missing golden file fails; it is never created
by a plain run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from router.core.decide import decide
from router.core.model import Event, Journey
from router.core.outcomes import Absorb, Commit, Rejected
from router.language.definition import Definition

GOLDEN = Path(__file__).parent / "data" / "golden"
UPDATE = os.environ.get("JOURNEYS_UPDATE_GOLDEN") == "1"


def recorded(outcome: Commit | Absorb | Rejected) -> dict[str, Any]:
    if isinstance(outcome, Rejected):
        return {"rejected": type(outcome).__name__, "rule": getattr(outcome, "rule", None), "message": str(outcome)}
    return {type(outcome).__name__.lower(): outcome.model_dump(mode="json")}


class Scenario:
    """Events decided in order at given times; `journey` is the last committed one."""

    def __init__(self, definition: Definition, journey: Journey | None = None) -> None:
        self.definition = definition
        self.journey = journey
        self.log: list[dict[str, Any]] = []

    def send(self, event: Event, now: float, redelivered: bool = False) -> Commit | Absorb | Rejected:
        try:
            outcome: Commit | Absorb | Rejected = decide(self.definition, self.journey, event, now, redelivered)
        except Rejected as refused:
            outcome = refused
        if isinstance(outcome, Commit):
            self.journey = outcome.journey
        self.log.append({"at": now, "event": event.model_dump(mode="json"), **recorded(outcome)})
        return outcome


def check(name: str, log: list[dict[str, Any]]) -> None:
    """Compare `log` with the golden file `name`, outcome by outcome (the first difference names its index)."""
    path = GOLDEN / f"{name}.json"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(log, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    assert path.exists(), f"no golden file {path}: run once with JOURNEYS_UPDATE_GOLDEN=1 and review it"
    golden = json.loads(path.read_text())
    actual = json.loads(json.dumps(log))  # the same JSON round trip the file took (tuples, float keys)
    for n, (want, got) in enumerate(zip(golden, actual, strict=False)):
        assert got == want, f"{name}: outcome {n} differs from the golden file at {_difference(want, got, '')}{HINT}"
    assert len(actual) == len(golden), f"{name}: {len(actual)} outcomes, the golden file has {len(golden)}{HINT}"


HINT = " (an intended change: JOURNEYS_UPDATE_GOLDEN=1, then review `git diff tests/data/golden` before committing)"


def _difference(want: Any, got: Any, where: str) -> str:
    """The first place two JSON values differ, with both values there."""
    if isinstance(want, dict) and isinstance(got, dict):
        for key in sorted(want.keys() | got.keys()):
            if want.get(key, "<absent>") != got.get(key, "<absent>"):
                return _difference(want.get(key, "<absent>"), got.get(key, "<absent>"), f"{where}.{key}")
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for n, (a, b) in enumerate(zip(want, got, strict=True)):
            if a != b:
                return _difference(a, b, f"{where}[{n}]")
    return f"{where or '.'}: golden {want!r}, now {got!r}"
