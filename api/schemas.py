"""The API's answers as models, so the OpenAPI document describes every body (api/views.py fills them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Error(BaseModel):
    error: str = Field(
        description="unauthenticated, forbidden, not_found, conflict, unknown_definition, too_large or invalid"
    )
    detail: str | list[str]
    fields: dict[str, str] | None = Field(None, description="customer input: field -> what is wrong, in words")


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "no token, or one that is not valid"},
    403: {"model": Error, "description": "the caller lacks the role this needs"},
    422: {"model": Error, "description": "invalid parameters or body, each problem in words"},
}


class JourneySummary(BaseModel):
    id: str
    definition_id: str
    definition_version: str
    status: str
    step: str | None
    step_label: str | None
    business_key: str | None
    version: int
    created_at: float
    updated_at: float
    sla_breached: bool
    stuck_reason: str | None = Field(description="why an operator should look; null while all is in hand")
    waiting_on: str = Field(description="customer, approver, worker:<name>, timer, escalated, orphaned, finished")


class Page(BaseModel):
    items: list[JourneySummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class OpenActivation(BaseModel):
    id: str
    step: str
    kind: str
    worker: str | None
    branch: str | None
    deadline: float
    retrying: bool
    last_error: str | None
    reminded: bool


class TimelineEntry(BaseModel):
    seq: int
    at: float
    actor: str
    event: str
    from_step: str
    to_step: str | None
    result: str
    status: str
    reason: str | None


class Branch(BaseModel):
    name: str
    worker: str


class Graph(BaseModel):
    mermaid: str
    steps: list[str]
    types: dict[str, str] = Field({}, description="step -> its type (TASK, DECISION, PARALLEL...)")
    branches: dict[str, list[Branch]] = Field({}, description="a PARALLEL step -> the branches it runs at once")
    edges: list[list[str]] = Field(description="[from, to, label]")
    current: list[str]
    path: list[str]


class JourneyDetail(BaseModel):
    journey: JourneySummary
    state: dict[str, Any]
    open: list[OpenActivation]
    why: str
    timeline: list[TimelineEntry]
    graph: Graph
    error: dict[str, str] | None


class InterventionAccepted(BaseModel):
    journey_id: str
    command: str
    accepted: bool
    version: int
    status: str
    step: str | None


class TicketView(BaseModel):
    ticket_id: str
    journey_id: str
    definition_id: str
    step: str
    level: int
    levels: int | None
    role: str
    limit: float | None
    amount: float | None
    initiator: str = Field(description="who asked for it: the maker, who may never decide it")
    approvers: list[str]
    opened_at: float
    expires_at: float
    currency: str | None = Field(None, description="ISO 4217, from the journey state beside the step's amount")
    beneficiary: str | None = Field(None, description="who is paid: name and account")
    reference: str | None = Field(None, description="the payment's reference, as the maker wrote it")


class DecisionRecorded(BaseModel):
    ticket_id: str
    outcome: str
    repeat: bool = Field(description="the same decision by the same person was recorded before")


class Choice(BaseModel):
    value: Any
    label: str


class FormField(BaseModel):
    name: str = Field(description="the dotted path of the value in the answer: address.line1")
    label: str = Field(description="the field's name in the customer's words and language")
    kind: str = Field(description="text, email, date, number, integer, boolean or choice")
    required: bool
    group: str | None = Field(description="the nested object it belongs to, in the customer's words")
    choices: list[Choice]


class Needed(BaseModel):
    step: str
    label: str | None
    input_schema: dict[str, Any]
    fields: list[FormField] = []


class Progress(BaseModel):
    journey_id: str
    title: str | None = Field(description="the journey as the customer knows it, in their language")
    locale: str = Field(description="the language of the labels: ?locale=, then Accept-Language, else en")
    status: str
    percent: int
    step_label: str | None
    needed: Needed | None
    finished: bool
    page: dict[str, str] = Field(description="the page's own words (buttons, notices) in that language")


class Accepted(BaseModel):
    accepted: bool
