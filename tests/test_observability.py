"""Metrics, cost per journey and the dashboard: what operations and the bank read about journeys."""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import consumers.advance
import consumers.approvals
import consumers.journal
import consumers.retry
import consumers.start
import consumers.watchdog
import consumers.worker
from bench.compare import Tally
from bench.critical_path import count_critical_calls
from cli.observe import costs_by_step, render_stats
from consumers.runtime import Runtime, Settings
from consumers.telemetry import Telemetry, tracer_for
from devstack.approval_chain import ASL
from devstack.intrinsics import translate
from devstack.provision import DEFAULT_TEMPLATE
from devstack.stack import LambdaContext, LocalStack
from reliability.instruments import waited
from router.adapters.dynamodb import DynamoJourneyStore, journey_item, unpacked
from router.core.decide import Absorb
from router.core.metrics import CATALOGUE, NAMESPACE, for_outcome, for_transition
from router.core.model import JourneyStatus, RetriesExhausted, StartJourney, StepSucceeded, TransitionRecord, charge
from router.core.proofs import proof_for
from router.core.usage import APPROVAL_TRANSITIONS, Usage, cost_by_service, cost_usd
from router.language.registry import Registry
from router.ports.memory import MemoryLog, MemoryPublisher
from router.runtime.journal import Journal
from tests.journey_driver import JourneyDriver

pytestmark = pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")

CLARA = {"full_name": "Clara Clear", "email": "clara@example.com", "date_of_birth": "1988-04-12", "country": "GB"}
DISPUTE = {
    "full_name": "Mia Metric",
    "card_last4": "4242",
    "transaction_id": "TX-M",
    "merchant": "Acme",
    "amount": 10,
    "reason": "duplicate_charge",
    "days_since_transaction": 1,
}


def emf_documents(text: str) -> list[dict[str, Any]]:
    """The embedded-metric-format documents among printed lines (the consumers' JSON logs are the rest)."""
    documents = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def emitted(document: dict[str, Any]) -> list[tuple[str, frozenset[str]]]:
    """(metric name, dimension names) for every metric a document declares."""
    return [
        (metric["Name"], frozenset(dimensions))
        for directive in document["_aws"]["CloudWatchMetrics"]
        for dimensions in directive["Dimensions"]
        for metric in directive["Metrics"]
    ]


def record(**fields: Any) -> TransitionRecord:
    base = {
        "journey_id": "j-1",
        "seq": 2,
        "at": 100.0,
        "definition_id": "dispute",
        "definition_version": "1.0.0",
        "owning_domain": "bank-disputes",
        "event": "step_succeeded",
        "actor": "dispute-assess",
        "step_name": "assess",
        "step_result": "succeeded",
        "status": JourneyStatus.RUNNING,
    }
    return TransitionRecord(**(base | fields))


# -- pure: what an outcome comes to


def test_a_finished_journey_counts_once_by_definition_and_version() -> None:
    """Lifecycle events map to the journey counters; the step's outcome and latency carry its name."""
    points = for_transition(record(lifecycle=["journey_completed"], waited=1.5, cost_usd=0.25))
    by_name = {p.name: p for p in points}
    assert by_name["JourneysCompleted"].dimensions == (("definition", "dispute"), ("version", "1.0.0"))
    step = (("definition", "dispute"), ("step", "assess"))
    assert by_name["StepOutcomes"].dimensions == (*step, ("outcome", "succeeded"))
    assert by_name["StepLatency"].value == 1500.0
    assert by_name["TransitionCost"].value == 0.25
    assert "StepRetries" not in by_name


def test_outcomes_are_bounded_dimension_values() -> None:
    """An error name or a retry's message never becomes a dimension value: only the outcome's first word."""
    failed = for_transition(record(step_result="failed: KycServiceDown", lifecycle=["journey_failed"]))
    retrying = for_transition(record(step_result="retrying after Timeout: slow", event="activation_updated"))
    assert ("outcome", "failed") in next(p for p in failed if p.name == "StepOutcomes").dimensions
    assert "JourneysFailed" in {p.name for p in failed}
    assert {"StepRetries", "StepOutcomes"} <= {p.name for p in retrying}
    absorbed = for_outcome(Absorb(reason="stale: activation not open"), 0.01, conflicts=2)
    assert {(p.name, p.dimensions) for p in absorbed} >= {
        ("DuplicatesAbsorbed", (("reason", "stale"),)),
        ("VersionConflicts", ()),
    }


def test_every_point_a_mapping_makes_has_its_documented_dimensions() -> None:
    """The catalogue is the contract: a point's dimension names are exactly the ones documented."""
    points = for_transition(record(lifecycle=["journey_started", "journey_stuck"], waited=0.1))
    points += for_transition(record(step_result="retrying after X: y"))
    points += for_outcome(Absorb(reason="duplicate start"), 0.01, conflicts=1)
    for point in points:
        assert tuple(k for k, _ in point.dimensions) == CATALOGUE[point.name].dimensions, point.name


def test_cost_is_the_list_price_of_the_usage() -> None:
    """Requests, capacity units and state transitions at the list prices in router/core/prices.py, by hand."""
    usage = Usage(
        calls={"dynamodb.GetItem": 1, "dynamodb.PutItem": 1, "sqs.SendMessage": 2, "sns.Publish": 1},
        read_units=0.5,
        write_units=3.0,
        sfn_transitions=7,
    )
    # 2 SQS x $0.40/M + 1 SNS x $0.50/M + 3 WRU x $0.625/M + 0.5 RRU x $0.125/M + 7 transitions x $25/M
    assert cost_usd(usage) == pytest.approx((0.80 + 0.50 + 1.875 + 0.0625 + 175.0) / 1e6, rel=1e-12)
    assert cost_by_service(usage) == pytest.approx(
        {"step_functions": 175e-6, "sqs": 0.8e-6, "sns": 0.5e-6, "dynamodb": 1.9375e-6, "eventbridge": 0.0}, rel=1e-12
    )
    assert (usage + usage).calls["sqs.SendMessage"] == 4


def test_the_benchmark_prices_calls_as_the_engine_does() -> None:
    """bench/compare.py prices its tallies with router/core/usage.py, adding Lambda: one unit per DynamoDB call,
    Step Functions' SQS sends as SQS requests, EventBridge per entry, SNS per request."""
    tally = Tally(
        calls=Counter(
            {
                "dynamodb:PutItem": 2,
                "dynamodb:GetItem": 1,
                "dynamodb:DescribeTable": 1,
                "sqs:SendMessage": 3,
                "sns:Publish": 1,
                "events:PutEvents": 1,
            }
        ),
        events=2,
        invocations=5,
        transitions=4,
        sfn_sqs_sends=1,
    )
    assert tally.cost() == pytest.approx(
        {
            "step_functions": 4 * 25e-6,
            "sqs": 4 * 0.40e-6,
            "sns": 0.50e-6,
            "dynamodb": 2 * 0.625e-6 + 0.125e-6,  # after the November 2024 price cut
            "eventbridge": 2 * 1.00e-6,
            "lambda": 5 * (0.20e-6 + 0.5 * 0.1 * 0.0000133334),  # 512 MB for 0.1 s each, arm64
        },
        rel=1e-12,
    )


def test_every_path_through_the_approval_chain_bills_the_transitions_charged() -> None:
    """Each way through infra/statemachines/approval.asl.json (granted, rejected or lapsed; the backstop timer;
    a withdrawal) enters APPROVAL_TRANSITIONS states; tests/test_approval_machine.py measures it on the emulator."""
    machine = json.loads(ASL.read_text())

    def paths(name: str) -> list[list[str]]:
        state = machine["States"][name]
        following = [state["Next"]] if "Next" in state else []
        following += [catch["Next"] for catch in state.get("Catch", [])]
        return [[name]] if state.get("End") else [[name, *rest] for nxt in following for rest in paths(nxt)]

    every = paths(machine["StartAt"])
    assert len(every) == 3 and {len(path) for path in every} == {APPROVAL_TRANSITIONS}


def test_a_journey_cost_is_the_running_sum_of_its_transitions() -> None:
    """charge prices each transition's usage onto its record and adds it to the journey's running cost."""
    from router.core.model import Journey

    journey = Journey(
        id="j-1",
        definition_id="dispute",
        definition_version="1.0.0",
        definition_hash="h",
        status=JourneyStatus.RUNNING,
        version=1,
        step="assess",
        state={},
        initiator="cli",
        created_at=0.0,
        updated_at=0.0,
        cost_usd=10e-6,  # what it had cost before these three
    )
    usages = [
        Usage(calls={"sqs.SendMessage": 1}, write_units=1.0),  # $0.40/M + $0.625/M
        Usage(calls={"sqs.SendMessage": 2}, sfn_transitions=7),  # 2 x $0.40/M + 7 x $25/M
        Usage(calls={"events.PutEvents": 1}, read_units=2.0),  # $1.00/M + 2 x $0.125/M
    ]
    records = []
    for n, usage in enumerate(usages, 1):
        journey, charged = charge(journey, record(seq=n), usage)
        records.append(charged)
    assert [r.usage for r in records] == usages
    assert [r.cost_usd for r in records] == pytest.approx([1.025e-6, 175.8e-6, 1.25e-6], rel=1e-12)
    assert journey.cost_usd == pytest.approx((10 + 1.025 + 175.8 + 1.25) / 1e6, rel=1e-12)


# -- on the emulator: the usage a journey records is the usage it caused


def wait_for(stack: LocalStack, journey_id: str, timeout: float = 30) -> Any:
    store = DynamoJourneyStore(stack.client("dynamodb"), stack.settings().journeys_table)  # not a consumer's client

    def ended() -> Any:
        journey = store.load(journey_id)
        return journey if journey is not None and journey.status is not JourneyStatus.RUNNING else None

    journey = waited(ended, timeout, what=f"the end of {journey_id}")
    stack.wait_quiet()
    return journey


def test_recorded_cost_is_the_sum_of_transitions_and_the_calls_the_benchmark_counts(fresh_emulator) -> None:
    """One sample journey: its cost is exactly the sum of its transitions' costs, and the calls its transitions
    record are the calls bench/critical_path.py counts (hooks on the start and advance consumers' clients)."""
    counted: Counter[str] = Counter()
    with LocalStack(fresh_emulator) as stack:
        count_critical_calls(stack, counted)
        start = StartJourney(journey_id="cost-1", definition_id="account-opening", input=CLARA, actor="test")
        stack.client("sqs").send_message(QueueUrl=stack.settings().start_queue_url, MessageBody=start.model_dump_json())
        journey = wait_for(stack, "cost-1")
        records = stack.runtimes["JournalFunction"].journal.log.read("cost-1")
        emitted_documents = [json.loads(d) for d in stack.emitted]

    assert journey.status is JourneyStatus.SUCCEEDED
    assert [r.seq for r in records] == list(range(1, journey.version + 1))
    assert journey.cost_usd > 0
    assert journey.cost_usd == sum(r.cost_usd for r in records)
    assert all(r.cost_usd == cost_usd(r.usage) for r in records if r.usage)
    recorded: Counter[str] = Counter()
    for r in records:
        assert r.usage is not None
        recorded.update(r.usage.calls)
    assert {call.replace(".", ":"): n for call, n in recorded.items()} == counted
    assert records[0].usage is not None and "dynamodb.GetItem" not in records[0].usage.calls  # a start reads nothing
    reads = sum(r.usage.read_units for r in records if r.usage)
    assert reads > 0  # the loads' units, as the service returned them
    for r in records:  # every commit is a write of at least one unit
        assert r.usage is not None and r.usage.write_units >= r.usage.calls["dynamodb.PutItem"]
    journal_costs = [
        value
        for document in emitted_documents
        if document.get("service") == "journeys-journal" and "TransitionCost" in document
        for value in document["TransitionCost"]
    ]
    assert sorted(journal_costs) == sorted(r.cost_usd for r in records)


# -- every consumer emits its documented metrics


def sqs_event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m-{n}",
                "receiptHandle": f"r-{n}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:queue",
                "awsRegion": "eu-west-1",
            }
            for n, body in enumerate(bodies)
        ]
    }


def stream_event(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventID": "e-1",
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "dynamodb": {"Keys": {"journey_id": item["journey_id"]}, "NewImage": item, "SequenceNumber": "1"},
            }
        ]
    }


def test_every_consumer_emits_its_metrics_with_the_documented_dimensions(fresh_emulator, capsys) -> None:
    """Each of the seven consumers, driven directly, prints EMF on stdout; every metric is in the catalogue,
    with exactly its documented dimensions plus `service`, from a consumer the catalogue says emits it."""
    stack = LocalStack(fresh_emulator).start(pollers=False)
    try:
        runtimes = stack.runtimes
        for runtime in runtimes.values():
            runtime.emit = print  # as on Lambda
        context = LambdaContext("test")
        start = StartJourney(journey_id="emf-1", definition_id="dispute", input=DISPUTE, actor="test")
        consumers.start.consume(runtimes["StartFunction"], sqs_event(start.model_dump_json()), context)
        journey = runtimes["StartFunction"].router.store.load("emf-1")
        (activation,) = journey.open.values()
        work = {"kind": "send_work", "worker": activation.worker, "activation_id": activation.id}
        work |= {"journey_id": journey.id, "step": activation.step, "state": journey.state}
        consumers.worker.consume(runtimes["SampleWorkersFunction"], sqs_event(json.dumps(work)), context)
        proof = proof_for(stack.proof_key.encode(), "emf-1", activation.id)
        answer = StepSucceeded(journey_id="emf-1", activation_id=activation.id, output={}, actor="test", proof=proof)
        consumers.advance.consume(runtimes["AdvanceFunction"], sqs_event(answer.model_dump_json()), context)
        consumers.advance.consume(runtimes["AdvanceFunction"], sqs_event(answer.model_dump_json()), context)
        journey = runtimes["AdvanceFunction"].router.store.load("emf-1")
        item = journey_item(journey, TransitionRecord.model_validate_json(_last(stack, "emf-1")))
        consumers.journal.consume(runtimes["JournalFunction"], stream_event(item), context)
        open_one = next(iter(journey.open.values()), None)
        exhausted_id = open_one.id if open_one else "none"
        proof = proof_for(stack.proof_key.encode(), "emf-1", exhausted_id)
        exhausted = RetriesExhausted(journey_id="emf-1", activation_id=exhausted_id, proof=proof)
        consumers.retry.consume(runtimes["RetryFunction"], sqs_event(exhausted.model_dump_json()), context)
        refused = {"detail-type": "approval_recorded", "source": "staff", "detail": {"ticket_id": "no-such-ticket"}}
        token = stack.issuer.issue("olivia", ["payments-officer"])
        refused["detail"] |= {"decision": "approve", "approver": "olivia", "token": token}
        lapse = json.dumps({"kind": "lapse_ticket", "ticket_id": "no-such-ticket"})
        bodies = sqs_event(json.dumps(refused), lapse, "not json")
        consumers.approvals.consume(runtimes["ApprovalsFunction"], bodies, context)
        consumers.watchdog.consume(runtimes["WatchdogFunction"], {}, context)
    finally:
        stack.stop()

    documents = emf_documents(capsys.readouterr().out)
    by_service: dict[str, set[str]] = {}
    for document in documents:
        assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == NAMESPACE
        consumer = document["service"].removeprefix("journeys-")
        for name, dimensions in emitted(document):
            spec = CATALOGUE[name]
            assert dimensions == {"service", *spec.dimensions}, name
            assert all(isinstance(document[d], str) and document[d] for d in dimensions), name
            assert consumer in spec.emitted_by, (consumer, name)
            by_service.setdefault(consumer, set()).add(name)
    assert by_service["start"] >= {"TransitionsCommitted", "TransitionLatency", "MessagesProcessed", "MessagesFailed"}
    assert by_service["worker"] >= {"WorkerRuns", "MessagesProcessed"}
    assert by_service["advance"] >= {"TransitionsCommitted", "DuplicatesAbsorbed", "TransitionLatency"}
    assert by_service["journal"] >= {"StepOutcomes", "StepLatency", "TransitionCost"}
    assert by_service["retry"] >= {"TransitionLatency", "MessagesProcessed"}
    assert by_service["approvals"] >= {"DecisionsRefused", "TicketsLapsed", "MessagesRejected", "MessagesProcessed"}
    assert by_service["watchdog"] == {"ActivationsOverdue", "TicketsOverdue"}


class PublishFailsOnce(MemoryPublisher):
    def publish(self, record: TransitionRecord) -> None:
        if not hasattr(self, "failed"):
            self.failed = True
            raise ConnectionError("PutEvents timed out")
        super().publish(record)


def test_a_transition_whose_publish_failed_is_counted_once_across_the_replay() -> None:
    """The stream replays a record whose events were not published; its metrics are emitted once, not zero times."""
    documents: list[str] = []
    settings = Settings(JOURNEYS_TABLE="journeys", ADVANCE_QUEUE_URL="advance")
    runtime = Runtime(settings, session=None, registry=Registry([]), emit=documents.append)
    log, publisher = MemoryLog(), PublishFailsOnce()
    runtime.__dict__["journal"] = Journal(log, publisher)
    completed = record(lifecycle=["journey_completed"], status=JourneyStatus.SUCCEEDED)
    image = {"journey_id": {"S": "j-1"}, "last_transition": {"S": completed.model_dump_json()}}
    event = {
        "Records": [
            {
                "eventID": "e-1",
                "eventName": "MODIFY",
                "eventSource": "aws:dynamodb",
                "dynamodb": {"NewImage": image, "SequenceNumber": "1"},
            }
        ]
    }

    with pytest.raises(ConnectionError):  # the invocation failed: the stream hands the record over again
        consumers.journal.consume(runtime, event, LambdaContext("test"))
    assert publisher.published == [] and list(log.records) == [("j-1", 2)]
    consumers.journal.consume(runtime, event, LambdaContext("test"))
    assert publisher.published == [completed]
    names = Counter(name for doc in documents for name, _ in emitted(json.loads(doc)))
    assert names["JourneysCompleted"] == names["StepOutcomes"] == names["TransitionCost"] == 1


def _last(stack: LocalStack, journey_id: str) -> str:
    client = stack.runtimes["JournalFunction"].client("dynamodb")
    table = stack.settings().journeys_table
    return unpacked(client.get_item(TableName=table, Key={"journey_id": {"S": journey_id}})["Item"]["last_transition"])


# -- the dashboard shows only what the code emits


def test_the_dashboard_references_only_metrics_the_code_emits() -> None:
    """Every Journeys metric a widget or alarm names is in the catalogue, searched with its documented dimensions."""
    cfn = translate(DEFAULT_TEMPLATE, "eu-west-1")
    (dashboard,) = [r["Properties"] for r in cfn["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body = _flatten(dashboard["DashboardBody"])
    searched = re.findall(r"SEARCH\('\{([^}]*)\} MetricName=\\?\"(\w+)\\?\"", body)
    assert searched
    for schema, name in searched:
        namespace, *dimensions = [part.strip() for part in schema.split(",")]
        assert namespace == NAMESPACE
        assert name in CATALOGUE, name
        assert set(dimensions) == {"service", *CATALOGUE[name].dimensions}, name
    shown = {name for _, name in searched}
    assert {"JourneysStarted", "JourneysCompleted", "JourneysFailed", "JourneysEscalated", "StepLatency"} <= shown
    alarms = [r["Properties"] for r in cfn["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    journeys_metrics = [
        query["MetricStat"]["Metric"]
        for alarm in alarms
        for query in alarm.get("Metrics", [])
        if "MetricStat" in query and query["MetricStat"]["Metric"]["Namespace"] == NAMESPACE
    ]
    journeys_metrics += [a for a in alarms if a.get("Namespace") == NAMESPACE and a["MetricName"] != "StuckJourneys"]
    assert journeys_metrics, "the error-rate and SLA alarms read the code's metrics"
    services = {module.logger.service: name for name, module in CONSUMER_MODULES.items()}
    for metric in journeys_metrics:
        spec = CATALOGUE[metric["MetricName"]]
        assert {d["Name"] for d in metric["Dimensions"]} == {"service", *spec.dimensions}
        (service,) = [d["Value"] for d in metric["Dimensions"] if d["Name"] == "service"]
        assert services[service] in spec.emitted_by, (metric["MetricName"], service)


CONSUMER_MODULES = {
    "start": consumers.start,
    "advance": consumers.advance,
    "journal": consumers.journal,
    "worker": consumers.worker,
    "retry": consumers.retry,
    "approvals": consumers.approvals,
    "watchdog": consumers.watchdog,
}


def _flatten(value: Any) -> str:
    """A DashboardBody after the transform: a string, or Fn::Sub / Fn::Join around one."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        ((function, argument),) = value.items()
        if function == "Fn::Sub":
            return _flatten(argument[0] if isinstance(argument, list) else argument)
        if function == "Fn::Join":
            return "".join(_flatten(part) for part in argument[1])
        return ""
    return ""


# -- traces and the local commands


class FakeSubsegment:
    def __init__(self, name: str, spans: list[FakeSubsegment]) -> None:
        self.name, self.annotations = name, {}
        spans.append(self)

    def put_annotation(self, key: str, value: str) -> None:
        self.annotations[key] = value


class FakeTracer:
    """Powertools' Tracer as Telemetry uses it: provider.in_subsegment(name) as a context manager."""

    def __init__(self) -> None:
        self.spans: list[FakeSubsegment] = []
        self.provider = self

    @contextlib.contextmanager
    def in_subsegment(self, name: str) -> Iterator[FakeSubsegment]:
        yield FakeSubsegment(name, self.spans)


def test_each_routed_event_is_a_span_annotated_with_its_journey_and_definition() -> None:
    """One subsegment per event the router handles, so X-Ray finds a journey by annotation across consumers."""
    from router.language.registry import Registry
    from workers.samples import SAMPLES as SAMPLE_WORKERS

    driver = JourneyDriver(Registry.from_directory(known_workers=SAMPLE_WORKERS.names()), SAMPLE_WORKERS)
    tracer = FakeTracer()
    telemetry = Telemetry("journeys-start", emit=lambda _doc: None, tracer=tracer)
    start = StartJourney(journey_id="traced-1", definition_id="dispute", input=DISPUTE)
    telemetry.route(driver.router, start)
    (span,) = tracer.spans
    assert (span.name, span.annotations) == ("## route", {"journey_id": "traced-1", "definition": "dispute"})


def test_tracing_is_off_outside_lambda_and_when_disabled() -> None:
    """Locally and under POWERTOOLS_TRACE_DISABLED no Tracer is built, so the X-Ray SDK is never imported."""
    assert tracer_for("journeys-start", {}) is None
    assert tracer_for("journeys-start", {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}) is None


def test_costs_add_up_by_definition_and_step() -> None:
    """`journeys costs` sums each step's transitions, calls and cost."""
    usage = Usage(calls={"dynamodb.PutItem": 1, "sqs.SendMessage": 1}, write_units=1)
    timeline = [record(seq=n, usage=usage, cost_usd=cost_usd(usage)) for n in (1, 2)]
    lines = costs_by_step([timeline])
    line = lines[("dispute", "assess")]
    assert (line.transitions, line.calls["sqs.SendMessage"], line.cost_usd) == (2, 2, 2 * cost_usd(usage))


def test_stats_summarise_the_emitted_documents() -> None:
    """`journeys stats` reads EMF documents as CloudWatch would: counts by definition, latency percentiles by step."""
    documents = []
    for n, point in enumerate(
        [p for ms in range(1, 101) for p in for_transition(record(waited=ms / 1000))]
        + for_transition(record(lifecycle=["journey_started"]))
    ):
        metrics = {"Name": point.name, "Unit": point.unit}
        dims = dict(point.dimensions) | {"service": "journeys-journal"}
        directive = {"Namespace": NAMESPACE, "Dimensions": [list(dims)], "Metrics": [metrics]}
        documents.append(
            {"_aws": {"Timestamp": 1000 * n, "CloudWatchMetrics": [directive]}, **dims, point.name: [point.value]}
        )
    text = render_stats(documents)
    assert re.search(r"dispute / assess\s+100\s+50\s+95\s+99", text), text
    assert re.search(r"dispute\s+1\s+0\s+0\s+0\s+0", text), text


_ON_LAMBDA = """
import json, os
os.environ.update(LAMBDA_TASK_ROOT="/var/task", AWS_LAMBDA_FUNCTION_NAME="start",
                  AWS_XRAY_CONTEXT_MISSING="RUNTIME_ERROR",
                  _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
from aws_xray_sdk.core.models.subsegment import Subsegment
from consumers.telemetry import Telemetry, tracer_for
from router.core.model import StartJourney
from router.language.registry import Registry
from tests.journey_driver import JourneyDriver
from workers.samples import SAMPLES

seen = []
annotate = Subsegment.put_annotation
Subsegment.put_annotation = lambda self, key, value: (
    seen.append([self.name, self.parent_id is not None, key, value]), annotate(self, key, value))
tracer = tracer_for("journeys-start", os.environ)
driver = JourneyDriver(Registry.from_directory(known_workers=SAMPLES.names()), SAMPLES)
telemetry = Telemetry("journeys-start", print, tracer)
data = json.loads(os.environ["DISPUTE"])

def invoke(event, context):
    with telemetry.span("## message"):
        telemetry.route(driver.router, StartJourney(journey_id="t-1", definition_id="dispute", input=data))
    return {}

tracer.capture_lambda_handler(invoke, capture_response=False)({}, None)
print(json.dumps(sorted(s for s in seen if s[2] != "ColdStart" and s[2] != "Service")))
"""


def test_on_lambda_the_powertools_tracer_annotates_nested_spans(tmp_path) -> None:
    """With Lambda's environment, the real Powertools Tracer (X-Ray SDK) is built and the route span, nested in
    the invocation's, carries the journey id and definition. Run apart: the tracer patches botocore for good."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    environment = {**os.environ, "DISPUTE": json.dumps(DISPUTE), "POWERTOOLS_TRACE_DISABLED": "false"}
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _ON_LAMBDA], cwd=root, env=environment, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout.splitlines()[-1]) == [
        ["## route", True, "definition", "dispute"],
        ["## route", True, "journey_id", "t-1"],
    ]


def test_the_readme_documents_every_metric_with_its_dimensions() -> None:
    """The README's Metrics table is the catalogue: name, unit, dimensions and emitting consumers."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for name, spec in CATALOGUE.items():
        row = f"| `{name}` | {spec.unit} | {', '.join(spec.dimensions) or '-'} | {', '.join(spec.emitted_by)} |"
        assert row in readme, name
