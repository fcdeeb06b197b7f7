"""The API on Lambda: Mangum adapts API Gateway's HTTP API events to the same ASGI app uvicorn serves."""

from __future__ import annotations

import os
from functools import cache

from mangum import Mangum

from api.app import create_app
from api.auth import GatewayClaims
from consumers.runtime import Runtime, runtime_from_env


@cache
def _runtime() -> Runtime:
    return runtime_from_env(os.environ)


handler = Mangum(create_app(_runtime, GatewayClaims()), lifespan="off")
