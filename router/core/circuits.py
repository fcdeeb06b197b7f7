"""Circuit breakers per worker: when a worker keeps failing, its new work waits instead of failing.

The circuit is one item per worker in DynamoDB (router/adapters/circuits.py), so every consumer agrees.
CLOSED: work runs. When, within a window, at least `min_calls` outcomes were recorded and the share of
retryable failures reaches `failure_rate`, it OPENs: work is put back on its queue with a delay (a new
message, so no receive is used up and nothing is dead-lettered). After `open_seconds` one consumer claims
the probe (HALF_OPEN, a conditional write) and runs its work: success closes the circuit, failure opens it
again. A terminal failure is a business answer, the worker being up; only retryable ones count.

The healthy path writes nothing: outcomes are recorded only once the window has seen a failure, so the rate
is taken over the calls since the window's first failure (it reads high, erring towards opening early).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Protocol

from pydantic import Field

from router.language.definition import Model


class CircuitState(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class Admit(StrEnum):
    RUN = "RUN"
    PROBE = "PROBE"  # run it, and let its outcome decide the circuit
    WAIT = "WAIT"  # put it back on the queue, delayed


class BreakerPolicy(Model):
    window_seconds: float = Field(60, gt=0)
    min_calls: int = Field(5, ge=1)
    failure_rate: float = Field(0.5, gt=0, le=1)
    open_seconds: float = Field(30, gt=0)  # before a probe is let through
    probe_seconds: float = Field(120, gt=0)  # a probe that never reports is presumed lost after this


class Circuit(Model):
    worker: str
    state: CircuitState = CircuitState.CLOSED
    window_start: float = 0.0
    calls: int = 0
    failures: int = 0
    opened_at: float | None = None
    probe_until: float | None = None
    version: int = 0  # the number of writes: every write is conditional on the one before


def admission(circuit: Circuit, now: float, policy: BreakerPolicy) -> tuple[Admit, float]:
    """Whether work may run now; with WAIT, roughly how long until it may."""
    if circuit.state is CircuitState.CLOSED:
        return Admit.RUN, 0.0
    if circuit.state is CircuitState.OPEN:
        ready = (circuit.opened_at or now) + policy.open_seconds
        return (Admit.PROBE, 0.0) if now >= ready else (Admit.WAIT, ready - now)
    until = circuit.probe_until or now
    return (Admit.PROBE, 0.0) if now >= until else (Admit.WAIT, min(until - now, policy.open_seconds))


def probing(circuit: Circuit, now: float, policy: BreakerPolicy) -> Circuit:
    return _next(circuit, state=CircuitState.HALF_OPEN, probe_until=now + policy.probe_seconds)


def recorded(circuit: Circuit, failed: bool, probe: bool, now: float, policy: BreakerPolicy) -> Circuit | None:
    """The circuit after one outcome; None when there is nothing worth writing."""
    if probe:
        if failed:
            return _next(circuit, state=CircuitState.OPEN, opened_at=now, probe_until=None)
        return _next(circuit, state=CircuitState.CLOSED, window_start=now, calls=0, failures=0, opened_at=None)
    if circuit.state is not CircuitState.CLOSED:
        return None  # work let in before the circuit opened: the probe decides now
    current = now - circuit.window_start < policy.window_seconds
    calls, failures = (circuit.calls, circuit.failures) if current else (0, 0)
    if failures == 0 and not failed:
        return None
    calls, failures = calls + 1, failures + int(failed)
    window_start = circuit.window_start if current else now
    if calls >= policy.min_calls and failures / calls >= policy.failure_rate:
        return _next(circuit, state=CircuitState.OPEN, opened_at=now, window_start=window_start, calls=calls,
                     failures=failures)  # fmt: skip
    return _next(circuit, window_start=window_start, calls=calls, failures=failures)


def _next(circuit: Circuit, **changes: object) -> Circuit:
    return circuit.model_copy(update={**changes, "version": circuit.version + 1})


class CircuitConflict(Exception):
    """Another consumer wrote the circuit first; carries it as it is now."""

    def __init__(self, current: Circuit) -> None:
        self.current = current
        super().__init__(f"circuit {current.worker} moved on to version {current.version}")


class CircuitStore(Protocol):
    def load(self, worker: str) -> Circuit: ...

    def save(self, circuit: Circuit) -> None:
        """Write if the stored version is `circuit.version - 1`, else raise CircuitConflict."""
        ...


class Breaker:
    """What a worker consumer asks before running work, and tells after. Reads are cached for a moment per
    process while the circuit is closed, so a healthy worker costs a read every few seconds, not per message."""

    CACHE_SECONDS = 2.0
    MAX_CONFLICTS = 5

    def __init__(
        self, store: CircuitStore, policies: Mapping[str, BreakerPolicy], clock: Callable[[], float]
    ) -> None:
        """`policies`: the workers that have a breaker; any other runs unguarded, at no cost."""
        self.store, self.policies, self.clock = store, policies, clock
        self._seen: dict[str, tuple[float, Circuit]] = {}

    def admit(self, worker: str) -> tuple[Admit, float]:
        policy = self.policies.get(worker)
        if policy is None:
            return Admit.RUN, 0.0
        circuit, now = self._circuit(worker), self.clock()
        decision, wait = admission(circuit, now, policy)
        if decision is not Admit.PROBE:
            return decision, wait
        try:  # one consumer wins the probe; the others keep waiting
            self.store.save(claimed := probing(circuit, now, policy))
        except CircuitConflict as conflict:
            self._remember(conflict.current)
            return Admit.WAIT, 1.0
        self._remember(claimed)
        return Admit.PROBE, 0.0

    def record(self, worker: str, failed: bool, probe: bool) -> None:
        policy = self.policies.get(worker)
        if policy is None:
            return
        circuit = self._circuit(worker)
        for _ in range(self.MAX_CONFLICTS):
            new = recorded(circuit, failed, probe, self.clock(), policy)
            if new is None:
                return
            try:
                self.store.save(new)
            except CircuitConflict as conflict:
                circuit = conflict.current
                continue
            self._remember(new)
            return

    def _circuit(self, worker: str) -> Circuit:
        seen = self._seen.get(worker)
        now = self.clock()
        if seen and seen[1].state is CircuitState.CLOSED and now - seen[0] < self.CACHE_SECONDS:
            return seen[1]
        return self._remember(self.store.load(worker))

    def _remember(self, circuit: Circuit) -> Circuit:
        self._seen[circuit.worker] = (self.clock(), circuit)
        return circuit
