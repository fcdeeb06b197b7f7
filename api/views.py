"""What the API answers with: journeys, timelines, graphs and tickets shaped for people, never task tokens."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from api import wording
from router.core.approvals import Ticket
from router.core.identity import holds, same
from router.core.model import FINISHED, Journey, TransitionRecord
from router.core.progress import needed, percent
from router.core.reasons import sla_breached, stuck_reason, waiting_on, why
from router.language.definition import ApprovalStep, Definition, ParallelStep
from router.language.graph import edges, mermaid
from router.language.labels import Catalogues, label
from router.language.registry import UnknownDefinition


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
        "types": {step.name: step.type.value for step in definition.steps},
        "branches": {
            step.name: [{"name": b.name, "worker": b.worker} for b in step.branches]
            for step in definition.steps
            if isinstance(step, ParallelStep)
        },
        "edges": edges(definition),
        "current": [journey.step] if journey.step else [],
        "path": journey.path,
    }


def ticket(t: Ticket, definition: Definition | None = None, journey: Journey | None = None) -> dict[str, Any]:
    """A ticket as an approver reads it: the amount in the payment's own currency, who is paid and why."""
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
        **payment(definition, journey, t.step),
    }


PAYMENT_FIELDS = ("currency", "beneficiary", "reference")


def payment(definition: Definition | None, journey: Journey | None, step: str) -> dict[str, str | None]:
    """The currency, beneficiary and reference of what an approval step approves, read from the journey state
    beside the step's `amount` (amount `payment.amount` -> `payment.currency`, `payment.beneficiary`, ...).
    The ticket stores the amount only; an amount without its currency is how £48,000 showed for EUR 48,000."""
    found: dict[str, str | None] = dict.fromkeys(PAYMENT_FIELDS)
    try:
        approval = definition.step(step) if definition else None
    except KeyError:
        return found
    if journey is None or not isinstance(approval, ApprovalStep) or not approval.amount:
        return found
    prefix = approval.amount.rpartition(".")[0]
    for name in PAYMENT_FIELDS:
        try:
            value = jmespath.search(f"{prefix}.{name}" if prefix else name, journey.state)
        except JMESPathError:
            continue
        found[name] = _beneficiary(value) if name == "beneficiary" else value if isinstance(value, str) else None
    return found


def _beneficiary(value: Any) -> str | None:
    """ "Acme Supplies GmbH, DE89370400440532013000" from {name, iban}; a plain string as it is."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        parts = [value.get(k) for k in ("name", "iban", "account")]
        return ", ".join(str(p) for p in parts if p) or None
    return None


def decidable(t: Ticket, name: str, roles: frozenset[str]) -> bool:
    """What an approver's inbox lists: tickets they could approve now. The role is held, the level's limit
    covers the amount, and they are neither the maker nor an approver of an earlier level (maker-checker)."""
    if not holds(roles, t.role):
        return False
    if t.limit is not None and (t.amount is None or t.amount > t.limit):
        return False
    return not any(same(name, who) for who in (t.initiator, *t.approvers))


def progress(
    journey: Journey,
    definition: Definition,
    locale: str | None = None,
    catalogues: Catalogues | None = None,
    customer_words: wording.Wording | None = None,
) -> dict[str, Any]:
    """What the customer may see, in their language where translated: the journey's customer title (never the
    staff one), where it is, and the form it waits for field by field. No state, errors or operator notes."""
    spoken = locale or wording.SOURCE
    texts = customer_words or {}
    asked = needed(definition, journey)
    if asked:
        asked["label"] = label(definition, asked["step"], locale, catalogues)
        asked["fields"] = wording.fields(texts, spoken, definition.id, asked["input_schema"])
    return {
        "journey_id": journey.id,
        "title": wording.title(texts, spoken, definition.id) or None,
        "locale": spoken,
        "status": journey.status.value,
        "percent": percent(definition, journey),
        "step_label": label(definition, journey.step, locale, catalogues) if journey.step else None,
        "needed": asked,
        "finished": journey.status in FINISHED,
        "page": wording.page(texts, spoken),
    }


def inbox(client: Any, name: str, roles: frozenset[str]) -> list[dict[str, Any]]:
    """The open tickets `name` may decide, each with its payment's currency, beneficiary and reference."""
    return tickets(client, lambda t: decidable(t, name, roles))


def tickets(client: Any, keep: Callable[[Ticket], bool] = lambda _: True) -> list[dict[str, Any]]:
    """Open tickets (those `keep` keeps) as people read them; `client` is a cli.client.JourneysClient."""
    shown = []
    for t in client.approvals():
        if not keep(t):
            continue
        journey = client.get(t.journey_id)
        definition = None
        if journey is not None:
            with suppress(UnknownDefinition):  # a version neither deployed nor published: the ticket still shows
                definition = client.runtime.registry.get(journey.definition_id, journey.definition_version)
        shown.append(ticket(t, definition, journey))
    return shown
