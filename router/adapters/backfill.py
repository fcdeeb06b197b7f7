"""Backfill: items written before the sharded indexes, brought to what the router writes now, none lost.

Before this release a journey item had no `status_shard` and no `created_at` attribute (the old by-status index
was keyed on status and updated_at), `due_shard` was the constant "open", a finished journey had no `expires_at`,
and an OPEN ticket had no `open_shard`. The indexes of this release (by-status-shard, by-deadline-shard,
open-by-deadline) do not see such items: listings would miss those journeys, the watchdog their deadlines, the
lapse sweep their tickets. `backfill` walks both tables with a parallel Scan and gives each such item the index
attributes the router writes now (`index_attributes`, a ticket's `open_shard`), in one UpdateItem conditioned on
the item being as it was read, so it never writes over a newer state.

A journey that moved between the read and the write was committed meanwhile: it is read again (strongly
consistent) and, if the router wrote it whole in this release's format, skipped and counted as moved; if it is
still in the old format (a router of the previous release still draining its queues), fixed at its new version.
Documents, versions and transition records are never written: the journal skips a stream record whose version
did not change (consumers/journal.py), so a backfill publishes no event again.

Idempotent (a second run finds every item current), bounded in memory (one Scan page per segment at a time), and
throttling-tolerant: the client's botocore retries absorb throttling, and what still fails is counted, never
lost; a rerun picks it up.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from router.adapters.definitions import PREFIX as DEFINITION_PREFIX
from router.adapters.dynamodb import index_attributes, journey_from_item
from router.core.approvals import TicketStatus
from router.core.model import FINISHED, Journey
from router.core.shards import open_ticket_key
from router.core.transition import DAY

LOCK_PREFIX = "lock#"  # subscription locks (router/adapters/locks.py): no document, never a journey
THROTTLED = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
REREADS = 3  # a journey committed again between each read and write this many times is left for the next run
UNREADABLE_KEPT = 20  # ids of unreadable items kept for the report: enough to start looking, bounded

# Attributes a journey's indexes or TTL read; only the sparse deadline index's are ever removed (a journey that
# no longer waits leaves it). expires_at is never removed: a backfill must not take a journey's TTL away.
JOURNEY_ATTRIBUTES = ("status", "status_shard", "created_at", "definition_id", "business_key", "due", "due_shard")
JOURNEY_PROJECTION = ("journey_id", "version", "doc", "updated_at", *JOURNEY_ATTRIBUTES, "expires_at")
REMOVABLE = ("due", "due_shard")
TICKET_PROJECTION = ("ticket_id", "status", "open_shard")

Retention = Callable[[str, str], int | None]  # (definition id, version) -> its retention_days; None when unknown


class Outcome(StrEnum):
    FIXED = "fixed"  # updated (in a dry run: would be)
    CURRENT = "current"  # already as the router writes it now
    MOVED = "moved"  # committed again between the read and the write, and current since: left as it is
    OTHER = "other"  # another kind of item sharing the table (a published definition, a subscription lock)
    UNREADABLE = "unreadable"  # a journey document that does not parse: the router cannot load it either
    UNPROCESSED = "unprocessed"  # throttled past the client's retries, or moving too often: a rerun fixes it


@dataclass
class Tally:
    """What one table's walk found; the outcomes add up to `scanned`."""

    table: str
    scanned: int = 0
    fixed: int = 0
    current: int = 0
    moved: int = 0
    other: int = 0
    unreadable: int = 0
    unprocessed: int = 0
    past_retention: int = 0  # finished journeys given an expires_at already past: TTL deletes them within days
    no_retention: int = 0  # finished journeys without expires_at whose definition's retention_days is not known
    unfinished_segments: int = 0  # Scan segments throttled past the retries: the items they held were not seen
    unreadable_ids: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.unprocessed or self.unfinished_segments)

    def counts(self) -> dict[str, int]:
        return {
            "scanned": self.scanned,
            **{outcome.value: getattr(self, outcome.value) for outcome in Outcome},
            "past_retention": self.past_retention,
            "no_retention": self.no_retention,
            "unfinished_segments": self.unfinished_segments,
        }


Progress = Callable[[Tally], None]  # a copy of the running tally, every `every` items scanned (from any segment)


@dataclass(frozen=True)
class Plan:
    """The update one item needs: attributes to set and to remove, on condition that `guard` still holds."""

    key: dict[str, Any]
    set: dict[str, Any]
    remove: tuple[str, ...]
    guard: tuple[str, dict[str, Any]]  # an attribute and the value read: written only if it is still that value
    notes: tuple[str, ...] = ()  # Tally counters to add when the item is fixed (past_retention)
    seen: tuple[str, ...] = ()  # Tally counters to add whatever happens to it (no_retention)

    @property
    def needed(self) -> bool:
        return bool(self.set or self.remove)


def _same(have: dict[str, Any] | None, want: dict[str, Any]) -> bool:
    """Attribute values compared as DynamoDB compares them: numbers by value (it stores 1.0 as 1)."""
    if have is None:
        return False
    if "N" in have and "N" in want:
        return Decimal(have["N"]) == Decimal(want["N"])
    return have == want


def retained(journey: Journey, retention: Retention) -> Journey:
    """A finished journey whose document predates expires_at, given the one its finishing transition would have
    written: when it finished (its last update) plus its definition's retention_days."""
    if journey.status not in FINISHED or journey.expires_at is not None:
        return journey
    days = retention(journey.definition_id, journey.definition_version)
    if days is None:
        return journey
    return journey.model_copy(update={"expires_at": journey.updated_at + days * DAY})


def journey_plan(item: dict[str, Any], retention: Retention, now: float) -> Plan | Outcome:
    """What one item of the journeys table needs to be as `journey_item` would write it now; pure."""
    key = item["journey_id"]["S"]
    if "doc" not in item or "version" not in item or key.startswith((DEFINITION_PREFIX, LOCK_PREFIX)):
        return Outcome.OTHER
    try:
        journey = journey_from_item(item)
    except (ValueError, zlib.error, KeyError, IndexError):  # pydantic's ValidationError is a ValueError
        return Outcome.UNREADABLE
    kept = retained(journey, retention)
    want = index_attributes(kept)
    changes = {name: value for name, value in want.items() if not _same(item.get(name), value)}
    remove = tuple(name for name in REMOVABLE if name in item and name not in want)
    notes: tuple[str, ...] = ()
    if "expires_at" in changes and int(changes["expires_at"]["N"]) <= now:
        notes = ("past_retention",)
    missing = journey.status in FINISHED and "expires_at" not in want and "expires_at" not in item
    return Plan(
        key={"journey_id": item["journey_id"]},
        set=changes,
        remove=remove,
        guard=("version", item["version"]),
        notes=notes,
        seen=("no_retention",) if missing else (),
    )


def ticket_plan(item: dict[str, Any]) -> Plan | Outcome:
    """An OPEN ticket carries its open-by-deadline shard, any other none (as `ticket_item` writes it); pure."""
    if "status" not in item:
        return Outcome.OTHER
    ticket_id = item["ticket_id"]["S"]
    want = open_ticket_key(ticket_id) if item["status"].get("S") == TicketStatus.OPEN.value else None
    have = item.get("open_shard", {}).get("S")
    return Plan(
        key={"ticket_id": item["ticket_id"]},
        set={"open_shard": {"S": want}} if want is not None and have != want else {},
        remove=("open_shard",) if want is None and "open_shard" in item else (),
        guard=("status", item["status"]),
    )


def update_request(table: str, plan: Plan) -> dict[str, Any]:
    """The UpdateItem of a plan, every name through a placeholder (status is a reserved word); pure."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    sets = []
    for i, (name, value) in enumerate(plan.set.items()):
        names[f"#s{i}"], values[f":s{i}"] = name, value
        sets.append(f"#s{i} = :s{i}")
    removes = []
    for i, name in enumerate(plan.remove):
        names[f"#r{i}"] = name
        removes.append(f"#r{i}")
    clauses = [f"SET {', '.join(sets)}"] if sets else []
    clauses += [f"REMOVE {', '.join(removes)}"] if removes else []
    names["#guard"], values[":guard"] = plan.guard[0], plan.guard[1]
    return {
        "TableName": table,
        "Key": plan.key,
        "UpdateExpression": " ".join(clauses),
        "ConditionExpression": "#guard = :guard",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


@dataclass(frozen=True)
class _Kind:
    """One table's walk: what to read of each item and what it needs."""

    table: str
    name: str
    projection: tuple[str, ...]
    plan: Callable[[dict[str, Any]], Plan | Outcome]


class Backfill:
    """One run over the journeys table and the tickets table; `run()` returns a Tally per table."""

    def __init__(
        self,
        client: Any,
        journeys_table: str,
        tickets_table: str | None,
        retention: Retention,
        now: float,
        segments: int = 4,
        dry_run: bool = False,
        progress: Progress | None = None,
        every: int = 1000,
        page_size: int | None = None,
    ) -> None:
        if segments < 1:
            raise ValueError("--segments must be at least 1")
        self.client, self.segments, self.dry_run = client, segments, dry_run
        self.progress, self.every, self.page_size = progress, max(1, every), page_size
        self.kinds = [_Kind(journeys_table, "journeys", JOURNEY_PROJECTION, lambda i: journey_plan(i, retention, now))]
        if tickets_table:
            self.kinds.append(_Kind(tickets_table, "tickets", TICKET_PROJECTION, ticket_plan))
        self._lock = threading.Lock()

    def run(self) -> list[Tally]:
        return [self._walk(kind) for kind in self.kinds]

    def _walk(self, kind: _Kind) -> Tally:
        tally = Tally(kind.name)
        with ThreadPoolExecutor(max_workers=self.segments, thread_name_prefix=f"backfill-{kind.name}") as pool:
            done = [pool.submit(self._segment, kind, tally, segment) for segment in range(self.segments)]
            for future in done:
                future.result()  # a refusal other than throttling (no permission, no table) stops the run here
        return tally

    def _segment(self, kind: _Kind, tally: Tally, segment: int) -> None:
        try:
            for page in self._pages(kind, segment):
                for item in page:
                    outcome, counters = self._settle(kind, item)
                    self._count(tally, outcome, counters, item)
        except ClientError as exc:
            if _code(exc) not in THROTTLED:
                raise
            with self._lock:
                tally.unfinished_segments += 1

    def _pages(self, kind: _Kind, segment: int) -> Iterator[list[dict[str, Any]]]:
        """One segment's items a page at a time; only the attributes the plan reads."""
        names = {f"#p{i}": name for i, name in enumerate(kind.projection)}
        request: dict[str, Any] = {
            "TableName": kind.table,
            "Segment": segment,
            "TotalSegments": self.segments,
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names,
        }
        if self.page_size:
            request["Limit"] = self.page_size
        while True:
            response = self.client.scan(**request)
            yield response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _settle(self, kind: _Kind, item: dict[str, Any]) -> tuple[Outcome, tuple[str, ...]]:
        """Fix one item; on a lost race read it again and decide from what it is now."""
        for attempt in range(REREADS + 1):
            plan = kind.plan(item)
            if not isinstance(plan, Plan):
                return plan, ()
            if not plan.needed:
                return (Outcome.CURRENT if attempt == 0 else Outcome.MOVED), plan.seen
            if self.dry_run:
                return Outcome.FIXED, plan.notes + plan.seen
            try:
                self.client.update_item(**update_request(kind.table, plan))
                return Outcome.FIXED, plan.notes + plan.seen
            except ClientError as exc:
                if _code(exc) in THROTTLED:
                    return Outcome.UNPROCESSED, plan.seen
                if _code(exc) != "ConditionalCheckFailedException":
                    raise
            again = self._reread(kind, plan.key)
            if again is None:  # deleted meanwhile (its TTL): nothing left to index
                return Outcome.MOVED, ()
            item = again
        return Outcome.UNPROCESSED, ()

    def _reread(self, kind: _Kind, key: dict[str, Any]) -> dict[str, Any] | None:
        names = {f"#p{i}": name for i, name in enumerate(kind.projection)}
        response = self.client.get_item(
            TableName=kind.table,
            Key=key,
            ConsistentRead=True,
            ProjectionExpression=", ".join(names),
            ExpressionAttributeNames=names,
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _count(self, tally: Tally, outcome: Outcome, counters: tuple[str, ...], item: dict[str, Any]) -> None:
        with self._lock:
            tally.scanned += 1
            setattr(tally, outcome.value, getattr(tally, outcome.value) + 1)
            for counter in counters:
                setattr(tally, counter, getattr(tally, counter) + 1)
            if outcome is Outcome.UNREADABLE and len(tally.unreadable_ids) < UNREADABLE_KEPT:
                tally.unreadable_ids.append(item.get("journey_id", {}).get("S", "?"))
            if self.progress is not None and tally.scanned % self.every == 0:
                self.progress(replace(tally, unreadable_ids=list(tally.unreadable_ids)))


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
