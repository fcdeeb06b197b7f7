"""The capacity model counts index writes from the items themselves, and a long journey costs what a short one does."""

from __future__ import annotations

from bench.capacity import journey_write_units, synthetic


def item(status: str, due: float | None = None, size: int = 10) -> dict[str, dict[str, str]]:
    attributes = {"journey_id": {"S": "j"}, "status_shard": {"S": f"{status}#03"}, "created_at": {"N": "1"}}
    attributes["doc"] = {"S": "x" * size}
    if due is not None:
        attributes |= {"due_shard": {"S": "due#03"}, "due": {"N": str(due)}}
    return attributes


def test_an_index_is_written_only_when_its_keys_change() -> None:
    """Start: one put in each index the item is in; same status and deadline: nothing; a moved key: delete + put;
    leaving the sparse deadline index: one delete. The table pays for the larger of the two images."""
    start = item("RUNNING", due=10)
    assert journey_write_units(None, start) == {"journeys_table": 1, "by_status_shard": 1, "by_deadline_shard": 1}
    same = item("RUNNING", due=10, size=3000)
    assert journey_write_units(start, same) == {"journeys_table": 3, "by_status_shard": 0, "by_deadline_shard": 0}
    later = item("RUNNING", due=20)
    assert journey_write_units(same, later) == {"journeys_table": 3, "by_status_shard": 0, "by_deadline_shard": 2}
    done = item("SUCCEEDED")
    assert journey_write_units(later, done) == {"journeys_table": 1, "by_status_shard": 2, "by_deadline_shard": 1}


def test_write_units_per_transition_do_not_grow_with_the_journey() -> None:
    """Through the real router and item: 500 steps cost at most 1.2 times what 5 steps cost, per transition."""
    five, five_hundred = synthetic(5), synthetic(500)
    assert five_hundred["transitions"] == 501
    assert five_hundred["write_units_per_transition"] <= 1.2 * five["write_units_per_transition"]
    assert five_hundred["final_item_bytes"] < 1024  # one write unit for the item, however long the journey
