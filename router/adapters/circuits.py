"""Circuit state as items of the idempotency table (the worker function's own), keyed `circuit#<worker>`.

Every write is a conditional put on the item's version, so consumers racing to open a circuit or claim its
probe agree on one outcome. The items carry no `expiration`, so the table's TTL never removes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from botocore.exceptions import ClientError

from router.core.circuits import Circuit, CircuitConflict

PREFIX = "circuit#"


class DynamoCircuits:
    def __init__(self, client: Any, table: str) -> None:
        self.client, self.table = client, table

    def load(self, worker: str) -> Circuit:
        response = self.client.get_item(TableName=self.table, Key={"id": {"S": PREFIX + worker}}, ConsistentRead=True)
        return _circuit(response.get("Item")) or Circuit(worker=worker)

    def save(self, circuit: Circuit) -> None:
        request: dict[str, Any] = {
            "TableName": self.table,
            "Item": {
                "id": {"S": PREFIX + circuit.worker},
                "version": {"N": str(circuit.version)},
                "doc": {"S": circuit.model_dump_json()},
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if circuit.version == 1:
            request["ConditionExpression"] = "attribute_not_exists(id)"
        else:
            request["ConditionExpression"] = "version = :previous"
            request["ExpressionAttributeValues"] = {":previous": {"N": str(circuit.version - 1)}}
        try:
            self.client.put_item(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            # botocore's stubs omit the Item that ReturnValuesOnConditionCheckFailure adds
            old = cast(dict[str, Any], exc.response).get("Item")
            raise CircuitConflict(_circuit(old) or Circuit(worker=circuit.worker)) from None

    def all(self, workers: Iterable[str]) -> list[Circuit]:
        """The circuits of these workers (closed for a worker that never failed), by name."""
        return [self.load(worker) for worker in sorted(set(workers))]


def _circuit(item: dict[str, Any] | None) -> Circuit | None:
    return Circuit.model_validate_json(item["doc"]["S"]) if item and "doc" in item else None
