"""CloudEvents for committed transitions, published to the owning domain's EventBridge bus."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from router.limits import MESSAGE_BYTES, check_size
from router.model import TransitionRecord

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
    return events


def entry_for(event: CloudEvent, bus: str) -> dict[str, Any]:
    detail = _FORMAT.write(event).decode()
    check_size(detail, MESSAGE_BYTES, f"CloudEvent {event.get_id()}")
    return {"EventBusName": bus, "Source": SOURCE, "DetailType": event.get_type(), "Detail": detail}


class EventBridgePublisher:
    def __init__(self, client: Any, domain_buses: Mapping[str, str]) -> None:
        self.client, self.domain_buses = client, domain_buses

    def bus_for(self, domain: str) -> str:
        if domain not in self.domain_buses:
            raise LookupError(f"no event bus configured for domain {domain!r}")
        return self.domain_buses[domain]

    def publish(self, record: TransitionRecord) -> None:
        bus = self.bus_for(record.owning_domain)
        entries = [entry_for(event, bus) for event in cloudevents_for(record)]
        response = self.client.put_events(Entries=entries)  # at most 1 + 2 lifecycle events: one call
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused {response['FailedEntryCount']} entries on {bus}")
