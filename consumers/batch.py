"""The shared shape of an SQS consumer: parse, handle, report partial batch failures, park the hopeless."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from consumers.runtime import Runtime
from consumers.telemetry import Telemetry
from router.adapters.limits import MESSAGE_BYTES, check_size
from router.core.decide import Rejected
from router.language.registry import UnknownDefinition
from router.ports import PayloadTooLarge

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

# Errors no retry can fix: the message is parked in the DLQ with its reason and acknowledged.
TERMINAL = (Rejected, ValidationError, PayloadTooLarge, UnknownDefinition, ValueError)


class RetryLater(Exception):
    """A failure worth retrying: the message is reported failed and comes back after its visibility timeout."""


_REDELIVERED: ContextVar[bool] = ContextVar("redelivered", default=False)


def redelivered() -> bool:
    """Whether the message being handled came back after a failed or unfinished attempt.

    Only then may a duplicate re-perform its transition's actions: a crash between commit and
    send is healed, while a plain duplicate copy (receive count 1) changes and sends nothing.
    """
    return _REDELIVERED.get()


def reason_of(exc: Exception) -> str:
    """A reason fit for logs and DLQ attributes: names fields and rules, never echoes their values."""
    if isinstance(exc, ValidationError):
        return "invalid message: " + "; ".join(_problem(e) for e in exc.errors(include_input=False))
    return f"{type(exc).__name__}: {exc}"


def _problem(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"]) or "body"
    if error["type"] == "union_tag_invalid":  # its message would repeat the unknown tag
        return f"{where}: unknown kind (expected {error['ctx']['expected_tags']})"
    return f"{where}: {error['msg']}"


def consume_sqs(
    runtime: Runtime,
    logger: Logger,
    event: dict[str, Any],
    context: Any,
    handle: Callable[[str], None],
    metrics: Telemetry,
) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    def record_handler(record: SQSRecord) -> None:
        token = _REDELIVERED.set(int(record.attributes.approximate_receive_count or 1) > 1)
        try:
            with metrics.span("## message"):
                check_size(record.body, MESSAGE_BYTES, "message body")  # the engine's limit, whatever the queue allowed
                handle(record.body)
                if runtime.after_act is not None:  # a fault-injection harness's hook; None in production
                    runtime.after_act()
        except TERMINAL as exc:
            reason = reason_of(exc)
            logger.warning("message rejected", extra={"reason": reason, "message_id": record.message_id})
            runtime.reject(record.body, reason)
            metrics.count("MessagesRejected")
        finally:
            _REDELIVERED.reset(token)
            logger.remove_keys(["journey_id"])

    metrics.count("MessagesProcessed", len(event.get("Records", [])))
    try:
        processor = BatchProcessor(event_type=EventType.SQS)
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
        metrics.count("MessagesFailed", len(response.get("batchItemFailures", [])))
        return cast(dict[str, Any], response)  # Powertools' TypedDict, as the plain dict Lambda serializes
    except Exception:  # every record failed (Powertools raises): all of them come back
        metrics.count("MessagesFailed", len(event.get("Records", [])))
        raise
    finally:
        metrics.flush()
