"""The local stack under load: queue operations that cost the same at any depth, and wake-ups only where work is."""

from __future__ import annotations

import time
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.hooks import HierarchicalEmitter
from moto.sqs.models import sqs_backends
from moto.stepfunctions.models import stepfunctions_backends

from devstack.emulator import CREDENTIALS, Emulator
from devstack.nudges import Nudges, may_match
from devstack.pollers import Poller, SqsPoller, StreamPoller
from devstack.provision import QueueSource, StreamSource

DELAY = 6  # seconds: 50 receives of ten take about one on a loaded machine
COUNTS = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]


def _queue(emulator: Emulator, **attributes: str) -> tuple[Any, str]:
    sqs = boto3.client("sqs", endpoint_url=emulator.url, **CREDENTIALS)
    url = sqs.create_queue(QueueName=f"load-{uuid.uuid4().hex[:8]}", Attributes=attributes)["QueueUrl"]
    return sqs, url


def _counts(sqs: Any, url: str) -> list[int]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=COUNTS)["Attributes"]
    return [int(attributes[name]) for name in COUNTS]


def test_a_deep_queue_counts_and_delivers_visible_in_flight_and_delayed_messages_apart(emulator: Emulator) -> None:
    sqs, url = _queue(emulator, VisibilityTimeout="60")
    sqs.send_message(QueueUrl=url, MessageBody="in flight")
    (taken,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    for at in range(0, 500, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"{at + i}"} for i in range(10)])
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=DELAY)  # sent last: it outlasts the drain
    due = time.monotonic() + DELAY
    assert _counts(sqs, url) == [500, 1, 1]

    bodies: list[str] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [m["Body"] for m in batch]
    assert "delayed" not in bodies, f"the drain outlasted the {DELAY} s delay: the machine is slower than assumed"
    assert sorted(bodies, key=int) == [str(n) for n in range(500)]  # neither the one in flight nor the delayed one
    assert _counts(sqs, url) == [0, 501, 1]

    time.sleep(max(0.0, due - time.monotonic()) + 0.1)
    (late,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert late["Body"] == "delayed"
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=taken["ReceiptHandle"], VisibilityTimeout=0)
    time.sleep(0.01)
    (again,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert again["Body"] == "in flight" and again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_a_message_past_the_queues_retention_is_not_delivered(inprocess_emulator: Emulator) -> None:
    sqs, url = _queue(inprocess_emulator, MessageRetentionPeriod="60")
    sqs.send_message(QueueUrl=url, MessageBody="old")
    (message,) = sqs_backends["123456789012"]["eu-west-1"].get_queue(url.rsplit("/", 1)[-1])._messages
    message.sent_timestamp -= 61_000  # sent 61 s ago, as far as the queue knows
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []


def _pollers() -> dict[str, Poller]:
    def source(name: str) -> QueueSource:
        return QueueSource(f"http://local/123456789012/{name}", f"arn:aws:sqs:eu-west-1:123456789012:{name}", 10, True)

    def idle(_event: dict[str, Any]) -> None:
        return None

    stream = StreamSource("arn:aws:dynamodb:eu-west-1:123456789012:table/j/stream/1", "j", 100)
    return {
        "start": SqsPoller("start", idle, None, source("start"), "eu-west-1"),
        "work": SqsPoller("work", idle, None, source("work"), "eu-west-1"),
        "journal": StreamPoller("journal", idle, None, stream, "eu-west-1"),
    }


def _woken_by(pollers: dict[str, Poller], call: str, params: dict[str, Any]) -> set[str]:
    emitter = HierarchicalEmitter()
    nudges = Nudges(list(pollers.values()))
    nudges.routes = (("arn:aws:sqs:eu-west-1:123456789012:start", {"source": ["bank.onboarding"]}),)
    nudges.register(emitter)
    context: dict[str, Any] = {}
    emitter.emit(f"before-parameter-build.{call}", params=params, model=None, context=context)
    emitter.emit(f"after-call.{call}", http_response=None, parsed={}, model=None, context=context)
    return {name for name, poller in pollers.items() if poller.wake.is_set()}


def test_a_call_wakes_only_the_pollers_it_gave_work() -> None:
    assert _woken_by(_pollers(), "sqs.SendMessage", {"QueueUrl": "http://elsewhere/123456789012/work"}) == {"work"}
    assert _woken_by(_pollers(), "sqs.SendMessageBatch", {"QueueUrl": "http://x/123456789012/start"}) == {"start"}
    assert _woken_by(_pollers(), "dynamodb.PutItem", {"TableName": "j"}) == {"journal"}
    trigger = {"Entries": [{"Source": "bank.onboarding", "DetailType": "application_submitted"}]}
    assert _woken_by(_pollers(), "events.PutEvents", trigger) == {"start"}
    published = {"Entries": [{"Source": "bank.platform", "DetailType": "workflow_step_completed"}]}
    assert _woken_by(_pollers(), "events.PutEvents", published) == set()


def test_an_event_may_match_a_rule_unless_its_source_or_detail_type_rules_it_out() -> None:
    entry = {"Source": "bank.staff", "DetailType": "approval_recorded"}
    assert may_match({"source": ["bank.staff"], "detail-type": ["approval_recorded"]}, entry)
    assert may_match({"source": [{"prefix": "bank."}]}, entry)  # an operator: left to EventBridge
    assert may_match({"detail": {"amount": [{"numeric": [">", 0]}]}}, entry)
    assert not may_match({"source": ["bank.staff"], "detail-type": ["approval_requested"]}, entry)
    assert not may_match({"source": ["bank.onboarding"]}, entry)


def test_the_emulator_can_run_in_its_own_process_with_step_functions_on() -> None:
    emulator = Emulator(own_process=True).start()
    try:
        sfn = boto3.client("stepfunctions", endpoint_url=emulator.url, **CREDENTIALS)
        machine = sfn.create_state_machine(
            name="own-process",
            definition='{"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": {"ok": true}, "End": true}}}',
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=machine, name="one")["executionArn"]
        deadline = time.monotonic() + 10
        while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert described["status"] == "SUCCEEDED" and described["output"] == '{"ok": true}'  # the interpreter ran it
        here = stepfunctions_backends["123456789012"]["eu-west-1"].state_machines
        assert machine not in [m.arn for m in here]  # served by the child's moto, not this process's
    finally:
        emulator.stop()
    with pytest.raises(EndpointConnectionError):  # the child is gone with its port
        sfn.list_state_machines()
