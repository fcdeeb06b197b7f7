"""Fan-out reads sent at once (aiobotocore) give exactly what they gave one after another (boto3): on the emulator."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from api.listing import JourneyFilter, find
from devstack.emulator import CREDENTIALS, Emulator
from router.adapters import fanout
from router.adapters.dynamodb import DEADLINE_SHARDS, SWEEP, UNFINISHED, IndexPage, overdue_journeys, status_page
from router.adapters.fanout import Outcome, Read
from router.adapters.tickets import DynamoTicketStore, ticket_item
from router.core.model import JourneyStatus
from router.core.shards import SHARDS, due_key, shard_of
from tests import tables
from tests.approval_stack import tickets_table
from tests.emulator_faults import refused_queries
from tests.test_api_listing import item, journey
from tests.test_ticket_store import ticket

TABLE = "journeys"
STATUSES = list(JourneyStatus)


class Wrapped:
    """The same client behind a wrapper: not a botocore client, so `fanout.read` reads it in turn."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@pytest.fixture
def dynamodb(fresh_inprocess_emulator: Emulator) -> Any:
    client = boto3.Session(**CREDENTIALS).client("dynamodb", endpoint_url=fresh_inprocess_emulator.url)
    tables.create(client, "JourneysTable", TABLE)
    return client


def populate(dynamodb: Any, count: int = 50) -> None:
    """Journeys over every status and many shards; three at each created_at, so ties straddle page ends; and a
    crowd in one shard at one instant, so a page starting inside it finds its first entries already listed and
    must read that shard's next page."""
    items = []
    for n in range(count):
        status = STATUSES[n * 7 % len(STATUSES)]
        definition = "payment-approval" if n % 3 == 0 else "kyc-uplift"
        j = journey(f"j{n * 37 % count:03d}", 1_000 + n // 3, status, 1 + n % 4, definition_id=definition)
        items.append(item(j))
    crowd = [f"crowd-{n:03d}" for n in range(400) if shard_of(f"crowd-{n:03d}") == shard_of("crowd-000")][:12]
    items += [item(journey(c, 1_005.5, JourneyStatus.RUNNING)) for c in crowd]
    for at in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": i}} for i in items[at : at + 25]]
        dynamodb.batch_write_item(RequestItems={TABLE: batch})


def walk(dynamodb: Any, reader: fanout.FanOut, statuses: Sequence[JourneyStatus], limit: int, **kw: Any) -> list[Any]:
    """Every merged page, each starting after the last one's end, as listings and migrations page on."""
    pages: list[IndexPage] = []
    after = None
    while not pages or (pages[-1].more and pages[-1].positions):
        pages.append(status_page(dynamodb, TABLE, statuses, limit, after, reader=reader, **kw))
        after = pages[-1].positions[-1] if pages[-1].positions else None
    return pages


@pytest.mark.parametrize(
    ("statuses", "limit", "options"),
    [
        ((JourneyStatus.RUNNING,), 4, {}),
        (UNFINISHED, 7, {}),
        (SWEEP, 50, {}),
        (UNFINISHED, 4, {"created": (1_005.0, 1_025.0), "equal": {"definition_id": "kyc-uplift"}}),
    ],
)
def test_pages_read_at_once_equal_pages_read_in_turn_page_after_page(
    dynamodb: Any,
    fresh_inprocess_emulator: Emulator,
    statuses: tuple[JourneyStatus, ...],
    limit: int,
    options: dict[str, Any],
) -> None:
    """Same positions in the same order and the same `more` on every page, across all 32 shards, ties included;
    and the same Queries sent: a shard's next page is asked for only while it has given too few."""
    populate(dynamodb)
    with refused_queries(fresh_inprocess_emulator, lambda _: False) as asked_in_turn:
        in_turn = walk(dynamodb, fanout.in_turn, statuses, limit, **options)
    with refused_queries(fresh_inprocess_emulator, lambda _: False) as asked_at_once:
        at_once = walk(dynamodb, fanout.at_once, statuses, limit, **options)
    assert at_once == in_turn
    assert sorted(map(str, asked_at_once)) == sorted(map(str, asked_in_turn))
    assert any("ExclusiveStartKey" in query for query in asked_in_turn) is (limit < 12)  # the crowd's next pages
    assert len(in_turn) > 1 and sum(len(p.positions) for p in in_turn) > limit  # it did page on


def test_a_listing_at_once_gives_the_same_journeys_and_cursors_as_in_turn(dynamodb: Any) -> None:
    """api/listing.find on the client itself (read at once) and on a wrapper (read in turn): page for page."""
    populate(dynamodb)
    f = JourneyFilter(status=JourneyStatus.RUNNING, definition="kyc-uplift")
    for_each: dict[str, list[tuple[list[str], str | None]]] = {}
    for name, client in (("at once", dynamodb), ("in turn", Wrapped(dynamodb))):
        pages, cursor = for_each.setdefault(name, []), None
        while True:
            found, cursor = find(client, TABLE, f, now=0, limit=3, cursor=cursor)
            pages.append(([j.id for j in found], cursor))
            if cursor is None:
                break
    assert for_each["at once"] == for_each["in turn"] and len(for_each["in turn"]) > 3
    assert all(len(ids) == 3 for ids, cursor in for_each["in turn"] if cursor)


def test_statuses_are_read_in_rounds_each_after_the_one_before(dynamodb: Any) -> None:
    """The shards of a status go out together; STUCK, RUNNING, STUCK one round after another; the finished
    statuses, between which nothing moves, in one last round."""
    rounds: list[list[str]] = []

    def noted(client: Any, reads: Sequence[Read]) -> list[Outcome]:
        rounds.append([read.request["ExpressionAttributeValues"][":k"]["S"] for read in reads])
        return fanout.at_once(client, reads)

    status_page(dynamodb, TABLE, SWEEP, 10, reader=noted)
    assert [sorted({key.split("#")[0] for key in keys}) for keys in rounds] == [
        ["STUCK"],
        ["RUNNING"],
        ["STUCK"],
        ["CANCELLED", "FAILED", "SUCCEEDED"],
    ]
    assert [len(keys) for keys in rounds] == [SHARDS, SHARDS, SHARDS, 3 * SHARDS]


def test_a_journey_escalating_while_its_status_is_read_at_once_is_listed_once(dynamodb: Any) -> None:
    """STUCK is read before it escalates and RUNNING after: the second STUCK round, after both, finds it."""
    dynamodb.put_item(TableName=TABLE, Item=item(journey("s", 1, JourneyStatus.RUNNING, 3)))

    def escalating(client: Any, reads: Sequence[Read]) -> list[Outcome]:
        if reads[0].request["ExpressionAttributeValues"][":k"]["S"].startswith("RUNNING#"):
            dynamodb.put_item(TableName=TABLE, Item=item(journey("s", 1, JourneyStatus.STUCK, 4)))
        return fanout.at_once(client, reads)

    page = status_page(dynamodb, TABLE, UNFINISHED, 10, reader=escalating)
    assert page.positions == [(1.0, "s")] and not page.more


def test_one_refused_deadline_shard_is_reported_and_every_other_shard_is_read(
    dynamodb: Any, fresh_inprocess_emulator: Emulator
) -> None:
    """Each shard's read is its own: the refused one comes back as its error, in its place; the rest as found."""
    overdue = [journey(f"late-{n}", 1, JourneyStatus.RUNNING, 2) for n in range(12)]
    for j in overdue:
        due = item(j)
        due["due"], due["due_shard"] = {"N": "50"}, {"S": due_key(j.id)}
        dynamodb.put_item(TableName=TABLE, Item=due)
    broken = due_key(overdue[0].id)

    def refused(request: dict[str, Any]) -> bool:
        return request["ExpressionAttributeValues"][":shard"]["S"] == broken

    for reader in (fanout.in_turn, fanout.at_once):
        with refused_queries(fresh_inprocess_emulator, refused) as noted:
            found = overdue_journeys(dynamodb, TABLE, 100.0, 15, DEADLINE_SHARDS, reader=reader)
        assert sorted(q["ExpressionAttributeValues"][":shard"]["S"] for q in noted) == sorted(DEADLINE_SHARDS)
        failed = found[DEADLINE_SHARDS.index(broken)]
        assert isinstance(failed, ClientError) and failed.response["Error"]["Code"] == "AccessDeniedException"
        ids = {i for shard in found if not isinstance(shard, Exception) for i in shard}
        assert ids == {j.id for j in overdue if due_key(j.id) != broken} and len(ids) < len(overdue)


def test_open_tickets_at_once_equal_open_tickets_in_turn(fresh_inprocess_emulator: Emulator) -> None:
    """The open-ticket shards merged by deadline, whichever way they were read."""
    client = boto3.Session(**CREDENTIALS).client("dynamodb", endpoint_url=fresh_inprocess_emulator.url)
    table = tickets_table(client)
    for n in range(80):
        client.put_item(TableName=table, Item=ticket_item(ticket(f"t{n:02d}", deadline=1_000.0 + n * 7 % 50), "tok"))
    in_turn = DynamoTicketStore(client, table, fanout.in_turn)
    at_once = DynamoTicketStore(client, table, fanout.at_once)
    for limit in (1, 10, 100):
        assert [t.ticket_id for t in at_once.open_tickets(1_020.0, limit)] == [
            t.ticket_id for t in in_turn.open_tickets(1_020.0, limit)
        ]
        assert at_once.lapsed(1_020.0, limit) == in_turn.lapsed(1_020.0, limit)
    assert len(in_turn.lapsed(1_020.0)) > 10 and len(in_turn.open_tickets(1_020.0)) > 10


def test_reads_go_out_at_once_from_a_running_event_loop_and_from_many_threads(dynamodb: Any) -> None:
    """The loop is the fan-out's own: a caller inside a running loop (an async route), or on any of a thread
    pool's threads (FastAPI's sync routes), waits for it without clashing with its own."""
    populate(dynamodb, 45)
    expected = status_page(dynamodb, TABLE, UNFINISHED, 7, reader=fanout.in_turn)

    async def inside_a_loop() -> IndexPage:
        return status_page(dynamodb, TABLE, UNFINISHED, 7, reader=fanout.at_once)

    assert asyncio.run(inside_a_loop()) == expected
    with ThreadPoolExecutor(4) as pool:
        pages = list(pool.map(lambda _: status_page(dynamodb, TABLE, UNFINISHED, 7), range(8)))
    assert pages == [expected] * 8


def test_reads_sent_at_once_pass_the_callers_parameter_hooks_on_its_thread(dynamodb: Any) -> None:
    """What watches a client's calls (the least-privilege record, tests/test_policies.py) sees the fan-out's
    Queries as the caller's: once a read, on the caller's thread, with what the hooks made of the request."""
    seen: list[tuple[str, str]] = []

    def noted(params: dict[str, Any], **_: Any) -> None:
        seen.append((threading.current_thread().name, params["ExpressionAttributeValues"][":k"]["S"]))
        params["Limit"] = 1  # a hook may change the request: what it leaves is what is sent

    dynamodb.meta.events.register("before-parameter-build.dynamodb.Query", noted)
    populate(dynamodb, 45)
    page = status_page(dynamodb, TABLE, (JourneyStatus.RUNNING,), 5, reader=fanout.at_once)
    assert sorted(key for _, key in seen) == sorted(f"RUNNING#{s:02d}" for s in range(SHARDS))
    assert {thread for thread, _ in seen} == {threading.current_thread().name}
    assert page == status_page(dynamodb, TABLE, (JourneyStatus.RUNNING,), 5, reader=fanout.in_turn)
