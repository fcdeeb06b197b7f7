"""Throughput and latency of the local stack with 1,000 journeys started at once.

    python -m bench.throughput [--journeys 1000] [--consumers 2] [--emulator process|thread]
    (other counts write results/throughput-N.json)

The samples without customer input or approvals (devstack/samples.py) are started round-robin, all
at once: StartJourney messages sent to the start queue ten per SendMessageBatch, as fast as the
emulator takes them. Then the stack's pollers run them to the end, as in `make run`.

Measured from botocore hooks on the stack's session (no extra AWS calls):
- when each event the router consumes was sent: a start (by this script), a worker's answer, a timer
  (its send time plus its DelaySeconds, the earliest it can be received);
- when each transition committed: the journey table's conditional PutItem returning success.
Per-transition latency is commit minus send; a journey's wall time is its last commit minus its start
send. Journeys/s and transitions/s are over the whole run, first start sent to last journey ended.
A journey whose step misses its SLA under this load is retried and then escalated (STUCK), as it would
be in production: it counts as ended when escalated, and the escalations are reported.
The emulator runs in its own process (`--emulator thread` keeps it in the stack's process, as `make run`
does), so it does not share a GIL with the pollers and consumers; it still serves one request at a time,
and it is what limits these figures. They are figures for the local stack on this machine, not for AWS.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import consumers.advance
import consumers.approvals
import consumers.journal
import consumers.retry
import consumers.start
import consumers.watchdog
import consumers.worker
from bench.machine import stamp
from devstack.emulator import Emulator
from devstack.samples import SAMPLES
from devstack.stack import LocalStack
from router.adapters.dynamodb import unpacked
from router.core.model import StartJourney

RESULTS = Path(__file__).parent / "results"
ANSWERS = {"step_succeeded", "step_failed", "timer_fired", "input_submitted", "approval_outcome"}
FINISHED = {"SUCCEEDED", "FAILED", "CANCELLED"}
ENDED = FINISHED | {"STUCK"}  # escalated after a missed SLA: ended for this count, and counted apart


class Clocks:
    """botocore hooks: when events were sent and when transitions committed."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}  # activation id (or journey id, for a start) -> earliest receive
        self.commits: list[tuple[str, int, str | None, float]] = []  # journey, seq, activation, committed at
        self.ended: dict[str, float] = {}  # journey -> when it finished or was escalated
        self.escalated: set[str] = set()
        self.table = ""
        self._lock = threading.Lock()

    def before_send(self, params: dict[str, Any], **_: Any) -> None:
        now = time.time()
        entries = params.get("Entries") or [params]
        for entry in entries:
            body = json.loads(entry.get("MessageBody", "{}"))
            if isinstance(body, dict) and body.get("kind") in ANSWERS and body.get("activation_id"):
                self.sent[body["activation_id"]] = now + int(entry.get("DelaySeconds", 0))

    def before_put(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == self.table:
            context["transition"] = unpacked(params["Item"]["last_transition"])

    def after_put(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if "transition" not in context or http_response.status_code != 200:
            return  # another table, or a lost race (ConditionalCheckFailed)
        now, record = time.time(), json.loads(context["transition"])
        with self._lock:
            self.commits.append((record["journey_id"], record["seq"], record.get("activation_id"), now))
            if record["status"] in ENDED:
                self.ended[record["journey_id"]] = now
            if record["status"] == "STUCK":
                self.escalated.add(record["journey_id"])

    def hooks(self) -> list[tuple[str, Any]]:
        return [
            ("before-parameter-build.sqs.SendMessage", self.before_send),
            ("before-parameter-build.sqs.SendMessageBatch", self.before_send),
            ("before-parameter-build.dynamodb.PutItem", self.before_put),
            ("after-call.dynamodb.PutItem", self.after_put),
        ]


def start_all(stack: LocalStack, journeys: int, clocks: Clocks) -> float:
    """Send every start, ten per request; the time the first was sent."""
    samples = [s for s in SAMPLES if not s.answers and not s.approvers]
    sqs, queue = stack.client("sqs"), stack.settings().start_queue_url
    starts = [
        StartJourney(journey_id=f"tp-{n:05d}", definition_id=s.definition_id, input=s.input, actor="bench")
        for n, s in ((n, samples[n % len(samples)]) for n in range(journeys))
    ]
    began = time.time()
    for at in range(0, len(starts), 10):
        batch = starts[at : at + 10]
        now = time.time()
        for start in batch:
            clocks.sent[start.journey_id] = now
        entries = [{"Id": str(i), "MessageBody": s.model_dump_json()} for i, s in enumerate(batch)]
        sqs.send_message_batch(QueueUrl=queue, Entries=entries)
    return began


def percentiles(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(cuts[49] * 1000, 1), "p90": round(cuts[89] * 1000, 1), "p99": round(cuts[98] * 1000, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=1000)
    parser.add_argument("--consumers", type=int, default=2, help="consumer threads per queue (concurrent batches)")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds to wait for the journeys to end")
    parser.add_argument(
        "--emulator", choices=["process", "thread"], default="process", help="the emulator in its own process or not"
    )
    args = parser.parse_args(argv)
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    for consumer in (consumers.advance, consumers.approvals, consumers.journal, consumers.retry, consumers.start):
        consumer.logger.setLevel("ERROR")
    consumers.watchdog.logger.setLevel("ERROR")
    consumers.worker.logger.setLevel("ERROR")
    clocks = Clocks()
    emulator = Emulator(own_process=args.emulator == "process")
    stack = LocalStack(emulator, hooks=clocks.hooks(), consumers_per_queue=args.consumers)
    with stack:
        clocks.table = stack.settings().journeys_table
        began = start_all(stack, args.journeys, clocks)
        sent = time.time() - began
        print(f"{args.journeys} starts sent in {sent:.1f} s", flush=True)
        while len(clocks.ended) < args.journeys and time.time() - began < args.timeout:
            time.sleep(10)
            print(f"  {time.time() - began:6.0f} s: {len(clocks.ended)} journeys ended", flush=True)
        ended_at = max(clocks.ended.values(), default=time.time())
    ended = len(clocks.ended)
    if ended < args.journeys:  # still written: what this machine managed within the time given is the figure
        print(f"only {ended} of {args.journeys} journeys ended within {args.timeout:.0f} s")
        ended_at = time.time()
    latencies = [at - clocks.sent[a or j] for j, _seq, a, at in clocks.commits if (a or j) in clocks.sent]
    walls = [clocks.ended[j] - clocks.sent[j] for j in clocks.ended]
    duration = ended_at - began
    result = {
        **stamp(),
        "journeys": args.journeys,
        "journeys_ended": ended,
        "timeout_seconds": args.timeout,
        "consumer_threads_per_queue": args.consumers,
        "emulator": "its own process" if args.emulator == "process" else "a thread of the stack's process",
        "samples": sorted({s.title for s in SAMPLES if not s.answers and not s.approvers}),
        "starts_sent_seconds": round(sent, 2),
        "duration_seconds": round(duration, 2),
        "journeys_per_second": round(ended / duration, 3),
        "escalated_after_missed_sla": len(clocks.escalated),
        "transitions": len(clocks.commits),
        "transitions_per_second": round(len(clocks.commits) / duration, 2),
        "transition_latency_ms": percentiles(latencies) | {"measured": len(latencies)},
        "journey_wall_ms": percentiles(walls),
        "by_sequence": dict(sorted(Counter(seq for _, seq, _, _ in clocks.commits).items())),
    }
    RESULTS.mkdir(exist_ok=True)
    name = "throughput.json" if args.journeys == 1000 else f"throughput-{args.journeys}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    lat, wall = result["transition_latency_ms"], result["journey_wall_ms"]
    print(
        f"{ended} of {args.journeys} journeys ended in {duration:.1f} s: {result['journeys_per_second']} journeys/s, "
        f"{result['transitions_per_second']} transitions/s ({len(clocks.commits)} transitions), "
        f"{len(clocks.escalated)} escalated after a missed SLA"
    )
    print(f"  per-transition latency (send -> commit): p50 {lat['p50']} ms, p90 {lat['p90']} ms, p99 {lat['p99']} ms")
    print(f"  per-journey wall time: p50 {wall['p50']} ms, p90 {wall['p90']} ms, p99 {wall['p99']} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
