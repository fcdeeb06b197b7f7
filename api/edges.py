"""What any request body must be before a route sees it: at most 256 KB, strict JSON, at most 32 levels deep.

One ASGI middleware for every route, so no route can forget it. Whatever a body carries ends up in an SQS
message or EventBridge entry, whose limit is 256 KB; 32 levels (DynamoDB's limit for nested attributes) is
deeper than any business document, and far deeper nesting once crashed the engine's own recursion. Refusing
here, with a 4xx that names the limit, means nothing is stored, sent or dead-lettered.
Python's json module accepts NaN, Infinity and -Infinity, and reads 1e400 as inf; none is JSON, none can be
stored, so any of them is a 422 naming the field's path (never its value).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from router.adapters.limits import MESSAGE_BYTES

MAX_BODY_BYTES = MESSAGE_BYTES  # SQS message and EventBridge entry size: what the engine can carry
MAX_DEPTH = 32  # DynamoDB's limit on nested attributes; no journey's data needs more


class BadBody(ValueError):
    """A body refused before any route runs: `status` is 413 or 422."""

    def __init__(self, status: int, problem: str) -> None:
        super().__init__(problem)
        self.status = status


class _NonFinite:
    """Stands in for NaN, Infinity or an overflowing number while parsing, so its path can be found after."""


NON_FINITE = _NonFinite()


def _constant(_: str) -> _NonFinite:
    return NON_FINITE


def _number(text: str) -> float | _NonFinite:
    value = float(text)
    return value if math.isfinite(value) else NON_FINITE


def strict_json(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The body parsed as JSON, or BadBody(422) naming the first non-finite number's path or the depth limit.
    Text that is not JSON at all is left for the route's own validation to answer (ValueError)."""
    try:
        document = json.loads(body, parse_constant=_constant, parse_float=_number)
    except RecursionError:
        raise BadBody(422, f"body: nested deeper than {max_depth} levels, the limit") from None
    for path, value, depth in _walk(document):
        if depth > max_depth:
            raise BadBody(422, f"{path}: nested deeper than {max_depth} levels, the limit")
        if value is NON_FINITE:
            raise BadBody(422, f"{path}: must be a finite number")
    return document


def _walk(document: Any) -> Iterator[tuple[str, Any, int]]:
    """Every value with its path (body.a.0.b) and depth (the body itself is 0), iteratively: no recursion limit."""
    stack: list[tuple[str, Any, int]] = [("body", document, 0)]
    while stack:
        path, value, depth = stack.pop()
        yield path, value, depth
        if isinstance(value, dict):
            stack.extend((f"{path}.{_key(key)}", child, depth + 1) for key, child in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{path}.{i}", child, depth + 1) for i, child in reversed(list(enumerate(value))))


def _key(key: str) -> str:
    """A field name as it appears in a path: shortened, so a 100 KB key does not come back in the answer."""
    return key if len(key) <= 64 else f"{key[:61]}..."


class StrictBodies:
    """ASGI middleware: reads a JSON body (within the size limit), checks it, then hands the route the same bytes."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_DEPTH) -> None:
        self.app, self.max_bytes, self.max_depth = app, max_bytes, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _may_carry_json(scope):
            await self.app(scope, receive, send)
            return
        try:
            body, more = await self._read(scope, receive)
            if body:
                self._check(body)
        except BadBody as refused:
            await _answer(send, refused)
            return
        await self.app(scope, _replay(body, more, receive), send)

    async def _read(self, scope: Scope, receive: Receive) -> tuple[bytes, bool]:
        """The whole body, refusing as soon as it passes the limit (a declared Content-Length is refused unread)."""
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise BadBody(413, self._too_large())
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), False  # the client went away: the route sees what came, then the disconnect
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise BadBody(413, self._too_large())
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), True

    def _too_large(self) -> str:
        return f"body: over the {self.max_bytes}-byte limit ({self.max_bytes // 1024} KB, as SQS and EventBridge)"

    def _check(self, body: bytes) -> None:
        try:
            strict_json(body, self.max_depth)
        except BadBody:
            raise
        except json.JSONDecodeError:  # not JSON: FastAPI's own 422 says where it stops parsing
            return
        except ValueError:  # not UTF-8, or an integer past Python's 4,300-digit limit: FastAPI would answer 400
            raise BadBody(422, "body: not valid JSON (UTF-8 text, integers of at most 4300 digits)") from None


def _may_carry_json(scope: Scope) -> bool:
    """A body FastAPI would parse as JSON: no content type, or a JSON one."""
    if scope.get("method") not in ("POST", "PUT", "PATCH", "DELETE"):
        return False
    content_type = dict(scope.get("headers") or []).get(b"content-type", b"").decode("latin-1").lower()
    media = content_type.split(";")[0].strip()
    return not media or media == "application/json" or media.endswith("+json")


def _replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """A receive that gives the body already read once, then whatever the client sends next (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent and complete:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(send: Send, refused: BadBody) -> None:
    error = "too_large" if refused.status == 413 else "invalid"
    detail: str | list[str] = str(refused) if refused.status == 413 else [str(refused)]
    payload = json.dumps({"error": error, "detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
