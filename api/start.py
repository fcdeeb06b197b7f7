"""Starting a journey over HTTP: the design's `POST /workflow/start`, the route MOD-075's gateway calls.

The input is checked here, synchronously, against the definition's `input_schema`: a refusal is a 422
naming every field at fault and nothing is stored or sent. An accepted start goes to the start queue as a
StartJourney, the same message a trigger event becomes, so the start consumer commits it (one conditional
put) exactly as it commits every other start.

`Idempotency-Key`: the journey id is derived from the caller and the key (uuid5), so a repeated call names
the same journey however often it is made, even concurrently: the start consumer's conditional put absorbs
every copy but the first. Once the journey exists, a repeat answers 200 with it and sends nothing.

Who may start: `operator`, or `starter`, a role for machine callers (the gateway, a channel) that may start
journeys and nothing else: least privilege, since an operator may also intervene in any journey.
`journeys start` (cli/main.py) goes through `start_journey` too, with the same checks and refusals.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import OPERATOR, STARTER, Principal
from api.deps import Caller, Client, NotFound
from api.schemas import ERRORS, Error
from cli.client import JourneysClient
from router.core.decide import schema_errors
from router.core.model import StartJourney
from router.core.subscriptions import SubscriptionBusy, lock_key
from router.language.definition import LOCKING
from router.language.registry import UnknownDefinition

_KEYS = uuid.UUID("0b8f6f4e-61c2-4b8e-9d55-3f1c8a7e2d41")
_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # printable ASCII, as the IETF draft and the gateways' docs allow

router = APIRouter(prefix="/api/journeys", tags=["start"], responses=ERRORS)


class StartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition_id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    input: dict[str, Any] = Field(default_factory=dict, description="the start input, checked against input_schema")
    business_key: str | None = Field(
        None, min_length=1, max_length=128, description="the id the calling domain knows the journey by"
    )


class Started(BaseModel):
    journey_id: str
    definition_id: str
    created: bool = Field(description="false: the Idempotency-Key named a journey that had already started")
    status: str = Field(description="ACCEPTED while the start is queued; else the journey's status")
    link: str = Field(description="the journey's detail in this API")


class InputRefused(ValueError):
    """The start input breaks the definition's schema (or names no definition): answered 422, nothing sent."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class KeyReused(ValueError):
    """An Idempotency-Key already started a journey of another definition or business key: answered 409."""


def starter(caller: Caller) -> Principal:
    caller.require(OPERATOR, STARTER)
    return caller


def journey_id_for(caller: str, key: str) -> str:
    """One caller's key always names the same journey; two callers' equal keys never collide."""
    return str(uuid.uuid5(_KEYS, f"{caller}\n{key}"))


def refusals(client: JourneysClient, request: StartRequest) -> list[str]:
    """Every reason to refuse the start, field by field; values are never echoed (they may be personal data)."""
    try:
        definition = client.runtime.registry.get(request.definition_id)
    except UnknownDefinition:
        return [f"definition_id: no definition {request.definition_id!r} is deployed"]
    problems = [_field(error) for error in schema_errors(definition.input_schema, request.input)]
    if definition.kind in LOCKING and not request.business_key:
        problems.append(f"business_key: a {definition.kind} journey names the subscription it acts on")
    return problems


def _field(error: str) -> str:
    """`amount: ...` as `input.amount: ...`, `(root): ...` as `input: ...`, JSON pointers as dotted paths."""
    where, _, rule = error.partition(": ")
    path = "input" if where == "(root)" else "input." + where.replace("/", ".")
    return f"{path}: {rule}"


def start_journey(client: JourneysClient, request: StartRequest, actor: str, key: str | None = None) -> Started:
    """Check, then queue the start; with a key, a journey it already started is answered instead."""
    problems = refusals(client, request)
    if problems:
        raise InputRefused(problems)
    journey_id = journey_id_for(actor, key) if key else str(uuid.uuid4())
    link = f"/api/journeys/{journey_id}"
    existing = client.get(journey_id) if key else None
    if existing is not None:
        if (existing.definition_id, existing.business_key) != (request.definition_id, request.business_key):
            raise KeyReused("this Idempotency-Key already started a journey for a different request")
        return Started(
            journey_id=journey_id,
            definition_id=existing.definition_id,
            created=False,
            status=existing.status.value,
            link=link,
        )
    _refuse_if_busy(client, request, journey_id)
    client.send_start(
        StartJourney(
            journey_id=journey_id,
            definition_id=request.definition_id,
            input=request.input,
            actor=actor,
            business_key=request.business_key,
        )
    )
    return Started(
        journey_id=journey_id, definition_id=request.definition_id, created=True, status="ACCEPTED", link=link
    )


def _refuse_if_busy(client: JourneysClient, request: StartRequest, journey_id: str) -> None:
    """A MODIFY or TERMINATE of a subscription another such journey is changing: refused now, naming it.
    The start consumer takes the lock itself (router/core/subscriptions.py), so a race past this check is refused there.
    """
    gate = client.runtime.router.gate
    definition = client.runtime.registry.get(request.definition_id)
    if gate is None or lock_key(definition, request.business_key) is None:
        return
    holder = gate.holder(definition, request.business_key, client.runtime.clock())
    if holder not in (None, journey_id):  # a repeat of a keyed start not yet committed holds its own lock
        raise SubscriptionBusy(str(request.business_key), str(holder))


@router.post(
    "",
    status_code=202,
    response_model=Started,
    summary="Start a journey; refused synchronously (422, nothing stored) when the input breaks its schema",
    responses={
        200: {"model": Started, "description": "the Idempotency-Key's journey, started earlier"},
        404: {"model": Error, "description": "no such definition is deployed"},
        409: {
            "model": Error,
            "description": "the Idempotency-Key was used for a different request, or another MODIFY or TERMINATE "
            "journey is changing the subscription (its id in `journey_id`)",
        },
    },
)
def start(
    body: StartRequest,
    caller: Annotated[Principal, Depends(starter)],
    client: Client,
    response: Response,
    idempotency_key: Annotated[str | None, Header(pattern=_KEY_PATTERN)] = None,
) -> Started:
    try:
        client.runtime.registry.get(body.definition_id)
    except UnknownDefinition:  # a resource the request names that does not exist: 404, like a missing journey
        raise NotFound(f"no definition {body.definition_id!r} is deployed: `journeys definitions` lists them") from None
    started = start_journey(client, body, caller.name, idempotency_key)
    response.headers["Location"] = started.link
    if not started.created:
        response.status_code = 200
    return started
