"""Customers: the progress of their own journeys and the data an INPUT step waits for. Nothing internal."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from api import views, wording
from api.auth import Principal
from api.deps import BadRequest, Client, Customer, NotFound
from api.schemas import ERRORS, Accepted, Error, Progress
from cli.client import JourneysClient
from router.core.model import ActivationKind, Journey
from router.core.outcomes import Rejected
from router.language import labels
from router.language.definition import InputStep

router = APIRouter(prefix="/api/customer/journeys", tags=["customers"], responses={**ERRORS, 404: {"model": Error}})


@cache
def load_catalogues() -> dict[str, dict[str, str]]:
    """The label translations (definitions/labels/*.yaml), read once per process."""
    return labels.load_catalogues()


@cache
def load_wording() -> dict[str, dict[str, dict[str, str]]]:
    """Titles, fields, choices and messages for customers (definitions/labels/customer/*.yaml), read once."""
    return wording.load()


def _languages() -> dict[str, Any]:
    """Every locale some catalogue speaks, for choosing the caller's."""
    return {**load_wording(), **load_catalogues()}


Locale = Annotated[str | None, Query(description="a language, e.g. fr or fr-BE; overrides Accept-Language")]


class InputBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: dict[str, Any]


def owned(journey: Journey | None, caller: Principal) -> bool:
    """The journey is the caller's: its business key or its state's customer_id is theirs."""
    if journey is None or caller.customer_id is None:
        return False
    return caller.customer_id in (journey.business_key, journey.state.get("customer_id"))


def _own(client: JourneysClient, journey_id: str, caller: Principal) -> Journey:
    journey = client.get(journey_id)
    if journey is None or not owned(journey, caller):
        raise NotFound(f"you have no journey {journey_id}")  # the same answer whether it exists or not
    return journey


@router.get(
    "/{journey_id}/progress",
    response_model=Progress,
    summary="How far your journey has come and what it needs from you",
)
def progress(
    journey_id: str,
    caller: Customer,
    client: Client,
    locale: Locale = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    journey = _own(client, journey_id, caller)
    definition = client.runtime.registry.get(journey.definition_id, journey.definition_version)
    spoken = chosen_locale(locale, accept_language, _languages())
    return views.progress(journey, definition, spoken, load_catalogues(), load_wording())


def chosen_locale(locale: str | None, accept_language: str | None, catalogues: Mapping[str, Any]) -> str | None:
    """`?locale=` if given, else the caller's Accept-Language languages by preference: the first one a catalogue
    translates (fr-BE counts for fr); None when none does, so labels stay in their source text."""
    wanted = [locale] if locale else _preferred(accept_language or "")
    return next((tag for tag in wanted if tag in catalogues or tag.split("-")[0] in catalogues), None)


def _preferred(header: str) -> list[str]:
    """ "de, fr-BE;q=0.9, *;q=0.1" -> ["de", "fr-BE"]: highest q first, in the header's order among equals."""
    ranked = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = params.strip().removeprefix("q=")
        try:
            q = float(quality) if quality else 1.0
        except ValueError:
            q = 0.0
        if tag and tag != "*" and q > 0:
            ranked.append((-q, position, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]


@router.post(
    "/{journey_id}/input",
    status_code=202,
    response_model=Accepted,
    responses={400: {"model": Error, "description": "the step's schema refuses the data, or nothing is asked"}},
    summary="Send what the journey's current step asks for",
)
def submit(
    journey_id: str,
    body: InputBody,
    caller: Customer,
    client: Client,
    locale: Locale = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> Any:
    """What the step's schema refuses comes back field by field (`fields`), in the customer's language."""
    journey = _own(client, journey_id, caller)
    waiting = [a for a in journey.open.values() if a.kind is ActivationKind.INPUT]
    if waiting:
        step = client.runtime.registry.get(journey.definition_id, journey.definition_version).step(waiting[0].step)
        assert isinstance(step, InputStep)
        spoken = chosen_locale(locale, accept_language, _languages()) or wording.SOURCE
        wrong = wording.problems(load_wording(), spoken, step.input_schema, body.data)
        if wrong:
            summary = wording.page(load_wording(), spoken).get("fix", "")
            return JSONResponse({"error": "invalid", "detail": summary, "fields": wrong}, status_code=400)
    try:
        client.submit(journey_id, body.data, actor=caller.name)
    except Rejected as exc:  # nothing asked of the customer now, or data refused on a second look
        raise BadRequest(str(exc)) from None
    return {"accepted": True}
