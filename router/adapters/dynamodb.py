"""DynamoDB adapters: the journey store (one conditional write per transition) and the transition log."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from router.limits import ITEM_BYTES, check_size
from router.model import Journey, JourneyStatus, TransitionRecord
from router.ports import VersionConflict
from router.reasons import waiting_on

DUE_SHARD = "open"  # sparse index partition: only journeys with open activations carry it


def journey_item(journey: Journey, record: TransitionRecord) -> dict[str, Any]:
    """The whole journey item as DynamoDB attributes; pure, so a retry sends identical bytes."""
    doc = journey.model_dump_json()
    item: dict[str, Any] = {
        "journey_id": {"S": journey.id},
        "version": {"N": str(journey.version)},
        "status": {"S": journey.status.value},
        "definition_id": {"S": journey.definition_id},
        "updated_at": {"N": repr(journey.updated_at)},
        "doc": {"S": doc},
        "waiting_on": {"S": waiting_on(journey)},  # for filtering lists by why journeys wait
        "last_transition": {"S": record.model_dump_json()},
    }
    if journey.business_key:
        item["business_key"] = {"S": journey.business_key}
    due = journey.next_deadline
    if due is not None:
        item["due"] = {"N": repr(due)}
        item["due_shard"] = {"S": DUE_SHARD}
    check_size(doc + item["last_transition"]["S"], ITEM_BYTES, f"journey {journey.id}")
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
        ((kind, text),) = value.items()
        size += len(name.encode()) + (len(text.encode()) if kind == "S" else (len(text) + 1) // 2 + 1)
    return size


def journey_from_item(item: dict[str, Any]) -> Journey:
    return Journey.model_validate_json(item["doc"]["S"])


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
            raise VersionConflict(_journey(exc.response.get("Item"))) from None


def _journey(item: dict[str, Any] | None) -> Journey | None:
    """The journey an item holds; None for no item or another kind of item sharing the table (a published
    definition, keyed definition#...), so an id naming one is an unknown journey rather than a KeyError."""
    return journey_from_item(item) if item and "doc" in item else None


class DynamoTransitionLog:
    def __init__(self, client: Any, table: str) -> None:
        self.client, self.table = client, table

    def append(self, record: TransitionRecord) -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "journey_id": {"S": record.journey_id},
                    "seq": {"N": str(record.seq)},
                    "record": {"S": record.model_dump_json()},
                },
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
        return [TransitionRecord.model_validate_json(item["record"]["S"]) for item in items]


def query(client: Any, limit: int | None = None, **request: Any) -> list[dict[str, Any]]:
    """Every item a Query matches (at most `limit`), page after page, by botocore's own paginator."""
    config = {"PageSize": min(100, limit), "MaxItems": limit} if limit else {}
    pages = client.get_paginator("query").paginate(**request, PaginationConfig=config)
    return [item for page in pages for item in page["Items"]]


# Journeys move between the by-status partitions while they are read, one query each. Finished statuses are final
# and read last; STUCK is read on both sides of RUNNING, which a journey may leave for STUCK or re-enter from it.
# So a journey moving meanwhile is read at least once (journeys_by_status keeps its newest copy).
UNFINISHED = (JourneyStatus.STUCK, JourneyStatus.RUNNING, JourneyStatus.STUCK)
SWEEP = (*UNFINISHED, JourneyStatus.SUCCEEDED, JourneyStatus.FAILED, JourneyStatus.CANCELLED)


class PartitionFull(Exception):
    """A status partition held at least the `limit` asked for: what was read is not all there is."""

    def __init__(self, status: JourneyStatus, limit: int) -> None:
        super().__init__(f"more than {limit} journeys are {status.value}")
        self.status, self.limit = status, limit


def journeys_by_status(
    client: Any,
    table: str,
    statuses: Iterable[JourneyStatus],
    limit: int | None = None,
    equal: dict[str, str] | None = None,
) -> list[Journey]:
    """The journeys of the by-status partitions of `statuses`, read in that order, each journey once at its newest
    version. `equal` narrows by top-level string attributes (definition_id, business_key) on the server side.
    With a `limit`, a partition returning that many items raises PartitionFull rather than losing the rest."""
    names, values = {"#s": "status"}, {}
    for i, (attribute, value) in enumerate((equal or {}).items()):
        names[f"#f{i}"], values[f":f{i}"] = attribute, {"S": value}
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": "by-status",
        "KeyConditionExpression": "#s = :s",
        "ExpressionAttributeNames": names,
    }
    if equal:
        request["FilterExpression"] = " AND ".join(f"#f{i} = :f{i}" for i in range(len(equal)))
    newest: dict[str, Journey] = {}
    for status in statuses:
        items = query(client, limit, **request, ExpressionAttributeValues={**values, ":s": {"S": status.value}})
        if limit is not None and len(items) >= limit:
            raise PartitionFull(status, limit)
        for journey in map(journey_from_item, items):
            if journey.id not in newest or journey.version > newest[journey.id].version:
                newest[journey.id] = journey
    return list(newest.values())


def overdue_journeys(client: Any, table: str, now: float, limit: int) -> list[str]:
    """Journey ids with an open activation due by `now`, from the sparse deadline index: no scans."""
    items = query(
        client,
        limit,
        TableName=table,
        IndexName="by-deadline",
        KeyConditionExpression="due_shard = :open AND due <= :now",
        ExpressionAttributeValues={":open": {"S": DUE_SHARD}, ":now": {"N": repr(now)}},
    )
    return list(dict.fromkeys(item["journey_id"]["S"] for item in items))
