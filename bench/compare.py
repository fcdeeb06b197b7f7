"""Our engine against every step on Step Functions (issue #8), on one emulator, same journeys, same workers.

    python -m bench.compare [--rounds 1]

(a) the engine: devstack.run.play on the local stack. (b) each definition compiled by router/asl.py into a
Standard state machine, started with the sample's input; its tasks are answered by the same worker
consumer through task tokens (reply "token", closed by the approvals consumer).

What is counted, per design:
- AWS calls made by the deployed code (consumers and the pollers that stand in for Lambda's event source
  mappings), from botocore hooks on the stack's session, on the consumer threads only: the bench's own
  driving (starting journeys, watching them) is left out of both. A ReceiveMessage that returned nothing is
  idle polling, a fixed cost per queue rather than per journey, and is not counted.
- Wall time: from the first start to every journey ended and the stack quiet (0.6 s settle), polled every
  0.2 s, divided by the journeys (they run concurrently); the definitions' WAIT steps sleep 2 s for real.
- Step Functions state transitions: *StateEntered events in get_execution_history of every execution
  (for (a), the retry-chain and approval executions; for (b), the journeys themselves).
- The Step Functions interpreter's own SQS sends (one per task state scheduled) run inside the emulator,
  unseen by the hooks: they are counted from TaskScheduled history events and billed as SQS requests.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import consumers.advance
import consumers.approvals
import consumers.journal
import consumers.start
import consumers.worker
from bench.critical_path import machine
from devstack.emulator import Emulator
from devstack.run import play
from devstack.samples import SAMPLES, Sample
from devstack.stack import LocalStack
from router.asl import compile_definition
from router.prices import PRICE_SOURCE, PRICES

RESULTS = Path(__file__).parent / "results"
ROLE = "arn:aws:iam::123456789012:role/journeys-compare"

# The one price table is router/prices.py. DynamoDB here: every item assumed under 1 KB, so one write is 1 WRU
# and one strongly consistent read (or query page) 1 RRU; journey items holding a large state are bigger, which
# makes (a) dearer than modelled here (the engine's own per-journey cost counts the units the service returns).
LAMBDA_MEMORY_GB = 0.5  # 512 MB, arm64
LAMBDA_SECONDS = 0.1  # assumed billed duration of one batch invocation: a few AWS calls at 10-30 ms each

_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
_READS = {"GetItem", "Query", "Scan", "BatchGetItem"}


@dataclass
class Tally:
    """What one design spent on a set of journeys."""

    calls: Counter[str] = field(default_factory=Counter)
    events: int = 0  # EventBridge entries
    invocations: int = 0  # Lambda invocations: batches that reached a consumer
    transitions: int = 0
    sfn_sqs_sends: int = 0
    seconds: float = 0.0
    journeys: int = 0
    statuses: list[str] = field(default_factory=list)

    def cost(self) -> dict[str, float]:
        """USD for all the journeys, by service."""
        c, p = self.calls, PRICES
        sqs = sum(n for op, n in c.items() if op.startswith("sqs:")) + self.sfn_sqs_sends
        writes = sum(n for op, n in c.items() if op.startswith("dynamodb:") and op.split(":")[1] in _WRITES)
        reads = sum(n for op, n in c.items() if op.startswith("dynamodb:") and op.split(":")[1] in _READS)
        lambda_each = p["lambda_request"] + LAMBDA_MEMORY_GB * LAMBDA_SECONDS * p["lambda_gb_second_arm64"]
        return {
            "step_functions": self.transitions * p["states_transition"],
            "sqs": sqs * p["sqs_request"],
            "dynamodb": writes * p["dynamodb_wru"] + reads * p["dynamodb_rru"],
            "eventbridge": self.events * p["eventbridge_event"],
            "lambda": self.invocations * lambda_each,
        }

    def per_million(self) -> dict[str, float]:
        return {k: round(v / self.journeys * 1e6, 2) for k, v in self.cost().items()}

    def report(self) -> dict[str, Any]:
        per_million = self.per_million()
        return {
            "journeys": self.journeys,
            "statuses": dict(Counter(self.statuses)),
            "aws_calls": dict(sorted(self.calls.items())),
            "aws_calls_per_journey": round(sum(self.calls.values()) / self.journeys, 2),
            "state_transitions_per_journey": round(self.transitions / self.journeys, 2),
            "sfn_sqs_sends_per_journey": round(self.sfn_sqs_sends / self.journeys, 2),
            "eventbridge_events_per_journey": round(self.events / self.journeys, 2),
            "lambda_invocations_per_journey": round(self.invocations / self.journeys, 2),
            "cost_per_million_journeys_usd": per_million | {"total": round(sum(per_million.values()), 2)},
            "wall_seconds": round(self.seconds, 2),
            "wall_seconds_per_journey": round(self.seconds / self.journeys, 3),
        }


class Recorder:
    """botocore after-call hook: counts the deployed code's calls into whichever tally is current."""

    def __init__(self) -> None:
        self.tally: Tally | None = None
        self.main = threading.main_thread()

    def __call__(self, model: Any, parsed: Any = None, **kwargs: Any) -> None:
        tally = self.tally
        if tally is None or threading.current_thread() is self.main:
            return
        name = f"{model.service_model.service_name}:{model.name}"
        parsed = parsed or {}
        if model.name == "ReceiveMessage":
            if not parsed.get("Messages"):
                return  # idle polling
            tally.invocations += 1  # the mapping hands each non-empty batch to one invocation
        if model.name == "GetRecords":
            if not parsed.get("Records"):
                return
            tally.invocations += 1
        if model.service_model.service_name == "dynamodbstreams" and model.name != "GetRecords":
            return  # Lambda's stream polling is not billed per call
        if model.name == "PutEvents":
            tally.events += len(kwargs.get("context", {}).get("entries", [])) or 1
        tally.calls[name] += 1


def _entries(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """before-call: remember how many events a PutEvents carries, for the after-call count."""
    context["entries"] = params.get("Entries", [])


def run_engine(stack: LocalStack, samples: Sequence[Sample], recorder: Recorder) -> Tally:
    tally = Tally(journeys=len(samples))
    before = _executions(stack)
    stack.wait_quiet()
    recorder.tally = tally
    began = time.monotonic()
    journeys = play(stack, samples, out=lambda _line: None)
    tally.seconds = time.monotonic() - began  # includes play's wait for the journal to catch up
    recorder.tally = None
    tally.statuses = [j.status.value for j in journeys]
    for arn in _executions(stack) - before:
        tally.transitions += _history(stack, arn)[0]
    return tally


def run_machines(stack: LocalStack, samples: Sequence[Sample], recorder: Recorder) -> Tally:
    tally = Tally(journeys=len(samples))
    sfn = stack.client("stepfunctions")
    machines: dict[str, str] = {}
    for definition_id in sorted({s.definition_id for s in samples}):
        document = compile_definition(stack.registry.get(definition_id), stack.settings().worker_queues)
        name = f"asl-{definition_id}-{uuid.uuid4().hex[:6]}"
        machines[definition_id] = sfn.create_state_machine(name=name, definition=json.dumps(document), roleArn=ROLE)[
            "stateMachineArn"
        ]
    stack.wait_quiet()
    recorder.tally = tally
    began = time.monotonic()
    arns = [
        sfn.start_execution(
            stateMachineArn=machines[s.definition_id], name=f"j-{uuid.uuid4().hex}", input=json.dumps(s.input)
        )["executionArn"]
        for s in samples
    ]
    statuses = _wait_ended(sfn, arns)
    stack.wait_quiet()  # as play() does at the end, so both walls include the same settle
    tally.seconds = time.monotonic() - began
    recorder.tally = None
    tally.statuses = statuses  # SUCCEEDED / FAILED, the engine's words too
    for arn in arns:
        entered, scheduled = _history(stack, arn)
        tally.transitions += entered
        tally.sfn_sqs_sends += scheduled
    return tally


def _wait_ended(sfn: Any, arns: list[str], timeout: float = 180) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = [sfn.describe_execution(executionArn=arn)["status"] for arn in arns]
        if "RUNNING" not in statuses:
            return statuses
        time.sleep(0.2)  # play() polls the engine's journeys every 0.2 s too
    raise TimeoutError("compiled executions still running")


def _executions(stack: LocalStack) -> set[str]:
    sfn = stack.client("stepfunctions")
    machines = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]]
    return {e["executionArn"] for m in machines for e in sfn.list_executions(stateMachineArn=m)["executions"]}


def _history(stack: LocalStack, arn: str) -> tuple[int, int]:
    """(state transitions, SQS sends by the interpreter) of one execution."""
    events = stack.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"]
    entered = sum(1 for e in events if e["type"].endswith("StateEntered"))
    scheduled = sum(
        1 for e in events if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resourceType"] == "sqs"
    )
    return entered, scheduled


def chart(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    designs = {"engine (ours)": report["engine"], "every step on Step Functions": report["step_functions"]}
    services = ["step_functions", "lambda", "sqs", "dynamodb", "eventbridge"]
    figure, (costs, calls) = plt.subplots(1, 2, figsize=(11, 4.5))
    bottoms = [0.0] * len(designs)
    for service in services:
        values = [d["cost_per_million_journeys_usd"][service] for d in designs.values()]
        costs.bar(list(designs), values, bottom=bottoms, label=service.replace("_", " "))
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    for x, total in enumerate(bottoms):
        costs.annotate(f"${total:,.0f}", (x, total), ha="center", va="bottom")
    costs.set_ylabel("USD per million journeys (list prices)")
    costs.set_title("Modelled cost by service")
    costs.legend(fontsize=8)
    names = ["aws_calls_per_journey", "state_transitions_per_journey", "wall_seconds_per_journey"]
    width = 0.38
    for offset, (label, design) in enumerate(designs.items()):
        xs = [i + (offset - 0.5) * width for i in range(len(names))]
        calls.bar(xs, [design[n] for n in names], width, label=label)
    calls.set_xticks(range(len(names)), ["AWS calls", "state transitions", "wall s"])
    calls.set_title("Per journey")
    calls.legend(fontsize=8)
    figure.suptitle(f"{report['journeys_per_design']} sample journeys per design, {report['date'][:10]}", fontsize=10)
    figure.text(0.5, 0.01, report["machine"], ha="center", fontsize=7)
    figure.tight_layout(rect=(0, 0.04, 1, 0.95))
    figure.savefig(path, dpi=120)


def table(report: dict[str, Any]) -> str:
    a, b = report["engine"], report["step_functions"]
    rows = [
        ("journeys", a["journeys"], b["journeys"]),
        ("AWS calls per journey (deployed code)", a["aws_calls_per_journey"], b["aws_calls_per_journey"]),
        ("state transitions per journey", a["state_transitions_per_journey"], b["state_transitions_per_journey"]),
        ("SQS sends by Step Functions", a["sfn_sqs_sends_per_journey"], b["sfn_sqs_sends_per_journey"]),
        ("Lambda invocations per journey", a["lambda_invocations_per_journey"], b["lambda_invocations_per_journey"]),
        ("EventBridge events per journey", a["eventbridge_events_per_journey"], b["eventbridge_events_per_journey"]),
        ("wall seconds per journey (batch / n)", a["wall_seconds_per_journey"], b["wall_seconds_per_journey"]),
    ]
    for service in [*a["cost_per_million_journeys_usd"]]:
        rows.append(
            (
                f"USD per million journeys: {service}",
                f"{a['cost_per_million_journeys_usd'][service]:,.2f}",
                f"{b['cost_per_million_journeys_usd'][service]:,.2f}",
            )
        )
    lines = [f"{'':<42} {'engine':>12} {'step functions':>15}"]
    lines += [f"{name:<42} {x!s:>12} {y!s:>15}" for name, x, y in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="times to play the samples, per design")
    args = parser.parse_args(argv)
    logging.getLogger("moto").setLevel(logging.CRITICAL)  # the interpreter logs every Fail state as an exception
    for consumer in (consumers.advance, consumers.approvals, consumers.journal, consumers.start, consumers.worker):
        consumer.logger.setLevel("WARNING")
    samples = [s for s in SAMPLES if not s.answers and s.definition_id != "kyc-uplift"] * args.rounds
    recorder = Recorder()
    with LocalStack(Emulator(), hooks=[("before-call.*.*", _entries), ("after-call.*.*", recorder)]) as stack:
        engine = run_engine(stack, samples, recorder)
        machines = run_machines(stack, samples, recorder)
    expected = [s.expect for s in samples]
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "samples": sorted({s.title for s in samples}),
        "journeys_per_design": len(samples),
        "outcomes_match_expected": {
            "engine": engine.statuses == expected,
            "step_functions": machines.statuses == expected,
        },
        "prices_usd": PRICES,
        "price_source": PRICE_SOURCE,
        "assumptions": {
            "dynamodb": "items under 1 KB: 1 WRU per write, 1 RRU per strongly consistent read",
            "lambda": f"{LAMBDA_SECONDS * 1000:.0f} ms billed per invocation, {LAMBDA_MEMORY_GB * 1024:.0f} MB arm64; "
            "one invocation per non-empty SQS batch or stream batch",
            "excluded": "the producer's start call and idle queue polling, in both designs; free tiers",
        },
        "engine": engine.report(),
        "step_functions": machines.report(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "compare.json").write_text(json.dumps(report, indent=2) + "\n")
    chart(report, RESULTS / "compare.png")
    print(table(report))
    print(f"outcomes as expected: {report['outcomes_match_expected']}")
    print(f"wrote {RESULTS / 'compare.json'} and {RESULTS / 'compare.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
