"""Items that stay small and expire: retention TTL on a finished journey and its timeline, on the emulator."""

from __future__ import annotations

from devstack.emulator import Emulator
from devstack.stack import LocalStack
from reliability.instruments import rewrapped, waited
from router.adapters.dynamodb import record_from_item
from router.core.model import JourneyStatus, StartJourney
from router.core.transition import DAY
from router.language.loader import parse
from router.language.registry import Registry
from tests.test_failures_emulator import Flaky, journey
from workers.samples import SAMPLES

RETAINED = """
id: retained-flow
version: "1.0.0"
owning_domain: bank-core
retention_days: 30
input_schema: {type: object, required: [full_name], properties: {full_name: {type: string}}}
start_at: verify
steps:
  - {name: verify, type: TASK, worker: kyc, sla_seconds: 30, next: done}
  - {name: done, type: SUCCESS}
"""


def test_a_finished_journey_and_its_timeline_carry_expires_at_from_retention_days(fresh_emulator: Emulator) -> None:
    """While running the journey item has no TTL; once finished it and every timeline item expire
    retention_days after they were written, as epoch seconds DynamoDB's TTL reads."""
    registry = Registry([parse(RETAINED)])
    with LocalStack(fresh_emulator, workers=rewrapped(SAMPLES, Flaky({})), registry=registry) as stack:
        router = stack.runtimes["StartFunction"].router
        router.handle(StartJourney(journey_id="kept", definition_id="retained-flow", input={"full_name": "Kim"}))
        ddb, settings = stack.client("dynamodb"), stack.settings()
        running = ddb.get_item(TableName=settings.journeys_table, Key={"journey_id": {"S": "kept"}})["Item"]
        waited(lambda: journey(stack, "kept").status is JourneyStatus.SUCCEEDED)
        stack.wait_quiet()
        done = ddb.get_item(TableName=settings.journeys_table, Key={"journey_id": {"S": "kept"}})["Item"]
        log = ddb.query(
            TableName=settings.transition_log_table,
            KeyConditionExpression="journey_id = :j",
            ExpressionAttributeValues={":j": {"S": "kept"}},
        )["Items"]
    assert "expires_at" not in running
    finished_at = float(done["updated_at"]["N"])
    assert int(done["expires_at"]["N"]) == int(finished_at + 30 * DAY)
    assert len(log) == 2 and all("expires_at" in item for item in log)
    for item in log:
        written = record_from_item(item).at
        assert int(item["expires_at"]["N"]) == int(written + 30 * DAY)
