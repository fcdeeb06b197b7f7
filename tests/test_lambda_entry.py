"""The Lambda entry points themselves: configured only by the environment, as on AWS."""

from __future__ import annotations

import consumers.start
from devstack.stack import LambdaContext, LocalStack
from router.core.model import JourneyStatus, StartJourney


def test_a_handler_configured_only_by_its_environment_commits_a_start(fresh_emulator, monkeypatch) -> None:
    """consumers.start.handler reads the template's environment, builds its clients once, reports no failures."""
    stack = LocalStack(fresh_emulator).start(pollers=False)
    try:
        assert stack.stack is not None
        (function,) = [f for f in stack.stack.functions if f.logical_id == "StartFunction"]
        for name, value in {**function.environment, "AWS_ENDPOINT_URL": fresh_emulator.url}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_REGION", "eu-west-1")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
        body = StartJourney(journey_id="via-lambda", definition_id="dispute", input=_DISPUTE).model_dump_json()
        record = {
            "messageId": "m-1",
            "receiptHandle": "r-1",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:StartQueue",
            "awsRegion": "eu-west-1",
        }
        response = consumers.start.handler({"Records": [record]}, LambdaContext("StartFunction"))
        journey = stack.runtimes["StartFunction"].router.store.load("via-lambda")
    finally:
        stack.stop()
    assert response == {"batchItemFailures": []}
    assert journey is not None and journey.status is JourneyStatus.RUNNING


_DISPUTE = {
    "full_name": "Lena Lambda",
    "card_last4": "4242",
    "transaction_id": "TX-L",
    "merchant": "Acme",
    "amount": 10,
    "reason": "duplicate_charge",
    "days_since_transaction": 1,
}
