"""What the command line (and later the HTTP API) does to journeys, on the local stack or on AWS."""

from __future__ import annotations

import builtins
import uuid
from functools import cached_property
from typing import Any

from consumers.runtime import Runtime
from router.adapters.dynamodb import SWEEP, DynamoJourneyStore, DynamoTransitionLog, journeys_by_status
from router.adapters.limits import MESSAGE_BYTES, check_size
from router.adapters.tickets import DynamoTicketStore, QueuedAnswers
from router.core.approvals import Decision, Ticket, Verdict
from router.core.decide import Rejected, schema_errors
from router.core.model import ActivationKind, InputSubmitted, Journey, JourneyStatus, StartJourney, TransitionRecord
from router.core.proofs import proof_for
from router.language.definition import InputStep
from router.runtime.approval_desk import ApprovalDesk, Recorded


class JourneysClient:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.store = DynamoJourneyStore(runtime.client("dynamodb"), self.settings.journeys_table)

    def start(self, definition_id: str, data: dict[str, Any], actor: str = "cli", journey_id: str | None = None) -> str:
        self.runtime.registry.get(definition_id)  # a clear error now rather than a parked message later
        start = StartJourney(
            journey_id=journey_id or str(uuid.uuid4()), definition_id=definition_id, input=data, actor=actor
        )
        self._send(self.settings.start_queue_url, start.model_dump_json())
        return start.journey_id

    def send_start(self, start: StartJourney) -> None:
        """Queue a start for the start consumer, which commits it (api/start.py checks it first)."""
        self._send(self.settings.start_queue_url, start.model_dump_json())

    def get(self, journey_id: str) -> Journey | None:
        return self.store.load(journey_id)

    def timeline(self, journey_id: str) -> list[TransitionRecord]:
        return DynamoTransitionLog(self.runtime.client("dynamodb"), self.settings.transition_log_table).read(journey_id)

    def list(self, status: JourneyStatus | None = None) -> list[Journey]:
        statuses = (status,) if status else SWEEP
        journeys = journeys_by_status(self.runtime.client("dynamodb"), self.settings.journeys_table, statuses)
        return list(journeys)  # oldest first: the merged index order

    def submit(self, journey_id: str, data: dict[str, Any], actor: str = "customer") -> str:
        """Send customer data for the journey's open INPUT step, checked here first for a quick, clear error."""
        journey = self.get(journey_id)
        if journey is None:
            raise Rejected(f"journey {journey_id} does not exist")
        waiting = [a for a in journey.open.values() if a.kind is ActivationKind.INPUT]
        if not waiting:
            raise Rejected(f"journey {journey_id} is not waiting for customer input (status {journey.status.value})")
        activation = waiting[0]
        step = self.runtime.registry.get(journey.definition_id, journey.definition_version).step(activation.step)
        assert isinstance(step, InputStep)
        errors = schema_errors(step.input_schema, data)
        if errors:
            raise Rejected(f"data for step {step.name!r} is not valid: {'; '.join(errors)}")
        proof = proof_for(self.settings.proof_key.encode(), journey_id, activation.id)  # the caller was authenticated
        answer = InputSubmitted(journey_id=journey_id, activation_id=activation.id, data=data, actor=actor, proof=proof)
        self._send(self.settings.advance_queue_url, answer.model_dump_json())
        return activation.id

    @cached_property
    def desk(self) -> ApprovalDesk:
        """The approval desk as staff reach it: it authorizes and records at once; the approvals function
        answers the task token (staff credentials never may)."""
        if not (self.settings.tickets_table and self.settings.approval_queue_url):
            raise LookupError("this stack has no approval tickets table or approval queue (TICKETS_TABLE)")
        return ApprovalDesk(
            DynamoTicketStore(self.runtime.client("dynamodb"), self.settings.tickets_table),
            self.store,
            self.runtime.registry,
            self.runtime.clock,
            handoff=QueuedAnswers(self.runtime.client("sqs"), self.settings.approval_queue_url),
        )

    def approvals(self) -> builtins.list[Ticket]:  # `list` here is the method above
        """Open approval tickets, soonest deadline first; tokens are never read."""
        return self.desk.open_tickets()

    def decide(
        self, ticket_id: str, verdict: str, approver: str, roles: builtins.list[str], reason: str | None = None
    ) -> Recorded:
        decision = Decision(
            ticket_id=ticket_id, decision=Verdict(verdict), approver=approver, roles=roles, reason=reason, channel="cli"
        )
        return self.desk.record(decision)

    def _send(self, queue: str, body: str) -> None:
        check_size(body, MESSAGE_BYTES, "message")
        self.runtime.client("sqs").send_message(QueueUrl=queue, MessageBody=body)
