"""Approval gates: what an approval binds, and which steps lie behind it. Pure: no I/O, no clock.

An APPROVAL step certifies the fields it `covers` (JMESPath expressions over the state; by default every
field of the state it was entered with). Their digest is taken when the approval opens, travels with every
ticket and decision, and is kept on the journey once the approval is granted. A step *behind* a gate is one
every path from the start passes the gate to reach (the gate dominates it): nothing may put a journey
there unless the gate was granted on the digest of the covered fields as they are now.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import jmespath

from router.core.model import Grant
from router.core.outcomes import Rejected
from router.language.definition import ApprovalStep, Definition, successors


class GateRefused(Rejected):
    """An intervention the maker-checker rules refuse; `rule` names the rule (the API's error code)."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(f"{rule}: {message}")


APPROVAL_GATE = "approval-gate"  # past an approval not granted on the current digest
MAKER_FIELD = "maker-field"  # the field that names the maker is never edited
FOUR_EYES = "four-eyes"  # an override needs a second, different person


def covered_paths(step: ApprovalStep, state: dict[str, Any]) -> list[str]:
    """What the step's approvers certify: its `covers`, else every field of the state it is entered with."""
    if step.covers:
        return list(step.covers)
    return sorted(key for key in state if key != step.store_as)


def digest(paths: list[str], state: dict[str, Any]) -> str:
    """A digest of the covered fields' values, canonical JSON (sorted keys), so equal values always agree."""
    values = {path: jmespath.search(path, state) for path in paths}
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def maker_paths(definition: Definition) -> set[str]:
    """The state fields that name a maker, for any approval of the definition: never patched."""
    return {step.initiator for step in definition.steps if isinstance(step, ApprovalStep) and step.initiator}


def gates_before(definition: Definition, target: str) -> list[ApprovalStep]:
    """The approval steps every path from the start passes to reach `target` (not `target` itself)."""
    key = (definition.id, definition.version, definition.content_hash)
    if key not in _DOMINATORS:
        _DOMINATORS[key] = _dominators(definition)
    steps = (definition.step(name) for name in sorted(_DOMINATORS[key].get(target, ())) if name != target)
    return [step for step in steps if isinstance(step, ApprovalStep)]


_DOMINATORS: dict[tuple[str, str, str], dict[str, frozenset[str]]] = {}  # a definition's graph never changes


def _dominators(definition: Definition) -> dict[str, frozenset[str]]:
    """For each step, the approval steps that dominate it (iterative dataflow over the step graph)."""
    names = [step.name for step in definition.steps]
    gates = frozenset(s.name for s in definition.steps if isinstance(s, ApprovalStep))
    preds: dict[str, list[str]] = {name: [] for name in names}
    for step in definition.steps:
        for nxt in successors(step):
            preds.setdefault(nxt, []).append(step.name)
    dom: dict[str, frozenset[str]] = {name: gates | {name} for name in names}
    dom[definition.start_at] = frozenset({definition.start_at}) & gates
    changed = True
    while changed:
        changed = False
        for name in names:
            if name == definition.start_at:
                continue
            incoming = [dom[p] for p in preds.get(name, [])]
            new = (frozenset.intersection(*incoming) if incoming else frozenset()) | ({name} & gates)
            if new != dom[name]:
                dom[name], changed = new, True
    return dom


def passed(step: ApprovalStep, granted: dict[str, Grant], state: dict[str, Any]) -> bool:
    """Whether `step` was granted on the digest the fields it covered have now."""
    grant = granted.get(step.name)
    return grant is not None and grant.digest == digest(grant.paths, state)


def check_entry(definition: Definition, granted: dict[str, Grant], state: dict[str, Any], target: str) -> None:
    """Raise GateRefused unless every approval gate before `target` was granted on the current digest."""
    for gate in gates_before(definition, target):
        if not passed(gate, granted, state):
            raise GateRefused(
                APPROVAL_GATE,
                f"step {target!r} lies behind approval {gate.name!r}, which has not been granted on the "
                "current values of the fields it covers",
            )


def voided(granted: dict[str, Grant], state: dict[str, Any]) -> list[str]:
    """Gates granted before whose covered fields have changed since: their decisions no longer stand."""
    return [name for name, grant in granted.items() if grant.digest != digest(grant.paths, state)]
