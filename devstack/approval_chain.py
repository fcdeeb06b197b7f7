"""The approval state machine on a bare emulator, answered by hand: for the ASL tests and the benchmark."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

ASL = Path(__file__).resolve().parents[1] / "infra" / "statemachines" / "approval.asl.json"
ROLE = "arn:aws:iam::123456789012:role/approval-chain"


def approval_machine(sfn: Any, approval_queue: str, advance_queue: str, name: str = "approval") -> str:
    """The ASL as the template deploys it, its DefinitionSubstitutions applied (moto ignores them)."""
    definition = ASL.read_text().replace("${ApprovalQueueUrl}", approval_queue)
    definition = definition.replace("${AdvanceQueueUrl}", advance_queue)
    return str(sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE)["stateMachineArn"])


def receive(sqs: Any, queue: str, timeout: float = 10) -> dict[str, Any] | None:
    """The next message's body, deleted; None when nothing arrives in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1).get("Messages", [])
        if messages:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=messages[0]["ReceiptHandle"])
            return dict(json.loads(messages[0]["Body"]))
        time.sleep(0.05)
    return None


def states_entered(sfn: Any, execution_arn: str) -> list[str]:
    """The states an execution entered, in order, from its history: what Standard workflows bill."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = sfn.get_execution_history(executionArn=execution_arn, **kwargs)
        events += page["events"]
        if "nextToken" not in page:
            break
        kwargs = {"nextToken": page["nextToken"]}
    return [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
