"""Faults injected through the AWS clients' own event hooks (botocore), seeded so a run can be repeated.

Only the consumers' own calls are touched: calls from the test's thread and the pollers' receive,
delete and visibility calls go through untouched (those are Lambda's event source mapping, not ours).

- throttle: instead of sending a request, answer it with the service's HTTP 400 throttling error, so
  the clients' own retry policy (standard mode, 5 attempts) meets it exactly as it would meet AWS's.
- server error: before the call, raise InternalServerError past those retries: the engine must cope.
- lost response: after a successful write, raise as if the connection dropped: the write happened,
  the caller does not know it.

Server errors and lost responses spare the workers' idempotency table (see the report: a failed write
of Powertools' success record would run the step again once its in-progress record expires).
- duplicate: after a successful send, send one more copy of a message, some of them late, so copies
  also arrive out of order.
"""

from __future__ import annotations

import copy
import json
import random
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from devstack.emulator import Emulator
from devstack.emulator import session as emulator_session
from reliability.instruments import Hook, consumer_name

# The calls a consumer makes while handling a message (by botocore event name: service id, operation).
CONSUMER_CALLS = frozenset(
    {
        "dynamodb.GetItem",
        "dynamodb.PutItem",
        "dynamodb.UpdateItem",
        "dynamodb.DeleteItem",
        "dynamodb.Query",
        "sqs.SendMessage",
        "sqs.SendMessageBatch",
        "eventbridge.PutEvents",
        "sfn.StartExecution",
        "sfn.SendTaskSuccess",
        "sfn.SendTaskFailure",
        "sns.Publish",
    }
)
WRITES = frozenset(
    {"dynamodb.PutItem", "sqs.SendMessage", "sqs.SendMessageBatch", "eventbridge.PutEvents", "sns.Publish"}
)
THROTTLING = {"dynamodb": "ProvisionedThroughputExceededException"}  # others: ThrottlingException
JSON_SERVICES = ("dynamodb", "sqs", "eventbridge", "sfn")  # throttles are JSON error bodies on these


@dataclass(frozen=True)
class FaultRates:
    throttle: float = 0.0
    server_error: float = 0.0
    lost_response: float = 0.0  # of successful writes (WRITES) outside the idempotency table
    duplicate: float = 0.0  # of messages the consumers send


def _error(code: str, status: int, operation: str) -> ClientError:
    response = {"Error": {"Code": code, "Message": "injected by reliability.faults"}}
    return ClientError({**response, "ResponseMetadata": {"HTTPStatusCode": status}}, operation)  # type: ignore[arg-type]


class Faults:
    """Hooks for LocalStack(hooks=...): every decision is drawn from one seeded generator."""

    def __init__(self, emulator: Emulator, rates: FaultRates, seed: int = 7) -> None:
        self.emulator, self.rates = emulator, rates
        self.random = random.Random(seed)  # noqa: S311 - seeded on purpose, so a run can be repeated
        self.injected: Counter[str] = Counter()  # "throttle sqs.SendMessage", "duplicate send_work", ...
        self.calls = 0  # consumer calls seen, faulted or not
        self._lock = threading.Lock()
        self._local = threading.local()

    def hooks(self) -> list[Hook]:
        notes: list[Hook] = [
            (f"before-parameter-build.sqs.{operation}", self._note) for operation in ("SendMessage", "SendMessageBatch")
        ]
        notes.append(("before-parameter-build.dynamodb", self._mark_idempotency))
        return [*notes, ("before-send", self._throttle), ("before-call", self._before), ("after-call", self._after)]

    def total(self, kind: str) -> int:
        return sum(n for key, n in self.injected.items() if key.startswith(kind + " "))

    def _draw(self, rate: float) -> bool:
        with self._lock:
            return rate > 0 and self.random.random() < rate

    def _count(self, key: str) -> None:
        with self._lock:
            self.injected[key] += 1

    def _ours(self, event_name: str) -> str | None:
        call = event_name.split(".", 1)[1]
        if call not in CONSUMER_CALLS or consumer_name() in ("MainThread", "emulator"):
            return None
        return call

    def _throttle(self, event_name: str, **_: Any) -> AWSResponse | None:
        call = self._ours(event_name)
        if call is None or not call.startswith(JSON_SERVICES) or not self._draw(self.rates.throttle):
            return None
        self._count(f"throttle {call}")
        code = THROTTLING.get(call.split(".")[0], "ThrottlingException")
        body = json.dumps({"__type": code, "message": "Rate exceeded (injected by reliability.faults)"})
        return AWSResponse("http://throttled", 400, {"x-amzn-query-error": f"{code};Sender"}, _Body(body.encode()))

    def _before(self, event_name: str, model: Any, context: dict[str, Any], **_: Any) -> None:
        call = self._ours(event_name)
        if call is None:
            return
        with self._lock:
            self.calls += 1
        if not context.get("idempotency") and self._draw(self.rates.server_error):
            self._count(f"server_error {call}")
            raise _error("InternalServerError", 500, model.name)

    def _after(self, event_name: str, model: Any, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        call = self._ours(event_name)
        if call is None or http_response.status_code != 200:
            return
        if call.startswith("sqs.Send"):
            self._duplicate(context)
        if call in WRITES and not context.get("idempotency") and self._draw(self.rates.lost_response):
            self._count(f"lost_response {call}")
            raise _error("RequestTimeout", 500, model.name)  # what a caller sees when the answer never comes

    def _note(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """Keep what a send carried, so a copy can be made once it succeeded."""
        entries = params.get("Entries") or [params]
        context["sent"] = (params["QueueUrl"], [copy.deepcopy(e) for e in entries])

    def _mark_idempotency(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        # Powertools' in-progress record would hold a lost write's activation until the invocation times out.
        context["idempotency"] = "Idempotency" in str(params.get("TableName", ""))

    def _duplicate(self, context: dict[str, Any]) -> None:
        queue, entries = context.get("sent", ("", []))
        for entry in entries:
            if not self._draw(self.rates.duplicate):
                continue
            message = {k: v for k, v in entry.items() if k not in ("Id", "QueueUrl")}
            with self._lock:
                message["DelaySeconds"] = max(message.get("DelaySeconds", 0), self.random.choice((0, 0, 1, 2)))
            self._plain().send_message(QueueUrl=queue, **message)
            self._count(f"duplicate {_kind(message['MessageBody'])}")

    def _plain(self) -> Any:
        """A client outside the stack's session: its sends are neither faulted nor copied again."""
        if not hasattr(self._local, "sqs"):
            self._local.sqs = emulator_session().client("sqs", endpoint_url=self.emulator.url)
        return self._local.sqs


class _Body:
    """The raw stream of a synthetic HTTP response."""

    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, **_: Any) -> list[bytes]:
        return [self.content]


def _kind(body: str) -> str:
    marker = '"kind":"'
    at = body.find(marker)
    return body[at + len(marker) : body.find('"', at + len(marker))] if at >= 0 else "message"
