"""router/core/gates.py under mutation: dominators on graphs that need more than one pass, the digest's exact form.

The behaviour tests ask gates_before about one straight graph, which the first pass of the dataflow already gets
right; mutation testing showed the iteration, the start step's own set and the canonical JSON of the digest were
never pinned. (Run in a process that had already run the tests, the memo of dominators also hid every mutant of
their computation: `make mutation` forks each mutant from a process that has not.)
"""

from __future__ import annotations

import hashlib
import math

import pytest

from router.core.gates import (
    APPROVAL_GATE,
    GateRefused,
    check_entry,
    covered_paths,
    digest,
    gates_before,
    passed,
    voided,
)
from router.core.model import Grant
from router.language.definition import ApprovalStep
from router.language.loader import parse

# Declared so that a step comes before the steps that lead to it: one pass of the dataflow is not enough.
BRANCHED = """
id: branched
version: "1"
owning_domain: x
start_at: intake
steps:
  - {name: done, type: SUCCESS}
  - {name: join, type: TASK, worker: w, sla_seconds: 60, next: done, catch: [{errors: [ALL], next: intake}]}
  - {name: fast, type: TASK, worker: w, sla_seconds: 60, next: join}
  - name: second
    type: APPROVAL
    sla_seconds: 7500
    levels: [{role: manager, timeout_seconds: 3600}]
    next: join
  - name: route
    type: DECISION
    branches: [{when: "amount > `100`", goto: second}]
    default: fast
  - name: first
    type: APPROVAL
    sla_seconds: 7500
    levels: [{role: officer, timeout_seconds: 3600}]
    next: route
  - {name: intake, type: TASK, worker: w, sla_seconds: 60, next: first}
"""

# The start step is itself a gate.
GATE_FIRST = """
id: gate-first
version: "1"
owning_domain: x
start_at: approve
steps:
  - name: approve
    type: APPROVAL
    sla_seconds: 7500
    levels: [{role: officer, timeout_seconds: 3600}]
    next: work
  - {name: work, type: TASK, worker: w, sla_seconds: 60, next: recheck}
  - name: recheck
    type: APPROVAL
    sla_seconds: 7500
    levels: [{role: manager, timeout_seconds: 3600}]
    next: done
  - {name: done, type: SUCCESS}
"""


@pytest.mark.parametrize(
    ("target", "gates"),
    [
        ("intake", []),
        ("first", []),
        ("route", ["first"]),
        ("second", ["first"]),
        ("fast", ["first"]),
        ("join", ["first"]),
        ("done", ["first"]),
    ],
)
def test_the_gates_before_a_step_are_those_on_every_path_to_it(target: str, gates: list[str]) -> None:
    """`second` is on one path to `join` only, so it guards neither `join` nor `done`; `first` guards everything
    after it, even with a catch looping back to the start; a gate never lies before itself."""
    assert [g.name for g in gates_before(parse(BRANCHED), target)] == gates


@pytest.mark.parametrize(
    ("target", "gates"), [("approve", []), ("work", ["approve"]), ("done", ["approve", "recheck"])]
)
def test_a_start_step_that_is_a_gate_guards_what_follows_it_and_nothing_else_does_early(target, gates) -> None:
    """The start's dominators are itself alone: a later gate does not guard a step before it."""
    assert [g.name for g in gates_before(parse(GATE_FIRST), target)] == gates


def test_a_default_approval_covers_every_field_but_its_own_result() -> None:
    """Without `covers`, an approval certifies every field of the state but its store_as, in sorted order."""
    step = parse(GATE_FIRST).step("approve")
    assert isinstance(step, ApprovalStep)
    assert covered_paths(step, {"b": 1, "approval": {"outcome": "x"}, "a": 2}) == ["a", "b"]


def test_the_digest_is_the_sha256_of_compact_sorted_utf8_json() -> None:
    """The form every component agrees on: sorted keys, no spaces, non-ASCII as UTF-8, not escaped."""
    state = {"name": "Zoë", "amount": 10.5, "other": "ignored"}
    canonical = '{"amount":10.5,"name":"Zoë"}'
    assert digest(["name", "amount"], state) == hashlib.sha256(canonical.encode()).hexdigest()


def test_a_value_json_cannot_carry_is_refused_rather_than_digested() -> None:
    """NaN has no JSON form: no digest is taken of it (two NaNs would otherwise certify as equal)."""
    with pytest.raises(ValueError, match="JSON compliant"):
        digest(["amount"], {"amount": math.nan})


def test_a_grant_passes_only_on_the_digest_of_its_fields_now() -> None:
    """Granted on today's values: passed, entry allowed, not voided. Values changed: none of these."""
    definition = parse(GATE_FIRST)
    gate = definition.step("approve")
    assert isinstance(gate, ApprovalStep)
    state = {"amount": 10}
    granted = {"approve": Grant(digest=digest(["amount"], state), paths=["amount"])}
    assert passed(gate, granted, state)
    check_entry(definition, granted, state, "work")
    assert voided(granted, state) == []

    changed = {"amount": 11}
    assert not passed(gate, granted, changed)
    assert voided(granted, changed) == ["approve"]
    with pytest.raises(
        GateRefused, match="step 'work' lies behind approval 'approve', which has not been granted"
    ) as e:
        check_entry(definition, granted, changed, "work")
    assert e.value.rule == APPROVAL_GATE
    assert str(e.value).endswith("on the current values of the fields it covers")
    assert not passed(gate, {}, state)


# A loop behind the gate whose way back is declared after the step it returns to.
LOOPED = """
id: looped
version: "1"
owning_domain: x
start_at: intake
steps:
  - {name: intake, type: TASK, worker: w, sla_seconds: 60, next: approve}
  - name: approve
    type: APPROVAL
    sla_seconds: 7500
    levels: [{role: officer, timeout_seconds: 3600}]
    next: work
  - {name: work, type: TASK, worker: w, sla_seconds: 60, next: check}
  - name: check
    type: DECISION
    branches: [{when: "again", goto: work}]
    default: done
  - {name: done, type: SUCCESS}
"""


@pytest.mark.parametrize(("target", "gates"), [("intake", []), ("work", ["approve"]), ("check", ["approve"])])
def test_a_step_in_a_loop_behind_a_gate_is_still_behind_it(target: str, gates: list[str]) -> None:
    """`work` is reached from the approval and from the loop's decision, which lies behind the approval too: every
    path to it passes the gate, so nothing may put a journey there without the grant."""
    assert [g.name for g in gates_before(parse(LOOPED), target)] == gates


def test_the_gates_remembered_for_one_definition_are_never_those_of_another() -> None:
    """Dominators are remembered per definition (id, version, content): asking about a second definition in the
    same process gives its own gates, not the first one's."""
    assert [g.name for g in gates_before(parse(LOOPED), "work")] == ["approve"]
    assert [g.name for g in gates_before(parse(GATE_FIRST), "work")] == ["approve"]
    assert [g.name for g in gates_before(parse(GATE_FIRST), "done")] == ["approve", "recheck"]
    assert gates_before(parse(LOOPED), "intake") == []
    assert [g.name for g in gates_before(parse(BRANCHED), "join")] == ["first"]
