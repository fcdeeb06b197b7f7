"""The approval inbox: approvers see the open tickets of the roles they hold and decide them, as themselves."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api import views
from api.deps import Approver, Client, Invalid, NotFound
from api.schemas import ERRORS, DecisionRecorded, Error, TicketView
from router.core.approvals import Decision, Verdict
from router.core.identity import canonical

router = APIRouter(prefix="/api/approvals", tags=["approvals"], responses=ERRORS)
DECIDED: dict[int | str, dict[str, Any]] = {
    404: {"model": Error},
    409: {"model": Error, "description": "the ticket was decided or expired"},
}


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=1000, description="why; required to reject")
    digest: str | None = Field(
        None,
        max_length=64,
        description="the ticket's digest as you saw it: the decision is refused if what it covers changed since",
    )


@router.get("", response_model=list[TicketView], summary="Open tickets the caller may decide, soonest deadline first")
def inbox(caller: Approver, client: Client) -> list[dict[str, Any]]:
    """Only what the caller could approve: a role they hold, within its limit, and not their own request."""
    return views.inbox(client, caller.name, caller.approval_roles)


def _decide(ticket_id: str, verdict: Verdict, body: DecisionBody, caller: Approver, client: Client) -> dict[str, Any]:
    if verdict is Verdict.REJECT and not (body.reason or "").strip():
        raise Invalid("a rejection needs a reason")
    if client.desk.ticket(ticket_id) is None:
        raise NotFound(f"there is no ticket {ticket_id}")
    decision = Decision(
        ticket_id=ticket_id,
        decision=verdict,
        approver=canonical(caller.name),
        roles=sorted(caller.roles),
        reason=body.reason,
        channel="api",
        digest=body.digest,
    )
    recorded = client.desk.record(decision)  # Refused (403, audited on the ticket) or TicketClosed (409)
    return {"ticket_id": ticket_id, "outcome": verdict.value, "repeat": recorded.repeat}


@router.post(
    "/{ticket_id}/approve",
    response_model=DecisionRecorded,
    responses=DECIDED,
    summary="Approve one level, as yourself (maker-checker applies)",
)
def approve(ticket_id: str, body: DecisionBody, caller: Approver, client: Client) -> dict[str, Any]:
    return _decide(ticket_id, Verdict.APPROVE, body, caller, client)


@router.post(
    "/{ticket_id}/reject", response_model=DecisionRecorded, responses=DECIDED, summary="Reject one level, with a reason"
)
def reject(ticket_id: str, body: DecisionBody, caller: Approver, client: Client) -> dict[str, Any]:
    return _decide(ticket_id, Verdict.REJECT, body, caller, client)
