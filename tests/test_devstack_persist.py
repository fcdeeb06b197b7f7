"""The local stack keeps its journeys across a restart, and `--fresh` starts empty."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.client import JourneysClient
from devstack import persist
from devstack.emulator import Emulator
from devstack.run import EUR_PAYMENT
from devstack.stack import LocalStack
from reliability.instruments import settled, waited
from router.core.approvals import TicketStatus
from router.core.model import FINISHED, ActivationKind, Command, Intervention

KIM = {"customer_id": "CUST-000042", "full_name": "Kim Keeper", "email": "kim@example.com"}
ANSWER = {
    "full_name": "Kim Keeper",
    "date_of_birth": "1990-01-01",
    "address": {"line1": "1 High Street", "postcode": "AB1 2CD", "country": "GB"},
    "documents": {"document_type": "driving_licence", "document_number": "KEEPE901"},
}


def _client(stack: LocalStack) -> JourneysClient:
    return JourneysClient(next(iter(stack.runtimes.values())))


def test_a_restart_keeps_the_journeys_of_the_previous_run(fresh_emulator: Emulator, tmp_path: Path) -> None:
    """Stopped, emptied (as a new emulator process is) and started again: the finished journey and the one
    waiting for its customer are back, timelines and all; the waiting one carries on; nothing is re-journaled."""
    state = tmp_path / "state.json"
    with LocalStack(fresh_emulator, state_file=state) as stack:
        client = _client(stack)
        done = client.start("kyc-uplift", KIM)
        waiting = client.start("kyc-uplift", KIM)
        settled(client, done, lambda j: j.step == "request-details")
        client.submit(done, ANSWER)
        finished = settled(client, done, lambda j: j.status in FINISHED)
        paused = settled(client, waiting, lambda j: j.step == "request-details")
        stack.wait_quiet()
        logged = len(client.timeline(done))
    assert state.exists() and json.loads(state.read_text())["tables"]["JourneysTable"]
    assert state.stat().st_mode & 0o777 == 0o600  # customers' data: readable by its owner only

    fresh_emulator.reset()  # what a restart of `journeys up` does: a new emulator starts empty
    with LocalStack(fresh_emulator, state_file=state) as stack:
        client = _client(stack)
        assert stack.restored["JourneysTable"] >= 2
        assert client.get(done) == finished and len(client.timeline(done)) == logged
        assert client.get(waiting) == paused
        client.submit(waiting, ANSWER)
        carried_on = settled(client, waiting, lambda j: j.status in FINISHED)
        stack.wait_quiet()
        assert carried_on.status.value == "SUCCEEDED"
        assert len(client.timeline(waiting)) == carried_on.version  # new transitions journaled, none twice
        assert len(client.timeline(done)) == logged


def test_without_a_state_file_a_stack_starts_empty(fresh_emulator: Emulator, tmp_path: Path) -> None:
    """`journeys up --fresh` removes the state file: nothing is restored."""
    with LocalStack(fresh_emulator, state_file=tmp_path / "absent.json") as stack:
        assert stack.restored == {}
        assert _client(stack).list() == []


def test_a_snapshot_that_does_not_read_is_refused_with_what_to_do(tmp_path: Path) -> None:
    """A truncated state file stops the start with one sentence, rather than a stack half restored."""
    broken = tmp_path / "state.json"
    broken.write_text('{"tables": {"JourneysTable": [')
    with pytest.raises(RuntimeError, match="start with --fresh"):
        persist.restore(None, {}, broken)


def test_an_approval_waiting_at_a_restart_is_not_offered_to_approvers_and_a_retry_reopens_it(
    fresh_emulator: Emulator, tmp_path: Path
) -> None:
    """Its execution (and task token) did not survive: the open ticket is expired with the reason audited,
    so nobody decides into the void; the journey still waits, and an operator's retry opens a new ticket."""
    state = tmp_path / "state.json"
    with LocalStack(fresh_emulator, state_file=state) as stack:
        client = _client(stack)
        payment = client.start("payment-approval", EUR_PAYMENT)
        settled(client, payment, lambda j: any(a.kind is ActivationKind.APPROVAL for a in j.open.values()))
        (before,) = waited(lambda: client.approvals() or None, 30)
        stack.wait_quiet()

    fresh_emulator.reset()
    with LocalStack(fresh_emulator, state_file=state) as stack:
        client = _client(stack)
        assert stack.orphaned_approvals == [payment]
        assert client.approvals() == []
        expired = client.desk.ticket(before.ticket_id)
        assert expired is not None and expired.status is TicketStatus.EXPIRED
        assert expired.audit[-1].detail == persist.RESTARTED
        waiting = client.get(payment)
        assert waiting is not None and waiting.step == "approve-payment"  # nothing decided for it

        retry = Intervention(
            journey_id=payment,
            command=Command.RETRY,
            expected_version=waiting.version,
            actor="ops-olga",
            reason="reopen the approval after the restart",
        )
        client.runtime.router.handle(retry)
        (reopened,) = waited(lambda: client.approvals() or None, 30)
        assert reopened.journey_id == payment and reopened.ticket_id != before.ticket_id
