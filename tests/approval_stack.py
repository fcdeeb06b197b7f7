"""The tickets table exactly as infra/template.yaml declares it, for the ticket store's contract tests."""

from __future__ import annotations

from functools import cache
from typing import Any

from devstack.emulator import REGION
from devstack.intrinsics import translate
from devstack.provision import DEFAULT_TEMPLATE

_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")


@cache
def _declared() -> dict[str, Any]:
    properties = translate(DEFAULT_TEMPLATE, REGION)["Resources"]["ApprovalTicketsTable"]["Properties"]
    return {key: properties[key] for key in _KEYS if key in properties}


def tickets_table(dynamodb: Any, name: str = "tickets") -> str:
    """Create the template's ApprovalTicketsTable (keys and indexes only) under `name`."""
    dynamodb.create_table(TableName=name, **_declared())
    return name
