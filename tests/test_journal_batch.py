"""The journal publishes a stream batch's events ten to a request, and a partly failed batch resumes where it broke."""

from __future__ import annotations

import json
from typing import Any

import pytest

import consumers.journal
from consumers.runtime import Runtime, Settings
from devstack.stack import LambdaContext
from router.adapters.events import EventBridgePublisher
from router.core.model import JourneyStatus, TransitionRecord
from router.language.registry import Registry
from router.ports.memory import MemoryLog
from router.runtime.journal import Journal


def transition(journey: str, seq: int, **fields: Any) -> TransitionRecord:
    return TransitionRecord(
        journey_id=journey,
        seq=seq,
        at=100.0 + seq,
        definition_id="dispute",
        definition_version="1.0.0",
        owning_domain="bank-disputes",
        event="step_succeeded",
        actor="w",
        step_name="assess",
        step_result="succeeded",
        status=JourneyStatus.RUNNING,
        **fields,
    )


class Bus:
    """put_events as EventBridge answers it; `refuse` names the requests (1-based) answered with a failed entry."""

    def __init__(self, refuse: frozenset[int] = frozenset()) -> None:
        self.requests: list[list[dict[str, Any]]] = []
        self.refuse = refuse

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        assert 1 <= len(Entries) <= 10
        self.requests.append(Entries)
        return {"FailedEntryCount": 1 if len(self.requests) in self.refuse else 0}


def stream(transitions: list[TransitionRecord]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventID": f"e-{n}",
                "eventName": "MODIFY",
                "eventSource": "aws:dynamodb",
                "dynamodb": {
                    "NewImage": {"journey_id": {"S": t.journey_id}, "last_transition": {"S": t.model_dump_json()}},
                    "SequenceNumber": str(1000 + n),
                },
            }
            for n, t in enumerate(transitions)
        ]
    }


def runtime_with(bus: Bus, log: MemoryLog) -> Runtime:
    settings = Settings(JOURNEYS_TABLE="journeys", ADVANCE_QUEUE_URL="advance")
    runtime = Runtime(settings, session=None, registry=Registry([]), emit=lambda _: None)
    runtime.__dict__["journal"] = Journal(log, EventBridgePublisher(bus, {"bank-disputes": "disputes-bus"}))
    return runtime


def test_a_batch_of_transitions_is_published_in_as_few_requests_as_entries_allow() -> None:
    """25 transitions, 30 events (five finish a journey): three PutEvents, not 25; every event once, in order."""
    batch = [transition(f"j-{n}", 2, lifecycle=["journey_completed"] if n % 5 == 0 else []) for n in range(25)]
    bus, log = Bus(), MemoryLog()
    assert consumers.journal.consume(runtime_with(bus, log), stream(batch), LambdaContext("t")) == {
        "batchItemFailures": []
    }
    ids = [json.loads(e["Detail"])["id"] for request in bus.requests for e in request]
    assert len(bus.requests) == 3 and len(ids) == len(set(ids)) == 30
    assert ids[0] == "j-0/2" and ids[1] == "j-0/2/journey_completed"
    assert len(log.records) == 25


def test_a_refused_request_reports_the_first_record_it_carried_and_the_replay_appends_nothing_twice() -> None:
    """The second request fails: the batch reports the first record whose events it held; the stream replays from
    there, the log is not appended again, and the replayed events go out under the same ids."""
    batch = [transition(f"j-{n}", 2) for n in range(15)]
    bus, log = Bus(refuse=frozenset({2})), MemoryLog()
    runtime = runtime_with(bus, log)
    answer = consumers.journal.consume(runtime, stream(batch), LambdaContext("t"))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "1010"}]}  # the 11th record opened request 2
    assert len(log.records) == 15
    replay = stream(batch)
    replay["Records"] = replay["Records"][10:]
    assert consumers.journal.consume(runtime, replay, LambdaContext("t")) == {"batchItemFailures": []}
    assert len(log.records) == 15 and runtime.journal.counts["already logged"] == 5
    sent = [json.loads(e["Detail"])["id"] for request in bus.requests for e in request]
    assert sent[-5:] == [f"j-{n}/2" for n in range(10, 15)]


def test_a_batch_nothing_of_which_got_out_fails_the_invocation() -> None:
    """Every request refused: the invocation fails whole, so the stream retries (and may bisect) the batch."""
    bus, log = Bus(refuse=frozenset({1, 2})), MemoryLog()
    with pytest.raises(consumers.journal.NothingJournaled):
        consumers.journal.consume(runtime_with(bus, log), stream([transition("j", 2)]), LambdaContext("t"))
