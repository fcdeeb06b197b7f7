"""Failures on the emulator: retry chains on Step Functions, escalation, the watchdog, races, poison."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from consumers import watchdog
from devstack.stack import LocalStack
from reliability.instruments import rewrapped, waited
from router.adapters.dynamodb import DEADLINE_INDEX, DEADLINE_SHARDS
from router.core.decide import Rejected
from router.core.model import Command, Intervention, JourneyStatus, StartJourney, StepSucceeded
from router.core.proofs import proof_for
from router.core.reasons import why
from router.core.shards import due_key
from router.language.loader import parse
from router.language.registry import Registry
from tests.emulator_faults import refused_queries
from workers.samples import SAMPLES
from workers.step import RetryableError

FLOW = """
id: flaky-flow
version: "1.0.0"
owning_domain: bank-core
input_schema: {type: object, required: [full_name], properties: {full_name: {type: string}}}
start_at: verify
steps:
  - name: verify
    type: TASK
    worker: kyc
    sla_seconds: 5
    retry: {max_attempts: 3, backoff_seconds: 1, backoff_rate: 2}
    next: done
  - {name: done, type: SUCCESS}
"""
REGISTRY = Registry([parse(FLOW)])


class Flaky:
    """kyc fails `failures` times per applicant before it answers; every call's time is kept."""

    def __init__(self, failures: dict[str, int]) -> None:
        self.failures, self.calls = failures, Counter[str]()
        self.times: dict[str, list[float]] = {}

    def __call__(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if name != "kyc":
            return fn

        def kyc(full_name: str) -> dict[str, Any]:
            self.calls[full_name] += 1
            self.times.setdefault(full_name, []).append(time.monotonic())
            if self.calls[full_name] <= self.failures.get(full_name, 0):
                raise RetryableError("the bureau timed out")
            return {"kyc": {"result": "CLEAR"}}

        return kyc


def stack_with(emulator, flaky: Flaky, **options: Any) -> LocalStack:
    return LocalStack(emulator, workers=rewrapped(SAMPLES, flaky), registry=REGISTRY, **options)


def start(stack: LocalStack, journey_id: str, name: str) -> None:
    runtime = stack.runtimes["StartFunction"]
    runtime.router.handle(StartJourney(journey_id=journey_id, definition_id="flaky-flow", input={"full_name": name}))


def journey(stack: LocalStack, journey_id: str):
    return stack.runtimes["AdvanceFunction"].router.store.load(journey_id)


def test_a_transient_failure_recovers_within_its_retry_policy_with_backoff(fresh_emulator):
    """Two failures, then success on the third attempt; the gaps between attempts follow the backoff."""
    flaky = Flaky({"Tina Transient": 2})
    with stack_with(fresh_emulator, flaky) as stack:
        start(stack, "transient", "Tina Transient")
        waited(lambda: journey(stack, "transient").status is JourneyStatus.SUCCEEDED)
    times = flaky.times["Tina Transient"]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    print(f"attempts at +{[round(t - times[0], 2) for t in times]} s; gaps {[round(g, 2) for g in gaps]}")
    assert flaky.calls["Tina Transient"] == 3
    assert gaps[0] >= 0.9 and gaps[1] >= 0.9  # equal jitter: at least half of 2 s, then of 4 s... at least 1 s


def test_a_permanent_failure_escalates_with_exactly_one_alert_and_a_readable_reason(fresh_emulator):
    """Every attempt fails: the chain exhausts, the journey is STUCK with its error, one SNS alert."""
    alerts: list[dict[str, Any]] = []
    hook = ("before-parameter-build.sns.Publish", lambda params, **_: alerts.append(params))
    flaky = Flaky({"Percy Permanent": 99})
    with stack_with(fresh_emulator, flaky, hooks=[hook]) as stack:
        start(stack, "permanent", "Percy Permanent")
        waited(lambda: journey(stack, "permanent").status is JourneyStatus.STUCK)
        stack.wait_quiet()
        stuck = journey(stack, "permanent")
    assert flaky.calls["Percy Permanent"] == 3
    assert len(alerts) == 1 and "stuck at verify" in alerts[0]["Subject"]
    reason = why(stuck, time.time())
    print(f"why: {reason}")
    assert reason.startswith("escalated at step verify: RetriesExhausted")


def test_the_watchdog_catches_a_dropped_work_message_and_the_journey_completes(fresh_emulator):
    """The first work message is lost after the commit; past the SLA the watchdog re-dispatches it."""
    dropped: list[str] = []

    def drop_first_work(params: dict[str, Any], **_: Any) -> Any:
        """A before-call hook that answers instead of AWS: the message is acknowledged, never delivered."""
        request = json.loads(params["body"] or b"{}")
        if not dropped and "SampleWorkQueue" in request.get("QueueUrl", "") and "send_work" in request["MessageBody"]:
            dropped.append(request["MessageBody"])
            return _http_ok(), {"MessageId": "lost", "ResponseMetadata": {"HTTPStatusCode": 200}}
        return None

    skew = {"seconds": 0.0}
    options = {
        "hooks": [("before-call.sqs.SendMessage", drop_first_work)],
        "clock": lambda: time.time() + skew["seconds"],
    }
    with stack_with(fresh_emulator, Flaky({}), **options) as stack:
        start(stack, "dropped", "Dora Dropped")
        stack.wait_quiet()
        assert dropped and journey(stack, "dropped").status is JourneyStatus.RUNNING
        assert watchdog.consume(stack.runtimes["WatchdogFunction"], {}) == {}  # not overdue yet
        skew["seconds"] = 6  # past the 5 s SLA
        swept = watchdog.consume(stack.runtimes["WatchdogFunction"], {})
        waited(lambda: journey(stack, "dropped").status is JourneyStatus.SUCCEEDED)
    assert swept == {"Commit": 1}


def test_a_deadline_shard_that_cannot_be_read_does_not_stop_the_sweep(fresh_inprocess_emulator):
    """Each deadline shard is its own unit of work: one failing to read is counted as an error, and the overdue
    journey in another shard is still re-dispatched and completes. The shards are read at once (aiobotocore), so
    the failure is made where every client meets it: the emulator refuses that shard's Query."""
    dropped: list[str] = []
    broken = next(key for key in DEADLINE_SHARDS if key != due_key("dropped"))

    def drop_first_work(params: dict[str, Any], **_: Any) -> Any:
        request = json.loads(params["body"] or b"{}")
        if not dropped and "SampleWorkQueue" in request.get("QueueUrl", "") and "send_work" in request["MessageBody"]:
            dropped.append(request["MessageBody"])
            return _http_ok(), {"MessageId": "lost", "ResponseMetadata": {"HTTPStatusCode": 200}}
        return None

    def deadline_shard(request: dict[str, Any]) -> str | None:
        if request.get("IndexName") != DEADLINE_INDEX:
            return None
        return str(request["ExpressionAttributeValues"][":shard"]["S"])

    skew = {"seconds": 0.0}
    options = {
        "hooks": [("before-call.sqs.SendMessage", drop_first_work)],
        "clock": lambda: time.time() + skew["seconds"],
    }
    with stack_with(fresh_inprocess_emulator, Flaky({}), **options) as stack:
        start(stack, "dropped", "Dora Dropped")
        stack.wait_quiet()
        skew["seconds"] = 6  # past the 5 s SLA
        with refused_queries(fresh_inprocess_emulator, lambda request: deadline_shard(request) == broken) as asked:
            swept = watchdog.consume(stack.runtimes["WatchdogFunction"], {})
        waited(lambda: journey(stack, "dropped").status is JourneyStatus.SUCCEEDED)
    assert swept == {"Commit": 1, "errors": 1}
    read = [shard for shard in map(deadline_shard, asked) if shard]
    assert sorted(read) == sorted(DEADLINE_SHARDS)  # every shard asked once, the broken one included


def test_an_intervention_racing_a_worker_result_has_exactly_one_winner(fresh_emulator):
    """Retry by an operator and the worker's answer, at once: one commits, the other is refused or stale."""
    flaky = Flaky({})
    with stack_with(fresh_emulator, flaky, consumers_per_queue=1) as stack:
        router = stack.runtimes["AdvanceFunction"].router
        results: Counter[str] = Counter()
        for n in range(8):
            journey_id = f"race-{n}"
            start(stack, journey_id, f"Rae Race {n}")
            before = journey(stack, journey_id)
            (activation,) = [a for a in before.open if a.endswith(".1")]
            proof = proof_for(stack.proof_key.encode(), journey_id, activation)
            answer = StepSucceeded(journey_id=journey_id, activation_id=activation, output={}, actor="kyc", proof=proof)
            retry = Intervention(
                journey_id=journey_id,
                command=Command.RETRY,
                expected_version=1,
                actor="olga",
                reason="worker looks hung",
            )
            barrier, outcomes = threading.Barrier(2), {}

            def run(name: str, event: Any, barrier: threading.Barrier = barrier, outcomes: dict = outcomes) -> None:
                barrier.wait()
                try:
                    outcomes[name] = type(router.handle(event)).__name__
                except Rejected:
                    outcomes[name] = "Rejected"

            threads = [threading.Thread(target=run, args=a) for a in (("answer", answer), ("retry", retry))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            commits = [k for k, v in outcomes.items() if v == "Commit"]
            assert len(commits) == 1, outcomes
            results[commits[0]] += 1
        stack.wait_quiet()
        client = stack.client("dynamodb")
        for n in range(8):
            current = journey(stack, f"race-{n}")
            log = client.query(
                TableName=stack.settings().transition_log_table,
                KeyConditionExpression="journey_id = :j",
                ExpressionAttributeValues={":j": {"S": f"race-{n}"}},
            )["Items"]
            assert sorted(int(i["seq"]["N"]) for i in log) == list(range(1, current.version + 1))
    print(f"winners over 8 races: {dict(results)}")


def test_a_poison_message_reaches_the_dlq_at_its_receive_limit_and_its_batch_is_processed_once(fresh_emulator):
    """Every write for one journey fails; it is retried to maxReceiveCount, the rest of its batch commits once."""

    def poison(params: dict[str, Any], **_: Any) -> None:
        if params.get("Item", {}).get("journey_id", {}).get("S") == "poison":
            raise RuntimeError("this journey's partition is broken")

    with stack_with(fresh_emulator, Flaky({}), hooks=[("before-parameter-build.dynamodb.PutItem", poison)]) as stack:
        settings = stack.settings()
        sqs = stack.client("sqs")
        entries = [
            {
                "Id": name,
                "MessageBody": StartJourney(
                    journey_id=name, definition_id="flaky-flow", input={"full_name": name}
                ).model_dump_json(),
            }
            for name in ("good-1", "good-2", "poison", "good-3", "good-4")
        ]
        sqs.send_message_batch(QueueUrl=settings.start_queue_url, Entries=entries)
        dlq = settings.start_queue_url.replace("StartQueue", "StartDLQ")
        waited(lambda: _depth(sqs, dlq) == 1, timeout=90)
        stack.wait_quiet()
        (parked,) = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"]
        counts = stack.runtimes["StartFunction"].router.counts
        good = [journey(stack, f"good-{n}") for n in range(1, 5)]
    redrive = json.loads(_attribute(stack, "StartQueue", "RedrivePolicy"))
    # Received maxReceiveCount times by the consumer, then once more by this test, from the DLQ.
    assert int(parked["Attributes"]["ApproximateReceiveCount"]) == int(redrive["maxReceiveCount"]) + 1
    assert json.loads(parked["Body"])["journey_id"] == "poison"
    assert all(j is not None and j.status is JourneyStatus.SUCCEEDED for j in good)
    assert counts["committed"] >= 4 and counts["absorbed: duplicate start"] == 0


def _http_ok() -> Any:
    from botocore.awsrequest import AWSResponse

    return AWSResponse("http://lost", 200, {}, None)


def _depth(sqs: Any, queue: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def _attribute(stack: LocalStack, logical_id: str, name: str) -> str:
    assert stack.stack is not None
    url = stack.stack.resources[logical_id]
    return stack.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=[name])["Attributes"][name]
