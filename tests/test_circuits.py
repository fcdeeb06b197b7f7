"""Circuit breakers per worker: a failing worker's circuit opens, its work waits, a probe closes it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

import cli.main
from api.app import create_app
from api.auth import DevIssuer
from cli.client import JourneysClient
from devstack.emulator import Emulator
from devstack.stack import LocalStack
from reliability.instruments import SideEffects, rewrapped, settled
from router.adapters.circuits import DynamoCircuits
from router.core.circuits import Admit, Breaker, BreakerPolicy, Circuit, CircuitState, admission, recorded
from router.core.model import JourneyStatus
from router.language.loader import parse
from router.language.registry import Registry
from router.ports.memory import MemoryCircuits
from tests.routing import template_with_workers
from workers.step import RetryableError, TerminalError, Workers

pytestmark = pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")

POLICY = BreakerPolicy(window_seconds=60, min_calls=2, failure_rate=0.5, open_seconds=2, probe_seconds=30)


def test_the_healthy_path_and_terminal_failures_write_nothing() -> None:
    """Successes with no failure in the window, and business (terminal) failures, leave the circuit unwritten."""
    closed = Circuit(worker="w")
    assert recorded(closed, failed=False, probe=False, now=10, policy=POLICY) is None


def test_the_circuit_opens_at_the_failure_rate_and_a_new_window_forgets() -> None:
    """Two failures of two open it; a failure long ago does not count in a new window."""
    once = recorded(Circuit(worker="w"), failed=True, probe=False, now=10, policy=POLICY)
    assert once is not None and once.state is CircuitState.CLOSED and (once.calls, once.failures) == (1, 1)
    twice = recorded(once, failed=True, probe=False, now=11, policy=POLICY)
    assert twice is not None and twice.state is CircuitState.OPEN and twice.opened_at == 11
    later = recorded(once, failed=True, probe=False, now=100, policy=POLICY)
    assert later is not None and later.state is CircuitState.CLOSED and (later.calls, later.failures) == (1, 1)


def test_a_worker_without_a_policy_runs_unguarded_and_costs_nothing() -> None:
    """No read, no write: the breaker only guards the workers CIRCUIT_BREAKERS names."""
    store = MemoryCircuits()
    breaker = Breaker(store, {"w": POLICY}, lambda: 0.0)
    assert breaker.admit("other") == (Admit.RUN, 0.0)
    breaker.record("other", failed=True, probe=False)
    assert store.circuits == {}


def test_open_work_waits_then_one_probe_decides() -> None:
    """While open: WAIT with the time left; then one consumer claims the probe, a second waits; the probe's
    success closes the circuit, its failure opens it again."""
    store = MemoryCircuits()
    now = [100.0]
    store.save(Circuit(worker="w", state=CircuitState.OPEN, opened_at=100.0, version=1))
    policies = {"w": POLICY}
    first, second = Breaker(store, policies, lambda: now[0]), Breaker(store, policies, lambda: now[0])
    assert first.admit("w") == (Admit.WAIT, 2.0)
    now[0] = 102.5
    assert first.admit("w") == (Admit.PROBE, 0.0)
    assert second.admit("w")[0] is Admit.WAIT
    first.record("w", failed=True, probe=True)
    assert store.load("w").state is CircuitState.OPEN and store.load("w").opened_at == 102.5
    now[0] = 105
    assert second.admit("w") == (Admit.PROBE, 0.0)
    second.record("w", failed=False, probe=True)
    assert store.load("w").state is CircuitState.CLOSED and admission(store.load("w"), 105, POLICY)[0] is Admit.RUN


# -- on the emulator

DOWN = threading.Event()
WORKERS = Workers()


@WORKERS.step("ledger-post")
def ledger_post(amount: float) -> dict[str, Any]:
    if DOWN.is_set():
        raise RetryableError("the ledger is unavailable")
    if amount < 0:
        raise TerminalError("a negative amount")
    return {"posted": amount}


DEFINITION = """\
id: post-to-ledger
version: "1.0.0"
owning_domain: bank-core
input_schema: {type: object, required: [amount], properties: {amount: {type: number}}}
start_at: post
steps:
  - name: post
    type: TASK
    worker: ledger-post
    sla_seconds: 30
    retry: {max_attempts: 5, backoff_seconds: 1, backoff_rate: 1}
    next: posted
  - name: posted
    type: SUCCESS
"""


class CountingBreaker(Breaker):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.waits = 0

    def admit(self, worker: str) -> tuple[Admit, float]:
        decision = super().admit(worker)
        self.waits += decision[0] is Admit.WAIT
        return decision


@pytest.fixture(scope="module")
def stack(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, SideEffects]]:
    emulator.reset()
    effects = SideEffects()
    breakers = {"ledger-post": POLICY.model_dump()}
    template = template_with_workers(tmp_path_factory.mktemp("circuits"), WORKERS.names(), breakers)
    registry = Registry([parse(DEFINITION, "post.yaml", WORKERS.names())])
    with LocalStack(emulator, template=template, workers=rewrapped(WORKERS, effects), registry=registry) as local:
        yield local, effects
    DOWN.clear()


def test_a_failing_workers_circuit_opens_its_work_waits_and_completes_after_a_probe(
    stack: tuple[LocalStack, SideEffects], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two journeys fail and open the circuit; three more arrive while it is open and their work waits (the
    worker body does not run, nothing is dead-lettered, nothing fails); the CLI and the API show it open. When
    the ledger is back, a probe closes it and all five post exactly once."""
    local, effects = stack
    workers_runtime = local.runtimes["SampleWorkersFunction"]
    circuits = DynamoCircuits(local.client("dynamodb"), workers_runtime.settings.idempotency_table)
    breaker = CountingBreaker(circuits, {"ledger-post": POLICY}, time.time)
    workers_runtime.__dict__["breaker"] = breaker  # the configured policy, counting the waits it orders
    engine = JourneysClient(local.runtimes["StartFunction"])
    DOWN.set()
    first = [engine.start("post-to-ledger", {"amount": n}) for n in (1, 2)]
    deadline = time.monotonic() + 20
    while circuits.load("ledger-post").state is CircuitState.CLOSED and time.monotonic() < deadline:
        time.sleep(0.1)
    assert circuits.load("ledger-post").state is not CircuitState.CLOSED
    queued = [engine.start("post-to-ledger", {"amount": n}) for n in (3, 4, 5)]
    time.sleep(1.0)
    assert effects.succeeded["ledger-post"] == 0 and breaker.waits > 0

    monkeypatch.setattr(cli.main, "_client", lambda _args: engine)
    assert cli.main.main(["circuits"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 1 and listed[0].split()[:2] == ["ledger-post", "OPEN"]
    issuer = DevIssuer("a-test-secret-of-at-least-thirty-two-bytes")
    api_runtime = local.runtimes["ApiFunction"]
    http = TestClient(create_app(lambda: api_runtime, issuer))
    seen = http.get("/api/circuits", headers={"Authorization": f"Bearer {issuer.issue('vera', ['viewer'])}"})
    assert seen.status_code == 200 and [c["worker"] for c in seen.json()] == ["ledger-post"]
    assert seen.json()[0]["state"] in ("OPEN", "HALF_OPEN")

    DOWN.clear()
    for journey_id in first + queued:
        journey = settled(engine, journey_id, lambda j: j.status is not JourneyStatus.RUNNING, timeout=60)
        assert journey.status is JourneyStatus.SUCCEEDED, journey
    local.wait_quiet()
    assert circuits.load("ledger-post").state is CircuitState.CLOSED
    assert effects.succeeded["ledger-post"] == 5
    sqs = local.client("sqs")
    dlq = workers_runtime.settings.dead_letter_queue_url
    assert sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", []) == []
