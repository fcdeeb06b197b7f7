"""Drive journeys to completion through the real Router on in-memory ports, with a fake clock.

Work is done by calling the workers in-process, timers fire by advancing the clock, and INPUT
steps are answered from a mapping of step name to submitted data (for an APPROVAL step: the
approval chain's outcome). Nothing here decides anything: every transition is the router's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from router.core.model import (
    Action,
    ActivationKind,
    ApprovalOutcome,
    ArmTimer,
    Event,
    InputSubmitted,
    Journey,
    JourneyStatus,
    SendWork,
    StartApproval,
    StartJourney,
    StepFailed,
    StepSucceeded,
    TimerFired,
    WithdrawApproval,
)
from router.language.definition import Definition
from router.language.registry import Registry
from router.ports.memory import MemoryDispatcher, MemoryStore
from router.runtime.service import Router
from workers.step import Workers

MAX_EVENTS = 200  # far more than any sample needs; more means the journey loops


class FakeClock:
    """Time only moves when a test says so."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class JourneyDriver:
    def __init__(self, definitions: Iterable[Definition], workers: Workers) -> None:
        self.workers = workers
        self.clock = FakeClock()
        self.store = MemoryStore()
        self.dispatcher = MemoryDispatcher()
        self.router = Router(Registry(definitions), self.store, self.dispatcher, self.clock)
        self.worker_calls: list[str] = []

    def run(
        self,
        definition_id: str,
        start_input: dict[str, Any],
        answers: Mapping[str, dict[str, Any]] | None = None,
        journey_id: str = "j-1",
    ) -> Journey:
        """Start a journey and drive it until it finishes or waits for input nobody gave."""
        start = StartJourney(journey_id=journey_id, definition_id=definition_id, input=start_input, actor="customer")
        return self.drive(journey_id, self._handle(start), answers or {})

    def drive(self, journey_id: str, actions: Iterable[Action], answers: Mapping[str, dict[str, Any]]) -> Journey:
        """Perform actions (and answer INPUT steps from `answers`) until nothing is left to do."""
        pending: deque[Action] = deque(actions)
        for _ in range(MAX_EVENTS):
            if pending:
                action = pending.popleft()
                if isinstance(action, StartApproval):  # the chain resolves as the test says, or never
                    if action.step in answers:
                        ids = {"journey_id": action.journey_id, "activation_id": action.activation_id}
                        outcome = ApprovalOutcome(**ids, digest=action.digest, **answers[action.step])
                        pending.extend(self._handle(outcome))
                    continue
                if isinstance(action, WithdrawApproval):  # no chain to stop here
                    continue
                pending.extend(self._handle(self._answer(action)))
                continue
            journey = self.load(journey_id)
            waiting = [a for a in journey.open.values() if a.kind is ActivationKind.INPUT and a.step in answers]
            if journey.status is not JourneyStatus.RUNNING or not waiting:
                return journey
            data = answers[waiting[0].step]
            pending.extend(self._handle(InputSubmitted(journey_id=journey_id, activation_id=waiting[0].id, data=data)))
        raise AssertionError(f"journey {journey_id} still moving after {MAX_EVENTS} events: a loop?")

    def load(self, journey_id: str) -> Journey:
        journey = self.store.load(journey_id)
        assert journey is not None, f"journey {journey_id} was never committed"
        return journey

    def _handle(self, event: Event) -> list[Action]:
        return list(self.router.handle(event).actions)

    def _answer(self, action: Action) -> Event:
        if isinstance(action, ArmTimer):
            self.clock.advance(action.delay_seconds)
            return TimerFired(journey_id=action.journey_id, activation_id=action.activation_id)
        return self._work(action)

    def _work(self, work: SendWork) -> Event:
        """What the worker consumer would send back; a retryable error would only come back again."""
        self.worker_calls.append(work.worker)
        ids = {"journey_id": work.journey_id, "activation_id": work.activation_id, "actor": work.worker}
        try:
            return StepSucceeded(**ids, output=self.workers.run(work.worker, work.state))
        except Exception as exc:
            if self.workers.is_retryable(exc):
                raise
            return StepFailed(**ids, error=type(exc).__name__, message=str(exc))
