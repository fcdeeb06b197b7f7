"""Listing journeys for operators: filters, the by-status index, and keyset pagination.

Each page queries the by-status index (one partition per status asked for) with the filters the item
carries at its top level (definition, business key) as a FilterExpression, applies the rest to the
journey documents, and orders by (created_at, id), which never change. The cursor is the last item's
(created_at, id), base64-encoded JSON: a journey that moves on between pages neither repeats nor goes
missing, and one started meanwhile appears on a later page. Cost: a page reads every matching journey
of the statuses asked for, so ask for a status on a large table; when one status holds MAX_READ journeys
matching the server-side filters (definition, business key) or more, the page is refused (422, TooMany)
rather than silently missing some. Dates and the other filters apply after the read, so they do not help there.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from router.adapters.dynamodb import SWEEP, UNFINISHED, PartitionFull, journeys_by_status
from router.model import Journey, JourneyStatus
from router.reasons import sla_breached, stuck_reason

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


class TooMany(ValueError):
    """More journeys of one status match than a page may read: answered 422, asking for narrower filters."""


def find(
    client: Any, table: str, f: JourneyFilter, now: float, limit: int, cursor: str | None = None
) -> tuple[list[Journey], str | None]:
    """One page of matching journeys, oldest first, and the cursor of the next page (None on the last).
    Raises TooMany when a status partition holds MAX_READ matching journeys or more: never a silently short list."""
    after = decode_cursor(cursor) if cursor else None
    equal = {"definition_id": f.definition, "business_key": f.business_key}
    try:
        read = journeys_by_status(
            client, table, _statuses(f), MAX_READ, {k: v for k, v in equal.items() if v is not None}
        )
    except PartitionFull as full:
        raise TooMany(f"too many journeys match ({full}): narrow with status, definition or business_key") from None
    journeys = sorted(
        (j for j in read if matches(j, f, now) and (after is None or (j.created_at, j.id) > after)),
        key=lambda j: (j.created_at, j.id),
    )
    page = journeys[:limit]
    return page, (encode_cursor(page[-1]) if len(journeys) > limit else None)


def _statuses(f: JourneyFilter) -> tuple[JourneyStatus, ...]:
    """The partitions to read: the status asked for; for the stuck queue only unfinished ones; else all."""
    if f.status:
        return (f.status,)
    return UNFINISHED if f.stuck_only else SWEEP
