"""Step-worker consumer: run the named worker once per activation and send its answer to the router."""

from __future__ import annotations

import json
import math
from typing import Any, Literal

from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field

from consumers.batch import consume_sqs
from consumers.runtime import Runtime, lambda_handler
from router.adapters.claims import OutputTooLarge
from router.adapters.limits import MESSAGE_BYTES, check_size
from router.core.circuits import Admit
from router.core.model import SendWork, StepFailed, StepSucceeded, token_reply
from workers.step import Workers

logger = Logger(service="journeys-worker")
MAX_DELAY = 900  # SQS DelaySeconds limit; an open circuit's wait is re-checked at least this often


class Attempt(BaseModel):
    """Work sent with a task token. reply "router": a retry chain's attempt, whose answer goes to the router
    with the token, and the router has it closed. reply "token": a compiled state machine's step
    (router/language/asl.py), whose answer closes the token directly, through the approvals consumer."""

    work: SendWork
    task_token: str = Field(repr=False)
    reply: Literal["router", "token"] = "router"


class Retryable(Exception):
    """Raised inside the idempotent call so a retryable failure is not saved as the step's answer."""


def executor(runtime: Runtime, workers: Workers, context: Any = None) -> Any:
    """The worker call, made idempotent by activation id: a redelivery returns the saved answer."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    store = DynamoDBPersistenceLayer(
        table_name=runtime.settings.idempotency_table, boto3_client=runtime.client("dynamodb")
    )
    config = IdempotencyConfig(event_key_jmespath="activation_id", expires_after_seconds=7 * 24 * 3600)
    if context is not None:  # an in-progress record then expires with the invocation, not after an hour
        config.register_lambda_context(context)

    from router.adapters.claims import S3Claims

    bucket = runtime.settings.payload_bucket
    claims = S3Claims(runtime.client("s3"), bucket) if bucket else None

    # Powertools leaves idempotent_function's decorator unannotated; execute keeps the signature below
    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="work", persistence_store=store, config=config
    )
    def execute(work: dict[str, Any]) -> dict[str, Any]:
        ids = {"journey_id": work["journey_id"], "activation_id": work["activation_id"], "actor": work["worker"]}
        try:
            output = workers.run(work["worker"], claims.resolve(work["state"]) if claims else work["state"])
        except Exception as exc:
            if workers.is_retryable(exc):
                raise Retryable(type(exc).__name__, str(exc)[:300]) from exc
            return StepFailed(**ids, error=type(exc).__name__, message=str(exc)[:500]).model_dump(mode="json")
        try:  # inside the idempotent call: the saved answer holds the pointer, never the large output
            output = checked_in(claims, work, output)
        except OutputTooLarge as exc:
            return StepFailed(**ids, error="OutputTooLarge", message=str(exc)).model_dump(mode="json")
        return StepSucceeded(**ids, output=output).model_dump(mode="json")

    return execute


def checked_in(claims: Any, work: dict[str, Any], output: dict[str, Any]) -> dict[str, Any]:
    """The output, or its claim-check pointer; OutputTooLarge past the hard limit, or past the claim threshold
    when no payload bucket is configured (a message could not carry it)."""
    from router.adapters.claims import CLAIM_BYTES

    if claims is not None:
        return dict(claims.check_in(work["journey_id"], work["activation_id"], output))
    size = len(json.dumps(output, separators=(",", ":")).encode())
    if size > CLAIM_BYTES:
        raise OutputTooLarge(f"the step's output is {size} bytes and no payload bucket is configured for it")
    return output


def answer_for(execute: Any, work: SendWork, task_token: str | None) -> dict[str, Any]:
    try:
        answer = execute(work=work.model_dump(mode="json"))
    except Retryable as exc:
        error, message = exc.args
        failed = StepFailed(
            journey_id=work.journey_id,
            activation_id=work.activation_id,
            actor=work.worker,
            error=error,
            message=message,
            retryable=True,
        )
        answer = failed.model_dump(mode="json")
    answer = {**answer, "proof": work.proof}  # the router's proof for this activation, handed back with the answer
    return {**answer, "task_token": task_token} if task_token else answer


def _parse_answer(answer: dict[str, Any]) -> StepSucceeded | StepFailed:
    return (
        StepSucceeded.model_validate(answer)
        if answer["kind"] == "step_succeeded"
        else StepFailed.model_validate(answer)
    )


def defer(runtime: Runtime, worker: str, body: str, wait: float) -> None:
    """Send the work again, delayed: a new message, so waiting out an open circuit uses up none of the
    original's receives and never dead-letters it. The original is then acknowledged."""
    queue = runtime.settings.worker_queues[worker]
    delay = min(MAX_DELAY, max(1, math.ceil(wait)))
    runtime.client("sqs").send_message(QueueUrl=queue, MessageBody=body, DelaySeconds=delay)


def consume(runtime: Runtime, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    execute = executor(runtime, runtime.workers, context)
    metrics = runtime.telemetry(logger.service)

    def handle(body: str) -> None:
        message = json.loads(body)
        attempt = Attempt.model_validate(message) if "task_token" in message else None
        work = attempt.work if attempt else SendWork.model_validate(message)
        logger.append_keys(journey_id=work.journey_id)
        metrics.annotate(journey_id=work.journey_id)
        admitted, wait = runtime.breaker.admit(work.worker)
        if admitted is Admit.WAIT:  # the worker's circuit is open: the work waits, as a new message
            defer(runtime, work.worker, body, wait)
            metrics.count("WorkDeferred", worker=work.worker)
            logger.info("circuit open: work deferred", extra={"worker": work.worker, "seconds": round(wait)})
            return
        answer = answer_for(execute, work, attempt.task_token if attempt else None)
        runtime.breaker.record(work.worker, failed=bool(answer.get("retryable")), probe=admitted is Admit.PROBE)
        outcome = "retryable" if answer.get("retryable") else answer["kind"].removeprefix("step_")
        metrics.count("WorkerRuns", worker=work.worker, outcome=outcome)
        queue = runtime.settings.advance_queue_url
        if attempt and attempt.reply == "token":
            answer = token_reply(_parse_answer(answer), attempt.task_token).model_dump(mode="json")
            queue = runtime.settings.approval_queue_url
        reply = json.dumps(answer, separators=(",", ":"))
        check_size(reply, MESSAGE_BYTES, f"answer for {work.activation_id}")
        runtime.client("sqs").send_message(QueueUrl=queue, MessageBody=reply)
        logger.info("step answered", extra={"worker": work.worker, "kind": answer["kind"], "retry": bool(attempt)})

    return consume_sqs(runtime, logger, event, context, handle, metrics)


handler = lambda_handler(consume, logger)
