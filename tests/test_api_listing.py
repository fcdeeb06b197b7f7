"""Listing pages over the by-status index while journeys move between its partitions (a scripted index)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import api.listing
from api.listing import SWEEP, BadCursor, JourneyFilter, TooMany, decode_cursor, encode_cursor, find
from cli.lifecycle import _unfinished
from router.adapters.dynamodb import journey_item
from router.model import Journey, JourneyStatus, TransitionRecord


def journey(name: str, created_at: float, status: JourneyStatus, version: int = 1) -> Journey:
    return Journey(
        id=name,
        definition_id="kyc-uplift",
        definition_version="1.0.0",
        definition_hash="h",
        status=status,
        version=version,
        step="request-details",
        state={},
        initiator="t",
        created_at=created_at,
        updated_at=created_at + version,
    )


def item(j: Journey) -> dict[str, Any]:
    record = TransitionRecord(
        journey_id=j.id,
        seq=j.version,
        at=j.updated_at,
        definition_id=j.definition_id,
        definition_version=j.definition_version,
        owning_domain="bank-core",
        event="start",
        actor="t",
        step_name="request-details",
        step_result="started",
        status=j.status,
    )
    return journey_item(j, record)


class Index:
    """Answers each status query from a script: what that partition held at the moment it was read."""

    def __init__(self, reads: list[dict[JourneyStatus, list[Journey]]]) -> None:
        self.reads, self.asked = reads, []

    def get_paginator(self, _: str) -> Index:
        return self

    def paginate(self, **request: Any) -> list[dict[str, Any]]:
        status = JourneyStatus(request["ExpressionAttributeValues"][":s"]["S"])
        self.asked.append(status)
        held = self.reads[min(len(self.asked) - 1, len(self.reads) - 1)].get(status, [])
        return [{"Items": [item(j) for j in held]}]


def test_a_journey_finishing_between_partition_reads_is_listed_once_at_its_newest() -> None:
    """Read as RUNNING, then (having finished) as SUCCEEDED: one row, the newer version."""
    a, b = journey("a", 1, JourneyStatus.RUNNING), journey("b", 2, JourneyStatus.RUNNING, 2)
    done = journey("b", 2, JourneyStatus.SUCCEEDED, 3)
    index = Index([{JourneyStatus.RUNNING: [a, b], JourneyStatus.SUCCEEDED: [done]}])
    page, cursor = find(index, "t", JourneyFilter(), now=10, limit=10)
    assert [(j.id, j.version) for j in page] == [("a", 1), ("b", 3)] and cursor is None
    assert index.asked == list(SWEEP)


def test_a_journey_escalating_between_reads_is_not_lost() -> None:
    """Not yet STUCK when STUCK is read, no longer RUNNING when RUNNING is: the second STUCK read finds it."""
    stuck = journey("s", 1, JourneyStatus.STUCK, 4)
    index = Index([{}, {}, {JourneyStatus.STUCK: [stuck]}, {}])
    page, _ = find(index, "t", JourneyFilter(), now=10, limit=10)
    assert [j.id for j in page] == ["s"]


def test_pages_follow_the_cursor_oldest_first() -> None:
    everyone = [journey(f"j{i:02d}", i, JourneyStatus.RUNNING) for i in range(7)]
    index = Index([{JourneyStatus.RUNNING: list(reversed(everyone))}])
    first, cursor = find(index, "t", JourneyFilter(status=JourneyStatus.RUNNING), now=0, limit=4)
    rest, end = find(index, "t", JourneyFilter(status=JourneyStatus.RUNNING), now=0, limit=4, cursor=cursor)
    assert [j.id for j in first + rest] == [j.id for j in everyone] and end is None
    assert decode_cursor(encode_cursor(everyone[3])) == (3.0, "j03")


@pytest.mark.parametrize("cursor", ["not-a-cursor", "W10=", "e30="])
def test_a_cursor_this_api_did_not_return_is_refused(cursor: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(cursor)


def test_a_partition_holding_max_read_journeys_is_refused_rather_than_cut_short(monkeypatch) -> None:
    """Beyond MAX_READ in one status, later rows would vanish from the list: the page asks for narrower filters."""
    monkeypatch.setattr(api.listing, "MAX_READ", 3)
    held = [journey(f"j{i}", i, JourneyStatus.RUNNING) for i in range(3)]
    with pytest.raises(TooMany, match="narrow with status, definition or business_key"):
        find(Index([{JourneyStatus.RUNNING: held}]), "t", JourneyFilter(), now=0, limit=10)
    page, _ = find(Index([{JourneyStatus.RUNNING: held[:2]}]), "t", JourneyFilter(), now=0, limit=10)
    assert [j.id for j in page] == ["j0", "j1"]


def test_the_stuck_queue_reads_only_unfinished_partitions() -> None:
    """A finished journey can never be stuck: its partitions are not read for the stuck queue."""
    index = Index([{}])
    find(index, "t", JourneyFilter(stuck_only=True), now=0, limit=10)
    assert index.asked == [JourneyStatus.STUCK, JourneyStatus.RUNNING, JourneyStatus.STUCK]


def test_a_migration_plan_lists_a_journey_escalating_between_reads_once() -> None:
    """cli/lifecycle reads the unfinished partitions through the same helper: seen RUNNING and then STUCK, the
    journey is planned once, at its newest version."""
    running, stuck = journey("m", 1, JourneyStatus.RUNNING, 3), journey("m", 1, JourneyStatus.STUCK, 4)
    index = Index([{}, {JourneyStatus.RUNNING: [running]}, {JourneyStatus.STUCK: [stuck]}])
    runtime = SimpleNamespace(client=lambda _: index, settings=SimpleNamespace(journeys_table="t"))
    assert [(j.id, j.version) for j in _unfinished(runtime)] == [("m", 4)]
