"""Definition versions and migrations on the in-memory store: pinned journeys, refused republishing, audited moves."""

from __future__ import annotations

import pytest

from router.core.decide import Rejected
from router.core.migration import plan
from router.core.model import ActivationKind, InputSubmitted, Journey, JourneyStatus, StartJourney, StepSucceeded
from router.language.definition import Definition
from router.language.loader import parse
from router.language.registry import Registry, UnknownDefinition
from router.language.versions import DefinitionConflict, Published, PublishedRegistry, publish
from router.ports.memory import MemoryDefinitions, MemoryDispatcher, MemoryStore
from router.runtime.migrator import execute
from router.runtime.service import Router

V1 = """
id: onboard
version: "1.0.0"
owning_domain: bank-core
start_at: details
steps:
  - {name: details, label: Your details, type: INPUT, sla_seconds: 600, input_schema: {type: object}, next: check}
  - {name: check, label: Checking, type: TASK, worker: kyc, sla_seconds: 60, next: done}
  - {name: done, type: SUCCESS}
"""

V2 = """
id: onboard
version: "2.0.0"
owning_domain: bank-core
start_at: collect
steps:
  - {name: collect, label: Your details, type: INPUT, sla_seconds: 600, input_schema: {type: object}, next: check}
  - {name: check, label: Checking, type: TASK, worker: kyc, sla_seconds: 60, next: welcome}
  - {name: welcome, label: Welcome, type: TASK, worker: notify-customer, sla_seconds: 60, next: done}
  - {name: done, type: SUCCESS}
"""


def v1() -> Definition:
    return parse(V1)


def v2() -> Definition:
    return parse(V2)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


def router_on(registry: Registry, store: MemoryStore | None = None) -> Router:
    return Router(registry, store or MemoryStore(), MemoryDispatcher(), Clock())


def run_to_end(router: Router, journey_id: str) -> Journey:
    """Answer every open activation (input, then tasks) until the journey ends."""
    for _ in range(10):
        journey = router.store.load(journey_id)
        assert journey is not None
        if journey.status is not JourneyStatus.RUNNING:
            return journey
        for activation in journey.open.values():
            if activation.kind is ActivationKind.INPUT:
                router.handle(InputSubmitted(journey_id=journey_id, activation_id=activation.id, data={}))
            else:
                answer = StepSucceeded(journey_id=journey_id, activation_id=activation.id, actor=activation.worker)
                router.handle(answer)
    raise AssertionError(f"journey {journey_id} did not end")


def test_journey_started_on_v1_completes_on_v1_after_v2_is_published() -> None:
    """Publishing v2 changes no journey in flight; journeys started afterwards run v2."""
    store, published = MemoryStore(), MemoryDefinitions()
    publish(published, [v1()])
    router = router_on(PublishedRegistry([v1()], published), store)
    router.handle(StartJourney(journey_id="old", definition_id="onboard"))
    assert store.journeys["old"].step == "details"

    publish(published, [v2()])  # the new deploy carries only v2; v1 stays published
    router = router_on(PublishedRegistry([v2()], published), store)
    router.handle(StartJourney(journey_id="new", definition_id="onboard"))
    old, new = run_to_end(router, "old"), run_to_end(router, "new")

    assert (old.definition_version, old.definition_hash, old.path) == (
        "1.0.0",
        v1().content_hash,
        ["details", "check", "done"],
    )
    assert (new.definition_version, new.path) == ("2.0.0", ["collect", "check", "welcome", "done"])
    assert old.status is new.status is JourneyStatus.SUCCEEDED


def test_publishing_other_content_under_an_existing_version_is_refused() -> None:
    """Same content again is a no-op; changed content under the same version is refused and nothing changes."""
    store = MemoryDefinitions()
    assert publish(store, [v1()]) == [(v1(), Published.PUBLISHED)]
    assert publish(store, [v1()]) == [(v1(), Published.UNCHANGED)]
    changed = parse(V1.replace("sla_seconds: 60", "sla_seconds: 90"))
    with pytest.raises(DefinitionConflict, match="already published"):
        publish(store, [changed])
    assert store.get("onboard", "1.0.0") == v1()


def test_a_version_neither_deployed_nor_published_is_an_explicit_error() -> None:
    """A journey pinned to a missing version is refused by name, never run on the newest one instead."""
    registry = PublishedRegistry([v2()], MemoryDefinitions())
    assert registry.get("onboard") == v2()
    with pytest.raises(UnknownDefinition, match="neither deployed nor published"):
        registry.get("onboard", "1.0.0")


class CountingDefinitions(MemoryDefinitions):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, definition_id: str, version: str) -> Definition | None:
        self.reads += 1
        return super().get(definition_id, version)


def test_a_published_version_is_read_from_the_store_once() -> None:
    """Its content never changes, so each event of a journey pinned to it costs no further read; a miss is not kept."""
    published = CountingDefinitions()
    registry = PublishedRegistry([v2()], published)
    with pytest.raises(UnknownDefinition):
        registry.get("onboard", "1.0.0")
    publish(published, [v1()])
    assert [registry.get("onboard", "1.0.0") for _ in range(3)] == [v1()] * 3
    assert published.reads == 2  # the miss, then the first hit
    assert registry.get("onboard", "2.0.0") == v2() and published.reads == 2  # deployed: never read


def test_a_yaml_file_and_a_twin_with_other_content_under_one_version_do_not_load() -> None:
    """Two declarations of one (id, version) must agree, or the registry refuses both."""
    with pytest.raises(ValueError, match="declared twice"):
        Registry([v1(), parse(V1.replace("Checking", "Checking you"))])
    assert Registry([v1(), v1()]).get("onboard", "1.0.0") == v1()


def _waiting_journeys() -> tuple[Router, MemoryStore]:
    """Three v1 journeys: two at `details`, one already at `check`, plus one finished."""
    store = MemoryStore()
    router = router_on(Registry([v1(), v2()]), store)
    for journey_id, country in (("a", "GB"), ("b", "FR"), ("c", "GB"), ("d", "GB")):
        router.handle(
            StartJourney(
                journey_id=journey_id, definition_id="onboard", definition_version="1.0.0", input={"country": country}
            )
        )
    details = next(iter(store.journeys["c"].open.values()))
    router.handle(InputSubmitted(journey_id="c", activation_id=details.id, data={}))
    run_to_end(router, "d")
    return router, store


def test_migration_plan_lists_moves_and_journeys_left_alone() -> None:
    """Mapped steps move, unmapped ones are listed with the reason, finished and filtered journeys are not touched."""
    _, store = _waiting_journeys()
    planned = plan(store.journeys.values(), v1(), v2(), {"details": "collect"})
    assert [(m.journey_id, m.from_step, m.to_step) for m in planned.moves] == [
        ("a", "details", "collect"),
        ("b", "details", "collect"),
    ]
    assert [(x.journey_id, x.step, x.reason) for x in planned.left] == [("c", "check", "no mapping for check")]
    filtered = plan(store.journeys.values(), v1(), v2(), {"details": "collect"}, where="state.country == 'GB'")
    assert [m.journey_id for m in filtered.moves] == ["a"]


def test_migration_dry_run_is_exactly_what_the_real_run_does() -> None:
    """Every planned move is committed as an audited transition, re-pinning the journey; nothing else moves."""
    router, store = _waiting_journeys()
    before = {k: j.model_copy() for k, j in store.journeys.items()}
    dry = plan(store.journeys.values(), v1(), v2(), {"details": "collect"})
    assert store.journeys == before  # planning writes nothing
    done = execute(
        router, plan(store.journeys.values(), v1(), v2(), {"details": "collect"}), v1(), v2(), "ops-ann", "v2 form"
    )
    assert done.moved == dry.moves and done.refused == []
    moved = {m.journey_id for m in done.moved}
    assert {k for k, j in store.journeys.items() if j != before[k]} == moved
    audited = {r.journey_id: r for r in store.records if r.event == "migrated"}
    assert audited.keys() == moved
    for journey_id in moved:
        journey, record = store.journeys[journey_id], audited[journey_id]
        assert (journey.definition_version, journey.definition_hash, journey.step) == (
            "2.0.0",
            v2().content_hash,
            "collect",
        )
        assert (record.actor, record.reason, record.seq) == ("ops-ann", "v2 form", before[journey_id].version + 1)
        assert record.step_result == "migrated 1.0.0 -> 2.0.0: details -> collect"
        assert run_to_end(router, journey_id).path[-3:] == ["check", "welcome", "done"]


def test_a_journey_that_moved_on_since_the_plan_is_refused_not_moved() -> None:
    """The version check: a stale plan cannot drag a journey back to a step it has left."""
    router, store = _waiting_journeys()
    stale = plan(store.journeys.values(), v1(), v2(), {"details": "collect"})
    details = next(iter(store.journeys["a"].open.values()))
    router.handle(InputSubmitted(journey_id="a", activation_id=details.id, data={}))
    done = execute(router, stale, v1(), v2(), "ops-ann", "v2 form")
    assert [m.journey_id for m in done.moved] == ["b"]
    assert [(m.journey_id, "moved on" in why) for m, why in done.refused] == [("a", True)]
    assert store.journeys["a"].definition_version == "1.0.0"


def test_a_mapping_naming_steps_that_do_not_exist_is_refused() -> None:
    """Both sides of every mapping are checked before anything is planned."""
    with pytest.raises(Rejected, match=r"1\.0\.0 has no step 'nope'.*2\.0\.0 has no step 'gone'"):
        plan([], v1(), v2(), {"nope": "collect", "details": "gone"})


def test_an_answer_for_a_journey_pinned_to_a_missing_version_is_refused_and_changes_nothing() -> None:
    """A deploy that lost a version the journey runs on refuses its events by name (parked, never guessed)."""
    store = MemoryStore()
    router_on(Registry([v1()]), store).handle(StartJourney(journey_id="j", definition_id="onboard"))
    before = store.journeys["j"]
    (details,) = before.open.values()
    with pytest.raises(Rejected, match="neither deployed nor published"):
        router_on(PublishedRegistry([v2()], MemoryDefinitions()), store).handle(
            InputSubmitted(journey_id="j", activation_id=details.id, data={})
        )
    assert store.journeys["j"] == before


IBAN = "GB82WEST12345698765432"  # a customer's value: no error may repeat it


@pytest.mark.parametrize(
    ("where", "says"),
    [
        (f"state.iban == '{IBAN}' &&", "--where does not parse: it ends too soon"),
        (f"state.iban == '{IBAN[:10]}", "--where does not parse: at character 14, a quote is not closed"),
        (f"state.iban == '{IBAN}' {IBAN}", "--where does not parse: at character 39, an unexpected"),
        ("abs(state.iban) > `1`", "--where on journey p failed: abs() takes number, and was given string"),
        ("length(state.amount) > `1`", "--where on journey p failed: length() takes string or array or object"),
        (f"state.amount > '{IBAN}'", "--where on journey p failed: it compares or combines values of different"),
    ],
    ids=["incomplete", "unclosed-quote", "unexpected-token", "abs-of-a-string", "length-of-a-number", "int-vs-str"],
)
def test_a_bad_migrate_where_never_echoes_customer_values(where: str, says: str) -> None:
    """jmespath's own messages quote the value a function refused and repeat the expression; ours say what is
    wrong and where, and name the journey, so `journeys migrate` prints no customer data."""
    store = MemoryStore()
    router = router_on(Registry([v1(), v2()]), store)
    state = {"iban": IBAN, "amount": 25000}
    router.handle(StartJourney(journey_id="p", definition_id="onboard", definition_version="1.0.0", input=state))
    with pytest.raises(Rejected) as refused:
        plan(store.journeys.values(), v1(), v2(), {"details": "collect"}, where=where)
    assert str(refused.value).startswith(says)
    assert IBAN[:8] not in str(refused.value) and "25000" not in str(refused.value)


def test_the_command_line_prints_what_a_model_refused_but_never_the_value(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """pydantic's own message repeats each refused value (input_value=...); `journeys` names fields and rules."""
    import cli.main

    def refuses(_: object) -> int:
        StartJourney.model_validate({"journey_id": IBAN + "!", "definition_id": "onboard", "input": {}})
        return 0

    monkeypatch.setitem(cli.main.COMMANDS, "costs", refuses)
    assert cli.main.main(["costs"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("journeys: journey_id: String should") and IBAN not in err
