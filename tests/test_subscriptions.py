"""Subscription kinds: one MODIFY or TERMINATE per subscription at a time, by a conditional lock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import DevIssuer
from cli.client import JourneysClient
from devstack.emulator import Emulator
from devstack.stack import LocalStack
from reliability.instruments import scan_all, settled
from router.adapters.locks import DynamoLocks
from router.core.decide import Rejected
from router.core.model import FINISHED, Command, InputSubmitted, Intervention, JourneyStatus, StartJourney
from router.core.subscriptions import START_GRACE, SubscriptionBusy, SubscriptionGate
from router.language.definition import Definition
from router.language.loader import DefinitionError, parse
from router.language.registry import Registry
from router.ports.memory import MemoryDispatcher, MemoryLocks, MemoryStore
from router.runtime.service import Router
from tests.journey_driver import FakeClock
from workers.samples import SAMPLES

pytestmark = pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")

CHANGE = """\
id: change-plan
version: "1.0.0"
kind: {kind}
owning_domain: bank-core
input_schema: {{type: object, required: [plan], properties: {{plan: {{type: string}}}}}}
start_at: confirm
steps:
  - name: confirm
    label: Please confirm the change
    type: INPUT
    sla_seconds: 600
    input_schema: {{type: object, required: [confirmed], properties: {{confirmed: {{type: boolean}}}}}}
    next: changed
  - name: changed
    type: SUCCESS
"""


def kinds() -> list[Definition]:
    modify = parse(CHANGE.format(kind="MODIFY"), "change-plan.yaml")
    terminate = parse(CHANGE.format(kind="TERMINATE").replace("change-plan", "end-subscription"), "end.yaml")
    create = parse(CHANGE.format(kind="CREATE").replace("change-plan", "new-subscription"), "new.yaml")
    return [modify, terminate, create]


@dataclass
class Engine:
    router: Router
    store: MemoryStore
    locks: MemoryLocks
    clock: FakeClock

    def start(self, journey_id: str, definition_id: str = "change-plan", key: str | None = "SUB-1") -> None:
        start = StartJourney(journey_id=journey_id, definition_id=definition_id, input={"plan": "gold"})
        self.router.handle(start.model_copy(update={"business_key": key}))

    def finish(self, journey_id: str) -> None:
        journey = self.store.load(journey_id)
        assert journey is not None
        (activation,) = journey.open
        self.router.handle(InputSubmitted(journey_id=journey_id, activation_id=activation, data={"confirmed": True}))


@pytest.fixture
def engine() -> Engine:
    store, locks, clock = MemoryStore(), MemoryLocks(), FakeClock()
    router = Router(Registry(kinds()), store, MemoryDispatcher(), clock, gate=SubscriptionGate(locks, store))
    return Engine(router, store, locks, clock)


def test_a_second_modify_of_one_subscription_is_refused_naming_the_running_one(engine: Engine) -> None:
    """The refusal names j-1; nothing of j-2 is stored; the lock still names j-1."""
    engine.start("j-1")
    with pytest.raises(SubscriptionBusy, match="j-1") as refused:
        engine.start("j-2")
    assert refused.value.holder == "j-1"
    assert engine.store.load("j-2") is None and engine.locks.held["lock#subscription#SUB-1"][0] == "j-1"


def test_a_terminate_waits_for_a_modify_and_other_subscriptions_are_free(engine: Engine) -> None:
    """TERMINATE and MODIFY share the lock; another subscription, or a CREATE, takes none."""
    engine.start("j-1")
    with pytest.raises(SubscriptionBusy):
        engine.start("j-2", "end-subscription")
    engine.start("j-3", key="SUB-2")
    engine.start("j-4", "new-subscription")
    engine.start("j-5", "new-subscription")
    assert sorted(engine.locks.held) == ["lock#subscription#SUB-1", "lock#subscription#SUB-2"]


def test_the_lock_is_given_back_when_the_journey_ends(engine: Engine) -> None:
    """j-1 finishes: the lock goes, and the next MODIFY starts; so does one after a cancellation."""
    engine.start("j-1")
    engine.finish("j-1")
    assert engine.locks.held == {}
    engine.start("j-2")
    journey = engine.store.load("j-2")
    assert journey is not None
    cancel = Intervention(
        journey_id="j-2", command=Command.CANCEL, expected_version=journey.version, actor="ops", reason="customer left"
    )
    engine.router.handle(cancel)
    engine.start("j-3", "end-subscription")
    assert engine.locks.held["lock#subscription#SUB-1"][0] == "j-3"


def test_a_lock_left_by_a_finished_journey_is_taken_over(engine: Engine) -> None:
    """The release was lost (a crash after the finishing commit): the next start sees j-1 finished and takes over."""
    engine.start("j-1")
    engine.finish("j-1")
    engine.locks.held["lock#subscription#SUB-1"] = ("j-1", engine.clock())  # as if the release never happened
    engine.start("j-2")
    assert engine.locks.held["lock#subscription#SUB-1"][0] == "j-2"
    assert engine.store.load("j-1").status in FINISHED  # type: ignore[union-attr]


def test_a_lock_naming_a_journey_never_started_is_taken_over_only_after_the_grace(engine: Engine) -> None:
    """A start refused after its lock was taken leaves a lock naming nobody real: busy within the grace, free after."""
    engine.locks.held["lock#subscription#SUB-1"] = ("ghost", engine.clock())
    with pytest.raises(SubscriptionBusy, match="ghost"):
        engine.start("j-1")
    engine.clock.advance(START_GRACE + 1)
    engine.start("j-1")
    assert engine.locks.held["lock#subscription#SUB-1"][0] == "j-1"


def test_a_modify_without_a_business_key_is_refused(engine: Engine) -> None:
    with pytest.raises(Rejected, match="business_key"):
        engine.start("j-1", key=None)
    assert engine.store.load("j-1") is None and engine.locks.writes == 0


def test_system_journeys_run_on_a_schedule_and_only_they_do() -> None:
    """kind SYSTEM without a schedule, and a MODIFY with one, are each told what is wrong at the kind line."""
    with pytest.raises(DefinitionError, match="a SYSTEM journey runs on a schedule"):
        parse(CHANGE.format(kind="SYSTEM"), "s.yaml")
    scheduled = CHANGE.format(kind="MODIFY").replace("start_at:", 'schedule: "rate(1 day)"\nstart_at:')
    with pytest.raises(DefinitionError) as caught:
        parse(scheduled.replace("required: [plan], ", ""), "m.yaml")
    assert [(p.line, "only SYSTEM journeys" in p.message) for p in caught.value.problems] == [(3, True)]


# -- on the emulator: the HTTP start, the start consumer and the lock item in DynamoDB

ISSUER = DevIssuer("a-test-secret-of-at-least-thirty-two-bytes")
OPERATOR = {"Authorization": f"Bearer {ISSUER.issue('olga', ['operator'])}"}


@pytest.fixture(scope="module")
def stack(emulator: Emulator) -> Iterator[LocalStack]:
    emulator.reset()
    registry = Registry([*Registry.from_directory(known_workers=SAMPLES.names()), *kinds()])
    with LocalStack(emulator, registry=registry) as local:
        yield local


def test_on_the_emulator_a_second_modify_is_refused_and_the_lock_is_freed_at_the_end(stack: LocalStack) -> None:
    """HTTP refuses the second MODIFY with the first's id (409); a start slipping past (straight onto the queue)
    is refused by the start consumer; once the first ends the lock has no holder and a new MODIFY starts."""
    runtime = stack.runtimes["ApiFunction"]
    http, engine = TestClient(create_app(lambda: runtime, ISSUER)), JourneysClient(runtime)
    body = {"definition_id": "change-plan", "input": {"plan": "gold"}, "business_key": "SUB-77"}
    first = http.post("/api/journeys", json=body, headers=OPERATOR)
    assert first.status_code == 202, first.text
    first_id = first.json()["journey_id"]
    settled(engine, first_id, lambda j: bool(j.open))
    second = http.post("/api/journeys", json=body, headers=OPERATOR)
    assert second.status_code == 409 and second.json()["journey_id"] == first_id
    engine.send_start(
        StartJourney(journey_id="slipped-past", definition_id="change-plan", input={"plan": "x"}, business_key="SUB-77")
    )
    stack.wait_quiet()
    assert engine.get("slipped-past") is None
    locks = DynamoLocks(stack.client("dynamodb"), engine.settings.journeys_table)
    assert locks.current("lock#subscription#SUB-77")[0] == first_id  # type: ignore[index]
    engine.submit(first_id, {"confirmed": True}, actor="customer")
    settled(engine, first_id, lambda j: j.status is JourneyStatus.SUCCEEDED)
    waited_free = time.monotonic() + 10
    while locks.current("lock#subscription#SUB-77") is not None and time.monotonic() < waited_free:
        time.sleep(0.1)
    assert locks.current("lock#subscription#SUB-77") is None
    third = http.post("/api/journeys", json=body, headers=OPERATOR)
    assert third.status_code == 202
    lock_items = [
        i for i in scan_all(stack.client("dynamodb"), engine.settings.journeys_table) if "lock#" in i["journey_id"]["S"]
    ]
    assert len(lock_items) == 1
