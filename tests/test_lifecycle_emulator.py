"""The definition lifecycle on the emulator: triggers, schedules, published versions and migrations."""

from __future__ import annotations

import argparse
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from cli.client import JourneysClient
from cli.lifecycle import migrate_command, render
from cli.triggers import TEMPLATE, synced
from consumers.start import journey_id_for, triggered
from devstack.emulator import CREDENTIALS, REGION, Emulator
from devstack.stack import LocalStack
from reliability.instruments import waited
from router.adapters.definitions import DynamoDefinitionStore
from router.core.migration import plan
from router.core.model import Journey, JourneyStatus, StartJourney
from router.language.loader import parse
from router.language.registry import Registry
from router.language.versions import DefinitionConflict, Published, PublishedRegistry
from router.runtime.migrator import execute

pytestmark = pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")


def of(client: JourneysClient, definition_id: str) -> list[Journey]:
    return [j for j in client.list() if j.definition_id == definition_id]


def test_the_template_rules_are_in_step_with_the_definitions() -> None:
    """infra/template.yaml holds exactly the rules `journeys triggers` writes from definitions/."""
    template = TEMPLATE.read_text()
    assert synced(template, list(Registry.from_directory())) == template


def test_a_trigger_event_names_its_journey() -> None:
    """The journey id comes from the CloudEvent's source and id (or EventBridge's id), never from the delivery."""
    cloud = {"specversion": "1.0", "id": "e-1", "source": "bank.kyc", "type": "t", "subject": "C-1", "data": {"a": 1}}
    message = {"definition_id": "kyc-uplift", "event_id": "eb-1", "source": "bank.kyc", "detail": cloud}
    again = {**message, "event_id": "eb-2"}  # the domain published the same event twice
    assert triggered(message) == triggered(again)
    assert triggered(message) == StartJourney(
        journey_id=journey_id_for("kyc-uplift", "bank.kyc/e-1"),
        definition_id="kyc-uplift",
        input={"a": 1},
        actor="bank.kyc",
        business_key="C-1",
    )
    plain = triggered({**message, "detail": {"a": 1}})
    assert (plain.journey_id, plain.input) == (journey_id_for("kyc-uplift", "eb-1"), {"a": 1})


def test_a_duplicated_trigger_event_starts_one_journey(fresh_emulator: Emulator) -> None:
    """The same CloudEvent put on the bus twice reaches the start queue twice and starts one journey."""
    with LocalStack(fresh_emulator) as stack:
        client = JourneysClient(stack.runtimes["StartFunction"])
        event_id = str(uuid.uuid4())
        data = {"customer_id": "CUST-000042", "full_name": "Ada Lovelace", "email": "ada@example.com"}
        cloud = {"specversion": "1.0", "id": event_id, "source": "bank.kyc", "type": "kyc_refresh_due", "data": data}
        entry = {
            "EventBusName": client.settings.domain_buses["bank-core"],
            "Source": "bank.kyc",
            "DetailType": "kyc_refresh_due",
            "Detail": json.dumps(cloud),
        }
        for _ in range(2):
            assert stack.client("events").put_events(Entries=[entry])["FailedEntryCount"] == 0
        stack.wait_quiet()
        (journey,) = of(client, "kyc-uplift")
    assert journey.id == journey_id_for("kyc-uplift", f"bank.kyc/{event_id}")
    assert (journey.state, journey.initiator, journey.step) == (data, "bank.kyc", "request-details")


def test_a_schedule_fires_the_system_journey_once_per_tick(fresh_emulator: Emulator) -> None:
    """Each tick of the nightly schedule starts one reconciliation with no input; a repeated tick starts none."""
    night, next_night = datetime(2026, 3, 1, 2, tzinfo=UTC), datetime(2026, 3, 2, 2, tzinfo=UTC)
    with LocalStack(fresh_emulator) as stack:
        client = JourneysClient(stack.runtimes["StartFunction"])
        for at in (night, night, next_night):
            stack.fire_schedule("SubscriptionReconciliationScheduleRule", at)
        stack.wait_quiet()
        journeys = of(client, "subscription-reconciliation")
    assert len(journeys) == 2
    for journey in journeys:
        assert (journey.status, journey.initiator, journey.path) == (
            JourneyStatus.SUCCEEDED,
            "schedule",
            ["reconcile", "reconciled"],
        )
        assert journey.state == {"reconciliation": {"checked": 3, "mismatches": ["SUB-1002", "SUB-1003"]}}


V1 = """
id: welcome
version: "1.0.0"
owning_domain: bank-core
input_schema: {type: object, required: [full_name]}
start_at: details
steps:
  - {name: details, label: Your details, type: INPUT, sla_seconds: 600, input_schema: {type: object}, next: welcome}
  - {name: welcome, label: Welcome, type: TASK, worker: notify-customer, sla_seconds: 60, next: done}
  - {name: done, type: SUCCESS}
"""
V2 = V1.replace('"1.0.0"', '"2.0.0"').replace("details", "about-you").replace("next: done", "next: welcomed")
V2 = V2.replace("{name: done, type: SUCCESS}", "{name: welcomed, type: SUCCESS}")


@pytest.fixture
def versioned(fresh_emulator: Emulator, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A stack whose deploy carries only v2 of `welcome`, with v1 published in the journeys table."""
    v1, v2 = parse(V1), parse(V2)
    dynamodb = boto3.Session(**CREDENTIALS).client("dynamodb", endpoint_url=fresh_emulator.url, region_name=REGION)
    store = DynamoDefinitionStore(dynamodb, "")
    with LocalStack(fresh_emulator, registry=PublishedRegistry([v2], store)) as stack:
        store.table = stack.settings().journeys_table
        assert store.put(v1) is Published.PUBLISHED
        yield stack, store, v1, v2


def _start(stack: LocalStack, journey_id: str, version: str | None) -> None:
    start = StartJourney(
        journey_id=journey_id, definition_id="welcome", definition_version=version, input={"full_name": "Ada"}
    )
    stack.client("sqs").send_message(QueueUrl=stack.settings().start_queue_url, MessageBody=start.model_dump_json())


def test_a_v1_journey_runs_from_its_published_copy_while_new_ones_run_v2(versioned) -> None:  # type: ignore[no-untyped-def]
    """The deploy no longer carries v1, yet the journey pinned to it completes on v1; new journeys run v2."""
    stack, store, v1, _ = versioned
    client = JourneysClient(stack.runtimes["AdvanceFunction"])
    _start(stack, "old", "1.0.0")
    _start(stack, "new", None)
    waited(lambda: all(client.get(j) and client.get(j).open for j in ("old", "new")))  # type: ignore[union-attr]
    for journey_id in ("old", "new"):
        client.submit(journey_id, {})
    waited(lambda: all(client.get(j).status is JourneyStatus.SUCCEEDED for j in ("old", "new")))  # type: ignore[union-attr]
    old, new = client.get("old"), client.get("new")
    assert old is not None and new is not None
    assert (old.definition_version, old.definition_hash, old.path) == (
        "1.0.0",
        v1.content_hash,
        ["details", "welcome", "done"],
    )
    assert (new.definition_version, new.path) == ("2.0.0", ["about-you", "welcome", "welcomed"])
    assert store.put(v1) is Published.UNCHANGED
    with pytest.raises(DefinitionConflict):
        store.put(parse(V1.replace("sla_seconds: 60", "sla_seconds: 61")))
    assert store.get("welcome", "1.0.0") == v1


def test_a_migration_dry_run_shows_exactly_what_the_real_run_does(versioned) -> None:  # type: ignore[no-untyped-def]
    """The plan printed by a dry run is the plan a real run executes, each move audited; moved journeys run v2."""
    stack, _, v1, v2 = versioned
    client = JourneysClient(stack.runtimes["AdvanceFunction"])
    for journey_id in ("m-1", "m-2", "m-3"):
        _start(stack, journey_id, "1.0.0")
    waited(lambda: all(client.get(j) and client.get(j).open for j in ("m-1", "m-2", "m-3")))  # type: ignore[union-attr]
    client.submit("m-3", {})  # m-3 moves on to `welcome`, which the mapping leaves alone
    waited(lambda: client.get("m-3").status is JourneyStatus.SUCCEEDED)  # type: ignore[union-attr]
    unfinished = [j for j in client.list() if j.status is JourneyStatus.RUNNING]
    dry = render(plan(unfinished, v1, v2, {"details": "about-you"}), "move")
    real = plan(client.list(), v1, v2, {"details": "about-you"})
    done = execute(stack.runtimes["AdvanceFunction"].router, real, v1, v2, "ops-ann", "new consent wording")
    assert render(real.model_copy(update={"moves": done.moved}), "move") == dry
    assert dry.splitlines()[1:3] == ["move       m-1  details -> about-you", "move       m-2  details -> about-you"]
    for journey_id in ("m-1", "m-2"):
        # the timeline is the journal's log, written from the table's stream a moment after the commit
        (migrated,) = waited(lambda: [r for r in client.timeline(journey_id) if r.event == "migrated"])  # noqa: B023
        assert (migrated.actor, migrated.reason, migrated.definition_version) == (
            "ops-ann",
            "new consent wording",
            "2.0.0",
        )
        client.submit(journey_id, {})
    waited(lambda: all(client.get(j).status is JourneyStatus.SUCCEEDED for j in ("m-1", "m-2")))  # type: ignore[union-attr]
    assert client.get("m-1").path == ["details", "about-you", "welcome", "welcomed"]  # type: ignore[union-attr]
    assert client.get("m-3").path == ["details", "welcome", "done"]  # type: ignore[union-attr]


def test_journeys_migrate_prints_the_same_plan_dry_and_for_real(versioned) -> None:  # type: ignore[no-untyped-def]
    """`journeys migrate --dry-run` lists the moves the real command then reports, journey for journey."""
    stack, store, _, v2 = versioned
    store.put(v2)  # both versions are published; the command finds them in the table
    runtime = stack.runtimes["AdvanceFunction"]
    client = JourneysClient(runtime)
    for journey_id in ("c-1", "c-2"):
        _start(stack, journey_id, "1.0.0")
    waited(lambda: all(client.get(j) and client.get(j).open for j in ("c-1", "c-2")))  # type: ignore[union-attr]
    args = argparse.Namespace(
        definition_id="welcome",
        from_version="1.0.0",
        to_version="2.0.0",
        mapping=["details=about-you"],
        where="state.full_name == 'Ada'",
        dry_run=True,
        actor=None,
        reason=None,
    )
    dry = migrate_command(runtime, args)
    with pytest.raises(ValueError, match="--as"):
        migrate_command(runtime, argparse.Namespace(**{**vars(args), "dry_run": False}))
    real = migrate_command(
        runtime, argparse.Namespace(**{**vars(args), "dry_run": False, "actor": "ops", "reason": "v2"})
    )
    assert [line.split() for line in real.splitlines()] == [
        line.replace("would move", "moved").split() for line in dry.splitlines()
    ]
    assert "moved      c-1  details -> about-you" in real and "moved      c-2  details -> about-you" in real
    assert {client.get(j).definition_version for j in ("c-1", "c-2")} == {"2.0.0"}  # type: ignore[union-attr]
