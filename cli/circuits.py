"""`journeys circuits`: each guarded worker's circuit breaker, open ones first."""

from __future__ import annotations

from datetime import UTC, datetime

from cli.client import JourneysClient
from router.adapters.circuits import DynamoCircuits
from router.core.circuits import CircuitState


def render_circuits(client: JourneysClient) -> str:
    store = DynamoCircuits(client.runtime.client("dynamodb"), client.settings.idempotency_table)
    guarded = store.all(client.settings.circuit_breakers)  # the workers CIRCUIT_BREAKERS guards
    circuits = sorted(guarded, key=lambda c: c.state is CircuitState.CLOSED)
    lines = []
    for c in circuits:
        since = f"  open since {_when(c.opened_at)}" if c.state is not CircuitState.CLOSED and c.opened_at else ""
        probe = f", probe until {_when(c.probe_until)}" if c.state is CircuitState.HALF_OPEN and c.probe_until else ""
        lines.append(f"{c.worker:<28} {c.state.value:<10} {c.failures}/{c.calls} failed{since}{probe}")
    return "\n".join(lines) or "no worker has a circuit breaker (CIRCUIT_BREAKERS)"


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S")
