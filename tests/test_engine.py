"""The whole engine on the emulator: samples end to end, exactly-once, races, events and poison messages."""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from cloudevents.core.formats.json import JSONFormat

from cli.client import JourneysClient
from consumers.runtime import Runtime
from devstack.emulator import CREDENTIALS, Emulator
from devstack.run import play
from devstack.samples import SAMPLES, Sample
from devstack.stack import LocalStack
from reliability.instruments import (
    Calls,
    Gate,
    ReadAligner,
    SendLog,
    SideEffects,
    Storm,
    drain,
    rewrapped,
    scan_all,
)
from router.adapters.events import SOURCE, STEP_COMPLETED
from router.core.decide import Absorb, Commit
from router.core.model import Journey, JourneyStatus, StartJourney, StepSucceeded, TransitionRecord
from router.core.proofs import proof_for
from router.runtime.service import Router
from workers.samples import SAMPLES as SAMPLE_WORKERS

# In-process consumers have no Lambda context, so Powertools cannot bound an in-progress record by it.
pytestmark = pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")


def timelines(stack: LocalStack, journeys: list[Journey]) -> dict[str, list[TransitionRecord]]:
    client = JourneysClient(stack.runtimes["AdvanceFunction"])
    return {journey.id: client.timeline(journey.id) for journey in journeys}


def assert_gap_free(journey: Journey, records: list[TransitionRecord]) -> None:
    assert [r.seq for r in records] == list(range(1, journey.version + 1)), journey.id


def assert_expected_outcomes(
    samples: list[Sample], journeys: list[Journey], logs: dict[str, list[TransitionRecord]]
) -> None:
    assert len(journeys) == len(samples)
    for sample, journey in zip(samples, journeys, strict=True):
        assert journey.status == sample.expect, sample.title
        assert_gap_free(journey, logs[journey.id])


# -- every sample, end to end (one run shared by the outcome and the events tests)


@dataclass(frozen=True)
class Played:
    journeys: list[Journey]
    logs: dict[str, list[TransitionRecord]]
    calls: Calls
    buses: dict[str, str]  # definition id -> the bus its events belong on


@pytest.fixture(scope="module")
def played(emulator: Emulator) -> Played:
    """Play every sample once on a stack whose AWS calls are all recorded; the stack is gone after."""
    emulator.reset()
    calls = Calls()
    with LocalStack(emulator, hooks=calls.hooks()) as stack:
        journeys = play(stack, SAMPLES)
        logs = timelines(stack, journeys)
        domain_buses = stack.settings().domain_buses
        buses = {d.id: domain_buses[d.owning_domain] for d in stack.registry}
    return Played(journeys, logs, calls, buses)


def test_every_sample_runs_to_its_expected_end_with_a_gap_free_log(played: Played) -> None:
    """Each sample ends as its sample says, and its log holds exactly transitions 1..version."""
    assert_expected_outcomes(SAMPLES, played.journeys, played.logs)


def test_the_journal_publishes_exactly_the_committed_transitions_as_valid_cloudevents(played: Played) -> None:
    """One valid CloudEvent per logged transition, with its data, plus lifecycle events matching each outcome."""
    published = [p for p in played.calls.published if p.entry["Source"] == SOURCE]
    assert {p.consumer for p in published} == {"JournalFunction"}
    events = []
    for p in published:
        raw = json.loads(p.entry["Detail"])
        event = JSONFormat().read(None, p.entry["Detail"])  # validates the required attributes
        assert raw["specversion"] == event.get_specversion() == "1.0"
        assert event.get_id() and event.get_source() and event.get_type() == p.entry["DetailType"]
        data = event.get_data()
        assert isinstance(data, dict)
        assert p.entry["EventBusName"] == played.buses[data["definition_id"]]
        events.append(event)

    steps = {e.get_id(): e.get_data() for e in events if e.get_type() == STEP_COMPLETED}
    logged = {f"{r.journey_id}/{r.seq}": r for records in played.logs.values() for r in records}
    assert steps.keys() == logged.keys() == {f"{j.id}/{s}" for j in played.journeys for s in range(1, j.version + 1)}
    for event_id, data in steps.items():
        record = logged[event_id]
        assert isinstance(data, dict)
        assert (data["workflow_id"], data["step_name"], data["step_result"], data["actor"]) == (
            record.journey_id,
            record.step_name,
            record.step_result,
            record.actor,
        )

    lifecycle = {(e.get_type(), e.get_id()) for e in events if e.get_type() != STEP_COMPLETED}
    expected = {(f"{SOURCE}.journey_started", f"{j.id}/1/journey_started") for j in played.journeys}
    for j in played.journeys:
        name = {JourneyStatus.SUCCEEDED: "journey_completed", JourneyStatus.FAILED: "journey_failed"}[j.status]
        expected.add((f"{SOURCE}.{name}", f"{j.id}/{j.version}/{name}"))
    assert lifecycle == expected


def test_start_and_advance_never_call_eventbridge(played: Played) -> None:
    """The critical path commits and sends; only the journal talks to EventBridge."""
    for consumer in ("StartFunction", "AdvanceFunction"):
        calls = played.calls.made_by(consumer)
        assert "dynamodb.PutItem" in calls and "sqs.SendMessage" in calls, calls  # the consumer did work
        assert not {c for c in calls if c.startswith("eventbridge.")}, consumer
    assert "eventbridge.PutEvents" in played.calls.made_by("JournalFunction")


# -- exactly once under redelivery and duplicates


def test_redelivered_and_duplicated_messages_are_applied_exactly_once(
    fresh_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each message arrives 2-4 times and every repeat late, yet each worker acts once per logged success."""
    samples = SAMPLES
    effects, storm = SideEffects(), Storm(fresh_emulator)
    with LocalStack(
        fresh_emulator,
        workers=rewrapped(SAMPLE_WORKERS, effects),
        hooks=storm.hooks(),
        consumers_per_queue=2,
        deliveries=storm.deliveries,
    ) as stack:
        journeys = play(stack, samples, out=lambda _line: None)
        while storm.release():  # the repeats the engine sent, delivered now that the journeys have ended
            stack.wait_quiet()
        logs = timelines(stack, journeys)
        routers = {name: stack.runtimes[name].router.counts for name in ("StartFunction", "AdvanceFunction")}
        journal = stack.runtimes["JournalFunction"].journal.counts

    with capsys.disabled():
        print(f"\nduplicates injected: {storm.injected.total()} {dict(storm.injected)}")
        print(f"repeats the consumers sent, delivered late: {storm.held.total()} {dict(storm.held)}")
        for name, counts in routers.items():
            print(f"{name} router: {dict(counts)}")
        print(f"journal: {dict(journal)}")
    assert_expected_outcomes(samples, journeys, logs)
    records = [r for log in logs.values() for r in log]
    answered = Counter(r.activation_id for r in records if r.activation_id)
    assert [a for a, n in answered.items() if n > 1] == []
    succeeded = Counter(r.actor for r in records if r.event == "step_succeeded")
    assert dict(effects.succeeded) == dict(succeeded)
    assert storm.injected.total() > 0 and routers["AdvanceFunction"]["absorbed: duplicate"] > 0


def test_one_duplicated_message_does_not_multiply_the_rest_of_the_journey(fresh_emulator: Emulator) -> None:
    """One extra copy of a journey's first work message is absorbed; every later message is sent once."""
    sends = SendLog(fresh_emulator, copy_first="send_work")
    with LocalStack(fresh_emulator, hooks=sends.hooks()) as stack:
        (journey,) = play(stack, SAMPLES[:1], out=lambda _line: None)
    assert journey.status == SAMPLES[0].expect and sends.copied
    first = f"{journey.id}.1"
    assert {key: n for key, n in sends.sent.items() if key[1] != first and n > 1} == {}


# -- two consumers racing on one answer

ROUNDS = 20


def racing_routers(stack: LocalStack, aligner: ReadAligner) -> list[Router]:
    """Two instances of the advance consumer, each with its own clients, on a session the aligner hooks."""
    session = boto3.Session(**CREDENTIALS)
    for name, hook in aligner.hooks():
        session.events.register(name, hook)
    settings = stack.runtimes["AdvanceFunction"].settings
    return [Runtime(settings, session, stack.registry, stack.workers).router for _ in range(2)]


def race(routers: list[Router], event: StepSucceeded) -> list[Commit | Absorb]:
    start = threading.Barrier(len(routers), timeout=10)

    def handle(router: Router) -> Commit | Absorb:
        start.wait()
        return router.handle(event)

    with ThreadPoolExecutor(len(routers), thread_name_prefix="racer") as pool:
        return list(pool.map(handle, routers))


def test_two_consumers_racing_on_one_answer_commit_it_once(
    fresh_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both racers read before either writes; one commits, the other loses the version race and absorbs."""
    sample = next(s for s in SAMPLES if s.definition_id == "dispute" and s.expect == "FAILED")
    gate = Gate()  # the stack's workers wait, so the racers are the only ones answering
    with LocalStack(fresh_emulator, workers=rewrapped(SAMPLE_WORKERS, gate)) as stack:
        try:
            routers = racing_routers(stack, ReadAligner(parties=2))
            outcomes = []
            for i in range(ROUNDS):
                start = StartJourney(journey_id=f"race-{i}", definition_id="dispute", input=sample.input, actor="test")
                routers[0].handle(start)
                journey = routers[0].store.load(start.journey_id)
                assert journey is not None
                (activation,) = journey.open.values()
                assert activation.worker is not None
                output = SAMPLE_WORKERS.run(activation.worker, journey.state)
                answer = StepSucceeded(
                    journey_id=journey.id,
                    activation_id=activation.id,
                    output=output,
                    actor=activation.worker,
                    proof=proof_for(stack.proof_key.encode(), journey.id, activation.id),
                )
                outcomes.append(race(routers, answer))
        finally:
            gate.opened.set()
        stack.wait_quiet()
        client = JourneysClient(stack.runtimes["AdvanceFunction"])
        journeys = [client.get(f"race-{i}") for i in range(ROUNDS)]
        logs = {j.id: client.timeline(j.id) for j in journeys if j}
        late = stack.runtimes["AdvanceFunction"].router.counts

    conflicts = sum(r.counts["conflicts"] for r in routers)
    with capsys.disabled():
        print(f"\nraces: {ROUNDS}, version conflicts: {conflicts}, late worker answers: {dict(late)}")
    for pair in outcomes:
        (absorb,) = [o for o in pair if isinstance(o, Absorb)]
        (commit,) = [o for o in pair if isinstance(o, Commit)]
        assert absorb.reason == "duplicate" and commit.record.seq == 2
    assert conflicts == ROUNDS  # the aligner made every round a lost race, not a late duplicate
    for journey in journeys:
        assert journey is not None and journey.status is JourneyStatus.FAILED and journey.version == 2
        assert_gap_free(journey, logs[journey.id])


# -- poison messages

SECRET = "Zebulon-Quixote-1234"  # personal data that must never reach a log or a DLQ attribute
APPLICANT = {"full_name": "Pat Poison", "email": "pat@example.com", "date_of_birth": "1990-01-01", "country": "GB"}


def start_body(definition_id: str, data: dict[str, Any], journey_id: str = "poison") -> str:
    return json.dumps({"journey_id": journey_id, "definition_id": definition_id, "input": data})


# (case, queue, body, what the rejection reason must say)
POISON = [
    ("start: not JSON", "start", "{this is not json", "JSONDecodeError"),
    ("start: not an object", "start", "[1, 2, 3]", "must be a JSON object"),
    ("start: wrong shape", "start", json.dumps({"greeting": "hello"}), "definition_id: Field required"),
    ("start: unknown definition", "start", start_body("no-such-journey", {}, "p-1"), "unknown definition"),
    (
        "start: input breaks the schema",
        "start",
        start_body("account-opening", {**APPLICANT, "date_of_birth": SECRET}, "p-2"),
        "date_of_birth: must satisfy format='date'",
    ),
    (
        "start: over 256 KB",
        "start",
        start_body("account-opening", {**APPLICANT, "notes": "x" * 300_000}, "p-3"),
        "over the 262144-byte AWS limit",
    ),
    ("advance: not JSON", "advance", "{this is not json", "Invalid JSON"),
    (
        "advance: wrong kind",
        "advance",
        json.dumps({"kind": "step_exploded", "journey_id": "p-4", "activation_id": "p-4.1"}),
        "unknown kind",
    ),
    (
        "advance: unknown journey",
        "advance",
        StepSucceeded(journey_id="p-5", activation_id="p-5.1", output={}, actor="kyc").model_dump_json(),
        "carries no proof",
    ),
]


def test_poison_messages_are_parked_with_a_clear_reason_and_touch_no_journey(
    fresh_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Each malformed message lands in its consumer's DLQ, with a logged reason naming the problem."""
    caplog.set_level(logging.WARNING)
    with LocalStack(fresh_emulator) as stack:
        sqs = stack.client("sqs")
        settings = {queue: stack.runtimes[f"{queue.title()}Function"].settings for queue in ("start", "advance")}
        for _case, queue, body, _phrase in POISON:
            url = settings[queue].start_queue_url if queue == "start" else settings[queue].advance_queue_url
            sqs.send_message(QueueUrl=url, MessageBody=body)
        stack.wait_quiet()
        parked = {queue: drain(sqs, settings[queue].dead_letter_queue_url) for queue in settings}
        dynamodb = stack.client("dynamodb")
        journeys = scan_all(dynamodb, settings["start"].journeys_table)
        log = scan_all(dynamodb, settings["start"].transition_log_table)

    logged = [r.__dict__["reason"] for r in caplog.records if r.getMessage() == "message rejected"]
    for case, queue, body, phrase in POISON:
        reasons = [
            m["MessageAttributes"]["rejection_reason"]["StringValue"] for m in parked[queue] if m["Body"] == body
        ]
        assert len(reasons) == 1, case
        assert phrase in reasons[0], (case, reasons[0])
        assert reasons[0] in logged, case
    assert sum(len(messages) for messages in parked.values()) == len(POISON)
    assert not [reason for reason in logged if SECRET in reason]
    assert journeys == [] and log == []
