"""Listing journeys for operators: filters, the sharded by-status index, and keyset pagination.

Every status is spread over SHARDS index partitions (router/core/shards.py). A page reads each shard asked for in
(created_at, id) order, which never changes, and merges them (router/adapters/dynamodb.py status_page); the
filters the index projects (definition, business key) apply on the server, the created_at range in the key
condition, the rest on the journey documents, loaded by key. The cursor is one position in that shared order,
(created_at, id) as base64-encoded JSON: a journey that moves on between pages neither repeats nor goes
missing, and one started meanwhile appears on a later page. Cost is bounded per page: at most MAX_SCAN index
entries are examined, so a narrow filter over millions of journeys answers a short page with a cursor to go
on, never an error and never a silently short list. A cursor this API did not return is BadCursor (400).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from router.adapters.dynamodb import SWEEP, UNFINISHED, Position, load_journeys, status_page
from router.core.model import Journey, JourneyStatus
from router.core.reasons import sla_breached, stuck_reason

MAX_SCAN = 2_000  # index entries one page may examine: bounded work, whatever the table holds


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


def encode_cursor(position: Position) -> str:
    """A page's end as (created_at, journey id), one position in the order every shard shares."""
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode()


def decode_cursor(cursor: str) -> Position:
    """The position a cursor names; BadCursor (answered 400) for anything this API did not return.
    The message does not echo the cursor: it is caller input."""
    try:
        created_at, journey_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(journey_id, str) or isinstance(created_at, bool) or not journey_id:
            raise TypeError
        position = float(created_at), journey_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadCursor("the cursor is not one this API returned: pass back the next_cursor of a page") from None
    if position[0] != position[0] or position[0] in (float("inf"), float("-inf")):  # NaN or infinite
        raise BadCursor("the cursor is not one this API returned: pass back the next_cursor of a page")
    return position


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


def find(
    client: Any, table: str, f: JourneyFilter, now: float, limit: int, cursor: str | None = None
) -> tuple[list[Journey], str | None]:
    """One page of matching journeys, oldest first, and the cursor of the next page (None on the last).

    Reads merged index pages until `limit` journeys match or MAX_SCAN entries were examined; then the page may
    be short, and its cursor is the last position examined, so the next page goes on from there."""
    after = decode_cursor(cursor) if cursor else None
    equal = {k: v for k, v in {"definition_id": f.definition, "business_key": f.business_key}.items() if v}
    statuses, found, scanned = _statuses(f), list[Journey](), 0
    while True:
        page = status_page(client, table, statuses, limit, after, (f.created_from, f.created_to), equal)
        loaded = load_journeys(client, table, [journey_id for _, journey_id in page.positions])
        for position in page.positions:
            journey = loaded.get(position[1])
            if journey is not None and journey.status in statuses and matches(journey, f, now):
                found.append(journey)
                if len(found) == limit:
                    more = page.more or position != page.positions[-1]
                    return found, (encode_cursor(position) if more else None)
        scanned += len(page.positions)
        if not page.more or not page.positions:
            return found, None
        after = page.positions[-1]
        if scanned >= MAX_SCAN:
            return found, encode_cursor(after)


def _statuses(f: JourneyFilter) -> tuple[JourneyStatus, ...]:
    """The partitions to read: the status asked for; for the stuck queue only unfinished ones; else all."""
    if f.status:
        return (f.status,)
    return UNFINISHED if f.stuck_only else SWEEP
