"""No hot key: many journeys' index writes, through the real key functions, spread over every shard."""

from __future__ import annotations

import uuid
from collections import Counter
from random import Random

import pytest

from router.adapters.dynamodb import journey_item
from router.adapters.tickets import ticket_item
from router.core.approvals import AuditEntry, Ticket
from router.core.model import Journey, JourneyStatus, TransitionRecord
from router.core.shards import SHARDS, due_key, open_ticket_key, shard_of, status_key, status_keys

# A partition's share of fair writes is 1/SHARDS (3.125%); over 100,000 journeys its standard deviation is about
# 0.06 points, so the 1-point margin below is some 18 deviations: a fair spread never fails it, and a key function
# that puts more than a point over its share on any partition fails it here as surely as over a million journeys
# (the test until 2026-12-07: 0.02 points, ten times as long, no verdict it could change).
JOURNEYS = 100_000
CEILING = 1 / SHARDS + 0.01  # the largest share of writes any one partition key may take


@pytest.mark.no_cover  # 400,000 calls of the key functions: the tracer would triple the time, adding no line
def test_many_journeys_put_no_more_than_one_shards_share_on_any_index_partition() -> None:
    """Each journey writes its by-status entry as RUNNING and again when it finishes, a deadline entry while it
    waits and an open-ticket entry for an approval: per index, no partition key takes more than 1/SHARDS + 1%."""
    rng = Random(17)  # noqa: S311 -- synthetic ids, seeded so a failure reproduces; nothing secret
    writes = {
        "by-status-shard": Counter[str](),
        "by-deadline-shard": Counter[str](),
        "open-by-deadline": Counter[str](),
    }
    finished = (JourneyStatus.SUCCEEDED, JourneyStatus.FAILED, JourneyStatus.CANCELLED)
    for n in range(JOURNEYS):
        journey_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        writes["by-status-shard"][status_key(JourneyStatus.RUNNING.value, journey_id)] += 1
        writes["by-status-shard"][status_key(finished[n % 3].value, journey_id)] += 1
        writes["by-deadline-shard"][due_key(journey_id)] += 1
        writes["open-by-deadline"][open_ticket_key(f"{journey_id}.3.L1")] += 1
    for index, counts in writes.items():
        total = sum(counts.values())
        hottest, most = counts.most_common(1)[0]
        assert most / total <= CEILING, f"{index}: {hottest} takes {most / total:.2%} of {total} writes"
        assert len(counts) >= SHARDS, index


def test_ids_spread_evenly_and_always_land_on_the_same_shard() -> None:
    """Sequential, look-alike ids (a business key pattern) spread too; the shard never depends on the process."""
    shards = Counter(shard_of(f"acct-{n:09d}") for n in range(64_000))
    assert set(shards) == set(range(SHARDS)) and max(shards.values()) <= 64_000 * CEILING
    assert shard_of("journey-1") == shard_of("journey-1") == 25  # pinned: a change would move every stored key


def test_the_journey_and_ticket_items_carry_the_keys_those_functions_give() -> None:
    """What the adapters write is what the key test measured: no second, drifting key formula."""
    journey = Journey(
        id="j-1",
        definition_id="kyc-uplift",
        definition_version="1.0.0",
        definition_hash="h",
        status=JourneyStatus.RUNNING,
        version=1,
        step="s",
        state={},
        initiator="t",
        created_at=1.0,
        updated_at=1.0,
    )
    record = TransitionRecord(
        journey_id="j-1",
        seq=1,
        at=1.0,
        definition_id="kyc-uplift",
        definition_version="1.0.0",
        owning_domain="bank-core",
        event="start",
        actor="t",
        step_name="s",
        step_result="started",
        status=JourneyStatus.RUNNING,
    )
    item = journey_item(journey, record)
    assert item["status_shard"] == {"S": status_key("RUNNING", "j-1")} and item["status_shard"]["S"] in status_keys(
        "RUNNING"
    )
    assert "due_shard" not in item  # sparse: nothing open, nothing due
    opened = AuditEntry(at=1.0, actor="approval-chain", action="opened", result="opened")
    ticket = Ticket(
        ticket_id="j-1.1.L1",
        journey_id="j-1",
        activation_id="j-1.1",
        definition_id="pay",
        step="approve",
        level=1,
        levels=1,
        role="officer",
        limit=1.0,
        amount=1.0,
        initiator="mo",
        approvers=[],
        opened_at=1.0,
        deadline=2.0,
        audit=[opened],
    )
    assert ticket_item(ticket, "token")["open_shard"] == {"S": open_ticket_key("j-1.1.L1")}
