"""The pure core and the router service on the in-memory store: exactly-once rules."""

from __future__ import annotations

import pytest

from router.core.decide import Absorb, Commit, Rejected, decide
from router.core.model import (
    ActivationKind,
    InputSubmitted,
    JourneyStatus,
    SendWork,
    StartJourney,
    StepFailed,
    StepSucceeded,
    TimerFired,
)
from router.language.loader import parse
from router.language.registry import Registry
from router.ports import VersionConflict
from router.ports.memory import MemoryDispatcher, MemoryStore
from router.runtime.service import MAX_CONFLICTS, Router

FLOW = """
id: flow
version: "1.0.0"
owning_domain: bank-core
input_schema: {type: object, required: [name], properties: {name: {type: string}}}
start_at: check
steps:
  - {name: check, type: TASK, worker: kyc, sla_seconds: 60, next: route}
  - name: route
    type: DECISION
    branches: [{when: "kyc == 'CLEAR'", goto: screens}]
    default: details
  - name: details
    type: INPUT
    sla_seconds: 600
    input_schema: {type: object, required: [passport], properties: {passport: {type: string}}}
    store_as: documents
    next: screens
  - name: screens
    type: PARALLEL
    branches:
      - {name: fraud, worker: fraud, sla_seconds: 60}
      - {name: sanctions, worker: sanctions, sla_seconds: 60}
    next: pause
  - {name: pause, type: WAIT, seconds: 30, next: done}
  - {name: done, type: SUCCESS}
"""
DEFINITION = parse(FLOW)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world() -> tuple[Router, MemoryStore, MemoryDispatcher, Clock]:
    store, dispatcher, clock = MemoryStore(), MemoryDispatcher(), Clock()
    return Router(Registry([DEFINITION]), store, dispatcher, clock), store, dispatcher, clock


def start(router: Router, journey_id: str = "j1") -> Commit:
    outcome = router.handle(StartJourney(journey_id=journey_id, definition_id="flow", input={"name": "Ann"}))
    assert isinstance(outcome, Commit)
    return outcome


def test_start_opens_the_first_task_and_sends_its_work(world):
    """A start commits version 1 with one open TASK activation and one SendWork for it."""
    router, store, dispatcher, _ = world
    outcome = start(router)
    journey = store.journeys["j1"]
    assert journey.version == 1 and journey.status is JourneyStatus.RUNNING
    assert list(journey.open) == ["j1.1"] and journey.open["j1.1"].kind is ActivationKind.TASK
    assert [a.activation_id for a in dispatcher.performed] == ["j1.1"]
    assert outcome.record.lifecycle == ["journey_started"]


def test_duplicate_start_commits_nothing_and_resends_still_open_work(world):
    """A redelivered start is absorbed; its action is re-performed because the activation is still open."""
    router, store, dispatcher, _ = world
    start(router)
    again = router.handle(StartJourney(journey_id="j1", definition_id="flow", input={"name": "Ann"}), redelivered=True)
    assert isinstance(again, Absorb) and again.reason == "duplicate start"
    assert store.journeys["j1"].version == 1
    assert [a.activation_id for a in dispatcher.performed] == ["j1.1", "j1.1"]


def test_result_passes_decision_and_fans_out_parallel_branches(world):
    """One transition: the task completes, the decision routes, both branches are dispatched."""
    router, store, _, _ = world
    start(router)
    outcome = router.handle(StepSucceeded(journey_id="j1", activation_id="j1.1", output={"kyc": "CLEAR"}, actor="kyc"))
    assert isinstance(outcome, Commit)
    assert outcome.record.entered == ["route", "screens"]
    assert sorted(store.journeys["j1"].open) == ["j1.2.fraud", "j1.2.sanctions"]
    assert {a.worker for a in outcome.actions if isinstance(a, SendWork)} == {"fraud", "sanctions"}


def test_duplicate_result_after_later_transitions_resends_only_what_is_still_open(world):
    """A redelivered result re-performs its own transition's still-open actions; a plain copy sends nothing."""
    router, _, _, _ = world
    start(router)
    result = StepSucceeded(journey_id="j1", activation_id="j1.1", output={"kyc": "CLEAR"}, actor="kyc")
    router.handle(result)
    router.handle(StepSucceeded(journey_id="j1", activation_id="j1.2.fraud", output={}, actor="fraud"))
    copy = router.handle(result)
    assert isinstance(copy, Absorb) and copy.reason == "duplicate" and copy.actions == []
    again = router.handle(result, redelivered=True)
    assert isinstance(again, Absorb) and again.reason == "duplicate"
    assert [a.activation_id for a in again.actions] == ["j1.2.sanctions"]


def test_parallel_joins_only_when_every_branch_answered(world):
    """The WAIT after the PARALLEL opens only with the second branch's answer."""
    router, store, _, _ = world
    start(router)
    router.handle(StepSucceeded(journey_id="j1", activation_id="j1.1", output={"kyc": "CLEAR"}, actor="kyc"))
    first = router.handle(StepSucceeded(journey_id="j1", activation_id="j1.2.fraud", output={"f": 1}, actor="fraud"))
    assert isinstance(first, Commit) and first.record.entered == []
    second = router.handle(StepSucceeded(journey_id="j1", activation_id="j1.2.sanctions", output={"s": 2}, actor="s"))
    assert isinstance(second, Commit) and second.record.entered == ["pause"]
    assert store.journeys["j1"].state | {"f": 1, "s": 2} == store.journeys["j1"].state


def test_timer_fired_early_is_rearmed_and_on_time_completes(world):
    """A timer that arrives before its wake time re-arms; on time, the journey moves on."""
    router, store, _, clock = world
    start(router)
    router.handle(StepSucceeded(journey_id="j1", activation_id="j1.1", output={"kyc": "CLEAR"}, actor="kyc"))
    router.handle(StepSucceeded(journey_id="j1", activation_id="j1.2.fraud", output={}, actor="fraud"))
    router.handle(StepSucceeded(journey_id="j1", activation_id="j1.2.sanctions", output={}, actor="sanctions"))
    (timer_id,) = store.journeys["j1"].open
    early = router.handle(TimerFired(journey_id="j1", activation_id=timer_id))
    assert isinstance(early, Absorb) and early.actions[0].delay_seconds == 30
    clock.now += 30
    done = router.handle(TimerFired(journey_id="j1", activation_id=timer_id))
    assert isinstance(done, Commit) and store.journeys["j1"].status is JourneyStatus.SUCCEEDED
    assert done.record.lifecycle == ["journey_completed"]


def test_invalid_customer_input_is_rejected_and_changes_nothing(world):
    """Data that breaks the INPUT step's schema raises Rejected naming the field, not echoing values."""
    router, store, _, _ = world
    start(router)
    router.handle(StepSucceeded(journey_id="j1", activation_id="j1.1", output={"kyc": "REFER"}, actor="kyc"))
    with pytest.raises(Rejected, match="passport") as caught:
        router.handle(InputSubmitted(journey_id="j1", activation_id="j1.2", data={"passport": 12345}))
    assert "12345" not in str(caught.value)
    assert store.journeys["j1"].version == 2
    ok = router.handle(InputSubmitted(journey_id="j1", activation_id="j1.2", data={"passport": "X1"}))
    assert isinstance(ok, Commit) and store.journeys["j1"].state["documents"] == {"passport": "X1"}


def test_terminal_step_failure_fails_the_journey_with_a_readable_error(world):
    """A terminal worker failure ends the journey FAILED, error recorded, nothing left open."""
    router, store, _, _ = world
    start(router)
    router.handle(StepFailed(journey_id="j1", activation_id="j1.1", error="TerminalError", message="bad", actor="kyc"))
    journey = store.journeys["j1"]
    assert journey.status is JourneyStatus.FAILED and journey.open == {}
    assert journey.error == {"error": "TerminalError", "message": "bad", "step": "check"}


def test_answers_for_finished_or_unknown_journeys_change_nothing(world):
    """A stale answer is absorbed; an answer for a journey that never existed is rejected."""
    router, _, _, _ = world
    start(router)
    router.handle(StepFailed(journey_id="j1", activation_id="j1.1", error="E", actor="kyc"))
    late = router.handle(StepSucceeded(journey_id="j1", activation_id="j1.9", output={}, actor="kyc"))
    assert isinstance(late, Absorb) and late.reason == "journey finished"
    with pytest.raises(Rejected, match="does not exist"):
        router.handle(StepSucceeded(journey_id="nope", activation_id="nope.1", output={}, actor="kyc"))


def test_lost_version_race_rederives_from_the_winner(world):
    """When another writer commits first, the router re-decides from the item the conflict returned."""
    router, store, _, _ = world
    start(router)
    winner = decide(
        DEFINITION,
        store.journeys["j1"],
        StepSucceeded(journey_id="j1", activation_id="j1.1", output={"kyc": "CLEAR"}, actor="kyc"),
        1_000.0,
    )
    assert isinstance(winner, Commit)
    real_commit = store.commit

    def racing_commit(journey, record):
        store.commit = real_commit  # the other writer gets in first, once
        real_commit(winner.journey, winner.record)
        real_commit(journey, record)

    store.commit = racing_commit
    outcome = router.handle(StepSucceeded(journey_id="j1", activation_id="j1.1", output={"kyc": "CLEAR"}, actor="kyc"))
    assert isinstance(outcome, Absorb) and outcome.reason == "duplicate"
    assert router.counts["conflicts"] == 1 and store.journeys["j1"].version == 2
    assert [r.seq for r in store.records] == [1, 2]


def test_conflict_carries_the_current_journey():
    """The store's conflict error hands back the item as it is, so no re-read is needed."""
    store = MemoryStore()
    with pytest.raises(VersionConflict) as caught:
        store.commit(
            decide(
                DEFINITION, None, StartJourney(journey_id="j", definition_id="flow", input={"name": "A"}), 0
            ).journey.model_copy(update={"version": 3}),
            None,
        )  # type: ignore[arg-type]
    assert caught.value.current is None


def test_a_writer_that_always_loses_gives_up_after_max_conflicts(world):
    """Every commit losing its race ends, after MAX_CONFLICTS attempts, in the conflict itself."""
    router, store, _, _ = world
    start(router)
    attempts = []

    def always_losing(journey, record):
        attempts.append(journey.version)
        raise VersionConflict(store.journeys["j1"])

    store.commit = always_losing
    with pytest.raises(VersionConflict):
        router.handle(StepSucceeded(journey_id="j1", activation_id="j1.1", output={"kyc": "CLEAR"}, actor="kyc"))
    assert len(attempts) == MAX_CONFLICTS and router.counts["conflicts"] == MAX_CONFLICTS


def test_a_definition_copied_with_changes_hashes_its_own_content():
    """The pinning hash is computed once per definition, never carried over to a changed copy."""
    pinned = DEFINITION.content_hash
    assert DEFINITION.model_copy().content_hash == pinned
    assert DEFINITION.model_copy(update={"title": "changed"}).content_hash != pinned


LOOP = """
id: loop
version: "1.0.0"
owning_domain: bank-core
input_schema: {type: object}
start_at: poll
steps:
  - {name: poll, type: TASK, worker: kyc, sla_seconds: 60, next: again}
  - name: again
    type: DECISION
    branches: [{when: "done == `true`", goto: finished}]
    default: poll
  - {name: finished, type: SUCCESS}
"""


def test_a_long_journey_keeps_a_bounded_item_and_still_absorbs_its_oldest_answers():
    """Two hundred steps: the item remembers only the recent path and consumed activations, its size stays flat,
    and the answer to the very first activation, long forgotten by the item, is still never applied twice."""
    from router.adapters.dynamodb import item_bytes, journey_item
    from router.core.decide import CLOSED_WINDOW
    from router.core.transition import PATH_WINDOW

    store, dispatcher, clock = MemoryStore(), MemoryDispatcher(), Clock()
    router = Router(Registry([parse(LOOP)]), store, dispatcher, clock)
    router.handle(StartJourney(journey_id="long", definition_id="loop", input={}))
    sizes = []
    for seq in range(1, 201):
        answer = StepSucceeded(journey_id="long", activation_id=f"long.{seq}", output={"n": seq}, actor="kyc")
        assert isinstance(router.handle(answer), Commit)
        commit = store.journeys["long"]
        sizes.append(item_bytes(journey_item(commit, store.records[-1])))
    journey = store.journeys["long"]
    assert journey.version == 201 and len(journey.path) == PATH_WINDOW and len(journey.closed_by) == CLOSED_WINDOW
    assert sizes[-1] - sizes[40] < 64  # flat once the windows are full (a few digits more in the numbers)
    first = StepSucceeded(journey_id="long", activation_id="long.1", output={"n": 1}, actor="kyc")
    outcome = router.handle(first, redelivered=True)
    assert isinstance(outcome, Absorb) and store.journeys["long"].version == 201
    recent = StepSucceeded(journey_id="long", activation_id="long.200", output={"n": 200}, actor="kyc")
    assert router.handle(recent).reason == "duplicate"  # type: ignore[union-attr]
