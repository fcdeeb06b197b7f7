"""SLA watchdog, on a schedule: journeys with an activation past its deadline, found through the sharded
deadline index, and approval levels nobody decided by their deadline, handed to the approvals function to lapse.

Each deadline shard is its own unit of work with its own budget: a shard that fails to read, or holds a poison
journey, is logged and found again next tick, and never keeps the other shards from being swept. The shards are
read at once (router/adapters/fanout.py), each read's failure kept apart from the others', then swept in turn."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from consumers.runtime import Runtime, lambda_handler
from router.adapters.dynamodb import DEADLINE_SHARDS, overdue_journeys
from router.core.model import DeadlinePassed

logger = Logger(service="journeys-watchdog")
MAX_PER_TICK = 500  # the rest wait for the next tick rather than risk the function's timeout
PER_SHARD = max(1, MAX_PER_TICK // len(DEADLINE_SHARDS))  # a backlog in one shard cannot starve the others


def consume(runtime: Runtime, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    now = runtime.clock()
    client, table = runtime.client("dynamodb"), runtime.settings.journeys_table
    outcomes: dict[str, int] = {}
    metrics = runtime.telemetry(logger.service)
    shards = event.get("shards") or DEADLINE_SHARDS  # a schedule may split the shards between invocations
    overdue = 0
    for shard, due in zip(shards, overdue_journeys(client, table, now, PER_SHARD, shards), strict=True):
        if isinstance(due, Exception):  # one unreadable shard must not stop the sweep of the others; read next tick
            logger.error("watchdog could not read a deadline shard", extra={"shard": shard}, exc_info=due)
            outcomes["errors"] = outcomes.get("errors", 0) + 1
            continue
        overdue += len(due)
        _sweep(runtime, metrics, due, outcomes)
    metrics.count("ActivationsOverdue", overdue)
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


def _sweep(runtime: Runtime, metrics: Any, overdue: list[str], outcomes: dict[str, int]) -> None:
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


handler = lambda_handler(consume, logger)
