"""In-memory implementations of the ports, for unit tests and the CPU benchmark."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from router.core.approvals import AuditEntry, Ticket, TicketStatus
from router.core.circuits import Circuit, CircuitConflict
from router.core.model import Action, Journey, TransitionRecord
from router.core.subscriptions import Held
from router.language.definition import Definition
from router.language.versions import DefinitionConflict, Published
from router.ports import TicketConflict, VersionConflict


class MemoryStore:
    def __init__(self) -> None:
        self.journeys: dict[str, Journey] = {}
        self.records: list[TransitionRecord] = []

    def load(self, journey_id: str) -> Journey | None:
        return self.journeys.get(journey_id)

    def commit(self, journey: Journey, record: TransitionRecord) -> None:
        current = self.journeys.get(journey.id)
        if (current.version if current else 0) != journey.version - 1:
            raise VersionConflict(current)
        self.journeys[journey.id] = journey
        self.records.append(record)


class MemoryDispatcher:
    def __init__(self) -> None:
        self.performed: list[Action] = []

    def perform(self, actions: Sequence[Action]) -> None:
        self.performed.extend(actions)


class MemoryLog:
    def __init__(self) -> None:
        self.records: dict[tuple[str, int], TransitionRecord] = {}

    def append(self, record: TransitionRecord) -> bool:
        key = (record.journey_id, record.seq)
        if key in self.records:
            return False
        self.records[key] = record
        return True

    def read(self, journey_id: str) -> list[TransitionRecord]:
        return sorted((r for (j, _), r in self.records.items() if j == journey_id), key=lambda r: r.seq)


class MemoryPublisher:
    def __init__(self) -> None:
        self.published: list[TransitionRecord] = []

    def publish(self, record: TransitionRecord) -> None:
        self.published.append(record)

    def publish_many(self, records: Sequence[TransitionRecord]) -> int:
        for record in records:
            self.publish(record)
        return len(records)


class MemoryTickets:
    """The ticket store in memory; tokens kept apart from tickets, as the DynamoDB store keeps them unread."""

    def __init__(self) -> None:
        self.tickets: dict[str, Ticket] = {}
        self.tokens: dict[str, str] = {}

    def put(self, ticket: Ticket, token: str) -> bool:
        if ticket.ticket_id in self.tickets:
            return False
        self.tickets[ticket.ticket_id], self.tokens[ticket.ticket_id] = ticket, token
        return True

    def get(self, ticket_id: str) -> Ticket | None:
        return self.tickets.get(ticket_id)

    def token(self, ticket_id: str) -> str | None:
        return self.tokens.get(ticket_id)

    def audit(self, ticket_id: str, entry: AuditEntry) -> None:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise TicketConflict(None)
        self.tickets[ticket_id] = ticket.model_copy(update={"audit": [*ticket.audit, entry]})

    def decide(self, ticket: Ticket, entry: AuditEntry) -> Ticket:
        current = self.tickets.get(ticket.ticket_id)
        if current is None or current.status is not TicketStatus.OPEN:
            raise TicketConflict(current)
        decided = ticket.model_copy(update={"audit": [*current.audit, entry]})
        self.tickets[ticket.ticket_id] = decided
        return decided

    def expire(self, ticket_id: str, entry: AuditEntry) -> Ticket:
        current = self.tickets.get(ticket_id)
        if current is None or current.status is not TicketStatus.OPEN:
            raise TicketConflict(current)
        expired = current.model_copy(update={"status": TicketStatus.EXPIRED, "audit": [*current.audit, entry]})
        self.tickets[ticket_id] = expired
        return expired

    def withdraw(self, ticket_id: str, entry: AuditEntry) -> Ticket:
        current = self.tickets.get(ticket_id)
        if current is None or current.status is not TicketStatus.OPEN:
            raise TicketConflict(current)
        withdrawn = current.model_copy(update={"status": TicketStatus.WITHDRAWN, "audit": [*current.audit, entry]})
        self.tickets[ticket_id] = withdrawn
        return withdrawn

    def answered(self, ticket_id: str, status: TicketStatus, at: float, entry: AuditEntry | None = None) -> None:
        ticket = self.tickets[ticket_id]
        if ticket.status is TicketStatus.OPEN or ticket.answered_at is not None:
            return  # noted already, by an earlier delivery
        audit = [*ticket.audit, entry] if entry else ticket.audit
        self.tickets[ticket_id] = ticket.model_copy(update={"status": status, "answered_at": at, "audit": audit})

    def open_tickets(self, now: float, limit: int = 100) -> list[Ticket]:
        due = [t for t in self.tickets.values() if t.status is TicketStatus.OPEN and t.deadline > now]
        return sorted(due, key=lambda t: t.deadline)[:limit]

    def lapsed(self, now: float, limit: int = 100) -> list[str]:
        """OPEN tickets past their deadline (what the watchdog sweeps), oldest deadline first."""
        due = [t for t in self.tickets.values() if t.status is TicketStatus.OPEN and t.deadline <= now]
        return [t.ticket_id for t in sorted(due, key=lambda t: t.deadline)[:limit]]


class MemoryTokens:
    """Task tokens that close once, like Step Functions': a second answer, or one after `expire`, is refused."""

    def __init__(self) -> None:
        self.answers: dict[str, dict[str, Any]] = {}
        self.expired: set[str] = set()
        self.calls = 0

    def close(self, token: str, output: dict[str, Any]) -> bool:
        self.calls += 1
        if token in self.answers or token in self.expired:
            return False
        self.answers[token] = output
        return True


class MemoryTicketEvents:
    def __init__(self) -> None:
        self.requested_events: list[tuple[str, str]] = []  # (ticket id, domain)
        self.withdrawn_events: list[tuple[str, str]] = []  # (ticket id, reason)

    def requested(self, ticket: Ticket, domain: str) -> None:
        self.requested_events.append((ticket.ticket_id, domain))

    def withdrawn(self, ticket: Ticket, domain: str, reason: str) -> None:
        self.withdrawn_events.append((ticket.ticket_id, reason))


class MemoryHandoff:
    def __init__(self) -> None:
        self.pending: list[str] = []

    def answer_later(self, ticket_id: str) -> None:
        self.pending.append(ticket_id)


class MemoryDefinitions:
    """Published definitions in memory, refusing new content under an existing version as the table does."""

    def __init__(self) -> None:
        self.definitions: dict[tuple[str, str], Definition] = {}

    def put(self, definition: Definition) -> Published:
        current = self.definitions.setdefault((definition.id, definition.version), definition)
        if current.content_hash != definition.content_hash:
            raise DefinitionConflict(current, definition)
        return Published.PUBLISHED if current is definition else Published.UNCHANGED

    def get(self, definition_id: str, version: str) -> Definition | None:
        return self.definitions.get((definition_id, version))


class MemoryLocks:
    """Subscription locks (router/core/subscriptions.py Locks) in a dict, with the DynamoDB adapter's conditions."""

    def __init__(self) -> None:
        self.held: dict[str, tuple[str, float]] = {}
        self.writes = 0

    def acquire(self, key: str, holder: str, definition_id: str, now: float) -> None:
        self._put(key, holder, now, expected=holder, free_ok=True)

    def take_over(self, key: str, holder: str, stale: str, definition_id: str, now: float) -> None:
        self._put(key, holder, now, expected=stale, free_ok=False)

    def release(self, key: str, holder: str, now: float) -> None:
        if self.held.get(key, ("", 0.0))[0] == holder:
            self.writes += 1
            del self.held[key]

    def current(self, key: str) -> tuple[str, float] | None:
        return self.held.get(key)

    def _put(self, key: str, holder: str, now: float, expected: str, free_ok: bool) -> None:
        current = self.held.get(key)
        if not (current is None and free_ok) and (current is None or current[0] != expected):
            raise Held(*(current or ("nobody", 0.0)))
        self.writes += 1
        self.held[key] = (holder, now)


class MemoryCircuits:
    """Circuit state (router/core/circuits.py CircuitStore) in a dict, with the DynamoDB adapter's version check."""

    def __init__(self) -> None:
        self.circuits: dict[str, Circuit] = {}

    def load(self, worker: str) -> Circuit:
        return self.circuits.get(worker) or Circuit(worker=worker)

    def save(self, circuit: Circuit) -> None:
        if self.load(circuit.worker).version != circuit.version - 1:
            raise CircuitConflict(self.load(circuit.worker))
        self.circuits[circuit.worker] = circuit
