"""Wake the pollers that a call gave work, and only those, rather than let them wait out their idle sleep.

Waking every poller after every send made each of them poll its (usually empty) queue after every
send: at 300 concurrent journeys, about 110 empty ReceiveMessage calls a second, most of what the
emulator did. So a send wakes its queue's pollers, a journey-table write the stream's, and an event
the pollers of the queues whose rules could match it.
"""

from __future__ import annotations

from typing import Any

from devstack.pollers import Poller, SqsPoller, StreamPoller

Route = tuple[str, dict[str, Any]]  # (target arn, event pattern)


def may_match(pattern: dict[str, Any], entry: dict[str, Any]) -> bool:
    """False only when the pattern's plain `source` or `detail-type` list rules the entry out."""
    for field, key in (("source", "Source"), ("detail-type", "DetailType")):
        allowed = pattern.get(field)
        if isinstance(allowed, list) and all(isinstance(a, str) for a in allowed) and entry.get(key) not in allowed:
            return False
    return True


class Nudges:
    def __init__(self, pollers: list[Poller]) -> None:
        self.pollers = pollers  # the stack's list, filled when it starts
        self.routes: tuple[Route, ...] = ()

    def register(self, events: Any) -> None:
        for call in ("sqs.SendMessage", "sqs.SendMessageBatch", "events.PutEvents"):
            events.register(f"before-parameter-build.{call}", self._note)
        for call in ("sqs.SendMessage", "sqs.SendMessageBatch", "events.PutEvents", "dynamodb.PutItem"):
            events.register(f"after-call.{call}", self._wake)

    @staticmethod
    def _note(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["nudge"] = params  # what the call was about: read after it succeeded

    def _wake(self, event_name: str, context: dict[str, Any], **_: Any) -> None:
        for poller in self._woken(event_name, context.get("nudge", {})):
            poller.wake.set()

    def _woken(self, event_name: str, params: dict[str, Any]) -> list[Poller]:
        if event_name.endswith("dynamodb.PutItem"):
            return [p for p in self.pollers if isinstance(p, StreamPoller)]
        if event_name.endswith("events.PutEvents"):
            arns = {arn for arn, pattern in self.routes for e in params.get("Entries", []) if may_match(pattern, e)}
            return [p for p in self.pollers if isinstance(p, SqsPoller) and p.source.queue_arn in arns]
        queue = str(params.get("QueueUrl", "")).rsplit("/", 1)[-1]
        return [p for p in self.pollers if isinstance(p, SqsPoller) and p.source.queue_url.rsplit("/", 1)[-1] == queue]
