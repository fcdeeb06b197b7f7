"""moto's SQS made to cost the same at any queue depth: one clock read per queue scan, not two per message.

moto 5.2.5 decides whether each message is visible or delayed by reading the clock through datetime
arithmetic, twice per message, and it computes every queue attribute (three full scans) for each message
it sends (to read ContentBasedDeduplication) and for each message it receives (to read the retention
period). Under a backlog that made the emulator, not the engine, the bottleneck: at 1,000 messages
deep a ReceiveMessage of 10 took about 0.5 s and a SendMessageBatch of 10 about 0.17 s (bench/throughput.py
collapsed from 2 journeys/s at 100 journeys to 0.4 at 1,000). SQS on AWS does not slow down with depth.

The replacements below give the same answers: a message is visible once `visible_at` has passed and
delayed until `delayed_until`, and a message past the queue's retention period is not delivered.
"""

from __future__ import annotations

from typing import Any

from moto.core.utils import unix_time, unix_time_millis
from moto.sqs.models import Message, Queue, SQSBackend


def _messages(queue: Queue) -> list[Message]:
    now = unix_time_millis()
    return [m for m in queue._messages if now > m.visible_at and now >= m.delayed_until]


def _delayed(queue: Queue) -> int:
    now = unix_time_millis()
    return sum(1 for m in queue._messages if now < m.delayed_until)


def _not_visible(queue: Queue) -> int:
    now = unix_time_millis()
    return sum(1 for m in queue._messages if now <= m.visible_at)


def _within_retention(backend: SQSBackend, queue_name: str, message: Message) -> bool:
    # moto sets a queue's attributes at run time from its defaults, so its class does not declare them
    retention = int(backend.get_queue(queue_name).message_retention_period)  # type: ignore[attr-defined]
    assert message.sent_timestamp is not None  # set when moto accepted the message
    return retention + message.sent_timestamp / 1000 > unix_time()


def apply() -> None:
    """Patch moto's SQS in this process (idempotent)."""
    patches: dict[tuple[Any, str], Any] = {
        (Queue, "messages"): property(_messages),
        (Queue, "approximate_number_of_messages_delayed"): property(_delayed),
        (Queue, "approximate_number_of_messages_not_visible"): property(_not_visible),
        (SQSBackend, "is_message_valid_based_on_retention_period"): _within_retention,
    }
    for (owner, name), replacement in patches.items():
        if not hasattr(owner, name):  # a moto upgrade renamed it: fail loudly rather than run slow or wrong
            raise RuntimeError(f"moto changed: {owner.__name__}.{name} is gone; revisit devstack/sqs_scans.py")
        setattr(owner, name, replacement)
