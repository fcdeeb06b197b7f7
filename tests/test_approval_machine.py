"""The approval state machine (infra/statemachines/approval.asl.json) alone on the emulator, answered by hand."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from devstack.approval_chain import approval_machine, receive, states_entered
from devstack.emulator import CREDENTIALS, Emulator
from router.adapters.tokens import close_token


@dataclass
class Bare:
    sqs: Any
    sfn: Any
    tickets: str
    advance: str
    machine: str

    def start(self, name: str, timeouts: tuple[int, int] = (30, 30)) -> str:
        levels = [
            {"level": 1, "role": "officer", "limit": 1000, "timeout_seconds": timeouts[0]},
            {"level": 2, "role": "manager", "limit": None, "timeout_seconds": timeouts[1]},
        ]
        document = {"journey_id": "j", "activation_id": name, "step": "approve", "levels": levels}
        document |= {"amount": 500.0, "initiator": "mo", "approvers": []}
        return str(
            self.sfn.start_execution(stateMachineArn=self.machine, name=name, input=json.dumps(document))[
                "executionArn"
            ]
        )

    def ticket(self) -> dict[str, Any]:
        ticket = receive(self.sqs, self.tickets)
        assert ticket is not None, "no ticket came"
        return ticket

    def answer(self, ticket: dict[str, Any], output: dict[str, Any]) -> None:
        self.sfn.send_task_success(taskToken=ticket["task_token"], output=json.dumps(output))


@pytest.fixture
def bare(fresh_emulator: Emulator) -> Bare:
    session = boto3.Session(**CREDENTIALS)
    sqs = session.client("sqs", endpoint_url=fresh_emulator.url)
    sfn = session.client("stepfunctions", endpoint_url=fresh_emulator.url)
    tickets = sqs.create_queue(QueueName="approval")["QueueUrl"]
    advance = sqs.create_queue(QueueName="advance")["QueueUrl"]
    return Bare(sqs, sfn, tickets, advance, approval_machine(sfn, tickets, advance))


def test_the_machine_asks_each_level_in_turn_and_reports_the_grant(bare: Bare) -> None:
    """One ticket per level, carrying who approved before; the outcome names both approvers."""
    execution = bare.start("a-1")
    first = bare.ticket()
    assert (first["kind"], first["level"]["level"], first["approvers"], first["initiator"]) == ("ticket", 1, [], "mo")
    bare.answer(first, {"decision": "approve", "approvers": ["olivia"]})
    second = bare.ticket()
    assert (second["level"]["role"], second["approvers"]) == ("manager", ["olivia"])
    bare.answer(second, {"decision": "approve", "approvers": ["olivia", "max"]})
    outcome = receive(bare.sqs, bare.advance)
    assert outcome == {
        "kind": "approval_outcome",
        "journey_id": "j",
        "activation_id": "a-1",
        "outcome": "granted",
        "approvers": ["olivia", "max"],
    }
    time.sleep(0.2)
    assert bare.sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED"
    entered = states_entered(bare.sfn, execution)
    assert entered == ["Take level", "Ask level", "Decided", "Next level", "Ask level", "Decided", "Granted"]


def test_the_machine_ends_on_a_rejection_at_level_two(bare: Bare) -> None:
    bare.start("a-2")
    bare.answer(bare.ticket(), {"decision": "approve", "approvers": ["olivia"]})
    rejection = {"decision": "reject", "approvers": ["olivia"], "rejected_by": "max", "reason": "unknown payee"}
    bare.answer(bare.ticket(), rejection)
    outcome = receive(bare.sqs, bare.advance)
    assert outcome is not None
    assert (outcome["outcome"], outcome["approvers"], outcome["rejected_by"], outcome["reason"]) == (
        "rejected",
        ["olivia"],
        "max",
        "unknown payee",
    )
    assert receive(bare.sqs, bare.tickets, timeout=0.5) is None  # no third ticket


def test_a_level_nobody_decides_expires_and_its_late_token_is_closed(bare: Bare) -> None:
    """TimeoutSecondsPath per level; a late answer is reported closed, not raised."""
    bare.start("a-3", timeouts=(1, 30))
    ticket = bare.ticket()
    outcome = receive(bare.sqs, bare.advance, timeout=10)
    assert outcome is not None and (outcome["outcome"], outcome["approvers"]) == ("expired", [])
    assert close_token(bare.sfn, ticket["task_token"], success=True, output={"decision": "approve"}) is False
