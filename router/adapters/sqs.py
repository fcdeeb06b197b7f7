"""Performs a transition's actions on SQS: work to the worker's queue, timers to the advance queue."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from router.adapters.limits import MESSAGE_BYTES, check_size
from router.core.model import Action, ArmTimer, SendWork, TimerFired


class UnknownWorker(LookupError):
    pass


def message_for(action: Action, worker_queues: Mapping[str, str], timer_queue: str) -> tuple[str, dict[str, Any]]:
    """(queue url, SendMessageBatch entry) for one action; the entry id is the activation's."""
    if isinstance(action, SendWork):
        if action.worker not in worker_queues:
            raise UnknownWorker(f"no queue configured for worker {action.worker!r}")
        queue, body, delay = worker_queues[action.worker], action.model_dump_json(), 0
    elif isinstance(action, ArmTimer):
        fired = TimerFired(journey_id=action.journey_id, activation_id=action.activation_id, proof=action.proof)
        queue, body, delay = timer_queue, fired.model_dump_json(), action.delay_seconds
    check_size(body, MESSAGE_BYTES, f"message for activation {action.activation_id}")
    entry = {
        "Id": _entry_id(action.activation_id),
        "MessageBody": body,
        "DelaySeconds": delay,
        "MessageAttributes": {"activation_id": {"DataType": "String", "StringValue": action.activation_id}},
    }
    return queue, entry


def _entry_id(activation_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in activation_id)[:80]


class SqsDispatcher:
    def __init__(self, client: Any, worker_queues: Mapping[str, str], timer_queue: str) -> None:
        self.client, self.worker_queues, self.timer_queue = client, worker_queues, timer_queue

    def perform(self, actions: Sequence[Action]) -> None:
        for queue, entries in self.batches(actions):
            self._send(queue, entries)

    def batches(self, actions: Sequence[Action]) -> list[tuple[str, list[dict[str, Any]]]]:
        """(queue, up to 10 entries) per request: one SendMessage for a single entry, else SendMessageBatch."""
        by_queue: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for action in actions:
            queue, entry = message_for(action, self.worker_queues, self.timer_queue)
            by_queue[queue].append(entry)
        return [(q, entries[i : i + 10]) for q, entries in by_queue.items() for i in range(0, len(entries), 10)]

    def _send(self, queue: str, entries: list[dict[str, Any]]) -> None:
        if len(entries) == 1:
            entry = {k: v for k, v in entries[0].items() if k != "Id"}
            self.client.send_message(QueueUrl=queue, **entry)
            return
        response = self.client.send_message_batch(QueueUrl=queue, Entries=entries)
        if response.get("Failed"):
            raise RuntimeError(f"SQS refused {json.dumps(response['Failed'])}")
