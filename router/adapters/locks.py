"""Subscription locks as items of the journeys table, keyed `lock#subscription#<business key>`.

Only conditional puts (the routers' one write permission on the table) and a consistent read: acquiring,
taking over and giving back each succeed only against the holder they expect. The items carry no status,
so the listings' indexes never see them, and no `last_transition`, so the journal skips their stream records.
"""

from __future__ import annotations

import contextlib
from typing import Any, cast

from botocore.exceptions import ClientError

from router.core.subscriptions import Held


class DynamoLocks:
    def __init__(self, client: Any, table: str) -> None:
        self.client, self.table = client, table

    def acquire(self, key: str, holder: str, definition_id: str, now: float) -> None:
        self._put(
            _held(key, holder, definition_id, now),
            "attribute_not_exists(journey_id) OR attribute_not_exists(holder) OR holder = :me",
            {":me": {"S": holder}},
        )

    def take_over(self, key: str, holder: str, stale: str, definition_id: str, now: float) -> None:
        self._put(_held(key, holder, definition_id, now), "holder = :stale", {":stale": {"S": stale}})

    def release(self, key: str, holder: str, now: float) -> None:
        item = {"journey_id": {"S": key}, "released_by": {"S": holder}, "released_at": {"N": repr(now)}}
        with contextlib.suppress(Held):  # already given back, or taken over once its holder was presumed done
            self._put(item, "holder = :me", {":me": {"S": holder}})

    def current(self, key: str) -> tuple[str, float] | None:
        item = self.client.get_item(TableName=self.table, Key={"journey_id": {"S": key}}, ConsistentRead=True)
        return _holder(item.get("Item"))

    def _put(self, item: dict[str, Any], condition: str, values: dict[str, Any]) -> None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            # botocore's stubs omit the Item that ReturnValuesOnConditionCheckFailure adds
            current = _holder(cast(dict[str, Any], exc.response).get("Item"))
            raise Held(*(current or ("nobody", 0.0))) from None


def _held(key: str, holder: str, definition_id: str, now: float) -> dict[str, Any]:
    return {
        "journey_id": {"S": key},
        "holder": {"S": holder},
        "definition_id": {"S": definition_id},
        "acquired_at": {"N": repr(now)},
    }


def _holder(item: dict[str, Any] | None) -> tuple[str, float] | None:
    if not item or "holder" not in item:
        return None
    return item["holder"]["S"], float(item["acquired_at"]["N"])
