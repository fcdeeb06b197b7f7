"""Listing journeys for operators: filters, the by-status index, and keyset pagination.

Each page queries the by-status index (one partition per status asked for) with the filters the item
carries at its top level (definition, business key) as a FilterExpression, applies the rest to the
journey documents, and orders by (created_at, id), which never change. The cursor is the last item's
(created_at, id), base64-encoded JSON: a journey that moves on between pages neither repeats nor goes
missing, and one started meanwhile appears on a later page. Cost: a page reads every matching journey
of the statuses asked for (at most MAX_READ), so ask for a status on a large table.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from router.adapters.dynamodb import journey_from_item, query
from router.model import Journey, JourneyStatus
from router.reasons import sla_breached, why

MAX_READ = 10_000


class JourneyFilter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    status: JourneyStatus | None = None
    definition: str | None = None
    version: str | None = None
    stuck_reason: str | None = Field(None, description="words in why the journey is stuck, e.g. escalated, orphaned")
    sla_breached: bool | None = None
    business_key: str | None = None
    created_from: float | None = Field(None, description="epoch seconds, inclusive")
    created_to: float | None = Field(None, description="epoch seconds, exclusive")
    stuck_only: bool = False  # the stuck queue: escalated or past an SLA


class BadCursor(ValueError):
    pass


def encode_cursor(journey: Journey) -> str:
    return base64.urlsafe_b64encode(json.dumps([journey.created_at, journey.id]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        created_at, journey_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return float(created_at), str(journey_id)
    except (ValueError, TypeError, binascii.Error):
        raise BadCursor(f"cursor {cursor!r} is not one this API returned") from None


def stuck_reason(journey: Journey, now: float) -> str | None:
    """Why an operator should look: escalated, orphaned or past an SLA; None while all is in hand."""
    if sla_breached(journey, now) or why(journey, now).startswith("orphaned"):
        return why(journey, now)
    return None


def matches(journey: Journey, f: JourneyFilter, now: float) -> bool:
    """The filters the index cannot apply, on the journey itself."""
    reason = stuck_reason(journey, now)
    checks: list[Callable[[], bool]] = [
        lambda: f.version is None or journey.definition_version == f.version,
        lambda: f.created_from is None or journey.created_at >= f.created_from,
        lambda: f.created_to is None or journey.created_at < f.created_to,
        lambda: f.sla_breached is None or sla_breached(journey, now) == f.sla_breached,
        lambda: f.stuck_reason is None or (reason is not None and f.stuck_reason.lower() in reason.lower()),
        lambda: not f.stuck_only or reason is not None,
    ]
    return all(check() for check in checks)


# Without a status filter every partition is read, one query each, while journeys move between them. Finished
# statuses are final and read last; STUCK is read on both sides of RUNNING, which a journey may leave for STUCK
# or re-enter from it. So a journey moving meanwhile is read at least once, and duplicates keep the newest copy.
SWEEP = (
    JourneyStatus.STUCK,
    JourneyStatus.RUNNING,
    JourneyStatus.STUCK,
    JourneyStatus.SUCCEEDED,
    JourneyStatus.FAILED,
    JourneyStatus.CANCELLED,
)


def find(
    client: Any, table: str, f: JourneyFilter, now: float, limit: int, cursor: str | None = None
) -> tuple[list[Journey], str | None]:
    """One page of matching journeys, oldest first, and the cursor of the next page (None on the last)."""
    after = decode_cursor(cursor) if cursor else None
    newest: dict[str, Journey] = {}
    for status in [f.status] if f.status else SWEEP:
        for journey in map(journey_from_item, query(client, MAX_READ, **_request(table, status, f))):
            if journey.id not in newest or journey.version > newest[journey.id].version:
                newest[journey.id] = journey
    journeys = sorted(
        (j for j in newest.values() if matches(j, f, now) and (after is None or (j.created_at, j.id) > after)),
        key=lambda j: (j.created_at, j.id),
    )
    page = journeys[:limit]
    return page, (encode_cursor(page[-1]) if len(journeys) > limit else None)


def _request(table: str, status: JourneyStatus, f: JourneyFilter) -> dict[str, Any]:
    names, values, conditions = {"#s": "status"}, {":s": {"S": status.value}}, []
    if f.definition:
        conditions.append("definition_id = :d")
        values[":d"] = {"S": f.definition}
    if f.business_key:
        conditions.append("business_key = :b")
        values[":b"] = {"S": f.business_key}
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": "by-status",
        "KeyConditionExpression": "#s = :s",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    if conditions:
        request["FilterExpression"] = " AND ".join(conditions)
    return request
