"""Instruments for the engine and reliability tests: count worker side effects, inject duplicates, watch AWS calls;
wait for a condition; build the API Gateway event and name the resources an AWS call acts on.

Each instrument is a botocore event hook or a worker wrapper. None changes the engine's code, and only
Storm changes when (never whether) a message arrives. Consumers run in poller threads named after their
function (`StartFunction-0`, `JournalFunction`), so a hook can tell which consumer made a call.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import threading
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.awsrequest import AWSResponse

from devstack.emulator import Emulator
from devstack.emulator import session as emulator_session
from router.core.approvals import Ticket, TicketStatus, ticket_id_for
from router.core.model import ActivationKind
from workers.step import Workers

if TYPE_CHECKING:
    from cli.client import JourneysClient
    from router.core.model import Journey

T = TypeVar("T")
Hook = tuple[str, Callable[..., Any]]
Wrap = Callable[[str, Callable[..., Any]], Callable[..., Any]]


def waited(check: Callable[[], T], timeout: float = 60, interval: float = 0.1, what: str = "condition") -> T:
    """Call `check` until it returns something truthy, and return that; TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (reached := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout} s")
        time.sleep(interval)
    return reached


def settled(client: JourneysClient, journey_id: str, done: Callable[[Journey], bool], timeout: float = 60) -> Journey:
    """The journey once `done(journey)` holds, read through the client every 0.2 s."""

    def reached() -> Journey | None:
        journey = client.get(journey_id)
        return journey if journey is not None and done(journey) else None

    try:
        return waited(reached, timeout, interval=0.2)
    except TimeoutError:
        raise TimeoutError(f"journey {journey_id} did not get there in {timeout} s: {client.get(journey_id)}") from None


def open_ticket(
    client: JourneysClient, journey_id: str, level: int, activation: str | None = None, timeout: float = 20
) -> Ticket:
    """The journey's OPEN ticket for `level`, read by key: the journey's open approval names it (two reads a look)."""

    def by_key() -> Ticket | None:
        journey = client.get(journey_id)
        for opened in journey.open.values() if journey else ():
            if opened.kind is ActivationKind.APPROVAL and activation in (None, opened.id):
                ticket = client.desk.ticket(ticket_id_for(opened.id, level))
                if ticket and ticket.status is TicketStatus.OPEN:
                    return ticket
        return None

    return waited(by_key, timeout, what=f"an open level-{level} ticket for {journey_id}")


def inbox_ticket(
    client: JourneysClient, journey_id: str, level: int, activation: str | None = None, timeout: float = 20
) -> Ticket:
    """The journey's OPEN ticket for `level`, as the approvers' inbox lists it.

    Waited for by key, then found in the inbox, which reads 32 shards: a look at the inbox every 0.1 s, as these
    waits were, made thousands of queries a run. A ticket due within a second or two may lapse before the inbox is
    read: wait for such a ticket with `open_ticket`."""
    wanted = open_ticket(client, journey_id, level, activation, timeout)
    return waited(
        lambda: next((t for t in client.approvals() if t.ticket_id == wanted.ticket_id), None),
        timeout,
        interval=0.5,
        what=f"ticket {wanted.ticket_id} in the approvers' inbox",
    )


def consumer_name() -> str:
    """The function whose poller runs the current thread (`MainThread` for the test itself)."""
    return re.sub(r"-\d+$", "", threading.current_thread().name)


def rewrapped(workers: Workers, wrap: Wrap) -> Workers:
    """The same workers under the same names, each function wrapped by `wrap(name, fn)`."""
    registry = Workers()
    for name, (fn, retry_on) in workers.registered().items():
        registry.step(name, retry_on=retry_on)(wrap(name, fn))
    return registry


class SideEffects:
    """Counts each worker's successful executions: the side effects exactly-once is about."""

    def __init__(self) -> None:
        self.succeeded: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)  # keeps the signature the argument model is built from
        def counted(*args: Any, **kwargs: Any) -> Any:
            result = fn(*args, **kwargs)
            with self._lock:
                self.succeeded[name] += 1
            return result

        return counted


class Gate:
    """Holds every worker until opened, so only the test answers the activations it races on."""

    def __init__(self, timeout: float = 60) -> None:
        self.opened, self.timeout = threading.Event(), timeout

    def __call__(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def gated(*args: Any, **kwargs: Any) -> Any:
            self.opened.wait(self.timeout)
            return fn(*args, **kwargs)

        return gated


def message_key(body: str) -> str:
    """What makes two messages the same one: the activation they carry work or an answer for."""
    try:
        message = json.loads(body)
    except ValueError:
        return body
    if isinstance(message, dict) and "activation_id" in message:
        return f"{message.get('kind')}:{message['activation_id']}"
    return body


def two_or_three(event: dict[str, Any]) -> int:
    """Deliveries per batch: 2 or 3, by a stable hash of the first record's id."""
    records = event.get("Records") or [{}]
    first = records[0].get("messageId") or records[0].get("eventID") or ""
    return 2 + zlib.crc32(first.encode()) % 2


class Storm:
    """SQS at its worst, within reason: every message arrives two to four times; repeats arrive late.

    - `deliveries`: a batch holding a message never delivered before reaches its consumer 2 or 3 times.
    - After a consumer's successful send of a message it never sent before, one more copy goes to the
      same queue, through a plain client with no hooks (so the copy is neither copied nor counted again).
    - A message a consumer sends again (an absorbed duplicate re-performing its actions, a worker replaying
      its saved answer) is held back and delivered by `release()`, once the journeys have ended. Delivered
      at once, such repeats feed each other: see the test of one duplicated message.
    """

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.injected: Counter[str] = Counter()  # extra copies, by the consumer whose send was copied
        self.held: Counter[str] = Counter()  # repeats held back, by the consumer that sent them
        self._holding: list[tuple[str, dict[str, Any]]] = []
        self._sent: set[tuple[str, str]] = set()
        self._delivered: set[str] = set()
        self._lock = threading.Lock()
        self._local = threading.local()

    def deliveries(self, event: dict[str, Any]) -> int:
        keys = {r.get("eventID") or message_key(r.get("body", "")) for r in event.get("Records", [])}
        with self._lock:
            fresh = not keys <= self._delivered
            self._delivered |= keys
        return two_or_three(event) if fresh else 1

    def hooks(self) -> list[Hook]:
        hooks: list[Hook] = []
        for operation in ("SendMessage", "SendMessageBatch"):
            hooks += [
                (f"before-parameter-build.sqs.{operation}", self._sort),
                (f"before-call.sqs.{operation}", self._answer_held),
                (f"after-call.sqs.{operation}", self._copy),
            ]
        return hooks

    def release(self) -> int:
        """Deliver the repeats held so far to their queues; how many there were."""
        with self._lock:
            holding, self._holding = self._holding, []
        for queue, entry in holding:
            self._client().send_message(QueueUrl=queue, **entry)
        return len(holding)

    def _sort(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """Take each repeat out of the send, to hold it; note first sends, to copy them once they succeed."""
        if consumer_name() == "MainThread":
            return
        queue, first, kept, held = params["QueueUrl"], [], [], []
        entries = params.get("Entries") or [params]
        for entry in entries:
            key = (queue, message_key(entry["MessageBody"]))
            with self._lock:
                repeat = key in self._sent
                self._sent.add(key)
            message = {k: copy.deepcopy(v) for k, v in entry.items() if k not in ("Id", "QueueUrl")}
            (held if repeat else first).append(message)
            if not repeat:
                kept.append(entry)
        with self._lock:
            self._holding += [(queue, message) for message in held]
            self.held[consumer_name()] += len(held)
        if not kept:
            context["storm_held"] = entries
        elif held:
            params["Entries"] = kept
        context["storm_copies"] = (queue, first)

    def _answer_held(self, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        """When every message of a send is held, answer it here, as SQS would have, without calling it."""
        held = context.get("storm_held")
        if held is None:
            return None
        if "Id" not in held[0]:  # SendMessage
            return AWSResponse("", 200, {}, None), {"MessageId": str(uuid.uuid4())}
        receipts = [{"Id": e["Id"], "MessageId": str(uuid.uuid4())} for e in held]
        return AWSResponse("", 200, {}, None), {"Successful": receipts}

    def _copy(self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        queue, first = context.get("storm_copies", ("", []))
        if http_response.status_code != 200 or parsed.get("Failed"):
            return
        for entry in first:
            self._client().send_message(QueueUrl=queue, **entry)
            self._count(self.injected)

    def _count(self, counter: Counter[str]) -> None:
        with self._lock:
            counter[consumer_name()] += 1

    def _client(self) -> Any:
        """One plain client per thread, built outside the stack's session, so no hook sees its calls."""
        if not hasattr(self._local, "sqs"):
            self._local.sqs = emulator_session().client("sqs", endpoint_url=self.emulator.url)
        return self._local.sqs


class SendLog:
    """Counts the consumers' sends of each message, by (kind, activation id).

    With `copy_first`, the first message of that kind a consumer sends goes to its queue one extra time.
    """

    def __init__(self, emulator: Emulator, copy_first: str | None = None) -> None:
        self.sent: Counter[tuple[str, str]] = Counter()
        self.copy_first, self.copied = copy_first, False
        self._plain = emulator_session().client("sqs", endpoint_url=emulator.url)
        self._lock = threading.Lock()

    def hooks(self) -> list[Hook]:
        return [
            ("before-parameter-build.sqs.SendMessage", self._record),
            ("before-parameter-build.sqs.SendMessageBatch", self._record),
        ]

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        if consumer_name() == "MainThread":
            return
        for entry in params.get("Entries") or [params]:
            body = json.loads(entry["MessageBody"])
            with self._lock:
                self.sent[body["kind"], body["activation_id"]] += 1
                extra = body["kind"] == self.copy_first and not self.copied
                self.copied = self.copied or extra
            if extra:
                self._plain.send_message(QueueUrl=params["QueueUrl"], MessageBody=entry["MessageBody"])


@dataclass(frozen=True)
class Published:
    """One PutEvents entry, as sent, and the consumer that sent it."""

    consumer: str
    entry: dict[str, Any]


class Calls:
    """Records every AWS call the stack's session makes (consumers, pollers, the test's own client)."""

    def __init__(self) -> None:
        self.by_consumer: Counter[tuple[str, str]] = Counter()  # (consumer, "service.Operation")
        self.published: list[Published] = []
        self._lock = threading.Lock()

    def hooks(self) -> list[Hook]:
        return [
            ("before-call", self._record),
            ("before-call.events.PutEvents", self._capture),
            ("after-call.events.PutEvents", self._published),
        ]

    def made_by(self, consumer: str) -> set[str]:
        return {call for (who, call), _ in self.by_consumer.items() if who == consumer}

    def _record(self, event_name: str, **_: Any) -> None:
        with self._lock:
            self.by_consumer[consumer_name(), event_name.split(".", 1)[1]] += 1

    def _capture(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["entries"] = json.loads(params["body"])["Entries"]  # before-call sees the serialised request

    def _published(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        """Kept once EventBridge took them: a call that failed before AWS saw it published nothing."""
        if http_response.status_code == 200:
            with self._lock:
                self.published += [Published(consumer_name(), entry) for entry in context.get("entries", [])]


class ReadAligner:
    """Holds each racing thread after its read until every racer has read: the lost-race path, every time."""

    def __init__(self, parties: int, prefix: str = "racer") -> None:
        self.barrier, self.prefix = threading.Barrier(parties, timeout=10), prefix

    def hooks(self) -> list[Hook]:
        return [("after-call.dynamodb.GetItem", self._align)]

    def _align(self, **_: Any) -> None:
        if threading.current_thread().name.startswith(self.prefix):
            self.barrier.wait()


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message in a queue, with its attributes, leaving them invisible for a minute."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=60
        ).get("Messages", [])
        if not batch:
            return messages
        messages += batch


def scan_all(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items, kwargs = [], {}
    while True:
        page = dynamodb.scan(TableName=table, ConsistentRead=True, **kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def gateway_event(method: str, path: str, claims: dict[str, Any] | None, body: Any = None) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as the JWT authorizer passes it on."""
    context: dict[str, Any] = {
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "10.0.0.1", "userAgent": "t"},
        "requestId": "r-1",
        "routeKey": f"{method} /api/{{proxy+}}",
        "stage": "$default",
    }
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return {
        "version": "2.0",
        "routeKey": context["routeKey"],
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "api.example.com"},
        "requestContext": context,
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def resources_of(service: str, params: dict[str, Any], physical: dict[str, str], stream: str | None) -> list[str]:
    """The logical resources a call acts on, from its parameters."""
    if service == "dynamodbstreams":
        return [stream or "a stream no poller reads"]
    if service == "events":
        return sorted({physical.get(e.get("EventBusName", "default"), "default bus") for e in params["Entries"]})
    if service == "stepfunctions" and "taskToken" in params:
        return ["*"]
    if "RequestItems" in params:  # BatchGetItem / BatchWriteItem: the tables are the keys
        return sorted(physical.get(name, f"unknown {name}") for name in params["RequestItems"])
    if service == "s3" and "Bucket" in params:  # granted by prefix: claims/*
        prefix = str(params.get("Key", "")).split("/", 1)[0]
        return [f"{physical.get(params['Bucket'], 'unknown bucket')}/{prefix}/*"]
    named = [params[k] for k in ("TableName", "QueueUrl", "TopicArn", "stateMachineArn") if k in params]
    found = [physical.get(name, f"unknown {name}") for name in named] or ["unknown"]
    return [f"{found[0]}/index/{params['IndexName']}"] if "IndexName" in params else found
