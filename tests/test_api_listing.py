"""Listing pages over the sharded by-status index while journeys move between its partitions (on the emulator)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

import api.listing
from api.listing import BadCursor, JourneyFilter, decode_cursor, encode_cursor, find
from cli.lifecycle import _unfinished
from devstack.emulator import CREDENTIALS, Emulator
from router.adapters.dynamodb import journey_item
from router.core.model import Journey, JourneyStatus, TransitionRecord
from router.core.shards import SHARDS
from tests import tables

TABLE = "journeys"


def journey(name: str, created_at: float, status: JourneyStatus, version: int = 1, **update: Any) -> Journey:
    return Journey(
        id=name,
        definition_id=update.pop("definition_id", "kyc-uplift"),
        definition_version=update.pop("definition_version", "1.0.0"),
        definition_hash="h",
        status=status,
        version=version,
        step="request-details",
        state={},
        initiator="t",
        created_at=created_at,
        updated_at=created_at + version,
        **update,
    )


def item(j: Journey) -> dict[str, Any]:
    record = TransitionRecord(
        journey_id=j.id,
        seq=j.version,
        at=j.updated_at,
        definition_id=j.definition_id,
        definition_version=j.definition_version,
        owning_domain="bank-core",
        event="start",
        actor="t",
        step_name="request-details",
        step_result="started",
        status=j.status,
    )
    return journey_item(j, record)


class Spy:
    """The emulator's client, noting each index query's partition key; `before_query` may move journeys on
    between two shard reads, as a concurrent transition would."""

    def __init__(self, client: Any, before_query: Callable[[str], None] = lambda _: None) -> None:
        self.client, self.before_query, self.asked = client, before_query, list[str]()

    def get_paginator(self, name: str) -> Any:
        paginator = self.client.get_paginator(name)
        spy = self

        class Noted:
            def paginate(self, **request: Any) -> Any:
                key = request["ExpressionAttributeValues"][":k"]["S"]
                spy.before_query(key)
                spy.asked.append(key)
                return paginator.paginate(**request)

        return Noted()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@pytest.fixture
def dynamodb(fresh_emulator: Emulator) -> Any:
    client = boto3.Session(**CREDENTIALS).client("dynamodb", endpoint_url=fresh_emulator.url)
    tables.create(client, "JourneysTable", TABLE)
    return client


def put(dynamodb: Any, *journeys: Journey) -> None:
    for j in journeys:
        dynamodb.put_item(TableName=TABLE, Item=item(j))


def test_pages_merge_the_shards_oldest_first_each_journey_once(dynamodb: Any) -> None:
    """Journeys spread over many shards come back in (created_at, id) order, page after page, none twice."""
    everyone = [journey(f"j{i:03d}", i, JourneyStatus.RUNNING) for i in range(60)]
    put(dynamodb, *everyone)
    listed, cursor, pages = [], None, 0
    while True:
        page, cursor = find(dynamodb, TABLE, JourneyFilter(status=JourneyStatus.RUNNING), 0, limit=7, cursor=cursor)
        listed += [j.id for j in page]
        pages += 1
        if cursor is None:
            break
    assert listed == [j.id for j in everyone] and pages == 9
    assert decode_cursor(encode_cursor((3.0, "j003"))) == (3.0, "j003")


def test_a_journey_finishing_between_shard_reads_is_listed_once_as_it_is_now(dynamodb: Any) -> None:
    """Read as RUNNING, then (having finished) as SUCCEEDED: one row, the newer version, from the table."""
    a, b = journey("a", 1, JourneyStatus.RUNNING), journey("b", 2, JourneyStatus.RUNNING, 2)
    put(dynamodb, a, b)
    done = journey("b", 2, JourneyStatus.SUCCEEDED, 3)

    def finish_b(key: str) -> None:
        if key.startswith("FAILED#"):  # after every RUNNING and SUCCEEDED shard was read
            put(dynamodb, done)

    spy = Spy(dynamodb, finish_b)
    page, cursor = find(spy, TABLE, JourneyFilter(), now=10, limit=10)
    assert [(j.id, j.version, j.status) for j in page] == [("a", 1, "RUNNING"), ("b", 3, "SUCCEEDED")]
    assert cursor is None


def test_a_journey_escalating_between_reads_is_not_lost(dynamodb: Any) -> None:
    """Not yet STUCK when STUCK is read, no longer RUNNING when RUNNING is: the second STUCK read finds it."""
    put(dynamodb, journey("s", 1, JourneyStatus.RUNNING, 3))

    def escalate(key: str) -> None:
        if key == "RUNNING#00":
            put(dynamodb, journey("s", 1, JourneyStatus.STUCK, 4))

    page, _ = find(Spy(dynamodb, escalate), TABLE, JourneyFilter(), now=10, limit=10)
    assert [(j.id, j.version) for j in page] == [("s", 4)]


def test_a_finished_journey_still_indexed_as_running_is_not_listed_as_running(dynamodb: Any) -> None:
    """The index is eventually consistent; the document, read by key, decides whether a journey matches."""
    put(dynamodb, journey("r", 1, JourneyStatus.RUNNING))
    stale = item(journey("f", 2, JourneyStatus.SUCCEEDED, 2))
    stale["status_shard"] = item(journey("f", 2, JourneyStatus.RUNNING))["status_shard"]
    dynamodb.put_item(TableName=TABLE, Item=stale)
    page, _ = find(dynamodb, TABLE, JourneyFilter(status=JourneyStatus.RUNNING), now=10, limit=10)
    assert [j.id for j in page] == ["r"]


@pytest.mark.parametrize(
    "cursor", ["not-a-cursor", "W10=", "e30=", encode_cursor((1.0, "")), "WyJ4IiwgImEiXQ==", "WzEsIDJd", "WyJOYU4iXQ"]
)
def test_a_cursor_this_api_did_not_return_is_refused_without_echoing_it(cursor: str) -> None:
    """Garbage, the wrong shape, a number where the id goes: BadCursor (400), and the message leaves it out."""
    with pytest.raises(BadCursor, match="pass back the next_cursor of a page") as refused:
        decode_cursor(cursor)
    assert cursor not in str(refused.value)


def test_a_narrow_filter_over_many_journeys_pages_on_with_bounded_reads(dynamodb: Any, monkeypatch) -> None:
    """At most MAX_SCAN index entries per page: a page may come back short, its cursor goes on, nothing is lost."""
    monkeypatch.setattr(api.listing, "MAX_SCAN", 6)
    others = [journey(f"o{i:02d}", i, JourneyStatus.RUNNING) for i in range(20)]
    wanted = [journey(f"w{i}", 20 + i, JourneyStatus.RUNNING, definition_version="2.0.0") for i in range(2)]
    put(dynamodb, *others, *wanted)
    pages, cursor = [], None
    while True:
        page, cursor = find(dynamodb, TABLE, JourneyFilter(version="2.0.0"), 0, limit=5, cursor=cursor)
        pages.append([j.id for j in page])
        if cursor is None:
            break
    assert pages == [[], [], ["w0", "w1"]]  # two merged reads of 5 (past MAX_SCAN) a page: 10, 10, then the last 2


def test_server_side_filters_and_the_created_range_narrow_the_index_read(dynamodb: Any) -> None:
    """definition_id is projected into the index; created_from/created_to bound the sort key."""
    put(dynamodb, *(journey(f"k{i}", i, JourneyStatus.RUNNING) for i in range(6)))
    put(dynamodb, journey("p", 3, JourneyStatus.RUNNING, definition_id="payment-approval"))
    f = JourneyFilter(definition="kyc-uplift", created_from=2, created_to=5)
    page, cursor = find(dynamodb, TABLE, f, now=0, limit=10)
    assert [j.id for j in page] == ["k2", "k3", "k4"] and cursor is None


def test_the_stuck_queue_reads_only_unfinished_shards(dynamodb: Any) -> None:
    """A finished journey can never be stuck: its shards are not read for the stuck queue; STUCK is read twice."""
    spy = Spy(dynamodb)
    find(spy, TABLE, JourneyFilter(stuck_only=True), now=0, limit=10)
    statuses = [key.split("#")[0] for key in spy.asked]
    assert statuses == ["STUCK"] * SHARDS + ["RUNNING"] * SHARDS + ["STUCK"] * SHARDS
    assert len(set(spy.asked)) == 2 * SHARDS


def test_a_migration_plan_lists_a_journey_escalating_between_reads_once(dynamodb: Any) -> None:
    """cli/lifecycle reads the unfinished shards through the same merge: seen RUNNING and then STUCK, the
    journey is planned once, at its newest version."""
    put(dynamodb, journey("m", 1, JourneyStatus.RUNNING, 3))

    def escalate(key: str) -> None:
        if key == f"RUNNING#{SHARDS - 1:02d}":
            put(dynamodb, journey("m", 1, JourneyStatus.STUCK, 4))

    spy = Spy(dynamodb, escalate)
    runtime = SimpleNamespace(client=lambda _: spy, settings=SimpleNamespace(journeys_table=TABLE))
    assert [(j.id, j.version) for j in _unfinished(runtime)] == [("m", 4)]
