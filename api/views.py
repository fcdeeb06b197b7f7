"""What the API answers with: journeys, timelines, graphs and tickets shaped for people, never task tokens."""

from __future__ import annotations

from typing import Any

from router.approvals import Ticket
from router.definition import Definition
from router.graph import edges, mermaid
from router.labels import Catalogues, label
from router.model import FINISHED, Journey, TransitionRecord
from router.progress import needed, percent
from router.reasons import sla_breached, stuck_reason, waiting_on, why


def summary(journey: Journey, definition: Definition | None, now: float) -> dict[str, Any]:
    step = definition.step(journey.step) if definition and journey.step else None
    return {
        "id": journey.id,
        "definition_id": journey.definition_id,
        "definition_version": journey.definition_version,
        "status": journey.status.value,
        "step": journey.step,
        "step_label": step.label if step else None,
        "business_key": journey.business_key,
        "version": journey.version,
        "created_at": journey.created_at,
        "updated_at": journey.updated_at,
        "sla_breached": sla_breached(journey, now),
        "stuck_reason": stuck_reason(journey, now),
        "waiting_on": waiting_on(journey),
    }


def detail(journey: Journey, definition: Definition, timeline: list[TransitionRecord], now: float) -> dict[str, Any]:
    return {
        "journey": summary(journey, definition, now),
        "state": journey.state,
        "open": [
            {
                "id": a.id,
                "step": a.step,
                "kind": a.kind.value,
                "worker": a.worker,
                "branch": a.branch,
                "deadline": a.deadline,
                "retrying": a.retrying,
                "last_error": a.last_error,
                "reminded": a.reminded,
            }
            for a in sorted(journey.open.values(), key=lambda a: a.deadline)
        ],
        "why": why(journey, now),
        "timeline": [event(record) for record in timeline],
        "graph": graph(definition, journey),
        "error": journey.error,
    }


def event(record: TransitionRecord) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "at": record.at,
        "actor": record.actor,
        "event": record.event,
        "from_step": record.step_name,
        "to_step": record.entered[-1] if record.entered else None,
        "result": record.step_result,
        "status": record.status.value,
        "reason": record.reason,
    }


def graph(definition: Definition, journey: Journey) -> dict[str, Any]:
    return {
        "mermaid": mermaid(definition, journey.step, journey.path),
        "steps": [step.name for step in definition.steps],
        "edges": edges(definition),
        "current": [journey.step] if journey.step else [],
        "path": journey.path,
    }


def ticket(t: Ticket) -> dict[str, Any]:
    return {
        "ticket_id": t.ticket_id,
        "journey_id": t.journey_id,
        "definition_id": t.definition_id,
        "step": t.step,
        "level": t.level,
        "levels": t.levels,
        "role": t.role,
        "limit": t.limit,
        "amount": t.amount,
        "initiator": t.initiator,
        "approvers": t.approvers,
        "opened_at": t.opened_at,
        "expires_at": t.deadline,
    }


def progress(
    journey: Journey, definition: Definition, locale: str | None = None, catalogues: Catalogues | None = None
) -> dict[str, Any]:
    """What the customer may see, labels in their language where translated: no state, errors or operator notes."""
    asked = needed(definition, journey)
    if asked:
        asked["label"] = label(definition, asked["step"], locale, catalogues)
    return {
        "journey_id": journey.id,
        "title": definition.title,
        "status": journey.status.value,
        "percent": percent(definition, journey),
        "step_label": label(definition, journey.step, locale, catalogues) if journey.step else None,
        "needed": asked,
        "finished": journey.status in FINISHED,
    }
