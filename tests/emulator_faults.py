"""Faults on the emulator's side of the wire: they reach every client alike, boto3's and aiobotocore's."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from devstack.emulator import Emulator

REFUSAL = {"__type": "com.amazonaws.dynamodb.v20120810#AccessDeniedException", "message": "the partition refused"}


@contextmanager
def refused_queries(emulator: Emulator, refuse: Callable[[dict[str, Any]], bool]) -> Iterator[list[dict[str, Any]]]:
    """While open, every DynamoDB Query the emulator receives is noted, and those `refuse` picks are answered with
    an error no client retries. Yields the Queries noted, in the order they arrived."""
    serial = emulator.app
    inner = serial.app
    noted: list[dict[str, Any]] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET", "").endswith(".Query"):
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            request = json.loads(body)
            noted.append(request)  # under the emulator's lock: one request at a time
            if refuse(request):
                start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.0")])
                return [json.dumps(REFUSAL).encode()]
        return inner(environ, start_response)

    serial.app = app
    try:
        yield noted
    finally:
        serial.app = inner
