"""Advance consumer: step results, customer input, timers and approval outcomes move journeys on."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from pydantic import Field, TypeAdapter

from consumers.batch import consume_sqs, redelivered
from consumers.runtime import Runtime, lambda_handler
from router.core.decide import Absorb
from router.core.model import ApprovalOutcome, InputSubmitted, StepFailed, StepSucceeded, TimerFired

logger = Logger(service="journeys-advance")
ANSWER: TypeAdapter[StepSucceeded | StepFailed | InputSubmitted | TimerFired | ApprovalOutcome] = TypeAdapter(
    Annotated[StepSucceeded | StepFailed | InputSubmitted | TimerFired | ApprovalOutcome, Field(discriminator="kind")]
)


def consume(runtime: Runtime, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    metrics = runtime.telemetry(logger.service)

    def handle(body: str) -> None:
        answer = ANSWER.validate_json(body)
        logger.append_keys(journey_id=answer.journey_id)
        outcome = metrics.route(runtime.router, answer, redelivered())
        if isinstance(outcome, Absorb):
            logger.info("absorbed", extra={"reason": outcome.reason, "activation_id": answer.activation_id})
        else:
            logger.info("committed", extra={"seq": outcome.record.seq, "status": outcome.journey.status.value})

    return consume_sqs(runtime, logger, event, context, handle, metrics)


handler = lambda_handler(consume, logger)
