"""Retry consumer: a retry chain ran out of attempts; the router escalates the journey and alerts."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from consumers.batch import consume_sqs, redelivered
from consumers.runtime import Runtime, lambda_handler
from router.core.decide import Commit
from router.core.model import JourneyStatus, RetriesExhausted

logger = Logger(service="journeys-retry")
ESCALATED = "journey escalated"  # the template's StuckJourneys metric counts this message


def consume(runtime: Runtime, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    metrics = runtime.telemetry(logger.service)

    def handle(body: str) -> None:
        exhausted = RetriesExhausted.model_validate_json(body)
        logger.append_keys(journey_id=exhausted.journey_id)
        outcome = metrics.route(runtime.router, exhausted, redelivered())
        if isinstance(outcome, Commit) and outcome.journey.status is JourneyStatus.STUCK:
            logger.warning(ESCALATED, extra={"activation_id": exhausted.activation_id, "step": outcome.journey.step})
        else:
            logger.info("retries exhausted, nothing to escalate", extra={"outcome": type(outcome).__name__})

    return consume_sqs(runtime, logger, event, context, handle, metrics)


handler = lambda_handler(consume, logger)
