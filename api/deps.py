"""What every route depends on: the caller, the engine client, and the errors the API answers with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import CUSTOMER, OPERATOR, VIEWER, Forbidden, Principal
from cli.client import JourneysClient
from consumers.runtime import Runtime

RuntimeFactory = Callable[[], Runtime]


class NotFound(LookupError):
    """Answered 404."""


class BadRequest(ValueError):
    """Data the engine refuses (an INPUT step's schema): answered 400."""


class Invalid(ValueError):
    """A request the models accept but the API cannot act on; answered 422 like a validation error."""


# Declares the bearer scheme in the OpenAPI document (Swagger's Authorize button); the app's Authenticator checks it.
BEARER = HTTPBearer(auto_error=False, description="a JWT: Cognito's on AWS, `journeys token` locally")


def principal(request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> Principal:
    """Who the authentication middleware (api/app.py) found the caller to be."""
    found: Principal = request.state.principal  # Starlette's request state holds Any
    return found


def client(request: Request) -> JourneysClient:
    """One client per process, built on first use: nothing connects when the app is created."""
    state = request.app.state
    if getattr(state, "client", None) is None:
        state.client = JourneysClient(state.runtime_factory())
    built: JourneysClient = state.client  # Starlette's app state holds Any
    return built


Caller = Annotated[Principal, Depends(principal)]
Client = Annotated[JourneysClient, Depends(client)]


def reader(caller: Caller) -> Principal:
    caller.require(VIEWER, OPERATOR)
    return caller


def operator(caller: Caller) -> Principal:
    caller.require(OPERATOR)
    return caller


def approver(caller: Caller) -> Principal:
    if not caller.approval_roles:
        raise Forbidden(f"{caller.name} may not do this: it needs an approval role (e.g. payments-officer)")
    return caller


def customer(caller: Caller) -> Principal:
    caller.require(CUSTOMER)
    if not caller.customer_id:
        raise Forbidden(f"{caller.name}'s token names no customer (customer_id)")
    return caller


Reader = Annotated[Principal, Depends(reader)]
Operator = Annotated[Principal, Depends(operator)]
Approver = Annotated[Principal, Depends(approver)]
Customer = Annotated[Principal, Depends(customer)]
