"""The approval state machine (infra/statemachines/approval.asl.json) alone on the emulator, answered by hand."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
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

    def start(self, name: str, timeout: int = 60) -> str:
        levels = [
            {"level": 1, "role": "officer", "limit": 1000, "timeout_seconds": 30},
            {"level": 2, "role": "manager", "limit": None, "timeout_seconds": 30},
        ]
        document = {"journey_id": "j", "activation_id": name, "step": "approve", "levels": levels}
        document |= {"amount": 500.0, "initiator": "mo", "timeout_seconds": timeout, "digest": "d1", "proof": "p1"}
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


def _answer(outcome: str, approvers: list[str], rejected_by: str | None = None, reason: str | None = None):
    return {"outcome": outcome, "approvers": approvers, "rejected_by": rejected_by, "reason": reason, "digest": "d1"}


def test_one_token_waits_for_every_level_and_the_answer_is_passed_on_in_two_transitions(bare: Bare) -> None:
    """One ticket message carries both levels; the desk answers once; the machine bills two transitions."""
    execution = bare.start("a-1")
    ticket = bare.ticket()
    assert (ticket["kind"], [lvl["level"] for lvl in ticket["levels"]]) == ("ticket", [1, 2])
    assert (ticket["initiator"], ticket["timeout_seconds"], ticket["digest"]) == ("mo", 60, "d1")
    assert abs(datetime.fromisoformat(ticket["started_at"]).timestamp() - time.time()) < 30  # the chain's own start
    assert receive(bare.sqs, bare.tickets, timeout=0.5) is None  # level 2 is the desk's to open, not the machine's
    bare.answer(ticket, _answer("granted", ["olivia", "max"]))
    outcome = receive(bare.sqs, bare.advance)
    assert outcome == {
        "kind": "approval_outcome",
        "journey_id": "j",
        "activation_id": "a-1",
        "outcome": "granted",
        "approvers": ["olivia", "max"],
        "rejected_by": None,
        "reason": None,
        "digest": "d1",
        "proof": "p1",
    }
    time.sleep(0.2)
    assert bare.sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED"
    assert states_entered(bare.sfn, execution) == ["Await decisions", "Decided"]


@pytest.mark.parametrize(
    "answer",
    [
        _answer("rejected", ["olivia"], "max", "unknown payee"),
        _answer("expired", ["olivia"], None, "level 2 (manager) was not decided within 30 s"),
    ],
    ids=["rejected", "a level lapsed"],
)
def test_a_rejection_or_a_lapsed_level_is_passed_on_as_answered(bare: Bare, answer: dict[str, Any]) -> None:
    execution = bare.start(f"a-{answer['outcome']}")
    bare.answer(bare.ticket(), answer)
    outcome = receive(bare.sqs, bare.advance)
    assert outcome is not None
    assert {key: outcome[key] for key in answer} == answer
    assert receive(bare.sqs, bare.tickets, timeout=0.5) is None
    assert len(states_entered(bare.sfn, execution)) == 2


def test_the_backstop_timer_expires_the_chain_and_its_late_token_is_closed(bare: Bare) -> None:
    """TimeoutSecondsPath: the chain's own timer; a late answer is reported closed, not raised."""
    bare.start("a-3", timeout=1)
    ticket = bare.ticket()
    outcome = receive(bare.sqs, bare.advance, timeout=10)
    assert outcome is not None and (outcome["outcome"], outcome["approvers"]) == ("expired", [])
    assert close_token(bare.sfn, ticket["task_token"], success=True, output=_answer("granted", ["x"])) is False
