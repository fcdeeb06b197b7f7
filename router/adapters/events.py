"""CloudEvents for committed transitions, published to the owning domain's EventBridge bus."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from router.adapters.limits import MESSAGE_BYTES, check_size
from router.core.approvals import Ticket
from router.core.model import TransitionRecord

PUT_EVENTS_ENTRIES = 10  # the most entries one PutEvents request takes
SOURCE = "bank.platform"
STEP_COMPLETED = "bank.platform.workflow_step_completed"
_FORMAT = JSONFormat()


def cloudevents_for(record: TransitionRecord) -> list[CloudEvent]:
    """One workflow_step_completed per transition, then its lifecycle events; ids are deterministic."""
    time = datetime.fromtimestamp(record.at, UTC)
    base = {"source": f"/journeys/{record.definition_id}", "subject": record.journey_id, "time": time}
    data = {
        "workflow_id": record.journey_id,
        "definition_id": record.definition_id,
        "definition_version": record.definition_version,
        "seq": record.seq,
        "step_name": record.step_name,
        "step_result": record.step_result,
        "actor": record.actor,
        "entered": record.entered,
        "status": record.status.value,
    }
    events = [CloudEvent({**base, "id": f"{record.journey_id}/{record.seq}", "type": STEP_COMPLETED}, data)]
    for name in record.lifecycle:
        attributes = {**base, "id": f"{record.journey_id}/{record.seq}/{name}", "type": f"{SOURCE}.{name}"}
        events.append(CloudEvent(attributes, data))
    for kind in record.emits:  # the definition's own domain events, known to the domain by its business key
        attributes = {**base, "id": f"{record.journey_id}/{record.seq}/{kind}", "type": kind}
        if record.business_key:
            attributes["subject"] = record.business_key
        events.append(CloudEvent(attributes, {**data, "business_key": record.business_key, **record.emitted}))
    return events


def ticket_event(ticket: Ticket, kind: str = "approval_requested", reason: str | None = None) -> CloudEvent:
    """approval_requested for the staff work queue: what to decide, by whom and by when; never the token.
    approval_withdrawn: the ticket takes no more decisions, and why (the approvers are told)."""
    attributes = {
        "id": f"{ticket.journey_id}/{ticket.ticket_id}/{kind}",
        "source": f"/journeys/{ticket.definition_id}",
        "type": f"{SOURCE}.{kind}",
        "subject": ticket.journey_id,
        "time": datetime.fromtimestamp(ticket.opened_at, UTC),
    }
    data = ticket.model_dump(mode="json", include=_TICKET_FIELDS)
    extra = {"reason": reason} if reason is not None else {}
    return CloudEvent(attributes, {"workflow_id": ticket.journey_id, **data, **extra})


_TICKET_FIELDS = {
    "ticket_id",
    "definition_id",
    "activation_id",
    "step",
    "level",
    "levels",
    "role",
    "limit",
    "amount",
    "initiator",
    "approvers",
    "deadline",
    "digest",
}


def entry_for(event: CloudEvent, bus: str) -> dict[str, Any]:
    """An EventBridge entry: the detail-type is the CloudEvent type, the source its domain prefix."""
    detail = _FORMAT.write(event).decode()
    check_size(detail, MESSAGE_BYTES, f"CloudEvent {event.get_id()}")
    kind = event.get_type()
    return {"EventBusName": bus, "Source": kind.rsplit(".", 1)[0], "DetailType": kind, "Detail": detail}


class EventBridgePublisher:
    def __init__(self, client: Any, domain_buses: Mapping[str, str]) -> None:
        self.client, self.domain_buses = client, domain_buses

    def bus_for(self, domain: str) -> str:
        if domain not in self.domain_buses:
            raise LookupError(f"no event bus configured for domain {domain!r}")
        return self.domain_buses[domain]

    def publish(self, record: TransitionRecord) -> None:
        self.send(cloudevents_for(record), record.owning_domain)  # a few events at most: one call

    def requested(self, ticket: Ticket, domain: str) -> None:
        self.send([ticket_event(ticket)], domain)

    def withdrawn(self, ticket: Ticket, domain: str, reason: str) -> None:
        self.send([ticket_event(ticket, "approval_withdrawn", reason)], domain)

    def publish_many(self, records: Sequence[TransitionRecord]) -> int:
        """Every record's events, ten entries a PutEvents (the service's limit), each entry on its own domain's
        bus: a stream batch of many transitions costs a few requests, not one each. A request refused (wholly,
        or an entry of it) stops there: the records before its first are done, the rest are for a retry."""
        entries = [
            (n, entry_for(event, self.bus_for(record.owning_domain)))
            for n, record in enumerate(records)
            for event in cloudevents_for(record)
        ]
        for chunk in _requests(entries):
            try:
                failed = self.client.put_events(Entries=[entry for _, entry in chunk]).get("FailedEntryCount", 0)
            except ClientError:  # throttled or refused: the stream hands these records over again
                failed = len(chunk)
            if failed:
                return chunk[0][0]
        return len(records)

    def send(self, events: list[CloudEvent], domain: str) -> None:
        bus = self.bus_for(domain)
        response = self.client.put_events(Entries=[entry_for(event, bus) for event in events])
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused {response['FailedEntryCount']} entries on {bus}")


def _requests(entries: list[tuple[int, dict[str, Any]]]) -> list[list[tuple[int, dict[str, Any]]]]:
    """Entries packed, in order, into PutEvents requests of at most ten entries and MESSAGE_BYTES in all."""
    requests: list[list[tuple[int, dict[str, Any]]]] = []
    size = 0
    for numbered in entries:
        entry_size = sum(len(str(value).encode()) for value in numbered[1].values())
        if not requests or len(requests[-1]) == PUT_EVENTS_ENTRIES or size + entry_size > MESSAGE_BYTES:
            requests.append([])
            size = 0
        requests[-1].append(numbered)
        size += entry_size
    return requests
