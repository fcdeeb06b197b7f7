"""The ports the runtime talks through (`typing.Protocol`s): `router.adapters` implements them on AWS,
`router.ports.memory` in memory. Imports only `router.language` and `router.core`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from router.core.approvals import AuditEntry, Ticket, TicketStatus
from router.core.model import Action, Journey, TransitionRecord
from router.core.usage import Usage


class VersionConflict(Exception):
    """Another writer committed first; carries the journey as it is now."""

    def __init__(self, current: Journey | None) -> None:
        self.current = current
        super().__init__(f"journey moved on to version {current.version if current else 'none'}")


class PayloadTooLarge(ValueError):
    """A write or message over an AWS limit, caught before calling AWS."""


class JourneyStore(Protocol):
    def load(self, journey_id: str) -> Journey | None: ...

    def commit(self, journey: Journey, record: TransitionRecord) -> None:
        """Write `journey` if the stored version is `journey.version - 1`, else raise VersionConflict."""
        ...


class Dispatcher(Protocol):
    def perform(self, actions: Sequence[Action]) -> None: ...


class TransitionLog(Protocol):
    def append(self, record: TransitionRecord) -> bool:
        """Write the record once; False when it was already there."""
        ...

    def read(self, journey_id: str) -> list[TransitionRecord]: ...


class EventPublisher(Protocol):
    def publish(self, record: TransitionRecord) -> None:
        """Publish the transition's CloudEvents; ids are deterministic, so a repeat is harmless."""
        ...

    def publish_many(self, records: Sequence[TransitionRecord]) -> int:
        """Publish the events of `records`, in order, packed into as few requests as the service allows; the
        number of leading records whose events were all published (the rest are for a retry)."""
        ...


# Approvals: tickets, their task tokens and the events staff work queues read.


class TicketConflict(Exception):
    """The ticket was not OPEN (or not there) when a decision was written; carries it as it is now."""

    def __init__(self, current: Ticket | None) -> None:
        self.current = current
        super().__init__(f"ticket is {current.status.value if current else 'missing'}")


class TicketStore(Protocol):
    def put(self, ticket: Ticket, token: str) -> bool:
        """Store a new ticket with its task token; False when it was already there (a redelivery)."""
        ...

    def get(self, ticket_id: str) -> Ticket | None:
        """The ticket, never its token."""
        ...

    def token(self, ticket_id: str) -> str | None:
        """The task token, for the one caller that answers it."""
        ...

    def audit(self, ticket_id: str, entry: AuditEntry) -> None:
        """Append to the ticket's audit trail, whatever its status; TicketConflict(None) if there is none."""
        ...

    def decide(self, ticket: Ticket, entry: AuditEntry) -> Ticket:
        """Write `ticket`'s decision if the stored one is still OPEN, else raise TicketConflict."""
        ...

    def expire(self, ticket_id: str, entry: AuditEntry) -> Ticket:
        """OPEN -> EXPIRED (nobody decided in time) if the stored one is still OPEN, else raise TicketConflict."""
        ...

    def withdraw(self, ticket_id: str, entry: AuditEntry) -> Ticket:
        """OPEN -> WITHDRAWN (the journey stopped waiting on it) if still OPEN, else raise TicketConflict."""
        ...

    def answered(self, ticket_id: str, status: TicketStatus, at: float, entry: AuditEntry | None = None) -> None:
        """Note that the chain was told (DECIDED or EXPIRED), or that it had stopped waiting (EXPIRED)."""
        ...

    def open_tickets(self, now: float, limit: int = 100) -> list[Ticket]:
        """OPEN tickets whose deadline is still ahead, soonest first."""
        ...

    def lapsed(self, now: float, limit: int = 100) -> list[str]:
        """The ids of OPEN tickets past their deadline (the watchdog's sweep), oldest deadline first."""
        ...


class TokenCloser(Protocol):
    def close(self, token: str, output: dict[str, Any]) -> bool:
        """SendTaskSuccess; False when the token no longer waits (expired or already answered)."""
        ...


class TicketEvents(Protocol):
    def requested(self, ticket: Ticket, domain: str) -> None:
        """Publish approval_requested for the staff work queue (deterministic id, never the token)."""
        ...

    def withdrawn(self, ticket: Ticket, domain: str, reason: str) -> None:
        """Publish approval_withdrawn: the ticket takes no more decisions, and why."""
        ...


class Handoff(Protocol):
    def answer_later(self, ticket_id: str) -> None:
        """Ask the approvals function to tell the chain about a recorded decision."""
        ...


class UsageMeter(Protocol):
    def begin(self) -> None:
        """Start measuring the AWS calls made for one event."""
        ...

    def usage(self, journey: Journey, record: TransitionRecord, actions: Sequence[Action], extra: Usage) -> Usage:
        """What the transition costs: calls measured since begin(), plus its commit and actions about to be made."""
        ...


class Unmetered:
    """A meter that measures nothing: the in-memory stores have no AWS usage."""

    def begin(self) -> None:
        pass

    def usage(self, journey: Journey, record: TransitionRecord, actions: Sequence[Action], extra: Usage) -> Usage:
        return extra
