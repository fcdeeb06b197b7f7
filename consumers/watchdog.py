"""SLA watchdog, on a schedule: journeys with an activation past its deadline, found through an index, and
approval levels nobody decided by their deadline, handed to the approvals function to lapse."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from consumers.runtime import Runtime, lambda_handler
from router.adapters.dynamodb import overdue_journeys
from router.model import DeadlinePassed

logger = Logger(service="journeys-watchdog")
MAX_PER_TICK = 500  # the rest wait for the next tick rather than risk the function's timeout


def consume(runtime: Runtime, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    now = runtime.clock()
    client, table = runtime.client("dynamodb"), runtime.settings.journeys_table
    outcomes: dict[str, int] = {}
    metrics = runtime.telemetry(logger.service)
    overdue = overdue_journeys(client, table, now, MAX_PER_TICK)
    metrics.count("ActivationsOverdue", len(overdue))
    for journey_id in overdue:
        logger.append_keys(journey_id=journey_id)
        try:
            outcome = metrics.route(runtime.router, DeadlinePassed(journey_id=journey_id))
        except Exception:  # one bad journey must not stop the sweep; it is logged and found again next tick
            logger.exception("watchdog could not handle an overdue journey")
            outcomes["errors"] = outcomes.get("errors", 0) + 1
            continue
        name = type(outcome).__name__
        outcomes[name] = outcomes.get(name, 0) + 1
    logger.remove_keys(["journey_id"])
    if runtime.settings.tickets_table:
        from router.adapters.tickets import DynamoTicketStore, QueuedAnswers  # boto3 types: not at cold start

        lapsed = DynamoTicketStore(client, runtime.settings.tickets_table).lapsed(now, MAX_PER_TICK)
        QueuedAnswers(runtime.client("sqs"), runtime.settings.approval_queue_url).lapse_later(lapsed)
        metrics.count("TicketsOverdue", len(lapsed))
        if lapsed:
            outcomes["tickets lapsed"] = len(lapsed)
    metrics.flush()
    if outcomes:
        logger.info("watchdog swept", extra=outcomes)
    return outcomes


handler = lambda_handler(consume, logger)
