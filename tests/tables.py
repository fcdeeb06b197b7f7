"""Tables exactly as infra/template.yaml declares them (keys and indexes), created on the emulator by name."""

from __future__ import annotations

from functools import cache
from typing import Any

from devstack.emulator import REGION
from devstack.intrinsics import translate
from devstack.provision import DEFAULT_TEMPLATE

_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")


@cache
def declared(logical_id: str) -> dict[str, Any]:
    properties = translate(DEFAULT_TEMPLATE, REGION)["Resources"][logical_id]["Properties"]
    return {key: properties[key] for key in _KEYS if key in properties}


def create(dynamodb: Any, logical_id: str, name: str) -> str:
    dynamodb.create_table(TableName=name, **declared(logical_id))
    return name
