"""AWS calls per transition on the critical path, and latency per transition as the table grows.

    python -m bench.critical_path [--journeys 100] [--sizes 100,20000]

Calls are counted from the clients' own event hooks (botocore `before-call`), on the start and
advance consumers' clients only: the journal and the workers are off the critical path.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import consumers.advance
import consumers.journal
import consumers.start
import consumers.worker
from bench.machine import stamp
from consumers.runtime import Runtime
from devstack.emulator import Emulator
from devstack.run import play
from devstack.samples import SAMPLES
from devstack.stack import LocalStack
from router.core.decide import Commit
from router.core.model import StartJourney, StepSucceeded

CRITICAL = ("StartFunction", "AdvanceFunction")
RESULTS = Path(__file__).parent / "results"


def count_critical_calls(stack: LocalStack, calls: Counter[str]) -> None:
    """From now on, count in `calls` every request the start and advance consumers' clients make, by operation."""

    def record(model: Any, **_: Any) -> None:
        calls[f"{model.service_model.service_name}:{model.name}"] += 1

    for name in CRITICAL:
        for service in ("dynamodb", "sqs", "events", "stepfunctions", "sns"):
            stack.runtimes[name].client(service).meta.events.register("before-call", record)


def count_calls(stack: LocalStack) -> tuple[Counter[str], int]:
    """Play every sample with hooks on the critical-path clients; return calls by operation and commits."""
    calls: Counter[str] = Counter()
    count_critical_calls(stack, calls)
    play(stack, SAMPLES, out=lambda _line: None)
    commits = sum(stack.runtimes[name].router.counts["committed"] for name in CRITICAL)
    return calls, commits


def fill(runtime: Runtime, total: int) -> None:
    """Bring the journeys table to `total` items with realistic finished journeys, 25 per write."""
    client, table = runtime.client("dynamodb"), runtime.settings.journeys_table
    have = client.scan(TableName=table, Select="COUNT")["Count"]
    doc = json.dumps({"state": {"full_name": "Filler", "notes": "x" * 600}})
    for start in range(have, total, 25):
        items = [
            {
                "PutRequest": {
                    "Item": {
                        "journey_id": {"S": f"filler-{n:06d}"},
                        "version": {"N": "7"},
                        "status": {"S": "SUCCEEDED"},
                        "updated_at": {"N": str(1_700_000_000 + n)},
                        "doc": {"S": doc},
                    }
                }
            }
            for n in range(start, min(total, start + 25))
        ]
        client.batch_write_item(RequestItems={table: items})


def transition_latency(runtime: Runtime, journeys: int, tag: str) -> list[float]:
    """Time router.handle for a start and a step result per journey: each a read, a commit and a send."""
    router, latencies = runtime.router, []
    for n in range(journeys):
        journey_id = f"bench-{tag}-{n}"
        start = StartJourney(
            journey_id=journey_id,
            definition_id="dispute",
            input={
                "full_name": "Bench Mark",
                "card_last4": "4242",
                "transaction_id": f"TX-{n}",
                "merchant": "Acme",
                "amount": 10,
                "reason": "duplicate_charge",
                "days_since_transaction": 1,
            },
        )
        began = time.perf_counter()
        outcome = router.handle(start)
        latencies.append(time.perf_counter() - began)
        assert isinstance(outcome, Commit)
        (activation,) = outcome.journey.open
        output = {"dispute": {"category": "MERCHANT_ERROR", "reason": None, "case_id": "DSP-1"}}
        began = time.perf_counter()
        router.handle(StepSucceeded(journey_id=journey_id, activation_id=activation, output=output, actor="bench"))
        latencies.append(time.perf_counter() - began)
        if n % 10 == 9:  # keep the worker queue shallow: moto's SQS scans the whole queue per call
            drain(runtime.client("sqs"), runtime.settings.worker_queues["dispute-assess"])
    return latencies


def drain(sqs: Any, queue: str) -> None:
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=queue, Entries=entries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--journeys", type=int, default=100, help="journeys timed at each table size")
    parser.add_argument("--sizes", default="100,20000", help="table sizes to time at")
    args = parser.parse_args()
    for consumer in (consumers.advance, consumers.journal, consumers.start, consumers.worker):
        consumer.logger.setLevel("WARNING")  # figures, not per-message logs

    with LocalStack(Emulator()) as stack:
        calls, commits = count_calls(stack)
    per_transition = sum(calls.values()) / commits
    total = sum(calls.values())
    print(f"critical path: {total} AWS calls for {commits} transitions = {per_transition:.2f} per transition")
    for operation, count in calls.most_common():
        print(f"  {operation:<32} {count:>5}  ({count / commits:.2f} per transition)")
    eventbridge = sum(n for op, n in calls.items() if op.startswith("events:"))
    print(f"  EventBridge calls on the critical path: {eventbridge}")

    sizes = [int(s) for s in args.sizes.split(",")]
    medians: dict[int, float] = {}
    emulator = Emulator().start()
    try:
        stack = LocalStack(emulator).start(pollers=False)  # only the timed calls run
        runtime = stack.runtimes["AdvanceFunction"]
        for size in sizes:
            fill(runtime, size)
            latencies = transition_latency(runtime, args.journeys, str(size))
            medians[size] = statistics.median(latencies)
            p95 = statistics.quantiles(latencies, n=20)[-1]
            median_ms, p95_ms = medians[size] * 1000, p95 * 1000
            print(f"table of {size:>6} journeys: median {median_ms:.1f} ms, p95 {p95_ms:.1f} ms per transition")
    finally:
        emulator.stop()
    ratio = medians[sizes[-1]] / medians[sizes[0]]
    print(f"latency ratio {sizes[-1]} / {sizes[0]} journeys: {ratio:.2f} (target at most 1.5)")

    RESULTS.mkdir(exist_ok=True)
    result = {
        **stamp(),
        "calls_per_transition": round(per_transition, 3),
        "calls": dict(calls),
        "eventbridge_calls": eventbridge,
        "median_ms_by_table_size": {str(k): round(v * 1000, 2) for k, v in medians.items()},
        "ratio": round(ratio, 3),
    }
    (RESULTS / "critical-path.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
