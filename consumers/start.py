"""Start consumer: trigger events (EventBridge via SQS) and direct starts become new journeys."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aws_lambda_powertools import Logger

from consumers.batch import consume_sqs, redelivered
from consumers.runtime import Runtime, lambda_handler
from router.core.decide import Rejected
from router.core.model import StartJourney

logger = Logger(service="journeys-start")
_IDS = uuid.UUID("6f1d3c52-7a0e-4d8b-9c1e-2b5a4f7e9d10")


def journey_id_for(definition_id: str, event_id: str) -> str:
    """The same trigger event always starts the same journey, however often it is delivered."""
    return str(uuid.uuid5(_IDS, f"{definition_id}:{event_id}"))


def starts_from(runtime: Runtime, body: str) -> list[StartJourney]:
    message = json.loads(body)
    if not isinstance(message, dict):
        raise Rejected("a start message must be a JSON object")
    if "event_id" not in message:
        return [StartJourney.model_validate(message)]
    return [triggered(message)]


def triggered(message: dict[str, Any]) -> StartJourney:
    """A trigger or schedule event, as its rule's InputTransformer delivers it (see cli/triggers.py).

    A CloudEvent in the detail is known by its own source and id, which a domain keeps when it
    publishes the event again; anything else by the EventBridge event id (a schedule: the tick's time).
    """
    detail = message.get("detail") or {}
    cloud = isinstance(detail, dict) and {"specversion", "id", "source"} <= detail.keys()
    event_id = f"{detail['source']}/{detail['id']}" if cloud else str(message["event_id"])
    definition_id = message.get("definition_id")
    if not isinstance(definition_id, str):
        raise Rejected("a trigger message must name the definition it starts (the rule's InputTransformer does)")
    return StartJourney(
        journey_id=journey_id_for(definition_id, event_id),
        definition_id=definition_id,
        input=detail.get("data", {}) if cloud else detail,
        actor=str(message.get("source") or "trigger"),
        business_key=detail.get("subject") if cloud else None,
    )


def consume(runtime: Runtime, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    metrics = runtime.telemetry(logger.service)

    def handle(body: str) -> None:
        for start in starts_from(runtime, body):
            logger.append_keys(journey_id=start.journey_id)
            outcome = metrics.route(runtime.router, start, redelivered())
            logger.info("start handled", extra={"definition": start.definition_id, "outcome": type(outcome).__name__})

    return consume_sqs(runtime, logger, event, context, handle, metrics)


handler = lambda_handler(consume, logger)
