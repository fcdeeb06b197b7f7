"""A local stack instrumented for reliability runs: drive N journeys, then check the promise held.

Invariants checked by `check()`:
- every started journey is terminal (and ended where its input says);
- each journey's transition log is gap-free, seq 1..version;
- each worker's side effect happened exactly once per activation the log says succeeded;
- one CloudEvent id per transition (republishing repeats the same id, never a new one);
- every DLQ is empty, and nothing is left waiting (no message, no open activation, no running execution).
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cli.client import JourneysClient
from devstack.emulator import Emulator
from devstack.stack import LocalStack
from reliability import crash, workload
from reliability.faults import FaultRates, Faults
from reliability.instruments import Calls, scan_all
from reliability.privacy import LogCapture, Outbound, leaks
from router.adapters.dynamodb import journey_from_item, record_from_item
from router.adapters.events import STEP_COMPLETED
from router.core.model import FINISHED, Journey, JourneyStatus, TransitionRecord
from router.language.definition import Definition
from router.language.registry import Registry
from workers.samples import SAMPLES

NO_FAULTS = FaultRates()
ENDS = {"bank.platform.journey_completed", "bank.platform.journey_failed", "bank.platform.journey_cancelled"}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Redeliveries:
    """Messages that came back after a failed or unfinished attempt (receive count above 1), by queue."""

    by_queue: Counter[str] = field(default_factory=Counter)
    times: list[tuple[float, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: dict[str, Any]) -> int:
        """LocalStack's `deliveries` callback: observe, and deliver each batch once."""
        for record in event.get("Records", []):
            if int(record.get("attributes", {}).get("ApproximateReceiveCount", 1)) > 1:
                queue = record["eventSourceARN"].rsplit(":", 1)[1]
                with self._lock:
                    self.by_queue[queue] += 1
                    self.times.append((time.monotonic(), queue))
        return 1


class Harness:
    def __init__(
        self,
        emulator: Emulator,
        rates: FaultRates = NO_FAULTS,
        seed: int = 7,
        flaky: float = 0.0,
        clocks: dict[str, float] | None = None,  # function -> seconds its clock is off by
        definitions: Sequence[Definition] = (),  # besides the samples and the load journey
    ) -> None:
        self.clocks = clocks or {}
        self.ledger = workload.Ledger(flaky)
        self.faults = Faults(emulator, rates, seed)
        self.calls, self.outbound, self.redeliveries = Calls(), Outbound(), Redeliveries()
        self.logs = LogCapture()
        registry = Registry(
            [*Registry.from_directory(known_workers=SAMPLES.names()), workload.definition(), *definitions]
        )
        self.stack = LocalStack(
            emulator,
            workers=self.ledger.workers(),
            registry=registry,
            hooks=[*self.calls.hooks(), *self.faults.hooks(), *self.outbound.hooks()],
            consumers_per_queue=2,
            deliveries=self.redeliveries,
        )
        self.started: list[str] = []
        self.ended: dict[str, float] = {}  # journey id -> when its end was published
        self._scanned = 0

    def __enter__(self) -> Harness:
        self.stack.start()  # imports the consumers, whose loggers the capture then joins
        self.logs.__enter__()
        for name, offset in self.clocks.items():  # before any message arrives: routers are built on first use
            self.stack.runtimes[name].clock = lambda offset=offset: time.time() + offset
        for runtime in self.stack.runtimes.values():  # the crash points, injected: shipped code never imports them
            runtime.after_commit = functools.partial(crash.crash_point, crash.AFTER_COMMIT)
            runtime.after_act = functools.partial(crash.crash_point, crash.AFTER_ACT)
        self.client = JourneysClient(self.stack.runtimes["AdvanceFunction"])
        return self

    def __exit__(self, *_: object) -> None:
        self.stack.stop()
        self.logs.__exit__()

    # -- driving

    def start(self, numbers: range, prefix: str = "rel") -> None:
        """Send start messages for journeys `numbers`, ten per call, from the driver (never faulted)."""
        sqs, queue = self.stack.client("sqs"), self.client.settings.start_queue_url
        starts = [workload.start(n, prefix) for n in numbers]
        for at in range(0, len(starts), 10):
            batch = starts[at : at + 10]
            entries = [{"Id": str(i), "MessageBody": s.model_dump_json()} for i, s in enumerate(batch)]
            sqs.send_message_batch(QueueUrl=queue, Entries=entries)
            self.started += [s.journey_id for s in batch]

    def drive(self, journeys: int, window: int = 60, timeout: float | None = None, prefix: str = "rel") -> float:
        """Start `journeys`, keeping at most `window` unfinished (SQS scans its queues: keep them shallow);
        wait for every end; return the wall time. The default timeout allows 5 s a journey, 10 minutes at least."""
        began, next_n = time.monotonic(), 0
        timeout = timeout or max(600.0, 5.0 * journeys)
        while time.monotonic() - began < timeout:
            self.scan_ends()
            if next_n < journeys and len(self.started) - len(self.ended) < window:
                count = min(10, journeys - next_n)
                self.start(range(next_n, next_n + count), prefix)
                next_n += count
                continue
            if next_n >= journeys and self.finished():
                return time.monotonic() - began
            time.sleep(0.05)
        raise TimeoutError(f"{len(self.started) - len(self.ended)} journeys unfinished after {timeout} s")

    def finished(self) -> bool:
        self.scan_ends()
        return set(self.started) <= self.ended.keys()

    def scan_ends(self) -> None:
        published = self.calls.published
        for item in published[self._scanned : len(published)]:
            if item.entry["DetailType"] in ENDS:
                self.ended.setdefault(json.loads(item.entry["Detail"])["subject"], time.monotonic())
        self._scanned = len(published)

    def wait_ended(self, timeout: float = 120) -> float:
        began = time.monotonic()
        while not self.finished():
            if time.monotonic() - began > timeout:
                raise TimeoutError(f"{len(set(self.started) - self.ended.keys())} journeys did not end")
            time.sleep(0.05)
        return time.monotonic() - began

    # -- figures and invariants

    def journeys(self) -> dict[str, Journey]:
        items = scan_all(self.stack.client("dynamodb"), self.client.settings.journeys_table)
        return {j.id: j for j in map(journey_from_item, items)}

    def logs_by_journey(self) -> dict[str, list[TransitionRecord]]:
        items = scan_all(self.stack.client("dynamodb"), self.client.settings.transition_log_table)
        records: dict[str, list[TransitionRecord]] = defaultdict(list)
        for item in items:
            record = record_from_item(item)
            records[record.journey_id].append(record)
        return {j: sorted(r, key=lambda r: r.seq) for j, r in records.items()}

    def router_counts(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for name in ("StartFunction", "AdvanceFunction", "RetryFunction", "WatchdogFunction"):
            if name in self.stack.runtimes and "router" in self.stack.runtimes[name].__dict__:
                counts.update(self.stack.runtimes[name].router.counts)
        return counts

    def dead_letters(self) -> dict[str, list[str]]:
        """Bodies of every message in every DLQ (read, then left invisible for a minute)."""
        assert self.stack.stack is not None
        sqs, found = self.stack.client("sqs"), {}
        for logical_id, url in self.stack.stack.resources.items():
            if logical_id.endswith("DLQ"):
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
                found[logical_id] = [m["Body"] for m in messages.get("Messages", [])]
        return found

    def running_executions(self) -> int:
        settings, sfn = self.client.settings, self.stack.client("stepfunctions")
        machines = [settings.retry_state_machine_arn, settings.approval_state_machine_arn]
        return sum(
            len(sfn.list_executions(stateMachineArn=m, statusFilter="RUNNING")["executions"]) for m in machines if m
        )

    def _settles(self, timeout: float = 30) -> bool:
        try:
            self.stack.wait_quiet(timeout=timeout)
        except TimeoutError:
            return False
        return True

    def check(self, expect_all: bool = True) -> list[Check]:
        self.stack.wait_quiet(timeout=120)
        journeys, logs = self.journeys(), self.logs_by_journey()
        started = set(self.started)
        ours = {i: journeys.get(i) for i in started}
        checks = [_terminal(ours), _gap_free(ours, logs), self._once(logs, started), self._event_ids(logs)]
        dead = {queue: len(bodies) for queue, bodies in self.dead_letters().items() if bodies}
        checks.append(Check("every DLQ empty", not dead, str(dead) if dead else ""))
        open_ = [j.id for j in journeys.values() if j.open]
        running = self.running_executions()
        quiet = self._settles()  # a periodic poller (the watchdog) may be busy for a moment at any instant
        checks.append(
            Check(
                "nothing left waiting",
                quiet and not open_ and running == 0,
                f"quiet={quiet}, journeys with open activations={len(open_)}, running executions={running}",
            )
        )
        return checks

    def privacy(self, dead_letters: bool = True) -> list[Check]:
        """Canaries nowhere people or other systems read; `dead_letters` False: DLQs were emptied on purpose."""
        places = {
            "logs": self.logs.lines,
            "CloudEvents": [p.entry["Detail"] for p in self.calls.published],
            "alerts": self.outbound.alerts,
        }
        if dead_letters:
            places["DLQ bodies"] = [b for bodies in self.dead_letters().values() for b in bodies]
        canary = leaks(workload.CANARIES, places)
        tokens = leaks(self.outbound.tokens, {"logs": self.logs.lines})
        where = ", ".join(places)
        return [
            Check(f"canary personal data in none of: {where}", not canary, str(canary or "")),
            Check(
                f"task tokens ({len(self.outbound.tokens)} answered) in no log line",
                not tokens,
                str(tokens or ""),
            ),
        ]

    def _once(self, logs: dict[str, list[TransitionRecord]], started: set[str]) -> Check:
        records = [r for j in started for r in logs.get(j, []) if r.event == "step_succeeded"]
        succeeded = Counter((r.actor, r.journey_id) for r in records)
        answered = Counter(r.activation_id for r in records)  # a retried activation also logs its failure
        effects = Counter({k: n for k, n in self.ledger.effects.items() if k[1] in started})
        twice = [a for a, n in answered.items() if n > 1]
        ok = effects == succeeded and not twice
        detail = f"{effects.total()} side effects for {succeeded.total()} logged successes"
        if not ok:
            diff = {f"{w}/{j}": (effects[w, j], succeeded[w, j]) for w, j in effects.keys() | succeeded.keys()}
            detail += f"; differ: {dict(list({k: v for k, v in diff.items() if v[0] != v[1]}.items())[:5])}"
            detail += f"; answered twice: {twice[:5]}"
        return Check("each worker's side effect exactly once per activation", ok, detail)

    def _event_ids(self, logs: dict[str, list[TransitionRecord]]) -> Check:
        transitions = {f"{r.journey_id}/{r.seq}": r.step_name for records in logs.values() for r in records}
        ids: Counter[str] = Counter()
        for published in self.calls.published:
            if published.entry["DetailType"] == STEP_COMPLETED:
                ids[json.loads(published.entry["Detail"])["id"]] += 1
        missing, unknown = transitions.keys() - ids.keys(), ids.keys() - transitions.keys()
        republished = ids.total() - len(ids)
        ok = not missing and not unknown
        detail = f"{len(transitions)} transitions, {len(ids)} ids, {republished} republished under the same id"
        if not ok:
            detail += f"; missing {sorted(missing)[:5]}, unknown {sorted(unknown)[:5]}"
        return Check("one CloudEvent id per transition", ok, detail)


def _terminal(journeys: dict[str, Journey | None]) -> Check:
    wrong = []
    for journey_id, journey in journeys.items():
        expected = JourneyStatus.FAILED if workload.declined(journey_id) else JourneyStatus.SUCCEEDED
        if journey is None or journey.status not in FINISHED or journey.status is not expected:
            wrong.append(f"{journey_id}: {journey.status.value if journey else 'missing'}")
    return Check("every started journey terminal, where its input leads", not wrong, "; ".join(wrong[:5]))


def _gap_free(journeys: dict[str, Journey | None], logs: dict[str, list[TransitionRecord]]) -> Check:
    broken = [
        j
        for j, journey in journeys.items()
        if journey is None or [r.seq for r in logs.get(j, [])] != list(range(1, journey.version + 1))
    ]
    return Check("transition logs gap-free and equal to the journey versions", not broken, ", ".join(broken[:5]))
