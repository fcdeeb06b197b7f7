"""Claim check on the emulator: a 1 MB step output completes through S3, one over the hard limit fails its step."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from devstack.emulator import Emulator
from devstack.stack import LocalStack
from reliability.instruments import rewrapped, waited
from router.adapters.claims import CLAIM, CLAIM_BYTES, OUTPUT_LIMIT
from router.adapters.dynamodb import item_bytes
from router.core.model import JourneyStatus, StartJourney
from router.language.loader import parse
from router.language.registry import Registry
from workers.samples import SAMPLES

FLOW = """
id: claim-flow
version: "1.0.0"
owning_domain: bank-core
input_schema: {type: object, required: [size], properties: {size: {type: integer}}}
start_at: produce
steps:
  - {name: produce, type: TASK, worker: kyc, sla_seconds: 60, next: consume}
  - {name: consume, type: TASK, worker: notify-customer, sla_seconds: 60, next: done}
  - {name: done, type: SUCCESS}
"""


class Report:
    """kyc returns a report of `size` bytes; notify-customer measures the report it is handed."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def __call__(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if name == "kyc":

            def produce(size: int) -> dict[str, Any]:
                return {"report": "r" * size}

            return produce
        if name == "notify-customer":

            def consume(report: str) -> dict[str, Any]:
                self.seen.append(len(report))
                return {"notified": True}

            return consume
        return fn


def run(emulator: Emulator, size: int) -> tuple[LocalStack, Any, Report, dict[str, Any]]:
    report = Report()
    with LocalStack(emulator, workers=rewrapped(SAMPLES, report), registry=Registry([parse(FLOW)])) as stack:
        router = stack.runtimes["StartFunction"].router
        router.handle(StartJourney(journey_id="claimed", definition_id="claim-flow", input={"size": size}))
        store = stack.runtimes["AdvanceFunction"].router.store
        journey = waited(lambda: (j := store.load("claimed")) and j.status is not JourneyStatus.RUNNING and j)
        stack.wait_quiet()
        item = stack.client("dynamodb").get_item(
            TableName=stack.settings().journeys_table, Key={"journey_id": {"S": "claimed"}}
        )["Item"]
        dead = {
            name: stack.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            for name, url in stack.stack.resources.items()
            if name.endswith("DLQ")
        }
        objects = stack.client("s3").list_objects_v2(Bucket=stack.stack.resources["PayloadBucket"]).get("Contents", [])
    counts = {name: int(a["Attributes"]["ApproximateNumberOfMessages"]) for name, a in dead.items()}
    return stack, journey, report, {"item": item, "dead": counts, "objects": objects}


def test_a_one_megabyte_output_completes_through_the_claim_check(fresh_emulator: Emulator) -> None:
    """The output goes to S3; the journey item and every message carry a pointer; the next step gets the report."""
    _, journey, report, seen = run(fresh_emulator, 1024 * 1024)
    assert journey.status is JourneyStatus.SUCCEEDED
    assert report.seen == [1024 * 1024]  # resolved for the next worker, whole
    (pointer,) = [v for k, v in journey.state.items() if k.startswith(CLAIM)]
    assert "report" not in journey.state and pointer["bytes"] > 1024 * 1024
    assert [o["Key"] for o in seen["objects"]] == [pointer["key"]]
    assert item_bytes(seen["item"]) < CLAIM_BYTES and not any(seen["dead"].values())


def test_an_output_over_the_hard_limit_fails_its_step_by_name_and_nothing_is_dead_lettered(
    fresh_emulator: Emulator,
) -> None:
    """Past OUTPUT_LIMIT nothing is stored: the step fails with OutputTooLarge, the journey's own failure path."""
    _, journey, report, seen = run(fresh_emulator, OUTPUT_LIMIT + 1)
    assert journey.status is JourneyStatus.FAILED
    assert journey.error["error"] == "OutputTooLarge" and "limit" in journey.error["message"]
    assert report.seen == [] and seen["objects"] == [] and not any(seen["dead"].values())
    assert json.dumps(journey.state).count("r" * 100) == 0
