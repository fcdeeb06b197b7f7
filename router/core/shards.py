"""Write-sharded index keys: what must be listed together is spread over SHARDS partitions.

A DynamoDB partition (a GSI's too) takes about 1,000 write units a second. An index keyed on a status alone,
or on a constant, puts every journey's write on one partition. Here the partition key of each listing index
carries a shard suffix that is a pure function of the item's own id: a journey or ticket always lands on the
same shard (so moving between statuses stays inside one shard number), and ids spread evenly over the shards.
Readers fan out over `all_shards()` and merge. Pure: no I/O, no environment; changing SHARDS moves every
item's key, so it is a constant, not a setting.
"""

from __future__ import annotations

import hashlib

SHARDS = 32  # 32 x 1,000 write units/s per index: the deadline index's two writes per transition fit 10,000/s


def shard_of(item_id: str, shards: int = SHARDS) -> int:
    """The shard of an id: stable across processes and releases (never Python's salted hash())."""
    digest = hashlib.blake2b(item_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def _suffix(shard: int) -> str:
    return f"{shard:02d}"


def status_key(status: str, journey_id: str) -> str:
    """The by-status-shard partition key of a journey: its status and its shard, e.g. RUNNING#07."""
    return f"{status}#{_suffix(shard_of(journey_id))}"


def status_keys(status: str) -> list[str]:
    """Every partition of one status, for readers that fan out."""
    return [f"{status}#{_suffix(s)}" for s in range(SHARDS)]


def due_key(journey_id: str) -> str:
    """The by-deadline-shard partition key of a journey waiting with a deadline."""
    return f"due#{_suffix(shard_of(journey_id))}"


def due_keys() -> list[str]:
    return [f"due#{_suffix(s)}" for s in range(SHARDS)]


def open_ticket_key(ticket_id: str) -> str:
    """The open-by-deadline partition key of an OPEN approval ticket (absent once it is decided or expired)."""
    return f"open#{_suffix(shard_of(ticket_id))}"


def open_ticket_keys() -> list[str]:
    return [f"open#{_suffix(s)}" for s in range(SHARDS)]
