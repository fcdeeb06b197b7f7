"""`journeys backfill` on the emulator: items the previous release wrote become visible to this release's readers.

The previous release wrote journey documents as plain JSON strings, no status_shard and no created_at attribute
(its by-status index was keyed on status, updated_at), due_shard "open", no expires_at, and OPEN tickets without
open_shard. Those items are written here as it wrote them, and read back through the real readers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

import cli.connect
from cli.connect import write_local
from cli.main import main
from consumers.journal import _transition
from devstack.emulator import CREDENTIALS, REGION, Emulator
from devstack.stack import LocalStack
from router.adapters.backfill import Backfill, Tally
from router.adapters.definitions import DynamoDefinitionStore
from router.adapters.dynamodb import (
    DEADLINE_SHARDS,
    SWEEP,
    journey_from_item,
    journey_item,
    journeys_by_status,
    overdue_journeys,
    status_page,
)
from router.adapters.locks import DynamoLocks
from router.adapters.tickets import DynamoTicketStore, ticket_item
from router.core.approvals import AuditEntry, Ticket, TicketStatus
from router.core.model import Activation, ActivationKind, Journey, JourneyStatus, TransitionRecord
from router.core.reasons import waiting_on
from router.core.shards import due_key, open_ticket_key
from router.core.transition import DAY
from router.language.loader import parse
from tests.test_cli import run

NOW = time.time()
KYC = "kyc-uplift"  # definitions/kyc-uplift.yaml, 1.0.0: deployed, retention_days 400 (the default)
RETENTION = 400


def journey(journey_id: str, status: JourneyStatus = JourneyStatus.RUNNING, **update: Any) -> Journey:
    """A journey as the router holds it: waiting on one task unless finished."""
    created = update.pop("created_at", NOW - 3600)
    due = update.pop("due", NOW + 3600)
    task = Activation(id=f"{journey_id}.2", step="verify", kind=ActivationKind.TASK, opened_seq=2, deadline=due)
    base = Journey(
        id=journey_id,
        definition_id=KYC,
        definition_version="1.0.0",
        definition_hash="h",
        status=status,
        version=2,
        step="verify",
        state={"customer_id": "CUST-000042"},
        open={task.id: task} if status is JourneyStatus.RUNNING else {},
        initiator="cli",
        created_at=created,
        updated_at=update.pop("updated_at", created + 60),
    )
    return base.model_copy(update=update)


def record(j: Journey) -> TransitionRecord:
    return TransitionRecord(
        journey_id=j.id,
        seq=j.version,
        at=j.updated_at,
        definition_id=j.definition_id,
        definition_version=j.definition_version,
        owning_domain="bank-core",
        event="step_succeeded",
        actor="system",
        step_name="verify",
        step_result="succeeded",
        status=j.status,
    )


def old_journey_item(j: Journey) -> dict[str, Any]:
    """The item the previous release's journey_item wrote: its document knew no expires_at."""
    item: dict[str, Any] = {
        "journey_id": {"S": j.id},
        "version": {"N": str(j.version)},
        "status": {"S": j.status.value},
        "definition_id": {"S": j.definition_id},
        "updated_at": {"N": repr(j.updated_at)},
        "doc": {"S": j.model_dump_json(exclude={"expires_at"})},
        "waiting_on": {"S": waiting_on(j)},
        "last_transition": {"S": record(j).model_dump_json()},
    }
    if j.business_key:
        item["business_key"] = {"S": j.business_key}
    if j.next_deadline is not None:
        item["due"], item["due_shard"] = {"N": repr(j.next_deadline)}, {"S": "open"}
    return item


def ticket(ticket_id: str, deadline: float, status: TicketStatus = TicketStatus.OPEN) -> Ticket:
    opened = AuditEntry(at=NOW - 600, actor="approval-chain", action="opened", result="opened")
    return Ticket(
        ticket_id=ticket_id,
        journey_id="pay-1",
        activation_id="pay-1.3",
        definition_id="payment-approval",
        step="approve",
        level=1,
        role="payments-officer",
        initiator="maker-mo",
        opened_at=NOW - 600,
        deadline=deadline,
        status=status,
        audit=[opened],
    )


def old_ticket_item(t: Ticket) -> dict[str, Any]:
    """The previous release's ticket item: no open_shard, whatever its status."""
    item = ticket_item(t, "token")
    item.pop("open_shard", None)
    return item


class Old:
    """A stack's tables holding what the previous release left: journeys of each kind, tickets, and the other
    items that share the journeys table."""

    JOURNEYS = ("overdue", "waiting", "finished", "ancient", "current")

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.client = stack.client("dynamodb")
        settings = stack.settings()
        self.journeys, self.tickets = settings.journeys_table, settings.tickets_table
        put = self.client.put_item
        put(TableName=self.journeys, Item=old_journey_item(journey("overdue", business_key="BK-1", due=NOW - 60)))
        put(TableName=self.journeys, Item=old_journey_item(journey("waiting", created_at=NOW - 7200)))
        finished = journey("finished", JourneyStatus.SUCCEEDED, updated_at=NOW - 10 * DAY)
        put(TableName=self.journeys, Item=old_journey_item(finished))
        ancient = journey("ancient", JourneyStatus.FAILED, created_at=NOW - 600 * DAY)
        put(TableName=self.journeys, Item=old_journey_item(ancient))
        current = journey("current", created_at=NOW - 1800)  # written by this release already
        put(TableName=self.journeys, Item=journey_item(current, record(current)))
        # the other kinds of item in the journeys table
        DynamoDefinitionStore(self.client, self.journeys).put(parse(MINIMAL))
        locks = DynamoLocks(self.client, self.journeys)
        locks.acquire("lock#subscription#BK-9", "holder-a", KYC, NOW)
        locks.acquire("lock#subscription#BK-8", "holder-b", KYC, NOW)
        locks.release("lock#subscription#BK-8", "holder-b", NOW)
        put(TableName=self.tickets, Item=old_ticket_item(ticket("lapsed", NOW - 60)))
        put(TableName=self.tickets, Item=old_ticket_item(ticket("open", NOW + 3600)))
        put(TableName=self.tickets, Item=old_ticket_item(ticket("decided", NOW - 60, TicketStatus.DECIDED)))

    def backfill(self, client: Any = None, **options: Any) -> dict[str, Tally]:
        registry = self.stack.registry
        assert registry is not None
        runner = Backfill(
            client or self.client,
            self.journeys,
            self.tickets,
            lambda d, v: registry.get(d, v).retention_days,
            NOW,
            **({"segments": 3, "page_size": 2} | options),  # pages of two: pagination within each segment
        )
        return {t.table: t for t in runner.run()}

    def item(self, key: str) -> dict[str, Any]:
        found: dict[str, Any] = self.client.get_item(TableName=self.journeys, Key={"journey_id": {"S": key}})["Item"]
        return found

    def everything(self) -> list[dict[str, Any]]:
        return sorted(
            (item for table in (self.journeys, self.tickets) for item in self.client.scan(TableName=table)["Items"]),
            key=lambda item: json.dumps(item, sort_keys=True, default=str),
        )

    def listed(self) -> set[str]:
        return {j.id for j in journeys_by_status(self.client, self.journeys, SWEEP, page_size=2)}

    def overdue(self, at: float) -> set[str]:
        found = overdue_journeys(self.client, self.journeys, at, 10, DEADLINE_SHARDS)
        assert not [f for f in found if isinstance(f, Exception)]
        return {j for ids in found if isinstance(ids, list) for j in ids}

    def ticket_store(self) -> DynamoTicketStore:
        return DynamoTicketStore(self.client, self.tickets)


MINIMAL = """
id: minimal
version: "1.0.0"
owning_domain: bank-core
input_schema: {type: object}
start_at: done
steps:
  - {name: done, type: SUCCESS}
"""


@pytest.fixture
def stack(fresh_emulator: Emulator) -> Iterator[LocalStack]:
    """Resources and runtimes only: no consumer runs, so the tables hold exactly what a test writes."""
    local = LocalStack(fresh_emulator).start(pollers=False)
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
def old(stack: LocalStack) -> Old:
    return Old(stack)


def test_before_the_backfill_this_releases_readers_miss_every_journey_and_ticket_the_old_release_wrote(old):
    """The problem: listings, the watchdog's deadline shards and the lapse sweep see only the current item."""
    assert old.listed() == {"current"}
    assert old.overdue(NOW + 2 * 3600) == {"current"}
    assert old.ticket_store().lapsed(NOW) == [] and old.ticket_store().open_tickets(NOW) == []


def test_after_the_backfill_every_journey_and_open_ticket_is_found_by_the_real_readers(old):
    """Listed (every status, paged across shards, filtered by business key), overdue on its own deadline shard,
    lapsed or open in the ticket inbox; documents, versions and the other items untouched."""
    docs = {key: old.item(key)["doc"] for key in old.JOURNEYS}
    tallies = old.backfill()

    journeys, tickets = tallies["journeys"], tallies["tickets"]
    assert (journeys.scanned, journeys.fixed, journeys.current, journeys.other) == (8, 4, 1, 3)
    assert (journeys.moved, journeys.unreadable, journeys.unprocessed, journeys.unfinished_segments) == (0, 0, 0, 0)
    assert (tickets.scanned, tickets.fixed, tickets.current) == (3, 2, 1)
    assert journeys.complete and tickets.complete

    assert old.listed() == set(old.JOURNEYS)
    running = status_page(old.client, old.journeys, [JourneyStatus.RUNNING], 10)
    assert [journey_id for _, journey_id in running.positions] == ["waiting", "overdue", "current"]  # by created_at
    keyed = status_page(old.client, old.journeys, [JourneyStatus.RUNNING], 10, equal={"business_key": "BK-1"})
    assert [journey_id for _, journey_id in keyed.positions] == ["overdue"]
    assert old.overdue(NOW) == {"overdue"}
    assert overdue_journeys(old.client, old.journeys, NOW, 10, [due_key("overdue")]) == [["overdue"]]
    assert old.overdue(NOW + 2 * 3600) == {"overdue", "waiting", "current"}
    assert old.ticket_store().lapsed(NOW) == ["lapsed"]
    assert [t.ticket_id for t in old.ticket_store().open_tickets(NOW)] == ["open"]

    for key in old.JOURNEYS:
        item = old.item(key)
        assert item["doc"] == docs[key] and item["version"] == {"N": "2"}
        assert journey_from_item(item).id == key
    assert "due" not in old.item("finished") and "due_shard" not in old.item("finished")
    decided = old.client.get_item(TableName=old.tickets, Key={"ticket_id": {"S": "decided"}})["Item"]
    assert "open_shard" not in decided
    lapsed = old.client.get_item(TableName=old.tickets, Key={"ticket_id": {"S": "lapsed"}})["Item"]
    assert lapsed["open_shard"] == {"S": open_ticket_key("lapsed")}


def test_finished_journeys_get_the_expires_at_their_definitions_retention_gives_from_when_they_finished(old):
    """As the finishing transition would have written it; one finished longer ago than that is counted."""
    tallies = old.backfill()
    finished = old.item("finished")
    assert int(finished["expires_at"]["N"]) == int(float(finished["updated_at"]["N"]) + RETENTION * DAY)
    assert int(old.item("ancient")["expires_at"]["N"]) < NOW  # 600 days ago, kept 400: past its retention
    assert tallies["journeys"].past_retention == 1 and tallies["journeys"].no_retention == 0
    assert "expires_at" not in old.item("waiting")


def test_a_second_run_fixes_nothing(old):
    """Idempotent: every journey and ticket is current, and no item changes."""
    old.backfill()
    before = old.everything()
    again = old.backfill(segments=2, page_size=None)
    assert (again["journeys"].fixed, again["journeys"].current, again["journeys"].other) == (0, 5, 3)
    assert (again["tickets"].fixed, again["tickets"].current) == (0, 3)
    assert old.everything() == before


def test_a_dry_run_counts_what_it_would_fix_and_writes_nothing(old):
    before = old.everything()
    tallies = old.backfill(dry_run=True)
    assert tallies["journeys"].fixed == 4 and tallies["tickets"].fixed == 2
    assert tallies["journeys"].past_retention == 1
    assert old.everything() == before
    assert old.listed() == {"current"}


def hooked(stack: LocalStack, event: str, hook: Callable[..., None]) -> Any:
    """A DynamoDB client of its own whose `event` calls `hook` first (the stack's own client stays clean)."""
    session = boto3.Session(**CREDENTIALS)
    session.events.register(event, hook)
    return session.client("dynamodb", endpoint_url=stack.emulator.url, region_name=REGION)


def test_a_journey_the_router_commits_between_the_scan_and_the_update_is_not_overwritten(old):
    """Its new version, written whole by this release's router, stands as written; counted as moved."""
    moved = journey("overdue", JourneyStatus.SUCCEEDED, version=3, business_key="BK-1", expires_at=NOW + 5 * DAY)
    written = journey_item(moved, record(moved))

    def commit_first(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].get("journey_id") == {"S": "overdue"} and old.item("overdue")["version"] == {"N": "2"}:
            old.client.put_item(TableName=old.journeys, Item=written)

    tallies = old.backfill(hooked(old.stack, "before-parameter-build.dynamodb.UpdateItem", commit_first))
    assert tallies["journeys"].moved == 1 and tallies["journeys"].fixed == 3
    after = old.item("overdue")
    assert after["version"] == {"N": "3"} and after["status"] == {"S": "SUCCEEDED"}
    assert after["doc"] == written["doc"] and "due" not in after and "due_shard" not in after
    assert after["expires_at"] == written["expires_at"]
    assert old.overdue(NOW + 2 * 3600) == {"waiting", "current"}


def test_a_journey_an_old_router_commits_meanwhile_is_fixed_at_its_new_version(old):
    """A router of the previous release still draining writes the old format again: read again, fixed then."""
    moved = journey("waiting", version=3, created_at=NOW - 7200, due=NOW - 30)

    def old_commit_first(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].get("journey_id") == {"S": "waiting"} and old.item("waiting")["version"] == {"N": "2"}:
            old.client.put_item(TableName=old.journeys, Item=old_journey_item(moved))

    tallies = old.backfill(hooked(old.stack, "before-parameter-build.dynamodb.UpdateItem", old_commit_first))
    assert tallies["journeys"].fixed == 4 and tallies["journeys"].moved == 0
    after = old.item("waiting")
    assert after["version"] == {"N": "3"} and after["doc"]["S"] == moved.model_dump_json(exclude={"expires_at"})
    assert after["due_shard"] == {"S": due_key("waiting")} and float(after["due"]["N"]) == NOW - 30
    assert old.overdue(NOW) == {"overdue", "waiting"}


def throttled(operation: str) -> ClientError:
    error = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
    return ClientError({"Error": error}, operation)


def test_an_update_throttled_past_the_retries_is_counted_unprocessed_and_a_rerun_fixes_it(old):
    def throttle(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].get("journey_id") == {"S": "finished"}:
            raise throttled("UpdateItem")

    tallies = old.backfill(hooked(old.stack, "before-parameter-build.dynamodb.UpdateItem", throttle))
    assert tallies["journeys"].unprocessed == 1 and tallies["journeys"].fixed == 3
    assert not tallies["journeys"].complete and "expires_at" not in old.item("finished")
    rerun = old.backfill()
    assert rerun["journeys"].fixed == 1 and rerun["journeys"].complete and "expires_at" in old.item("finished")


def test_a_scan_segment_throttled_past_the_retries_is_counted_and_the_others_are_walked(old):
    def throttle(params: dict[str, Any], **_: Any) -> None:
        if params.get("Segment") == 1:
            raise throttled("Scan")

    tallies = old.backfill(hooked(old.stack, "before-parameter-build.dynamodb.Scan", throttle), page_size=None)
    assert tallies["journeys"].unfinished_segments == 1 and tallies["tickets"].unfinished_segments == 1
    assert not tallies["journeys"].complete
    rerun = old.backfill()
    assert rerun["journeys"].complete and old.listed() == set(old.JOURNEYS)


def test_an_unreadable_document_is_reported_by_id_and_left_as_it_is(old):
    broken = old_journey_item(journey("broken")) | {"doc": {"S": "{not json"}}
    old.client.put_item(TableName=old.journeys, Item=broken)
    tallies = old.backfill()
    assert tallies["journeys"].unreadable == 1 and tallies["journeys"].unreadable_ids == ["broken"]
    assert old.item("broken") == broken


def test_progress_is_reported_every_n_items(old):
    seen: list[tuple[str, int]] = []
    registry = old.stack.registry
    assert registry is not None
    Backfill(
        old.client,
        old.journeys,
        old.tickets,
        lambda d, v: registry.get(d, v).retention_days,
        NOW,
        segments=2,
        progress=lambda t: seen.append((t.table, t.scanned)),
        every=2,
    ).run()
    assert seen == [("journeys", 2), ("journeys", 4), ("journeys", 6), ("journeys", 8), ("tickets", 2)]


def test_the_journal_skips_the_stream_records_a_backfill_writes(old):
    """Same version before and after: no transition journaled again, no CloudEvent published again."""
    streams = old.stack.client("dynamodbstreams")
    arn = old.client.describe_table(TableName=old.journeys)["Table"]["LatestStreamArn"]
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST")
    position = iterator["ShardIterator"]
    old.backfill()
    records = streams.get_records(ShardIterator=position)["Records"]
    assert len(records) == 4 and all(r["eventName"] == "MODIFY" for r in records)
    assert [_transition(r) for r in records] == [None] * 4
    committed = {"dynamodb": {"OldImage": {"version": {"N": "2"}}, "NewImage": records[0]["dynamodb"]["NewImage"]}}
    committed["dynamodb"]["NewImage"] = committed["dynamodb"]["NewImage"] | {"version": {"N": "3"}}
    assert _transition(committed) is not None  # a commit still is journaled


# -- the command


@pytest.fixture
def local(old: Old, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Old:
    """The local.json `journeys up` would have written for the old stack."""
    path = tmp_path / "local.json"
    write_local(old.stack.settings(), path)
    monkeypatch.setattr(cli.connect, "LOCAL_FILE", path)
    return old


def test_the_command_prints_progress_and_a_summary_per_table_and_exits_0_when_complete(local, capsys, monkeypatch):
    monkeypatch.setattr("cli.backfill.PROGRESS_EVERY", 4)
    assert main(["backfill", "--dry-run", "--json"]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert report["dry_run"] is True and report["complete"] is True
    assert report["tables"]["journeys"]["fixed"] == 4 and report["tables"]["tickets"]["fixed"] == 2
    assert "journeys: 4 scanned" in out.err and "journeys: 8 scanned, 4 to fix, 1 already current" in out.err
    assert local.listed() == {"current"}

    assert main(["backfill", "--segments", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["TABLE", "SCANNED", "FIXED", "CURRENT", "MOVED", "OTHER", "UNREADABLE", "UNPROCESSED"]
    assert lines[1].split() == ["journeys", "8", "4", "1", "0", "3", "0", "0"]
    assert lines[2].split() == ["tickets", "3", "2", "1", "0", "0", "0", "0"]
    assert "1 journey finished longer ago than their definition's retention_days got an expires_at" in lines[3]
    assert local.listed() == set(local.JOURNEYS)

    assert main(["backfill", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tables"]["journeys"]["fixed"] == 0


def test_the_command_exits_1_naming_what_is_left_when_a_document_is_unreadable(local, capsys):
    broken = old_journey_item(journey("broken")) | {"doc": {"S": "{not json"}}
    local.client.put_item(TableName=local.journeys, Item=broken)
    assert main(["backfill"]) == 1
    err = capsys.readouterr().err
    assert "1 journey documents could not be read (broken)" in err and "Traceback" not in err


def test_with_the_stack_down_the_command_says_so_in_one_line(tmp_path):
    """botocore's connection error, as every command reports it: one line, how to start the stack, exit code 1."""
    local = tmp_path / "local.json"
    endpoint = "http://127.0.0.1:1"
    settings = {"JOURNEYS_TABLE": "journeys", "ADVANCE_QUEUE_URL": f"{endpoint}/q", "AWS_ENDPOINT_URL": endpoint}
    local.write_text(json.dumps(settings | {"AWS_REGION": "eu-west-1", "TICKETS_TABLE": "t"}))
    result = run("backfill", "--dry-run", local=local)
    assert result.returncode == 1 and "Traceback" not in result.stderr + result.stdout
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("journeys: cannot reach the local stack") and "journeys up" in line


def test_segments_out_of_range_are_refused_before_anything_is_read(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["backfill", "--segments", "0"])
    assert exit_.value.code == 2 and "a whole number from 1 to 64" in capsys.readouterr().err
