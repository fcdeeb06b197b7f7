"""The FastAPI application: the same app behind uvicorn locally and behind API Gateway on Lambda."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api import approvals, circuits, customer, ops, start
from api.auth import Authenticator, Forbidden, Unauthenticated
from api.deps import BadRequest, Invalid, NotFound, RuntimeFactory
from api.edges import MAX_BODY_BYTES, StrictBodies
from router.core.approvals import Refused, TicketClosed
from router.core.gates import GateRefused
from router.core.outcomes import Rejected
from router.core.subscriptions import SubscriptionBusy
from router.language.registry import UnknownDefinition
from router.ports import PayloadTooLarge

CONSOLE = Path(__file__).parent / "console"


def create_app(runtime_factory: RuntimeFactory, auth: Authenticator) -> FastAPI:
    """`runtime_factory` is called on the first request that needs the engine; nothing connects before."""
    app = FastAPI(
        title="Journeys",
        version="1",
        description="Operations console, approvals and customer progress for Journeys. Bearer JWT on every call.",
        dependencies=[Depends(known_query), Depends(possible_ids)],
    )
    app.state.runtime_factory, app.state.auth, app.state.client = runtime_factory, auth, None
    for module in (start, ops, approvals, customer, circuits):
        app.include_router(module.router)
    _declare_body_limits(app)
    _errors(app)
    # Added first, so it runs inside `authenticate`: an unknown caller learns nothing about how bodies are judged.
    app.add_middleware(StrictBodies)

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


def known_query(request: Request) -> None:
    """A query parameter the route does not declare is refused (422), not ignored: a misspelt filter
    (`?stauts=STUCK`) would otherwise list every journey as if it had matched."""
    route = request.scope.get("route")
    operation = request.app.openapi().get("paths", {}).get(getattr(route, "path_format", None), {})
    declared = operation.get(request.method.lower(), {}).get("parameters", [])
    known = {p["name"] for p in declared if p.get("in") == "query"}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        names = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise Invalid(f"query: unknown parameter {names}; this route takes {', '.join(sorted(known)) or 'none'}")


MAX_ID = 200  # journey ids are at most 64 characters (router/core/model.py), ticket ids a few more; DynamoDB keys 2 KB


def possible_ids(request: Request) -> None:
    """An id in the path that no journey or ticket could have (too long, or with control characters) is a 404
    before any read: on AWS a key over DynamoDB's limit would come back as a 500 from the table."""
    for value in request.path_params.values():
        if len(value) > MAX_ID or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise NotFound("there is no such journey or ticket")


def _declare_body_limits(app: FastAPI) -> None:
    """Every operation that takes a body says, in the OpenAPI document, that it may answer 413 (StrictBodies)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            too_large = {
                "description": f"the body is over {MAX_BODY_BYTES // 1024} KB ({MAX_BODY_BYTES} bytes), the limit",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    if "requestBody" in operation:
                        operation["responses"].setdefault("413", too_large)
            app.openapi_schema = document
        return app.openapi_schema

    # FastAPI's documented way to extend the schema is to replace app.openapi; mypy forbids assigning a method
    app.openapi = openapi  # type: ignore[method-assign]


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


def _allowed(app: FastAPI, request: Request) -> list[str]:
    """Every method some route serves at the request's path: one path may be served by two routers (GET and
    POST /api/journeys), and Starlette's own 405 names only the first route's."""
    methods: set[str] = set()
    for route in app.routes:
        match, _ = route.matches({**request.scope, "method": "__none__"})
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def _errors(app: FastAPI) -> None:
    async def not_allowed(request: Request, exc: Exception) -> Any:
        if not isinstance(exc, StarletteHTTPException) or exc.status_code != 405:
            return await http_exception_handler(request, exc)  # type: ignore[arg-type]  # checked just above
        return JSONResponse({"detail": "Method Not Allowed"}, 405, {"Allow": ", ".join(_allowed(app, request))})

    app.add_exception_handler(StarletteHTTPException, not_allowed)
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
    handle(PayloadTooLarge, 413, "too_large")  # what the request would make of a journey is over an AWS limit

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        return _body(422, "invalid", [str(exc)])

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _body(422, "invalid", _readable(exc))

    async def gate(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GateRefused)
        return _body(409, exc.rule, str(exc))  # the maker-checker rule it breaks is the error code

    app.add_exception_handler(GateRefused, gate)

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
