"""The shared shape of an SQS consumer: parse, handle, report partial batch failures, park the hopeless."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
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


# AWS's "too many requests, try later" codes (botocore's throttled error codes, retries/standard.py). Once
# botocore's own retries are spent on one, the message is sent again with a delay and acknowledged: a busy
# service never uses up a message's receives, so being busy never takes it to the DLQ.
THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
BUSY = "journeys_busy"  # message attribute: how many times the message was sent again because AWS was busy
BUSY_DELAYS = (15, 30, 60, 120, 240, 480, 900)  # seconds before the nth resend (SQS's DelaySeconds caps at 900)


def throttled(exc: BaseException) -> bool:
    """Whether AWS refused the call for being busy: the error, or any error it was raised from."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ClientError) and seen.response.get("Error", {}).get("Code") in THROTTLED:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def busy_delay(times: int, jitter: float) -> int:
    """Seconds before a busy message's next try: doubling up to SQS's 900 s cap, jitter in [0, 1) spreading a
    burst of them over up to half as long again (never past the cap)."""
    base = BUSY_DELAYS[min(times, len(BUSY_DELAYS) - 1)]
    return min(900, base + int(base * jitter / 2))


class RetryLater(Exception):
    """A failure worth retrying: the message is reported failed and comes back after its visibility timeout."""


_REDELIVERED: ContextVar[bool] = ContextVar("redelivered", default=False)


def redelivered() -> bool:
    """Whether the message being handled came back after a failed or unfinished attempt.

    Only then may a duplicate re-perform its transition's actions: a crash between commit and
    send is healed, while a plain duplicate copy (receive count 1) changes and sends nothing.
    """
    return _REDELIVERED.get()


def _attributes(record: SQSRecord) -> dict[str, dict[str, Any]]:
    return cast(dict[str, dict[str, Any]], record.raw_event.get("messageAttributes") or {})


def _busy_count(record: SQSRecord) -> int:
    value = str((_attributes(record).get(BUSY) or {}).get("stringValue") or "0")
    return int(value) if value.isdigit() else 0


def _resend_attributes(record: SQSRecord, busy: int) -> dict[str, Any]:
    """The message's own attributes, as SendMessage takes them, with the busy count set."""
    attributes: dict[str, Any] = {}
    for name, value in _attributes(record).items():
        if value.get("stringValue") is not None:
            attributes[name] = {"DataType": value["dataType"], "StringValue": value["stringValue"]}
        elif value.get("binaryValue") is not None:
            attributes[name] = {"DataType": value["dataType"], "BinaryValue": value["binaryValue"]}
    attributes[BUSY] = {"DataType": "Number", "StringValue": str(busy)}
    return attributes


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
        busy = _busy_count(record)
        token = _REDELIVERED.set(int(record.attributes.approximate_receive_count or 1) > 1 or busy > 0)
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
        except Exception as exc:
            if not throttled(exc):
                raise
            delay = busy_delay(busy, runtime.jitter())
            logger.warning("AWS busy: message sent again later", extra={"delay": delay, "busy": busy + 1})
            runtime.send_again(record.event_source_arn, record.body, _resend_attributes(record, busy + 1), delay)
            metrics.count("MessagesBusy")
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
