"""Journal consumer, fed by the journey table's stream (the outbox): log each transition, publish its events.

A batch is journaled together: every record's log entry, then all their events packed ten to a PutEvents request
(router/adapters/events.py), so publishing costs a few requests a batch rather than one a transition. When part
of it fails, the first record not fully journaled is reported: the stream hands it and those after it over again,
and they append nothing twice. When nothing got through, the invocation fails as a whole.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from consumers.runtime import Runtime, lambda_handler
from router.core.metrics import for_transition
from router.core.model import TransitionRecord

logger = Logger(service="journeys-journal")


class NothingJournaled(RuntimeError):
    """Not one record of the batch was journaled: the stream retries the batch (and may bisect it)."""


def consume(runtime: Runtime, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    metrics = runtime.telemetry(logger.service)
    batch = [(r["dynamodb"]["SequenceNumber"], t) for r in event.get("Records", []) if (t := _transition(r))]
    try:
        # counted when first logged, before publishing: a replay after a failed publish is not counted again
        done = runtime.journal.record_many([t for _, t in batch], on_new=lambda new: metrics.add(for_transition(new)))
    finally:
        metrics.flush()
    for _, transition in batch[:done]:
        logger.info(
            "journaled",
            extra={"journey_id": transition.journey_id, "seq": transition.seq, "step": transition.step_name},
        )
    if done == len(batch):
        return {"batchItemFailures": []}
    if done == 0:
        raise NothingJournaled(f"none of {len(batch)} transitions could be published; the stream retries them")
    logger.warning("journaled part of a batch", extra={"journaled": done, "of": len(batch)})
    return {"batchItemFailures": [{"itemIdentifier": batch[done][0]}]}


def _transition(record: dict[str, Any]) -> TransitionRecord | None:
    """The committed transition a stream record carries; None for a removal (TTL), an item that is not a
    commit (a published definition), or a write that committed nothing: the same version before and after is
    `journeys backfill` adding index attributes, whose transition was journaled when it was committed."""
    change = record.get("dynamodb", {})
    image = change.get("NewImage") or {}
    if "last_transition" not in image:
        return None
    before = change.get("OldImage") or {}
    if "version" in before and before["version"] == image.get("version"):
        return None
    from router.adapters.dynamodb import unpacked  # boto3-free, but kept off the cold start path with the others

    return TransitionRecord.model_validate_json(unpacked(image["last_transition"]))


handler = lambda_handler(consume, logger)
