"""Capacity and cost of one deployment on AWS, from real item sizes and calls recorded on the emulator.

    python -m bench.capacity

Writes bench/results/capacity.json:
- per sample journey (devstack/samples.py, played on the local stack as bench/compare.py does): every DynamoDB
  write the deployed code made, with the bytes of each item written (a botocore hook on the consumers' clients),
  turned into write units as DynamoDB bills them: a put replacing an item costs the larger of the two images, one
  unit per started KB; each GSI entry whose key or projection changed costs a put (and a delete when it moved),
  so the index writes are computed from the journey items themselves (router/adapters/dynamodb.py journey_item);
  reads one unit per started 4 KB, strongly consistent. Lambda duration is measured (each consumer invocation
  timed in-process); logs are the bytes the consumers' loggers wrote, plus Lambda's START/END/REPORT lines.
- write units per transition for synthetic journeys of 5, 50 and 500 steps (a loop definition, through the
  real decide/transition and journey_item): flat, since the item keeps a bounded summary.
- the hottest index key's share (write-sharded keys over router/core/shards.py SHARDS, measured on 100,000 ids), and
  the projected ceiling of one deployment under default quotas, each resource's own ceiling, the binding one.
- cost per million journeys, engine against Step Functions Standard, Express and Lambda durable functions; their
  state transitions and Lambda invocations are the ones bench/compare.py measured (bench/results/compare.json).
Prices: router/core/prices.py, dated.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import consumers.advance
import consumers.approvals
import consumers.journal
import consumers.start
import consumers.watchdog
import consumers.worker
from bench.machine import stamp
from devstack.emulator import Emulator
from devstack.run import StaffDesk, play
from devstack.samples import PAYMENT_SAMPLES, SAMPLES, Sample
from devstack.stack import LocalStack
from router.adapters.dynamodb import item_bytes, journey_item
from router.core.model import StartJourney, StepSucceeded
from router.core.prices import CAPACITY_PRICES, PRICE_DATE, PRICE_SOURCE
from router.core.shards import SHARDS, status_key
from router.core.transition import DAY
from router.language.loader import parse
from router.language.registry import Registry
from router.ports.memory import MemoryDispatcher, MemoryStore
from router.runtime.service import Router

RESULTS = Path(__file__).parent / "results"
CONSUMERS = (consumers.advance, consumers.approvals, consumers.journal, consumers.start, consumers.worker)
LAMBDA_MEMORY_GB = 0.5  # infra/template.yaml Globals: 512 MB, arm64
LAMBDA_PLATFORM_LOG_BYTES = 350  # START, END and REPORT lines Lambda writes for every invocation
XRAY_SAMPLED = 0.05  # the default sampling rule: one request a second, then 5% (Tracing: Active, no custom rule)
RETENTION_MONTHS = 400 * DAY / (30.44 * DAY)  # Definition.retention_days default, in billing months
INDEX_ENTRY_BYTES = 200  # a keys-only or small INCLUDE index entry: well under 1 KB, one unit per write

# Default quotas (us-east-1): https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html,
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html,
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html
QUOTAS = {
    "dynamodb_table_wru_per_second": 40_000,  # on-demand, per table (each GSI has its own)
    "dynamodb_table_rru_per_second": 40_000,
    "dynamodb_partition_wru_per_second": 1_000,  # per partition key, tables and GSIs alike
    "lambda_concurrent_executions": 1_000,  # per account and region
    "eventbridge_put_events_per_second": 10_000,  # PutEvents requests, us-east-1
}

LOOP = """
id: capacity-loop
version: "1.0.0"
owning_domain: bank-core
input_schema: {type: object}
start_at: work
steps:
  - {name: work, type: TASK, worker: kyc, sla_seconds: 60, next: again}
  - name: again
    type: DECISION
    branches: [{when: "done == `true`", goto: finished}]
    default: work
  - {name: finished, type: SUCCESS}
"""


def wru(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def rru(size: int) -> int:
    return max(1, math.ceil(size / 4096))


def journey_write_units(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, int]:
    """The write units one journey put costs: the table (larger image) and each GSI whose entry changed."""
    units = {"journeys_table": wru(max(item_bytes(before) if before else 0, item_bytes(after)))}
    for index, keys in (
        ("by_status_shard", ("status_shard", "created_at")),
        ("by_deadline_shard", ("due_shard", "due")),
    ):
        old = tuple(before.get(k) for k in keys) if before else (None,)
        new = tuple(after.get(k) for k in keys)
        had, has = before is not None and old[0] is not None, new[0] is not None
        moved = had and has and old != new
        units[index] = (2 if moved else int(had != has or (has and not had))) * wru(INDEX_ENTRY_BYTES)
    return units


@dataclass
class Recording:
    """What the deployed code did for one sample: writes by table, item sizes, reads, calls, invocations."""

    journey_items: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    log_bytes: list[int] = field(default_factory=list)
    other_writes: Counter[str] = field(default_factory=Counter)  # table -> write units
    reads: Counter[str] = field(default_factory=Counter)  # table or index -> read units
    calls: Counter[str] = field(default_factory=Counter)
    events: int = 0
    invocations: int = 0
    # consumer -> [seconds, invocations, records (messages or stream records)], timed in-process
    by_function: dict[str, list[float]] = field(default_factory=lambda: defaultdict(lambda: [0.0, 0, 0]))
    log_lines_bytes: int = 0


class Recorder:
    """botocore hooks (before the request: parameters and item sizes; after: what came back) and timed consumers,
    on the consumer threads only: the bench's own driving is left out, as in bench/compare.py."""

    def __init__(self, tables: dict[str, str]) -> None:
        self.tables, self.current, self.main = tables, None, threading.main_thread()
        self.lock = threading.Lock()
        self.current: Recording | None = None

    def _mine(self) -> Recording | None:
        return None if threading.current_thread() is self.main else self.current

    def before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        context["entries"] = params.get("Entries", [])
        rec = self._mine()
        if rec is None or model.service_model.service_name != "dynamodb":
            return
        table = self.tables.get(params.get("TableName", ""), params.get("TableName", ""))
        with self.lock:
            if model.name == "PutItem" and table == "journeys" and "doc" in params["Item"]:
                rec.journey_items[params["Item"]["journey_id"]["S"]].append(params["Item"])
            elif model.name == "PutItem" and table == "transition_log":
                rec.log_bytes.append(item_bytes(params["Item"]))
            elif model.name == "PutItem":
                rec.other_writes[table] += wru(len(json.dumps(params["Item"])))
            elif model.name in ("UpdateItem", "DeleteItem"):
                rec.other_writes[table] += 1  # small items (tickets, idempotency records); checked below
            elif model.name == "GetItem":
                rec.reads[table] += 1
            elif model.name == "Query":
                rec.reads[f"{table}/{params.get('IndexName', '')}"] += 1

    def after(self, model: Any, parsed: Any = None, **kwargs: Any) -> None:
        rec = self._mine()
        if rec is None:
            return
        parsed = parsed or {}
        service = model.service_model.service_name
        if model.name == "ReceiveMessage" and not parsed.get("Messages"):
            return
        if service == "dynamodbstreams":
            return  # Lambda's stream polling is free
        with self.lock:
            rec.calls[f"{service}:{model.name}"] += 1
            if model.name == "PutEvents":
                rec.events += len(kwargs.get("context", {}).get("entries", [])) or 1

    def timed(self, name: str, consume: Any) -> Any:
        def run(runtime: Any, event: dict[str, Any], context: Any = None) -> Any:
            began = time.perf_counter()
            try:
                return consume(runtime, event, context)
            finally:
                rec = self.current
                if rec is not None:
                    with self.lock:
                        rec.invocations += 1
                        timing = rec.by_function[name]
                        timing[0] += time.perf_counter() - began
                        timing[1] += 1
                        timing[2] += len(event.get("Records", [])) or 1

        return run


class LogBytes(logging.Handler):
    """Counts the bytes the consumers' loggers write (their own formatter): CloudWatch Logs ingestion."""

    def __init__(self, recorder: Recorder, formatter: logging.Formatter | None) -> None:
        super().__init__()
        self.recorder = recorder
        if formatter:
            self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        rec = self.recorder.current
        if rec is not None:
            rec.log_lines_bytes += len(self.format(record).encode()) + 1


def seconds_per_record(recordings: list[Recording]) -> dict[str, float]:
    """Each consumer's Lambda seconds per message or stream record, from runs of one journey at a time: the
    emulator serialises its requests, so timing concurrent invocations would time the queue for its lock."""
    total: dict[str, list[float]] = defaultdict(lambda: [0.0, 0, 0])
    for rec in recordings:
        for name, (seconds, _, records) in rec.by_function.items():
            total[name][0] += seconds
            total[name][2] += records
    return {name: seconds / max(1, records) for name, (seconds, _, records) in total.items()}


def measure(rec: Recording, journeys: int, per_record: dict[str, float]) -> dict[str, Any]:
    """Units, calls and bytes per transition and per journey, from one sample's recording; Lambda seconds as the
    records each consumer handled times its seconds per record measured alone (an upper bound under batching)."""
    seconds = {name: records * per_record.get(name, 0.0) for name, (_, _, records) in rec.by_function.items()}
    lambda_seconds = sum(seconds.values())
    units: Counter[str] = Counter()
    transitions = 0
    for items in rec.journey_items.values():
        before = None
        for item in items:
            units.update(journey_write_units(before, item))
            before, transitions = item, transitions + 1
    units["transition_log"] = sum(wru(b) for b in rec.log_bytes)
    for table, n in rec.other_writes.items():
        units[table] += n
    mean_item = sum(item_bytes(i) for items in rec.journey_items.values() for i in items) / max(1, transitions)
    read_units = sum(rru(int(mean_item)) if t == "journeys" else 1 for t, n in rec.reads.items() for _ in range(n))
    journeys_reads = rec.reads["journeys"] * rru(int(mean_item)) + sum(
        n for t, n in rec.reads.items() if t.startswith("journeys/")
    )
    per = max(1, transitions)
    return {
        "journeys": journeys,
        "transitions": transitions,
        "mean_journey_item_bytes": round(mean_item),
        "max_journey_item_bytes": max((item_bytes(i) for v in rec.journey_items.values() for i in v), default=0),
        "mean_log_item_bytes": round(sum(rec.log_bytes) / max(1, len(rec.log_bytes))),
        "write_units": dict(units),
        "write_units_per_transition": round(sum(units.values()) / per, 3),
        "write_units_per_transition_by_resource": {k: round(v / per, 3) for k, v in units.items()},
        "read_units_per_transition": round(read_units / per, 3),
        "journeys_table_read_units_per_transition": round(journeys_reads / per, 3),
        "calls": dict(rec.calls),
        "eventbridge_entries": rec.events,
        "put_events_calls_per_transition": round(rec.calls["events:PutEvents"] / per, 3),
        "put_events_calls_per_transition_at_load": round(
            JOURNAL_AT_LOAD.get("put_events_per_record", rec.calls["events:PutEvents"] / per), 3
        ),
        "lambda_invocations": rec.invocations,
        "lambda_seconds_per_invocation": round(lambda_seconds / max(1, rec.invocations), 4),
        "lambda_seconds_per_transition": round(lambda_seconds / per, 4),
        "lambda_seconds_per_transition_by_consumer": {k.split(".")[-1]: round(v / per, 4) for k, v in seconds.items()},
        "log_bytes": rec.log_lines_bytes + LAMBDA_PLATFORM_LOG_BYTES * rec.invocations,
        "stored_journey_bytes_per_journey": round(
            sum(item_bytes(v[-1]) for v in rec.journey_items.values()) / journeys
        ),
        "stored_log_bytes_per_journey": round(sum(rec.log_bytes) / journeys),
        "_read_units": read_units,
        "_lambda_seconds": lambda_seconds,
    }


def engine_cost(m: dict[str, Any]) -> dict[str, float]:
    """USD for the sample's journeys, by what AWS bills."""
    p, calls = CAPACITY_PRICES, Counter(m["calls"])
    sqs = sum(n for c, n in calls.items() if c.startswith("sqs:"))
    sns = sum(n for c, n in calls.items() if c.startswith("sns:"))
    lambda_billed = m["_lambda_seconds"] + 0.0005 * m["lambda_invocations"]  # rounded up to the ms
    journeys_gb = m["stored_journey_bytes_per_journey"] * m["journeys"] / 1e9
    log_gb = m["stored_log_bytes_per_journey"] * m["journeys"] / 1e9
    log_units = m["write_units"].get("transition_log", 0)
    return {
        "dynamodb_writes": (sum(m["write_units"].values()) - log_units) * p["dynamodb_wru"]
        + log_units * p["dynamodb_ia_wru"],
        "dynamodb_reads": m["_read_units"] * p["dynamodb_rru"],
        "dynamodb_storage": (journeys_gb * p["dynamodb_gb_month"] + log_gb * p["dynamodb_ia_gb_month"])
        * RETENTION_MONTHS,
        "dynamodb_backups": (journeys_gb + log_gb) * RETENTION_MONTHS * p["dynamodb_pitr_gb_month"],
        "sqs": sqs * p["sqs_request"],
        "sns": sns * p["sns_request"],
        "eventbridge": m["eventbridge_entries"] * p["eventbridge_event"],
        "step_functions": calls["states:StartExecution"] * 2 * p["states_transition"],
        "lambda_requests": m["lambda_invocations"] * p["lambda_request"],
        "lambda_duration": lambda_billed * LAMBDA_MEMORY_GB * p["lambda_gb_second_arm64"],
        "logs": m["log_bytes"] / 1e9 * p["logs_ingest_gb"],
        "xray": m["lambda_invocations"] * XRAY_SAMPLED * p["xray_trace"],
        "s3_claim_check": calls["s3:PutObject"] * p["s3_put"] + calls["s3:GetObject"] * p["s3_get"],
    }


def alternatives(compared: dict[str, Any], m: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The same journey as every step on Step Functions (Standard or Express) or as a Lambda durable function,
    from the state transitions and Lambda invocations bench/compare.py measured for it, at today's prices."""
    p = CAPACITY_PRICES
    sfn = compared["step_functions"]
    transitions = sfn["state_transitions_per_journey"]
    invocations = sfn["lambda_invocations_per_journey"]
    seconds = m["lambda_seconds_per_invocation"]  # the same workers, timed as ours are
    lambda_each = p["lambda_request"] + (seconds + 0.0005) * LAMBDA_MEMORY_GB * p["lambda_gb_second_arm64"]
    sqs = sfn["sfn_sqs_sends_per_journey"] * 3 * p["sqs_request"]  # send, receive, delete
    logs = invocations * LAMBDA_PLATFORM_LOG_BYTES / 1e9 * p["logs_ingest_gb"]
    xray = invocations * XRAY_SAMPLED * p["xray_trace"]
    wall = sfn["wall_seconds_per_journey"]
    data_gb = m["mean_log_item_bytes"] * transitions / 1e9  # each step's checkpoint holds about a record's bytes
    return {
        "step_functions_standard": {
            "state_transitions": transitions * p["states_transition"],
            "lambda": invocations * lambda_each,
            "sqs": sqs,
            "logs": logs,
            "xray": xray,
        },
        "step_functions_express": {  # at most 5 minutes: journeys waiting on people cannot run on it at all
            "requests": p["express_request"],
            "duration": max(0.1, wall) * 0.064 * p["express_gb_second"],
            "lambda": invocations * lambda_each,
            "sqs": sqs,
            "logs": logs + transitions * 500 / 1e9 * p["logs_ingest_gb"],  # Express history lives only in logs
            "xray": xray,
        },
        "lambda_durable_functions": {
            "durable_operations": transitions * p["durable_operation"],
            "data_written": data_gb * p["durable_data_written_gb"],
            "data_retained": data_gb * RETENTION_MONTHS * p["durable_data_retained_gb_month"],
            "lambda": invocations * lambda_each,
            "logs": logs,
            "xray": xray,
        },
    }


def synthetic(steps: int) -> dict[str, Any]:
    """Write units per transition of one journey of `steps` task steps, through the real router and items."""
    store, dispatcher, clock = MemoryStore(), MemoryDispatcher(), iter(range(1_000, 1_000_000))
    # a second between transitions: each opens its activation with a new deadline, so the deadline index moves
    router = Router(Registry([parse(LOOP)]), store, dispatcher, lambda: float(next(clock)))
    journey_id = f"syn-{uuid.uuid4().hex[:12]}"
    router.handle(StartJourney(journey_id=journey_id, definition_id="capacity-loop", input={}))
    units: Counter[str] = Counter()
    before = journey_item(store.journeys[journey_id], store.records[-1])
    units.update(journey_write_units(None, before))
    units["transition_log"] += wru(len(store.records[-1].model_dump_json()) + 40)
    for seq in range(1, steps + 1):
        output = {"done": seq == steps, "score": seq}
        router.handle(
            StepSucceeded(journey_id=journey_id, activation_id=f"{journey_id}.{seq}", output=output, actor="kyc")
        )
        after = journey_item(store.journeys[journey_id], store.records[-1])
        units.update(journey_write_units(before, after))
        units["transition_log"] += wru(len(store.records[-1].model_dump_json()) + 40)
        before = after
    transitions = len(store.records)
    return {
        "steps": steps,
        "transitions": transitions,
        "final_item_bytes": item_bytes(before),
        "write_units_per_transition": round(sum(units.values()) / transitions, 3),
        "by_resource": {k: round(v / transitions, 3) for k, v in units.items()},
    }


def hottest_share(n: int = 100_000) -> float:
    """The largest share of one status's index writes any one partition key takes, over n random ids."""
    counts = Counter(status_key("RUNNING", uuid.uuid4().hex) for _ in range(n))
    return max(counts.values()) / n


def ceiling(m: dict[str, Any], share: float) -> dict[str, Any]:
    """Transitions per second each resource allows under default quotas; the smallest binds."""
    by = m["write_units_per_transition_by_resource"]
    q = QUOTAS
    limits = {
        "journeys_table_write_units": q["dynamodb_table_wru_per_second"] / by.get("journeys_table", 1),
        "journeys_table_read_units": q["dynamodb_table_rru_per_second"]
        / max(m["journeys_table_read_units_per_transition"], 1e-9),
        "transition_log_write_units": q["dynamodb_table_wru_per_second"] / by.get("transition_log", 1),
        "by_deadline_shard_partition": q["dynamodb_partition_wru_per_second"]
        / max(by.get("by_deadline_shard", 0) * share, 1e-9),
        "by_deadline_shard_index": q["dynamodb_table_wru_per_second"] / max(by.get("by_deadline_shard", 0), 1e-9),
        "by_status_shard_partition": q["dynamodb_partition_wru_per_second"]
        / max(by.get("by_status_shard", 0) * share, 1e-9),
        "lambda_concurrency": q["lambda_concurrent_executions"] / max(m["lambda_seconds_per_transition"], 1e-9),
        "eventbridge_put_events": q["eventbridge_put_events_per_second"]
        / max(m["put_events_calls_per_transition_at_load"], 1e-9),
    }
    binding = min(limits, key=lambda k: limits[k])
    return {
        "by_resource": {k: round(v) for k, v in limits.items()},
        "binding_resource": binding,
        "transitions_per_second": round(limits[binding]),
    }


STREAM_BATCH = 10  # records a journal invocation gets at load: a shard at 40 records/s, polled 4 times a second
JOURNAL_AT_LOAD: dict[str, float] = {}


def journal_in_batches(stack: LocalStack, items: list[dict[str, Any]]) -> dict[str, float]:
    """The journal consumer handed the recorded commits again, STREAM_BATCH stream records an invocation, as the
    stream hands them over at load: its seconds and PutEvents requests per record. (Replays: the log entries
    exist, so each append is a refused conditional put, which costs the same call.)"""
    runtime, requests = stack.runtimes["JournalFunction"], [0]
    events = runtime.client("events")
    events.meta.events.register("after-call.events.PutEvents", lambda **_: requests.__setitem__(0, requests[0] + 1))
    began = time.perf_counter()
    for at in range(0, len(items), STREAM_BATCH):
        records = [
            {"eventID": str(n), "eventName": "MODIFY", "dynamodb": {"NewImage": item, "SequenceNumber": str(at + n)}}
            for n, item in enumerate(items[at : at + STREAM_BATCH])
        ]
        consumers.journal.consume(runtime, {"Records": records})
    seconds = time.perf_counter() - began
    return {
        "seconds_per_record": seconds / max(1, len(items)),
        "put_events_per_record": requests[0] / max(1, len(items)),
    }


def run_samples(rounds: int) -> list[tuple[Sample, dict[str, Any]]]:
    """Every sample alone (for Lambda seconds per record), then `rounds` copies at once (for everything else)."""
    alone = record_samples(1)
    per_record = seconds_per_record([rec for _, rec in alone])
    loaded = record_samples(rounds)
    if JOURNAL_AT_LOAD:  # the journal batches at load: its own per-record time and requests, measured so
        per_record["consumers.journal"] = JOURNAL_AT_LOAD["seconds_per_record"]
    return [(sample, measure(rec, rounds, per_record)) for sample, rec in loaded]


def record_samples(rounds: int) -> list[tuple[Sample, Recording]]:
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    StaffDesk.PAUSE = 0
    out = []
    recorder = Recorder({})
    hooks = [("before-parameter-build.*.*", recorder.before), ("after-call.*.*", recorder.after)]
    with LocalStack(Emulator(), hooks=hooks) as stack:
        settings = stack.settings()
        tables = {settings.journeys_table: "journeys", settings.transition_log_table: "transition_log"}
        recorder.tables = tables
        undo = []
        for module in (*CONSUMERS, consumers.watchdog):
            consume, std = module.consume, module.logger._logger
            counter = LogBytes(recorder, std.handlers[0].formatter if std.handlers else None)
            module.consume = recorder.timed(module.__name__, consume)  # type: ignore[method-assign]
            module.logger.setLevel("INFO")
            std.addHandler(counter)
            undo.append((module, consume, std, counter))
        try:
            for sample in [*SAMPLES, *PAYMENT_SAMPLES]:
                stack.wait_quiet()
                recorder.current = rec = Recording()
                play(stack, [sample] * rounds, out=lambda _line: None)
                recorder.current = None
                out.append((sample, rec))
                print(f"  {sample.title} x{rounds}: {rec.invocations} invocations", flush=True)
            if rounds > 1:
                JOURNAL_AT_LOAD.update(
                    journal_in_batches(stack, [i for _, r in out for v in r.journey_items.values() for i in v])
                )
        finally:
            for module, consume, std, counter in undo:
                module.consume = consume  # type: ignore[method-assign]
                std.removeHandler(counter)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="copies of each sample started at once (load)")
    args = parser.parse_args(argv)
    compared = {row["title"]: row for row in json.loads((RESULTS / "compare.json").read_text())["samples"]}
    share = hottest_share()
    rows = []
    for sample, m in run_samples(args.rounds):
        engine = engine_cost(m)
        alt = {  # compare.json's figures are per journey: as many journeys as the engine ran
            name: {k: v * m["journeys"] for k, v in costs.items()}
            for name, costs in alternatives(compared[sample.title], m).items()
        }
        per_million = {k: round(sum(v.values()) / m["journeys"] * 1e6, 2) for k, v in {"engine": engine, **alt}.items()}
        rows.append(
            {
                "title": sample.title,
                "definition_id": sample.definition_id,
                "measured": {k: v for k, v in m.items() if not k.startswith("_")},
                "cost_per_million_journeys_usd": per_million,
                "engine_cost_by_service_per_million_usd": {
                    k: round(v / m["journeys"] * 1e6, 2) for k, v in engine.items()
                },
                "engine_vs_standard": round(per_million["engine"] / per_million["step_functions_standard"], 3),
                "engine_below_durable_functions": per_million["engine"] < per_million["lambda_durable_functions"],
                "express_feasible": compared[sample.title]["step_functions"]["wall_seconds_per_journey"] < 300
                and not sample.answers
                and not sample.approvers,
            }
        )
    by_sample = {row["title"]: ceiling(row["measured"], share) for row in rows}
    lowest = min(by_sample, key=lambda title: by_sample[title]["transitions_per_second"])
    limits = by_sample[lowest]  # the deployment's ceiling: its journeys' least favourable mix
    steps = {str(n): synthetic(n) for n in (5, 50, 500)}
    report = {
        **stamp(),
        "prices_usd": CAPACITY_PRICES,
        "price_date": PRICE_DATE,
        "price_source": PRICE_SOURCE,
        "quotas": QUOTAS,
        "shards": SHARDS,
        "hottest_key_share": round(share, 5),
        "ceiling_transitions_per_second": limits["transitions_per_second"],
        "binding_resource": limits["binding_resource"],
        "ceiling_by_resource": limits["by_resource"],
        "ceiling_from_sample": lowest,
        "ceiling_by_sample": {title: c["transitions_per_second"] for title, c in by_sample.items()},
        "write_units_per_transition": {n: s["write_units_per_transition"] for n, s in steps.items()},
        "synthetic_journeys": steps,
        "samples": rows,
        "targets": {
            "ceiling_at_least_10000": limits["transitions_per_second"] >= 10_000,
            "500_steps_within_1_2x_5": steps["500"]["write_units_per_transition"]
            <= 1.2 * steps["5"]["write_units_per_transition"],
            "engine_at_most_0_2x_standard": all(r["engine_vs_standard"] <= 0.2 for r in rows),
            "engine_below_durable_functions": all(r["engine_below_durable_functions"] for r in rows),
        },
        "assumptions": {
            "retention": "400 days (Definition.retention_days default) of storage and PITR for the engine; the same "
            "retention of checkpoint data for durable functions; Step Functions keeps history 90 days for free",
            "lambda": "duration measured per consumer invocation on the emulator (AWS calls there take 2-5 ms, as "
            "on AWS; threads of one process share its cores, so under load this is an upper bound), billed per ms "
            "at 512 MB arm64; one invocation per batch as the local pollers deliver them (up to 10 messages, 100 "
            "stream records)",
            "load": "each sample's copies are started at once (--rounds), so batches fill as they do at scale",
            "xray": f"default sampling rule: {XRAY_SAMPLED:.0%} of invocations traced",
            "excluded": "free tiers; the customer's and staff's own API calls (as in bench/compare.py)",
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "capacity.json").write_text(json.dumps(report, indent=2) + "\n")
    for row in rows:
        c = row["cost_per_million_journeys_usd"]
        print(
            f"{row['title'][:44]:<44} engine {c['engine']:>8.2f}  standard {c['step_functions_standard']:>8.2f}  "
            f"express {c['step_functions_express']:>7.2f}  durable {c['lambda_durable_functions']:>8.2f}  "
            f"x{row['engine_vs_standard']:.2f}"
        )
    print(
        f"ceiling {limits['transitions_per_second']}/s bound by {limits['binding_resource']}; "
        f"WRU/transition 5/50/500 steps: {report['write_units_per_transition']}; targets {report['targets']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
