"""Approvals consumer: the one function allowed to answer Step Functions task tokens.

Messages on its queue: `ticket` from a state machine (the levels one token waits on: open the first and
announce it; the desk opens each next level itself), `approval_recorded` events from the staff
application (decide through the approval desk),
`answer_ticket` from the command line or API (a decision they recorded, to pass on to the chain),
`lapse_ticket` from the watchdog (a level nobody decided by its deadline: the chain is told "expired"),
`withdraw_approval` from the router (the journey stopped waiting on an approval: its tickets are withdrawn),
and `close_token` from the router (a retry-chain attempt answered by a worker) or from a worker told to
reply by token (a step of a compiled every-step-a-state machine, `router/language/asl.py`, with the worker's output).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger

from consumers.batch import consume_sqs
from consumers.runtime import Runtime, lambda_handler
from router.adapters.tokens import close_token
from router.core.approvals import NotRecorded, TicketMessage, decision_from_event
from router.core.decide import Rejected
from router.core.model import CloseToken, WithdrawApproval

logger = Logger(service="journeys-approvals")


def consume(runtime: Runtime, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    metrics = runtime.telemetry(logger.service)

    def handle(body: str) -> None:
        message = json.loads(body)
        if not isinstance(message, dict):
            raise Rejected("an approvals message must be a JSON object")
        kind = message.get("kind") or message.get("detail-type")
        if kind == "ticket":
            ticket = runtime.desk.open(TicketMessage.model_validate(message))
            logger.append_keys(journey_id=ticket.journey_id)
            metrics.annotate(journey_id=ticket.journey_id, definition=ticket.definition_id)
            metrics.count("TicketsOpened")
            logger.info("ticket opened", extra={"ticket_id": ticket.ticket_id, "role": ticket.role})
        elif kind == "answer_ticket":
            told = runtime.desk.answer(str(message.get("ticket_id")))
            logger.info("decision passed on", extra={"ticket_id": message.get("ticket_id"), "took_effect": told})
        elif kind == "lapse_ticket":
            told = runtime.desk.lapse(str(message.get("ticket_id")))
            metrics.count("TicketsLapsed", int(told))
            logger.info("level lapsed", extra={"ticket_id": message.get("ticket_id"), "took_effect": told})
        elif kind == "withdraw_approval":
            action = WithdrawApproval.model_validate(message)
            withdrawn = runtime.desk.withdraw(action.activation_id, action.step, action.reason)
            metrics.count("TicketsWithdrawn", withdrawn)
            logger.info("approval withdrawn", extra={"activation_id": action.activation_id, "tickets": withdrawn})
        elif kind == "close_token":
            close = CloseToken.model_validate(message)
            logger.append_keys(journey_id=close.journey_id)
            metrics.annotate(journey_id=close.journey_id)
            closed = close_token(
                runtime.client("stepfunctions"),
                close.task_token,
                close.success,
                output=close.output,
                error=close.error,
                cause=close.cause,
            )
            logger.info("task token answered", extra={"activation_id": close.activation_id, "was_open": closed})
        else:
            decision = decision_from_event(message, runtime.vouch)
            try:
                recorded = runtime.desk.record(decision)
            except NotRecorded as exc:  # refusals are audited on the ticket; nothing to retry
                logger.warning("decision not recorded", extra={"ticket_id": decision.ticket_id, "reason": str(exc)})
                metrics.count("DecisionsRefused")
                return
            metrics.count("DecisionsRecorded")
            logger.info("decision recorded", extra={"ticket_id": decision.ticket_id, "repeat": recorded.repeat})

    return consume_sqs(runtime, logger, event, context, handle, metrics)


handler = lambda_handler(consume, logger)
