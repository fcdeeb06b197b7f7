"""Our engine against every step on Step Functions (issue #8), on one emulator, same journeys, same workers.

    python -m bench.compare [--rounds 1]

Every sample journey (devstack/samples.py: SAMPLES and PAYMENT_SAMPLES, which cover every definition in
definitions/) runs both ways, one sample at a time so each one's calls are its own:
(a) the engine: devstack.run.play on the local stack; the customer answers INPUT steps and staff decide
approval levels as soon as they see them. (b) the definition compiled by router/language/asl.py into a Standard
state machine, started with the sample's input; its tasks are answered by the same worker consumer
through task tokens (reply "token", closed by the approvals consumer); an INPUT step is a
`.waitForTaskToken` the customer's answer closes, an approval level one the approver's decision closes
(both answered by this script at once, as the customer and staff are in (a)).

What is counted, per design:
- AWS calls made by the deployed code (consumers and the pollers that stand in for Lambda's event source
  mappings), from botocore hooks on the stack's session, on the consumer threads only: the bench's own
  driving (starting journeys, watching them) is left out of both. A ReceiveMessage that returned nothing is
  idle polling, a fixed cost per queue rather than per journey, and is not counted.
- Wall time per journey: from the start call to the journey's last commit (a) or the execution's stop
  date (b); answers are polled every 0.2 s in both; the definitions' WAIT steps sleep 2 s for real.
- Not counted in either design: the customer's and staff's own calls (submitting an answer, recording a
  decision; one API call each way). In (b) the approval levels are answered directly, with no ticket store,
  maker-checker check or approval_requested event, all of which (a) pays for: (b) is flattered there.
- Step Functions state transitions: *StateEntered events in get_execution_history of every execution
  (for (a), the retry-chain and approval executions; for (b), the journeys themselves).
- The Step Functions interpreter's own SQS sends (one per task state scheduled) run inside the emulator,
  unseen by the hooks: they are counted from TaskScheduled history events and billed as SQS requests.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import consumers.advance
import consumers.approvals
import consumers.journal
import consumers.start
import consumers.worker
from bench.machine import stamp
from devstack.emulator import Emulator
from devstack.run import StaffDesk, play
from devstack.samples import PAYMENT_SAMPLES, SAMPLES, Sample
from devstack.stack import LocalStack
from router.core.prices import PRICE_SOURCE, PRICES
from router.core.usage import DYNAMODB_READS, DYNAMODB_WRITES, Usage, cost_by_service
from router.language.asl import APPROVAL_QUEUE, INPUT_QUEUE, compile_definition

RESULTS = Path(__file__).parent / "results"
ROLE = "arn:aws:iam::123456789012:role/journeys-compare"

# The one price table is router/core/prices.py. DynamoDB here: every item assumed under 1 KB, so one write is 1 WRU
# and one strongly consistent read (or query page) 1 RRU; journey items holding a large state are bigger, which
# makes (a) dearer than modelled here (the engine's own per-journey cost counts the units the service returns).
LAMBDA_MEMORY_GB = 0.5  # 512 MB, arm64
LAMBDA_SECONDS = 0.1  # assumed billed duration of one batch invocation: a few AWS calls at 10-30 ms each


@dataclass
class Tally:
    """What one design spent on a set of journeys."""

    calls: Counter[str] = field(default_factory=Counter)
    events: int = 0  # EventBridge entries
    invocations: int = 0  # Lambda invocations: batches that reached a consumer
    transitions: int = 0
    sfn_sqs_sends: int = 0
    journeys: int = 0
    statuses: list[str] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)  # seconds per journey, start call to its end

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.calls + other.calls,
            self.events + other.events,
            self.invocations + other.invocations,
            self.transitions + other.transitions,
            self.sfn_sqs_sends + other.sfn_sqs_sends,
            self.journeys + other.journeys,
            self.statuses + other.statuses,
            self.walls + other.walls,
        )

    def usage(self) -> Usage:
        """The tally as the engine's own Usage: one capacity unit per DynamoDB call (items under 1 KB), and each
        EventBridge entry counted as one PutEvents (priced per entry)."""
        calls, read_units, write_units = Counter[str](), 0, 0
        for op, n in self.calls.items():
            service, name = op.split(":")
            if service == "dynamodb":
                read_units += n if name in DYNAMODB_READS else 0
                write_units += n if name in DYNAMODB_WRITES else 0
            elif service in ("sqs", "sns"):
                calls[f"{service}.{name}"] += n
        calls["sqs.SendMessage"] += self.sfn_sqs_sends
        calls["events.PutEvents"] = self.events
        units = {"read_units": read_units, "write_units": write_units}
        return Usage(calls=dict(calls), sfn_transitions=self.transitions, **units)

    def cost(self) -> dict[str, float]:
        """USD for all the journeys, by service: the engine's own pricing (router/core/usage.py), plus Lambda."""
        lambda_each = PRICES["lambda_request"] + LAMBDA_MEMORY_GB * LAMBDA_SECONDS * PRICES["lambda_gb_second_arm64"]
        return cost_by_service(self.usage()) | {"lambda": self.invocations * lambda_each}

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
            "wall_seconds_per_journey": round(statistics.median(self.walls), 3),
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
    """Before the request is built: remember how many events a PutEvents carries, for the after-call count."""
    context["entries"] = params.get("Entries", [])


def run_engine(stack: LocalStack, samples: Sequence[Sample], recorder: Recorder) -> Tally:
    tally = Tally(journeys=len(samples))
    before = _executions(stack)
    stack.wait_quiet()
    recorder.tally = tally
    began = time.time()
    journeys = play(stack, samples, out=lambda _line: None)  # returns once the stack is quiet again
    recorder.tally = None
    tally.statuses = [j.status.value for j in journeys]
    tally.walls = [j.updated_at - began for j in journeys]
    for arn in _executions(stack) - before:
        tally.transitions += _history(stack, arn)[0]
    return tally


class Answerer:
    """The customer and the staff of design (b): answer INPUT and approval token waits from their queues."""

    def __init__(self, stack: LocalStack) -> None:
        self.sqs, self.sfn = stack.client("sqs"), stack.client("stepfunctions")
        self.queues = {
            name: self.sqs.create_queue(QueueName=f"compare-{name}")["QueueUrl"]
            for name in (INPUT_QUEUE, APPROVAL_QUEUE)
        }
        self.samples: dict[str, Sample] = {}  # execution name -> sample

    def answer(self) -> None:
        for name, queue in self.queues.items():
            for message in self.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
                body = json.loads(message["Body"])
                sample = self.samples[body["journey_id"]]
                output = sample.answers[body["step"]] if name == INPUT_QUEUE else self._approval(sample, body)
                self.sfn.send_task_success(taskToken=body["task_token"], output=json.dumps(output))
                self.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

    @staticmethod
    def _approval(sample: Sample, ticket: dict[str, Any]) -> dict[str, Any]:
        approver, _role = sample.approvers[ticket["levels"][0]["level"] - 1]
        approvers = [*ticket.get("approvers", []), approver]
        return {"outcome": "granted", "approvers": approvers, "rejected_by": None, "reason": None}


def run_machines(stack: LocalStack, samples: Sequence[Sample], recorder: Recorder, answerer: Answerer) -> Tally:
    tally = Tally(journeys=len(samples))
    sfn = stack.client("stepfunctions")
    queues = stack.settings().worker_queues | answerer.queues
    machines: dict[str, str] = {}
    for definition_id in sorted({s.definition_id for s in samples}):
        document = compile_definition(stack.registry.get(definition_id), queues)
        name = f"asl-{definition_id}-{uuid.uuid4().hex[:6]}"
        machines[definition_id] = sfn.create_state_machine(name=name, definition=json.dumps(document), roleArn=ROLE)[
            "stateMachineArn"
        ]
    stack.wait_quiet()
    recorder.tally = tally
    arns, began = [], time.time()
    for sample in samples:
        name = f"j-{uuid.uuid4().hex}"
        answerer.samples[name] = sample
        arns.append(
            sfn.start_execution(
                stateMachineArn=machines[sample.definition_id], name=name, input=json.dumps(sample.input)
            )["executionArn"]
        )
    ended = _wait_ended(sfn, arns, answerer)
    stack.wait_quiet()  # as play() does at the end, so both count the same settled stack
    recorder.tally = None
    tally.statuses = [e["status"] for e in ended]  # SUCCEEDED / FAILED, the engine's words too
    tally.walls = [e["stopDate"].timestamp() - began for e in ended]
    for arn in arns:
        entered, scheduled = _history(stack, arn)
        tally.transitions += entered
        tally.sfn_sqs_sends += scheduled
    return tally


def _wait_ended(sfn: Any, arns: list[str], answerer: Answerer, timeout: float = 180) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answerer.answer()
        executions = [sfn.describe_execution(executionArn=arn) for arn in arns]
        if all(e["status"] != "RUNNING" for e in executions):
            return executions
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

    rows = report["samples"]
    figure, (by_sample, by_service) = plt.subplots(1, 2, figsize=(14, 5.5), gridspec_kw={"width_ratios": [2.2, 1]})
    width = 0.4
    for offset, (key, label) in enumerate([("engine", "engine (ours)"), ("step_functions", "every step on SFN")]):
        xs = [i + (offset - 0.5) * width for i in range(len(rows))]
        by_sample.bar(xs, [r[key]["cost_per_million_journeys_usd"]["total"] for r in rows], width, label=label)
    for i, row in enumerate(rows):
        top = row["step_functions"]["cost_per_million_journeys_usd"]["total"]
        by_sample.annotate(f"x{row['cost_ratio']:.2f}", (i, top), ha="center", va="bottom", fontsize=7)
    by_sample.set_xticks(range(len(rows)), [r["title"] for r in rows], rotation=35, ha="right", fontsize=7)
    by_sample.set_ylabel("USD per million journeys (list prices)")
    by_sample.set_title("Modelled cost per sample journey (label: engine / SFN ratio)")
    by_sample.legend(fontsize=8)

    designs = {"engine": report["all"]["engine"], "every step on SFN": report["all"]["step_functions"]}
    bottoms = [0.0] * len(designs)
    for service in ["step_functions", "lambda", "sqs", "sns", "dynamodb", "eventbridge"]:
        values = [d["cost_per_million_journeys_usd"].get(service, 0.0) for d in designs.values()]
        by_service.bar(list(designs), values, bottom=bottoms, label=service.replace("_", " "))
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    for x, total in enumerate(bottoms):
        by_service.annotate(f"${total:,.0f}", (x, total), ha="center", va="bottom")
    by_service.set_title("All samples, by service")
    by_service.set_ylim(0, max(bottoms) * 1.12)
    by_service.legend(fontsize=8)
    figure.suptitle(f"Every sample journey both ways on one emulator, {report['date'][:10]}", fontsize=10)
    machine = report["machine"]
    figure.text(
        0.5,
        0.01,
        f"{machine['cpu_model']}, {machine['cores']} cores, {machine['memory_gb']} GB, "
        f"{machine['platform']}, Python {machine['python']}",
        ha="center",
        fontsize=7,
    )
    figure.tight_layout(rect=(0, 0.03, 1, 0.95))
    figure.savefig(path, dpi=120)


def table(report: dict[str, Any]) -> str:
    head = f"{'sample':<50} {'engine $/M':>11} {'SFN $/M':>9} {'ratio':>6} {'calls':>6} {'SFN st':>6} {'wall s':>13}"
    lines = [head]
    for row in [*report["samples"], {"title": "all samples", **report["all"]}]:
        a, b = row["engine"], row["step_functions"]
        walls = f"{a['wall_seconds_per_journey']:.1f} / {b['wall_seconds_per_journey']:.1f}"
        lines.append(
            f"{row['title'][:50]:<50} {a['cost_per_million_journeys_usd']['total']:>11,.2f} "
            f"{b['cost_per_million_journeys_usd']['total']:>9,.2f} {row['cost_ratio']:>6.2f} "
            f"{a['aws_calls_per_journey']:>6} {b['state_transitions_per_journey']:>6} {walls:>13}"
        )
    lines.append("calls: the engine's AWS calls per journey; SFN st: state transitions per journey in design (b);")
    lines.append("wall s: median seconds per journey, engine / every step on Step Functions")
    return "\n".join(lines)


def both(title: str, engine: Tally, machines: Tally, expected: list[str]) -> dict[str, Any]:
    a, b = engine.report(), machines.report()
    return {
        "title": title,
        "outcomes_match_expected": {
            "engine": engine.statuses == expected,
            "step_functions": machines.statuses == expected,
        },
        "cost_ratio": round(
            a["cost_per_million_journeys_usd"]["total"] / b["cost_per_million_journeys_usd"]["total"], 3
        ),
        "engine": a,
        "step_functions": b,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="journeys per sample, per design")
    args = parser.parse_args(argv)
    logging.getLogger("moto").setLevel(logging.CRITICAL)  # the interpreter logs every Fail state as an exception
    for consumer in (consumers.advance, consumers.approvals, consumers.journal, consumers.start, consumers.worker):
        consumer.logger.setLevel("WARNING")
    StaffDesk.PAUSE = 0  # staff decide as soon as they see a ticket, as the Answerer does in (b)
    recorder = Recorder()
    rows, engine_all, machines_all = [], Tally(), Tally()
    with LocalStack(
        Emulator(), hooks=[("before-parameter-build.*.*", _entries), ("after-call.*.*", recorder)]
    ) as stack:
        answerer = Answerer(stack)
        for sample in [*SAMPLES, *PAYMENT_SAMPLES]:
            batch = [sample] * args.rounds
            engine = run_engine(stack, batch, recorder)
            machines = run_machines(stack, batch, recorder, answerer)
            rows.append(
                both(sample.title, engine, machines, [s.expect for s in batch])
                | {"definition_id": sample.definition_id}
            )
            engine_all, machines_all = engine_all + engine, machines_all + machines
            print(f"  {sample.title}: ratio {rows[-1]['cost_ratio']:.2f}", flush=True)
    total = both("all samples", engine_all, machines_all, engine_all.statuses)
    report = {
        **stamp(),
        "samples": rows,
        "all": {k: total[k] for k in ("cost_ratio", "engine", "step_functions")},
        "outcomes_match_expected": all(all(r["outcomes_match_expected"].values()) for r in rows),
        "target": "cost ratio at most 0.4 for every sample journey",
        "target_met": all(r["cost_ratio"] <= 0.4 for r in rows),
        "prices_usd": PRICES,
        "price_source": PRICE_SOURCE,
        "assumptions": {
            "dynamodb": "items under 1 KB: 1 WRU per write, 1 RRU per strongly consistent read",
            "lambda": f"{LAMBDA_SECONDS * 1000:.0f} ms billed per invocation, {LAMBDA_MEMORY_GB * 1024:.0f} MB arm64; "
            "one invocation per non-empty SQS batch or stream batch (one journey at a time: no batching)",
            "excluded": "the producer's start call, the customer's and staff's answer calls and idle queue polling, "
            "in both designs; free tiers",
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "compare.json").write_text(json.dumps(report, indent=2) + "\n")
    chart(report, RESULTS / "compare.png")
    print(table(report))
    print(f"outcomes as expected: {report['outcomes_match_expected']}; every ratio <= 0.4: {report['target_met']}")
    print(f"wrote {RESULTS / 'compare.json'} and {RESULTS / 'compare.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
