"""Hostile and broken input: each case gets a clear error, is counted, and changes no journey."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devstack.emulator import Emulator
from devstack.pollers import SchedulePoller
from reliability import workload
from reliability.harness import Check, Harness
from reliability.instruments import open_ticket
from reliability.scenarios import Result
from router.core.approvals import NotRecorded, Ticket
from router.core.decide import Absorb, Rejected
from router.core.model import Command, Intervention, Journey, StepSucceeded
from router.core.proofs import proof_for
from router.language.loader import parse
from router.ports import PayloadTooLarge

APPROVAL = """
id: reliability-approval{suffix}
version: "1.0.0"
owning_domain: bank-payments
start_at: approve
steps:
  - name: approve
    type: APPROVAL
    amount: amount
    initiator: initiated_by
    sla_seconds: 900
    levels:
      - {{role: payments-officer, limit: 50000, timeout_seconds: {timeout}}}
      - {{role: payments-manager, timeout_seconds: {timeout}}}
    next: done
  - {{name: done, type: SUCCESS}}
"""
PATIENT = parse(APPROVAL.format(suffix="", timeout=300), "reliability/bad_input.py")
HASTY = parse(APPROVAL.format(suffix="-hasty", timeout=1), "reliability/bad_input.py")  # expires at once
HUGE = "x" * 300_000  # over 256 KB once in a message
START_QUEUE, ADVANCE_QUEUE, WORK_QUEUE, APPROVAL_QUEUE = "start", "advance", "work", "approval"


@dataclass
class Case:
    name: str
    error: str = ""  # the error the engine gave, as the operator or sender sees it
    counted: str = ""  # where it is counted
    expected: str = ""  # a phrase the error must hold


def _start_body(**fields: Any) -> str:
    return json.dumps({"journey_id": "bad-1", "definition_id": workload.LOAD_ID, **fields})


def _queued_cases(canary_input: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(case, queue, body, phrase its rejection reason must hold)."""
    good = workload.start(0, "bad").input
    return [
        ("start: not JSON", START_QUEUE, "{nope", "Invalid JSON"),
        ("start: not an object", START_QUEUE, "[1, 2]", "must be a JSON object"),
        ("start: wrong shape", START_QUEUE, json.dumps({"hello": "world"}), "definition_id: Field required"),
        ("start: unknown definition", START_QUEUE, _start_body(definition_id="no-such", input=good), "unknown"),
        ("start: unknown version", START_QUEUE, _start_body(definition_version="9.9.9", input=good), "no version"),
        ("start: input breaks the schema", START_QUEUE, _start_body(input=canary_input), "amount"),
        ("start: body over 256 KB", START_QUEUE, _start_body(input={**good, "notes": HUGE}), "262144-byte"),
        ("advance: not JSON", ADVANCE_QUEUE, "{nope", "Invalid JSON"),
        (
            "advance: unknown kind",
            ADVANCE_QUEUE,
            json.dumps({"kind": "step_exploded", "journey_id": "x", "activation_id": "x.1"}),
            "unknown kind",
        ),
        (
            "advance: answer without the router's proof (forged)",
            ADVANCE_QUEUE,
            StepSucceeded(journey_id="ghost", activation_id="ghost.1", actor="kyc").model_dump_json(),
            "no proof",
        ),
        ("worker: work message of the wrong shape", WORK_QUEUE, json.dumps({"worker": "kyc"}), "Field required"),
        (
            "approvals: decision event without an approver",
            APPROVAL_QUEUE,
            json.dumps({"detail-type": "approval_recorded", "source": "bank.staff", "detail": {"ticket_id": "t"}}),
            "approver",
        ),
    ]


def scenario(emulator: Emulator) -> Result:
    emulator.reset()
    cases: list[Case] = []
    payment = {"amount": 20_000, "initiated_by": "mo", "payee": workload.CANARY_NAME}
    with Harness(emulator, definitions=[PATIENT, HASTY]) as h:
        h.drive(3, prefix="done")  # finished journeys, for late and replayed events
        pending, hasty = (h.client.start(d.id, payment, actor="mo") for d in (PATIENT, HASTY))
        # by key: the hasty ticket lapses within a second, and may be gone from the inbox by the time it is read
        ticket, expired = (open_ticket(h.client, j, 1, timeout=60) for j in (pending, hasty))
        h.started.append(hasty)
        _sweep_after(h, expired.deadline)  # the watchdog's sweep lapses the hasty level, as it would within a minute
        h.wait_ended()  # the hasty approval expired, and its journey ended
        before = _versions(h)
        queued, parked_bodies = _queued(h)
        cases += queued
        cases += _direct(h, h.journeys()["done-00000"], h.journeys()[pending], ticket)
        cases.append(_attempt("decision after expiry", lambda: _decide(h, expired, "olivia"), "expired", ""))
        h.stack.wait_quiet()
        after = _versions(h)
        changed = {j: (before[j], after.get(j)) for j in before if after.get(j) != before[j]}
        checks = [
            Check("every case gave an error naming the problem", all(c.expected in c.error for c in cases)),
            Check("no journey changed (versions before and after)", not changed, str(changed or "")),
            Check("no journey was created", after.keys() == before.keys(), str(sorted(after.keys() - before.keys()))),
            Check(
                "no error echoes the canary personal data sent in a bad field",
                not [c for c in cases if any(secret in c.error for secret in workload.CANARIES)],
            ),
            *h.privacy(dead_letters=False),  # a DLQ keeps each message as sent (see the figure below)
        ]
        figures = {f"{c.name}": f"{c.error[:160]} (counted: {c.counted})" for c in cases}
        figures["parked bodies holding the canary (kept as sent, to be redriven)"] = sum(
            any(secret in body for secret in workload.CANARIES) for body in parked_bodies
        )
    for case in cases:
        if case.expected not in case.error:
            checks.append(Check(f"{case.name}: error holds {case.expected!r}", False, case.error))
    return Result("bad input", f"{len(cases)} malformed, forged, late or oversized inputs", checks, figures)


def _versions(h: Harness) -> dict[str, int]:
    return {j.id: j.version for j in h.journeys().values()}


def _sweep_after(h: Harness, deadline: float) -> None:
    """Once `deadline` (epoch seconds) has passed, run the watchdog's sweep now instead of at its next minute."""
    time.sleep(max(0.0, deadline - time.time()) + 0.05)
    for poller in h.stack.pollers:
        if isinstance(poller, SchedulePoller) and poller.name == "WatchdogFunction":
            poller.run_now()


def _queued(h: Harness) -> tuple[list[Case], list[str]]:
    settings, sqs = h.client.settings, h.stack.client("sqs")
    queues = {
        START_QUEUE: settings.start_queue_url,
        ADVANCE_QUEUE: settings.advance_queue_url,
        WORK_QUEUE: next(iter(settings.worker_queues.values())),
        APPROVAL_QUEUE: settings.approval_queue_url,
    }
    bad = {**workload.start(1, "bad").input, "amount": workload.CANARY_NAME}  # the schema check must not echo it
    sent = _queued_cases(bad)
    for _name, queue, body, _phrase in sent:
        sqs.send_message(QueueUrl=queues[queue], MessageBody=body)
    h.stack.wait_quiet()
    parked = _parked(h)
    cases = []
    for name, queue, body, phrase in sent:
        reason = parked.get(body, "NOT PARKED")
        cases.append(Case(name, reason, f"{queue} DLQ, rejection_reason attribute, 'message rejected' log", phrase))
    return cases, list(parked)


def _parked(h: Harness) -> dict[str, str]:
    """Body -> rejection reason of every message in every DLQ."""
    assert h.stack.stack is not None
    sqs, reasons = h.stack.client("sqs"), {}
    for logical_id, url in h.stack.stack.resources.items():
        if not logical_id.endswith("DLQ"):
            continue
        while True:
            batch = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=2
            ).get("Messages", [])
            if not batch:
                break
            for message in batch:
                reason = message.get("MessageAttributes", {}).get("rejection_reason", {}).get("StringValue", "")
                reasons[message["Body"]] = reason
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return reasons


def _direct(h: Harness, done: Journey, pending: Journey, ticket: Ticket) -> list[Case]:
    router = h.stack.runtimes["AdvanceFunction"].router
    last = f"{done.id}.{done.version - 1}"
    key = h.stack.proof_key.encode()
    forged = StepSucceeded(journey_id=pending.id, activation_id=f"{pending.id}.99", actor="kyc", output={"x": 1})
    unopened = forged.model_copy(update={"proof": proof_for(key, pending.id, forged.activation_id)})
    replayed = StepSucceeded(
        journey_id=done.id, activation_id=last, actor="open-account", proof=proof_for(key, done.id, last)
    )

    def intervene(journey: Journey, version: int) -> Callable[[], object]:
        command = Intervention(
            journey_id=journey.id, command=Command.SKIP, expected_version=version, actor="olga", reason="testing"
        )
        return lambda: router.handle(command)

    attempts: list[tuple[str, Callable[[], object], str, str]] = [
        ("oversized start refused before any AWS call", lambda: _no_calls(h), "262144-byte", "PayloadTooLarge"),
        (
            "answer replayed for a finished journey",
            lambda: router.handle(replayed),
            "duplicate",
            "router counts 'absorbed: duplicate'",
        ),
        ("answer forged without the router's proof", lambda: router.handle(forged), "no proof", "Unproven, parked"),
        ("answer for an activation never opened", lambda: router.handle(unopened), "stale", "router counts"),
        ("intervention on a finished journey", intervene(done, done.version), "SUCCEEDED", "Rejected, not committed"),
        (
            "intervention racing a worker (stale version)",
            intervene(pending, pending.version - 1),
            "version",
            "Rejected, not committed",
        ),
        ("approval by its maker (forged)", lambda: _decide(h, ticket, "mo"), "maker", "ticket audit, desk 'refused'"),
        (
            "approval without the role (forged)",
            lambda: _decide(h, ticket, "eve", ["clerk"]),
            "does not hold",
            "ticket audit, desk 'refused'",
        ),
        (
            "decision on a ticket that does not exist",
            lambda: _decide(h, ticket, "olivia", id_="T-none"),
            "no ticket",
            "",
        ),
    ]
    cases = [_attempt(name, action, phrase, counted) for name, action, phrase, counted in attempts]
    _decide(h, ticket, "olivia")  # a real decision, then the same one replayed: recorded once
    replay = _decide(h, ticket, "olivia")
    cases.append(Case("approval decision replayed", f"repeat={replay.repeat}", "desk 'repeat'", "repeat=True"))
    cases.append(_attempt("decision after the ticket was decided", lambda: _decide(h, ticket, "oscar"), "decided", ""))
    return cases


def _attempt(name: str, action: Callable[[], object], phrase: str, counted: str) -> Case:
    try:
        outcome = action()
    except (Rejected, NotRecorded, PayloadTooLarge) as exc:
        return Case(name, f"{type(exc).__name__}: {exc}", counted or type(exc).__name__, phrase)
    if isinstance(outcome, Absorb):
        return Case(name, f"absorbed: {outcome.reason}", counted, phrase)
    return Case(name, f"ACCEPTED: {outcome!r}"[:200], counted, phrase)


def _decide(h: Harness, ticket: Ticket, who: str, roles: list[str] | None = None, id_: str | None = None) -> Any:
    return h.client.decide(id_ or ticket.ticket_id, "approve", who, roles or ["payments-officer"])


def _no_calls(h: Harness) -> None:
    """A start over 256 KB through the client: refused, and the hook sees no AWS call from this thread."""
    before = sum(n for (who, _call), n in h.calls.by_consumer.items() if who == "MainThread")
    try:
        h.client.start(workload.LOAD_ID, {**workload.start(2, "bad").input, "notes": HUGE})
    finally:
        after = sum(n for (who, _call), n in h.calls.by_consumer.items() if who == "MainThread")
        if after != before:
            raise AssertionError(f"{after - before} AWS calls made before the size check")
