"""Approvals consumer: the one function allowed to answer Step Functions task tokens.

Messages on its queue: `close_token` from the router (a retry-chain attempt answered by a worker).
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from consumers.batch import consume_sqs
from consumers.runtime import Runtime, runtime_from_env
from router.adapters.tokens import close_token
from router.decide import Rejected
from router.model import CloseToken

logger = Logger(service="journeys-approvals")


def consume(runtime: Runtime, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    def handle(body: str) -> None:
        kind = json.loads(body).get("kind")
        if kind == "close_token":
            action = CloseToken.model_validate_json(body)
            logger.append_keys(journey_id=action.journey_id)
            closed = close_token(runtime.client("stepfunctions"), action.task_token, action.success, error=action.error)
            logger.info("task token answered", extra={"activation_id": action.activation_id, "was_open": closed})
            return
        raise Rejected(f"the approvals queue does not take {kind!r} messages")

    return consume_sqs(runtime, logger, event, context, handle)


@cache
def _runtime() -> Runtime:
    return runtime_from_env(os.environ)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return consume(_runtime(), event, context)
