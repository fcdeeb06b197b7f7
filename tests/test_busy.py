"""Back-pressure: a message whose AWS call is throttled comes back later as a new message, never dead-lettered.

botocore retries a throttled call itself (standard mode, five attempts). When those are spent, the consumer sends
the message again to its own queue with a growing delay and acknowledges the original: being busy never uses up
the receives that would take a message to its DLQ, and the copy may re-perform the actions of a transition its
first try committed.
"""

from __future__ import annotations

import json
from typing import Any

import botocore.retries.standard
import pytest
from botocore.exceptions import ClientError

import consumers.start
from consumers.batch import BUSY, BUSY_DELAYS, THROTTLED, busy_delay, throttled
from devstack.stack import LambdaContext, LocalStack
from router.core.model import JourneyStatus, StartJourney

_DISPUTE = {
    "full_name": "Bea Busy",
    "card_last4": "4242",
    "transaction_id": "TX-B",
    "merchant": "Acme",
    "amount": 10,
    "reason": "duplicate_charge",
    "days_since_transaction": 1,
}


def _throttle(code: str = "ProvisionedThroughputExceededException", operation: str = "PutItem") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "slow down"}}, operation)


def test_every_code_botocore_treats_as_throttling_is_busy() -> None:
    """The list follows botocore's own, so an upgrade that adds a code is noticed here."""
    assert set(botocore.retries.standard.ThrottledRetryableChecker._THROTTLED_ERROR_CODES) <= THROTTLED


@pytest.mark.parametrize(
    ("error", "busy"),
    [
        (_throttle(), True),
        (_throttle("ThrottlingException", "PutEvents"), True),
        (_throttle("ConditionalCheckFailedException"), False),
        (_throttle("AccessDeniedException"), False),
        (ValueError("bad"), False),
    ],
)
def test_only_throttling_is_busy(error: Exception, busy: bool) -> None:
    assert throttled(error) is busy


def test_a_throttle_under_another_error_is_busy() -> None:
    """The router may raise its own error from the throttled call (tenacity, a store's wrapper)."""
    outer = RuntimeError("commit failed")
    outer.__cause__ = _throttle()
    assert throttled(outer)
    outer.__cause__ = ValueError("not busy")
    assert not throttled(outer)


@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.999])
def test_the_delay_doubles_to_the_sqs_cap(jitter: float) -> None:
    delays = [busy_delay(times, jitter) for times in range(20)]
    assert delays == sorted(delays)
    assert delays[0] >= BUSY_DELAYS[0] and all(0 < d <= 900 for d in delays)
    assert delays[-1] == 900


def _record(body: str, attributes: dict[str, Any], arn: str) -> dict[str, Any]:
    """A Lambda SQS record as the event source mapping delivers a message sent with these attributes."""
    return {
        "messageId": "m",
        "receiptHandle": "r",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},  # a new message: the copy starts counting afresh
        "messageAttributes": {
            name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
            for name, value in attributes.items()
        },
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": "eu-west-1",
    }


class _Calls:
    """Throttles the next `times` calls of one operation on a client; records every SendMessage."""

    def __init__(self, client: Any, operation: str, times: int) -> None:
        self.left, self.sent = times, []
        client.meta.events.register(f"before-call.{client.meta.service_model.endpoint_prefix}.{operation}", self._call)

    def _call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.left > 0:
            self.left -= 1
            raise _throttle(operation=model.name)


def test_a_message_throttled_more_often_than_max_receives_is_handled_once_and_never_parked(fresh_emulator) -> None:
    """Seven throttled commits in a row (the queues dead-letter after five receives): seven delayed copies, each
    acknowledged; the eighth commits the journey, once, and nothing reaches the DLQ."""
    stack = LocalStack(fresh_emulator).start(pollers=False)
    try:
        runtime = stack.runtimes["StartFunction"]
        sqs = runtime.client("sqs")
        sends: list[dict[str, Any]] = []
        sqs.meta.events.register("provide-client-params.sqs.SendMessage", lambda params, **_: sends.append(params))
        throttle = _Calls(runtime.client("dynamodb"), "PutItem", 7)
        arn = sqs.get_queue_attributes(QueueUrl=runtime.settings.start_queue_url, AttributeNames=["QueueArn"])
        arn = arn["Attributes"]["QueueArn"]
        body = StartJourney(journey_id="busy-1", definition_id="dispute", input=_DISPUTE).model_dump_json()
        record, copies = _record(body, {}, arn), []
        for _ in range(8):
            response = consumers.start.consume(runtime, {"Records": [record]}, LambdaContext("StartFunction"))
            assert response == {"batchItemFailures": []}  # acknowledged every time: no receive is used up
            again = [s for s in sends if s["QueueUrl"] == runtime.settings.start_queue_url]
            if len(again) == len(copies):
                break
            copies.append(again[-1])
            record = _record(again[-1]["MessageBody"], again[-1]["MessageAttributes"], arn)
        journey = runtime.router.store.load("busy-1")
        delayed = sqs.get_queue_attributes(
            QueueUrl=runtime.settings.start_queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
        )
        parked = sqs.receive_message(QueueUrl=runtime.settings.dead_letter_queue_url, MaxNumberOfMessages=10)
    finally:
        stack.stop()
    assert throttle.left == 0 and len(copies) == 7
    assert [int(c["MessageAttributes"][BUSY]["StringValue"]) for c in copies] == [1, 2, 3, 4, 5, 6, 7]
    assert all(c["MessageBody"] == body for c in copies)
    delays = [c["DelaySeconds"] for c in copies]
    assert delays == sorted(delays) and delays[0] >= BUSY_DELAYS[0] and delays[-1] <= 900
    assert int(delayed["Attributes"]["ApproximateNumberOfMessagesDelayed"]) == 7  # really on the queue
    assert journey is not None and journey.status is JourneyStatus.RUNNING and journey.version == 1
    assert parked.get("Messages", []) == []


def test_a_copy_re_performs_the_send_its_first_try_committed_but_could_not_make(fresh_emulator) -> None:
    """The commit went through, the work's SendMessage was throttled: the copy (receive count 1, but sent again
    for being busy) is a redelivery, so it sends the committed work; a plain duplicate would send nothing."""
    stack = LocalStack(fresh_emulator).start(pollers=False)
    try:
        runtime = stack.runtimes["StartFunction"]
        sqs = runtime.client("sqs")
        sends: list[dict[str, Any]] = []
        start_queue = runtime.settings.start_queue_url

        def send(params: dict[str, Any], **_: Any) -> None:
            sends.append(params)
            if params["QueueUrl"] != start_queue and not any(s.get("throttled") for s in sends):
                sends[-1] = {**params, "throttled": True}
                raise _throttle("RequestThrottled", "SendMessage")

        sqs.meta.events.register("provide-client-params.sqs.SendMessage", send)
        arn = sqs.get_queue_attributes(QueueUrl=start_queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        body = StartJourney(journey_id="busy-2", definition_id="dispute", input=_DISPUTE).model_dump_json()
        first = consumers.start.consume(runtime, {"Records": [_record(body, {}, arn)]}, LambdaContext("Start"))
        (copy,) = [s for s in sends if s["QueueUrl"] == start_queue]
        second = consumers.start.consume(
            runtime, {"Records": [_record(copy["MessageBody"], copy["MessageAttributes"], arn)]}, LambdaContext("S")
        )
        duplicate = consumers.start.consume(runtime, {"Records": [_record(body, {}, arn)]}, LambdaContext("S"))
        journey = runtime.router.store.load("busy-2")
    finally:
        stack.stop()
    work = [s for s in sends if s["QueueUrl"] != start_queue]
    assert first == second == duplicate == {"batchItemFailures": []}
    assert [bool(s.get("throttled")) for s in work] == [True, False]  # the copy sent it; the duplicate did not
    assert json.loads(work[1]["MessageBody"])["journey_id"] == "busy-2"
    assert journey is not None and journey.version == 1
