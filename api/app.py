"""The FastAPI application: the same app behind uvicorn locally and behind API Gateway on Lambda."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from api import approvals, circuits, customer, ops, start
from api.auth import Authenticator, Forbidden, Unauthenticated
from api.deps import BadRequest, Invalid, NotFound, RuntimeFactory
from router.approvals import Refused, TicketClosed
from router.outcomes import Rejected
from router.registry import UnknownDefinition
from router.subscriptions import SubscriptionBusy

CONSOLE = Path(__file__).parent / "console"


def create_app(runtime_factory: RuntimeFactory, auth: Authenticator) -> FastAPI:
    """`runtime_factory` is called on the first request that needs the engine; nothing connects before."""
    app = FastAPI(
        title="Journeys",
        version="1",
        description="Operations console, approvals and customer progress for Journeys. Bearer JWT on every call.",
    )
    app.state.runtime_factory, app.state.auth, app.state.client = runtime_factory, auth, None
    for module in (start, ops, approvals, customer, circuits):
        app.include_router(module.router)
    _errors(app)

    @app.middleware("http")
    async def authenticate(request: Request, call_next: Any) -> Any:
        """Every /api call is authenticated first: no token is 401 even for a body that would not parse."""
        if request.url.path.startswith("/api/"):
            try:
                request.state.principal = auth(request)
            except Unauthenticated as exc:
                return _body(401, "unauthenticated", str(exc), {"WWW-Authenticate": "Bearer"})
        return await call_next(request)

    if CONSOLE.is_dir():
        app.mount("/console", StaticFiles(directory=CONSOLE, html=True), name="console")

        @app.get("/", include_in_schema=False)
        def home() -> RedirectResponse:
            return RedirectResponse("/console/")

    return app


def _body(status: int, error: str, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def _readable(exc: RequestValidationError) -> list[str]:
    """`body.reason: a reason is required` rather than pydantic's nested dicts."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return problems


def _errors(app: FastAPI) -> None:
    def handle(exc_type: type[Exception], status: int, error: str, **headers: str) -> None:
        async def handler(_: Request, exc: Exception) -> JSONResponse:
            return _body(status, error, str(exc), headers or None)

        app.add_exception_handler(exc_type, handler)

    handle(Forbidden, 403, "forbidden")
    handle(Refused, 403, "forbidden")  # maker-checker: audited on the ticket
    handle(NotFound, 404, "not_found")
    handle(TicketClosed, 409, "conflict")
    handle(Rejected, 409, "conflict")  # an intervention the router refuses
    handle(BadRequest, 400, "invalid")
    handle(UnknownDefinition, 409, "unknown_definition")  # the journey's version is neither deployed nor published

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        return _body(422, "invalid", [str(exc)])

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _body(422, "invalid", _readable(exc))

    async def refused(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, start.InputRefused)
        return _body(422, "invalid", exc.problems)

    async def busy(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SubscriptionBusy)
        return JSONResponse({"error": "conflict", "detail": str(exc), "journey_id": exc.holder}, status_code=409)

    handle(start.KeyReused, 409, "conflict")
    app.add_exception_handler(SubscriptionBusy, busy)
    app.add_exception_handler(start.InputRefused, refused)
    app.add_exception_handler(Invalid, invalid)
    app.add_exception_handler(RequestValidationError, validation)
