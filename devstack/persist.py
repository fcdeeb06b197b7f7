"""The local stack's data across restarts: its tables saved to .journeys/ when it stops, put back when it starts.

moto keeps everything in memory and has no persistence of its own (its recorder replays every request,
receives and all, which re-runs the journeys rather than restoring them). What a journey *is* lives in
DynamoDB (journeys, the transition log, approval tickets, published definitions), so the snapshot is
those tables' items, read with Scan and written back with BatchWriteItem: the emulator's own API, nothing
of moto's internals. Queue messages and Step Functions executions in flight are not kept: on the next run
the watchdog finds each open activation past its deadline and retries or escalates it, as it would after
a lost message on AWS. An approval ticket still OPEN waits on the task token of an execution that is gone,
so nobody could ever answer it: it is expired on restore, the reason in its audit, and the inbox never
offers a decision that would go nowhere (`journeys retry JOURNEY` reopens the approval).
"""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from typing import Any

from router.adapters.tickets import DynamoTicketStore
from router.core.approvals import AuditEntry, TicketStatus
from router.ports import TicketConflict

BATCH = 25  # BatchWriteItem's limit
RESTARTED = "the local stack restarted: the approval chain waiting on this ticket was not kept"


def tables(client: Any, resources: dict[str, str]) -> dict[str, str]:
    """Logical id -> table name of every table the stack made; the snapshot keys by logical id, which the
    template fixes, rather than by physical name."""
    existing = set(client.list_tables()["TableNames"])
    return {logical: name for logical, name in resources.items() if name in existing}


def save(client: Any, resources: dict[str, str], path: Path, now: float | None = None) -> int:
    """Write every table's items to `path` (atomically: a crash mid-write keeps the previous snapshot)."""
    snapshot: dict[str, list[dict[str, Any]]] = {}
    for logical, name in tables(client, resources).items():
        items: list[dict[str, Any]] = []
        for page in client.get_paginator("scan").paginate(TableName=name, ConsistentRead=True):
            items += page["Items"]
        snapshot[logical] = items
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    # The tables hold customers' data: the snapshot is private to its owner, like the token secret beside it.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)  # an older partial file of wider mode is narrowed too
        out.write(json.dumps({"saved_at": now or time.time(), "tables": snapshot}, default=_binary))
    os.replace(partial, path)
    return sum(len(items) for items in snapshot.values())


def _binary(value: Any) -> Any:
    """Binary attributes (packed journey documents, router/adapters/dynamodb.py) as base64 in the snapshot."""
    if isinstance(value, bytes | bytearray):
        return {"$b64": base64.b64encode(value).decode()}
    raise TypeError(f"{type(value).__name__} cannot go in a snapshot")


def _unbinary(value: dict[str, Any]) -> Any:
    return base64.b64decode(value["$b64"]) if value.keys() == {"$b64"} else value


def restore(client: Any, resources: dict[str, str], path: Path) -> dict[str, int]:
    """Put a snapshot's items back into the freshly provisioned tables: items restored, by logical id.
    A table the template no longer declares is skipped."""
    if not path.exists():
        return {}
    try:
        snapshot = json.loads(path.read_text(), object_hook=_unbinary)["tables"]
    except (ValueError, KeyError, TypeError) as exc:
        raise RuntimeError(f"{path} is not a snapshot this stack wrote ({exc}): start with --fresh") from None
    names = tables(client, resources)
    restored = {}
    for logical, items in snapshot.items():
        if logical not in names:
            continue
        for start in range(0, len(items), BATCH):
            requests = [{"PutRequest": {"Item": item}} for item in items[start : start + BATCH]]
            pending: dict[str, Any] = {names[logical]: requests}
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        restored[logical] = len(items)
    return restored


def close_orphaned_tickets(store: DynamoTicketStore, now: float) -> list[str]:
    """Expire every OPEN ticket (their executions did not survive the restart); the journeys they belonged to."""
    entry = AuditEntry(at=now, actor="local-stack", action="expire", result="expired", detail=RESTARTED)
    journeys = []
    for ticket in store.open_tickets(0, limit=10_000):  # every OPEN ticket: each has a deadline after 0
        try:
            store.expire(ticket.ticket_id, entry)
        except TicketConflict:
            continue
        store.answered(ticket.ticket_id, TicketStatus.EXPIRED, now)  # nothing left to tell
        journeys.append(ticket.journey_id)
    return sorted(set(journeys))
