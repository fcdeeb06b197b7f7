"""Journal consumer, fed by the journey table's stream (the outbox): log each transition, publish its events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from consumers.runtime import Runtime, lambda_handler
from router.metrics import for_transition
from router.model import TransitionRecord

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

logger = Logger(service="journeys-journal")


def consume(runtime: Runtime, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    metrics = runtime.telemetry(logger.service)

    def record_handler(record: DynamoDBRecord) -> None:
        image = record.dynamodb.new_image if record.dynamodb else None
        if not image or "last_transition" not in image:
            return  # a removal (TTL) or an item written by something other than a commit
        transition = TransitionRecord.model_validate_json(image["last_transition"])
        logger.append_keys(journey_id=transition.journey_id)
        # counted when first logged, before publishing: a replay after a failed publish is not counted again
        runtime.journal.record(transition, on_new=lambda new: metrics.add(for_transition(new)))
        logger.info("journaled", extra={"seq": transition.seq, "step": transition.step_name})
        logger.remove_keys(["journey_id"])

    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        metrics.flush()


handler = lambda_handler(consume, logger)
