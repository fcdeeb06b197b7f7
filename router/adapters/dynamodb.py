"""DynamoDB adapters: the journey store (one conditional write per transition) and the transition log."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from botocore.exceptions import ClientError

from router.adapters import fanout
from router.adapters.fanout import FanOut, Read
from router.adapters.limits import ITEM_BYTES, check_size
from router.core.model import FINISHED, Journey, JourneyStatus, TransitionRecord
from router.core.reasons import waiting_on
from router.core.shards import due_key, due_keys, status_key, status_keys
from router.ports import VersionConflict

DOC_COMPRESSION = 6  # zlib's default level: most of the gain, a fraction of a millisecond per item

# Index names carry their key schema: a GSI's keys cannot change in place, so a new schema is a new index.
STATUS_INDEX = "by-status-shard"  # status_shard (RUNNING#07), created_at; projects definition_id, business_key
DEADLINE_INDEX = "by-deadline-shard"  # due_shard (due#07), due; sparse and keys-only


def journey_item(journey: Journey, record: TransitionRecord) -> dict[str, Any]:
    """The whole journey item as DynamoDB attributes; pure, so a retry sends identical bytes."""
    doc = journey.model_dump_json()
    item: dict[str, Any] = {
        "journey_id": {"S": journey.id},
        "version": {"N": str(journey.version)},
        **index_attributes(journey),
        "updated_at": {"N": repr(journey.updated_at)},
        # zlib: the documents are most of the item, and JSON halves; every write unit and stored byte counts
        "doc": packed(doc),
        "waiting_on": {"S": waiting_on(journey)},  # for filtering lists by why journeys wait
        "last_transition": packed(record.model_dump_json()),
    }
    check_size(doc + record.model_dump_json(), ITEM_BYTES, f"journey {journey.id}")
    return item


def index_attributes(journey: Journey) -> dict[str, Any]:
    """The attributes of a journey item that its indexes and the table's TTL read, from the journey alone: what
    every commit writes, and what `journeys backfill` (router/adapters/backfill.py) brings older items to."""
    item: dict[str, Any] = {
        "status": {"S": journey.status.value},
        # Index keys that change only when the status does: an ordinary transition writes no by-status entry.
        "status_shard": {"S": status_key(journey.status.value, journey.id)},
        "created_at": {"N": repr(journey.created_at)},
        "definition_id": {"S": journey.definition_id},
    }
    if journey.business_key:
        item["business_key"] = {"S": journey.business_key}
    if journey.expires_at is not None:  # finished: the table's TTL deletes it after its retention
        item["expires_at"] = {"N": str(int(journey.expires_at))}
    due = journey.next_deadline
    if due is not None:
        item["due"] = {"N": repr(due)}
        item["due_shard"] = {"S": due_key(journey.id)}
    return item


def commit_request(table: str, journey: Journey, record: TransitionRecord) -> dict[str, Any]:
    """A PutItem conditioned on the stored version being the one this transition was derived from."""
    request: dict[str, Any] = {
        "TableName": table,
        "Item": journey_item(journey, record),
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        "ReturnConsumedCapacity": "TOTAL",  # the transition's usage (router/adapters/usage.py)
    }
    if journey.version == 1:
        request["ConditionExpression"] = "attribute_not_exists(journey_id)"
    else:
        request["ConditionExpression"] = "version = :expected"
        request["ExpressionAttributeValues"] = {":expected": {"N": str(journey.version - 1)}}
    return request


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it: names and values in UTF-8, numbers about one byte per two digits."""
    size = 0
    for name, value in item.items():
        ((kind, data),) = value.items()
        if kind == "B":
            size += len(name.encode()) + len(data)
        else:
            size += len(name.encode()) + (len(data.encode()) if kind == "S" else (len(data) + 1) // 2 + 1)
    return size


def journey_from_item(item: dict[str, Any]) -> Journey:
    return Journey.model_validate_json(unpacked(item["doc"]))


# A preset zlib dictionary: the key names and common values of journey documents and transition records, so a
# small document compresses as well as a large one. Items hold the version byte of the dictionary they were packed
# with: this text must never change; a better one is added as version 2, and both stay readable.
_DICTIONARIES = {
    1: (
        b'"reason":null,"emits":[],"lifecycle":[],"waited":null,"business_key":null,"error":null,"expires_at":null,'
        b'"usage":{"calls":{"dynamodb.GetItem":1,"dynamodb.PutItem":1,"sqs.SendMessage":1,"events.PutEvents":1},'
        b'"read_units":1.0,"write_units":1.0,"sfn_transitions":0},"cost_usd":0.0,"owning_domain":"bank-core",'
        b'"event":"step_succeeded","step_result":"succeeded","actor":"system","entered":[],"lifecycle":'
        b'["journey_started","journey_completed","journey_failed"],"status":"SUCCEEDED","status":"FAILED",'
        b'{"id":"","step":"","kind":"TASK","kind":"INPUT","kind":"TIMER","kind":"APPROVAL","opened_seq":1,'
        b'"deadline":1,"worker":null,"branch":null,"wake_at":null,"retrying":false,"last_error":null,'
        b'"reminded":false,"opened_at":1},"definition_hash":"","initiator":"","created_at":1,"updated_at":1,'
        b'"closed_by":{},"path":[],"state":{},"open":{},"step":"","version":1,"status":"RUNNING",'
        b'{"id":"","definition_id":"","definition_version":"1.0.0","journey_id":"","seq":1,"at":1,'
        b'"definition_id":"","definition_version":"1.0.0","step_name":"","activation_id":"'
    ),
}
_PACKING = 1


def packed(text: str) -> dict[str, Any]:
    """A JSON document as a binary attribute: the dictionary's version byte, then the zlib stream."""
    compressor = zlib.compressobj(DOC_COMPRESSION, zdict=_DICTIONARIES[_PACKING])
    return {"B": bytes([_PACKING]) + compressor.compress(text.encode()) + compressor.flush()}


def unpacked(value: dict[str, Any]) -> str:
    """The JSON a packed attribute holds (bytes from boto3; base64 text in a Lambda stream event); a plain string
    attribute, as items written before packing hold, as it is."""
    if "S" in value:
        return str(value["S"])
    data = value["B"]
    data = base64.b64decode(data) if isinstance(data, str) else data
    decompressor = zlib.decompressobj(zdict=_DICTIONARIES[data[0]])
    return (decompressor.decompress(data[1:]) + decompressor.flush()).decode()


def record_from_item(item: dict[str, Any]) -> TransitionRecord:
    return TransitionRecord.model_validate_json(unpacked(item["record"]))


class DynamoJourneyStore:
    def __init__(self, client: Any, table: str) -> None:
        self.client, self.table = client, table

    def load(self, journey_id: str) -> Journey | None:
        response = self.client.get_item(
            TableName=self.table,
            Key={"journey_id": {"S": journey_id}},
            ConsistentRead=True,
            ReturnConsumedCapacity="TOTAL",
        )
        return _journey(response.get("Item"))

    def commit(self, journey: Journey, record: TransitionRecord) -> None:
        try:
            self.client.put_item(**commit_request(self.table, journey, record))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # botocore's stubs omit the Item that ReturnValuesOnConditionCheckFailure adds
            old = cast(dict[str, Any], exc.response).get("Item")
            raise VersionConflict(_journey(old)) from None


def _journey(item: dict[str, Any] | None) -> Journey | None:
    """The journey an item holds; None for no item or another kind of item sharing the table (a published
    definition, keyed definition#...), so an id naming one is an unknown journey rather than a KeyError."""
    return journey_from_item(item) if item and "doc" in item else None


class DynamoTransitionLog:
    def __init__(self, client: Any, table: str) -> None:
        self.client, self.table = client, table

    def append(self, record: TransitionRecord) -> bool:
        item = {
            "journey_id": {"S": record.journey_id},
            "seq": {"N": str(record.seq)},
            "record": packed(record.model_dump_json()),
        }
        if record.expires_at is not None:
            item["expires_at"] = {"N": str(int(record.expires_at))}
        try:
            self.client.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(seq)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def read(self, journey_id: str) -> list[TransitionRecord]:
        items = query(
            self.client,
            TableName=self.table,
            KeyConditionExpression="journey_id = :j",
            ExpressionAttributeValues={":j": {"S": journey_id}},
            ConsistentRead=True,
        )
        return [record_from_item(item) for item in items]


def query(client: Any, limit: int | None = None, **request: Any) -> list[dict[str, Any]]:
    """Every item a Query matches (at most `limit`), page after page, by botocore's own paginator."""
    config = {"PageSize": min(100, limit), "MaxItems": limit} if limit else {}
    pages = client.get_paginator("query").paginate(**request, PaginationConfig=config)
    return [item for page in pages for item in page["Items"]]


# Journeys move between status partitions while they are read. Finished statuses are final and read last; STUCK is
# read on both sides of RUNNING, which a journey may leave for STUCK or re-enter from it. So a journey moving
# meanwhile is read at least once; its document is then loaded by key, so it is listed once, as it is now.
UNFINISHED = (JourneyStatus.STUCK, JourneyStatus.RUNNING, JourneyStatus.STUCK)
SWEEP = (*UNFINISHED, JourneyStatus.SUCCEEDED, JourneyStatus.FAILED, JourneyStatus.CANCELLED)

Position = tuple[float, str]  # (created_at, journey_id): never changes, so a listing's order is stable


@dataclass(frozen=True)
class IndexPage:
    """Positions of one merged page across shards, oldest first; `more` when any shard may hold later ones."""

    positions: list[Position]
    more: bool


def status_page(
    client: Any,
    table: str,
    statuses: Iterable[JourneyStatus],
    limit: int,
    after: Position | None = None,
    created: tuple[float | None, float | None] = (None, None),
    equal: dict[str, str] | None = None,
    reader: FanOut = fanout.read,
) -> IndexPage:
    """The next `limit` journeys after `after` across every shard of `statuses`, merged by (created_at, id).

    Each shard is read up to `limit` entries past `after`; a shard that returned that many may hold more, so the
    merge keeps only what is no later than the earliest such shard's last entry (the horizon): nothing between
    two pages is skipped, whatever the shards hold. `created` bounds created_at in the key condition; `equal`
    filters projected, never-changing attributes (definition_id, business_key) on the server.

    The shards of a status are read at once (`reader`), the statuses in rounds, each after the one before: a
    journey moving between two statuses is then read at least once, as UNFINISHED's order promises."""
    sources: list[list[Position]] = []
    for statuses_at_once in _rounds(statuses):
        reads = [
            _shard_read(table, key, limit, after, created, equal)
            for status in statuses_at_once
            for key in status_keys(status.value)
        ]
        sources += [sorted(map(_position, found))[:limit] for found in fanout.items(reader(client, reads))]
    full = [positions[-1] for positions in sources if len(positions) >= limit]
    horizon = min(full) if full else None
    merged = sorted({p for positions in sources for p in positions if horizon is None or p <= horizon})
    return IndexPage(merged[:limit], more=len(merged) > limit or horizon is not None)


def _rounds(statuses: Iterable[JourneyStatus]) -> list[list[JourneyStatus]]:
    """The statuses in order, one round each, except that finished statuses next to each other share one: nothing
    moves between them (they are final), so reading them together loses nothing."""
    rounds: list[list[JourneyStatus]] = []
    for status in statuses:
        if rounds and status in FINISHED and rounds[-1][-1] in FINISHED:
            rounds[-1].append(status)
        else:
            rounds.append([status])
    return rounds


def _position(item: dict[str, Any]) -> Position:
    return float(item["created_at"]["N"]), item["journey_id"]["S"]


def _shard_read(
    table: str,
    key: str,
    limit: int,
    after: Position | None,
    created: tuple[float | None, float | None],
    equal: dict[str, str] | None,
) -> Read:
    """One shard's Query, up to `limit` entries past `after`; later pages only while it has not given that many."""
    names, values = {"#k": "status_shard", "#c": "created_at"}, {":k": {"S": key}}
    lower = max(x for x in (created[0], after[0] if after else None, float("-inf")) if x is not None)
    condition = "#k = :k"
    if lower != float("-inf") and created[1] is not None:
        condition += " AND #c BETWEEN :lo AND :hi"
        values[":lo"], values[":hi"] = {"N": repr(lower)}, {"N": repr(created[1])}
    elif lower != float("-inf"):
        condition += " AND #c >= :lo"
        values[":lo"] = {"N": repr(lower)}
    elif created[1] is not None:
        condition += " AND #c <= :hi"
        values[":hi"] = {"N": repr(created[1])}
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": STATUS_INDEX,
        "KeyConditionExpression": condition,
        "ProjectionExpression": "journey_id, #c",
    }
    for i, (attribute, value) in enumerate((equal or {}).items()):
        names[f"#f{i}"], values[f":f{i}"] = attribute, {"S": value}
    if equal:
        request["FilterExpression"] = " AND ".join(f"#f{i} = :f{i}" for i in range(len(equal)))
    request.update(ExpressionAttributeNames=names, ExpressionAttributeValues=values)
    keep = None if after is None else (lambda item: _position(item) > after)
    return Read(request, enough=limit, page_size=limit, keep=keep)


def load_journeys(client: Any, table: str, journey_ids: list[str]) -> dict[str, Journey]:
    """The journeys named, read by key (strongly consistent), a hundred a request; unprocessed keys retried."""
    found: dict[str, Journey] = {}
    for at in range(0, len(journey_ids), 100):
        keys = [{"journey_id": {"S": j}} for j in dict.fromkeys(journey_ids[at : at + 100])]
        request: dict[str, Any] = {table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            response = client.batch_get_item(RequestItems=request)
            for item in response["Responses"].get(table, []):
                journey = _journey(item)
                if journey is not None:
                    found[journey.id] = journey
            request = response.get("UnprocessedKeys") or {}
    return found


def journeys_by_status(
    client: Any,
    table: str,
    statuses: Iterable[JourneyStatus],
    equal: dict[str, str] | None = None,
    page_size: int = 100,
) -> Iterator[Journey]:
    """Every journey now in one of `statuses`, oldest first, each once, page after merged page: bounded memory
    whatever the table holds (the migration plan and the command line walk all of them)."""
    statuses = tuple(statuses)
    after: Position | None = None
    while True:
        page = status_page(client, table, statuses, page_size, after, equal=equal)
        loaded = load_journeys(client, table, [journey_id for _, journey_id in page.positions])
        for _, journey_id in page.positions:
            journey = loaded.get(journey_id)
            if journey is not None and journey.status in statuses:
                yield journey
        if not page.more or not page.positions:
            return
        after = page.positions[-1]


def overdue_journeys(
    client: Any, table: str, now: float, limit: int, shard_keys: Sequence[str], reader: FanOut = fanout.read
) -> list[list[str] | Exception]:
    """Per deadline shard, at once: the ids of at most `limit` journeys with an activation due by `now` (a sparse
    index, no scans), or why that shard could not be read; one unreadable shard never hides the others."""
    reads = [
        Read(
            {
                "TableName": table,
                "IndexName": DEADLINE_INDEX,
                "KeyConditionExpression": "due_shard = :shard AND due <= :now",
                "ExpressionAttributeValues": {":shard": {"S": key}, ":now": {"N": repr(now)}},
            },
            enough=limit,
            page_size=min(100, limit),
        )
        for key in shard_keys
    ]
    return [
        found if isinstance(found, Exception) else list(dict.fromkeys(i["journey_id"]["S"] for i in found[:limit]))
        for found in reader(client, reads)
    ]


DEADLINE_SHARDS = due_keys()
