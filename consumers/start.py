"""Start consumer: trigger events (EventBridge via SQS) and direct starts become new journeys."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aws_lambda_powertools import Logger

from consumers.batch import consume_sqs, redelivered
from consumers.runtime import Runtime, lambda_handler
from router.decide import Rejected
from router.model import StartJourney

logger = Logger(service="journeys-start")
_IDS = uuid.UUID("6f1d3c52-7a0e-4d8b-9c1e-2b5a4f7e9d10")


def journey_id_for(definition_id: str, event_id: str) -> str:
    """The same trigger event always starts the same journey, however often it is delivered."""
    return str(uuid.uuid5(_IDS, f"{definition_id}:{event_id}"))


def starts_from(runtime: Runtime, body: str) -> list[StartJourney]:
    message = json.loads(body)
    if not isinstance(message, dict):
        raise Rejected("a start message must be a JSON object")
    if "detail-type" not in message:
        return [StartJourney.model_validate(message)]
    detail = message.get("detail") or {}
    cloud = isinstance(detail, dict) and {"specversion", "id", "source"} <= detail.keys()
    event_id = f"{detail['source']}/{detail['id']}" if cloud else str(message.get("id"))
    data = detail.get("data", {}) if cloud else detail
    definitions = runtime.registry.for_trigger(str(message.get("source")), str(message["detail-type"]))
    if not definitions:
        raise Rejected(f"no definition is triggered by {message.get('source')} / {message['detail-type']}")
    return [
        StartJourney(
            journey_id=journey_id_for(d.id, event_id),
            definition_id=d.id,
            input=data,
            actor=str(message.get("source")),
            business_key=detail.get("subject") if cloud else None,
        )
        for d in definitions
    ]


def consume(runtime: Runtime, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    metrics = runtime.telemetry(logger.service)

    def handle(body: str) -> None:
        for start in starts_from(runtime, body):
            logger.append_keys(journey_id=start.journey_id)
            outcome = metrics.route(runtime.router, start, redelivered())
            logger.info("start handled", extra={"definition": start.definition_id, "outcome": type(outcome).__name__})

    return consume_sqs(runtime, logger, event, context, handle, metrics)


handler = lambda_handler(consume, logger)
