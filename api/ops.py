"""Operations staff: list and filter journeys, the stuck queue, a journey in full, and interventions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api import schemas, views
from api.deps import BadRequest, Client, Invalid, NotFound, Operator, Reader
from api.listing import BadCursor, JourneyFilter, find
from api.schemas import ERRORS, InterventionAccepted, JourneyDetail, Page
from cli.client import JourneysClient
from cli.preflight import check_move
from router.core.decide import Commit
from router.core.identity import canonical
from router.core.interventions import intervene as intervene_dry_run
from router.core.model import Command, Intervention, Journey, JourneyStatus
from router.language.definition import Definition
from router.language.registry import UnknownDefinition

router = APIRouter(prefix="/api/journeys", tags=["operations"], responses=ERRORS)


class InterventionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: Command
    reason: str = Field(max_length=1000, description="why, in a few words; recorded in the journey's audit trail")
    expected_version: int | None = Field(None, description="the version you looked at (default: the current one)")
    target: str | None = Field(None, description="goto: the step to go to")
    patch: dict[str, Any] | None = Field(None, description="patch: JSON merged into the state")
    output: dict[str, Any] | None = Field(None, description="skip: the skipped step's output")

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, reason: str) -> str:
        if len(reason.strip()) < 3:
            raise ValueError("a reason is required: say why, in a few words")
        return reason.strip()

    @model_validator(mode="after")
    def _arguments(self) -> InterventionBody:
        if self.command is Command.GOTO and not self.target:
            raise ValueError("goto needs a target step")
        if self.command is Command.PATCH and not self.patch:
            raise ValueError("patch needs a non-empty patch object")
        return self


def _page(client: JourneysClient, f: JourneyFilter, limit: int, cursor: str | None) -> Page:
    now = client.runtime.clock()
    try:
        journeys, next_cursor = find(
            client.runtime.client("dynamodb"), client.settings.journeys_table, f, now, limit, cursor
        )
    except BadCursor as exc:  # a malformed cursor is the caller's request, not a missing parameter: 400
        raise BadRequest(str(exc)) from None
    return Page.model_validate(
        {"items": [views.summary(j, _known(client, j), now) for j in journeys], "next_cursor": next_cursor}
    )


def _definition(client: JourneysClient, journey: Journey) -> Definition:
    return client.runtime.registry.get(journey.definition_id, journey.definition_version)


def _known(client: JourneysClient, journey: Journey) -> Definition | None:
    """The journey's definition, or None (a summary without step labels) for a version neither deployed nor
    published: one such journey must not fail the whole page."""
    try:
        return _definition(client, journey)
    except UnknownDefinition:
        return None


def _journey(client: JourneysClient, journey_id: str) -> Journey:
    journey = client.get(journey_id)
    if journey is None:
        raise NotFound(f"there is no journey {journey_id}")
    return journey


Limit = Annotated[int, Query(ge=1, le=200, description="items per page")]
MAX_TEXT = 200  # a filter's words; a business key is a DynamoDB index key, which AWS caps at 2 KB


BAD_CURSOR: dict[int | str, dict[str, Any]] = {
    400: {"model": schemas.Error, "description": "a cursor this API did not return"}
}


@router.get("", response_model=Page, responses=BAD_CURSOR, summary="List and filter journeys, oldest first")
def list_journeys(
    _: Reader,
    client: Client,
    status: JourneyStatus | None = None,
    definition: Annotated[str | None, Query(max_length=MAX_TEXT)] = None,
    version: Annotated[str | None, Query(max_length=MAX_TEXT)] = None,
    stuck_reason: Annotated[
        str | None, Query(description="words in why it is stuck: escalated, orphaned", max_length=MAX_TEXT)
    ] = None,
    sla_breached: bool | None = None,
    business_key: Annotated[str | None, Query(max_length=MAX_TEXT)] = None,
    created_from: Annotated[float | None, Query(description="epoch seconds, inclusive", allow_inf_nan=False)] = None,
    created_to: Annotated[float | None, Query(description="epoch seconds, exclusive", allow_inf_nan=False)] = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> Page:
    f = JourneyFilter(
        status=status,
        definition=definition,
        version=version,
        stuck_reason=stuck_reason,
        sla_breached=sla_breached,
        business_key=business_key,
        created_from=created_from,
        created_to=created_to,
    )
    if created_from is not None and created_to is not None and created_from >= created_to:
        raise Invalid("created_from must be before created_to")
    return _page(client, f, limit, cursor)


@router.get(
    "/stuck", response_model=Page, responses=BAD_CURSOR, summary="Journeys escalated or past an SLA, oldest first"
)
def stuck(_: Reader, client: Client, limit: Limit = 50, cursor: str | None = None) -> Page:
    return _page(client, JourneyFilter(stuck_only=True), limit, cursor)


@router.get(
    "/{journey_id}",
    response_model=JourneyDetail,
    responses={404: {"model": schemas.Error}},
    summary="A journey: state, open work, why it waits, timeline and graph",
)
def journey_detail(journey_id: str, _: Reader, client: Client) -> dict[str, Any]:
    journey = _journey(client, journey_id)
    return views.detail(journey, _definition(client, journey), client.timeline(journey_id), client.runtime.clock())


@router.post(
    "/{journey_id}/interventions",
    status_code=202,
    response_model=InterventionAccepted,
    responses={404: {"model": schemas.Error}, 409: {"model": schemas.Error, "description": "the router refused it"}},
    summary="Retry, skip, goto, patch, cancel, resume or confirm (an override, by a second person), with a reason",
)
def intervene(journey_id: str, body: InterventionBody, caller: Operator, client: Client) -> dict[str, Any]:
    """Straight through the router, as `journeys <command>` does: a refusal (409) is immediate; the actor
    recorded in the transition log is the caller's username (Principal.name)."""
    journey = _journey(client, journey_id)
    command = Intervention(
        journey_id=journey.id,
        command=body.command,
        expected_version=journey.version if body.expected_version is None else body.expected_version,
        actor=canonical(caller.name),
        reason=body.reason,
        output=body.output if body.command is Command.SKIP else None,
        step=body.target if body.command is Command.GOTO else None,
        patch=body.patch if body.command is Command.PATCH else None,
    )
    definition = _definition(client, journey)
    intervene_dry_run(definition, journey, command, client.runtime.clock())  # the rules' refusal first (pure)
    check_move(definition, journey, body.command, command.step, command.output, client.runtime.workers)
    outcome = client.runtime.router.handle(command)
    assert isinstance(outcome, Commit)  # interventions either commit or are refused (Rejected: 409)
    after = outcome.journey
    return {
        "journey_id": after.id,
        "command": body.command.value,
        "accepted": True,
        "version": after.version,
        "status": after.status.value,
        "step": after.step,
    }
