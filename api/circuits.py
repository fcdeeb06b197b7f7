"""The workers' circuit breakers, as operators see them: which workers' new work is waiting, and since when."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import Client, Reader
from api.schemas import ERRORS
from router.adapters.circuits import DynamoCircuits

router = APIRouter(prefix="/api/circuits", tags=["operations"], responses=ERRORS)


class CircuitView(BaseModel):
    worker: str
    state: str = Field(description="CLOSED (work runs), OPEN (new work waits), HALF_OPEN (a probe is running)")
    calls: int = Field(description="outcomes recorded in the current window, since its first failure")
    failures: int
    opened_at: float | None
    probe_until: float | None


@router.get("", response_model=list[CircuitView], summary="Each guarded worker's circuit, open ones first")
def circuits(_: Reader, client: Client) -> list[dict[str, Any]]:
    store = DynamoCircuits(client.runtime.client("dynamodb"), client.settings.idempotency_table)
    found = store.all(client.settings.circuit_breakers)  # the workers CIRCUIT_BREAKERS guards
    return [c.model_dump(exclude={"version", "window_start"}) for c in sorted(found, key=lambda c: c.state == "CLOSED")]
