"""Performs a transition's actions: SQS sends, Step Functions starts, SNS alerts. Decides nothing."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from router.adapters.limits import MESSAGE_BYTES, check_size
from router.adapters.sqs import SqsDispatcher
from router.core.model import (
    Action,
    Alert,
    ArmTimer,
    CloseToken,
    SendWork,
    StartApproval,
    StartRetryChain,
    WithdrawApproval,
)


def execution_name(activation_id: str) -> str:
    """One execution per activation: a repeated start with this name is harmless."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in activation_id)[:80]


@dataclass(frozen=True)
class Targets:
    worker_queues: Mapping[str, str]
    timer_queue: str
    token_queue: str  # the approvals consumer's queue: the only closer of task tokens
    retry_machine: str
    approval_machine: str
    alerts_topic: str


class AwsDispatcher:
    def __init__(self, sqs: Any, stepfunctions: Any, sns: Any, targets: Targets) -> None:
        self.queues = SqsDispatcher(sqs, targets.worker_queues, targets.timer_queue)
        self.sqs, self.stepfunctions, self.sns, self.targets = sqs, stepfunctions, sns, targets

    def perform(self, actions: Sequence[Action]) -> None:
        self.queues.perform([a for a in actions if isinstance(a, SendWork | ArmTimer)])
        for action in actions:
            if isinstance(action, StartRetryChain):
                self._retry_chain(action)
            elif isinstance(action, StartApproval):
                self._start(self.targets.approval_machine, action.activation_id, action.model_dump(mode="json"))
            elif isinstance(action, CloseToken | WithdrawApproval):
                body = action.model_dump_json()
                self.sqs.send_message(QueueUrl=self.targets.token_queue, MessageBody=body)
            elif isinstance(action, Alert):
                self.sns.publish(
                    TopicArn=self.targets.alerts_topic, Subject=action.subject[:100], Message=action.message
                )

    def calls(self, actions: Sequence[Action]) -> Counter[str]:
        """The requests `perform(actions)` makes, by "service.Operation" (a repeated start counts: it is a call)."""
        queued = [a for a in actions if isinstance(a, SendWork | ArmTimer)]
        calls = Counter(
            "sqs.SendMessage" if len(entries) == 1 else "sqs.SendMessageBatch"
            for _, entries in self.queues.batches(queued)
        )
        for action in actions:
            if isinstance(action, StartRetryChain | StartApproval):
                calls["stepfunctions.StartExecution"] += 1
            elif isinstance(action, CloseToken | WithdrawApproval):
                calls["sqs.SendMessage"] += 1
            elif isinstance(action, Alert):
                calls["sns.Publish"] += 1
        return calls

    def _retry_chain(self, action: StartRetryChain) -> None:
        queue = self.queues.worker_queues.get(action.work.worker)
        if queue is None:
            raise LookupError(f"no queue configured for worker {action.work.worker!r}")
        chain = {
            "journey_id": action.journey_id,
            "activation_id": action.activation_id,
            "queue_url": queue,
            "attempt_timeout": action.attempt_timeout,
            "delays": action.delays,
            "work": action.work.model_dump(mode="json"),
        }
        self._start(self.targets.retry_machine, action.activation_id, chain)

    def _start(self, machine: str, activation_id: str, payload: dict[str, Any]) -> None:
        document = json.dumps(payload, separators=(",", ":"))
        check_size(document, MESSAGE_BYTES, f"execution input for {activation_id}")
        try:
            self.stepfunctions.start_execution(
                stateMachineArn=machine, name=execution_name(activation_id), input=document
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
                raise
