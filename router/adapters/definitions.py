"""Published definitions as items of the journeys table, under their own key prefix.

They carry no status, due or last_transition attribute, so journey lists, the watchdog's index
and the journal (which reads the table's stream) all pass them by.
"""

from __future__ import annotations

from typing import Any, cast

from botocore.exceptions import ClientError

from router.language.definition import Definition
from router.language.versions import DefinitionConflict, Published

PREFIX = "definition#"


def definition_key(definition_id: str, version: str) -> dict[str, Any]:
    return {"journey_id": {"S": f"{PREFIX}{definition_id}#{version}"}}


def publish_request(table: str, definition: Definition) -> dict[str, Any]:
    """A PutItem that only ever creates: an (id, version) once published is never overwritten."""
    item = {
        **definition_key(definition.id, definition.version),
        "definition_hash": {"S": definition.content_hash},
        "definition": {"S": definition.model_dump_json()},
    }
    return {
        "TableName": table,
        "Item": item,
        "ConditionExpression": "attribute_not_exists(journey_id)",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


class DynamoDefinitionStore:
    def __init__(self, client: Any, table: str) -> None:
        self.client, self.table = client, table

    def put(self, definition: Definition) -> Published:
        try:
            self.client.put_item(**publish_request(self.table, definition))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # botocore's stubs omit the Item that ReturnValuesOnConditionCheckFailure adds
            old = cast(dict[str, Any], exc.response)["Item"]
            current = Definition.model_validate_json(old["definition"]["S"])
            if current.content_hash != definition.content_hash:
                raise DefinitionConflict(current, definition) from None
            return Published.UNCHANGED
        return Published.PUBLISHED

    def get(self, definition_id: str, version: str) -> Definition | None:
        response = self.client.get_item(
            TableName=self.table, Key=definition_key(definition_id, version), ConsistentRead=True
        )
        item = response.get("Item")
        return Definition.model_validate_json(item["definition"]["S"]) if item else None
