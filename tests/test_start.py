"""Starting journeys over HTTP (POST /api/journeys) and with `journeys start`, on the emulator.

The API runs with its own boto3 session so each call it makes is counted: a refused start must send
nothing, a repeated Idempotency-Key must start one journey however often it comes.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import yaml
from fastapi.testclient import TestClient

import cli.main
from api.app import create_app
from api.auth import DevIssuer
from api.start import STARTER, journey_id_for
from cli.client import JourneysClient
from consumers.runtime import Runtime
from devstack.emulator import CREDENTIALS, Emulator
from devstack.provision import DEFAULT_TEMPLATE
from devstack.stack import LocalStack
from reliability.instruments import resources_of, scan_all, settled
from router.core.model import JourneyStatus
from tests.test_policies import IAM_ACTION, IAM_PREFIX

pytestmark = pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")

ISSUER = DevIssuer("a-test-secret-of-at-least-thirty-two-bytes")
PAYMENT = {
    "payment_id": "PAY-START-1",
    "amount": 1200,
    "currency": "GBP",
    "beneficiary": {"name": "Analytical Engines Ltd", "iban": "GB82WEST12345698765432"},
    "initiated_by": "maker-mo",
}


def bearer(sub: str, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {ISSUER.issue(sub, list(roles))}"}


GATEWAY = bearer("mod-075-gateway", STARTER)


@dataclass
class World:
    stack: LocalStack
    http: TestClient
    engine: JourneysClient
    calls: list[tuple[str, str, dict[str, Any]]]

    def journeys(self) -> list[dict[str, Any]]:
        table = self.engine.settings.journeys_table
        return [i for i in scan_all(self.stack.client("dynamodb"), table) if "status" in i and "doc" in i]

    def sends(self) -> list[dict[str, Any]]:
        return [params for service, op, params in self.calls if (service, op) == ("sqs", "SendMessage")]


@pytest.fixture(scope="module")
def world(emulator: Emulator) -> Iterator[World]:
    emulator.reset()
    stack = LocalStack(emulator).start()
    calls: list[tuple[str, str, dict[str, Any]]] = []
    session = boto3.Session(**CREDENTIALS)
    session.events.register(
        "before-parameter-build",
        lambda model, params, **_: calls.append((model.service_model.service_name, model.name, dict(params))),
    )
    runtime = Runtime(stack.runtimes["ApiFunction"].settings, session, stack.registry, stack.workers, time.time)
    try:
        yield World(stack, TestClient(create_app(lambda: runtime, ISSUER)), JourneysClient(runtime), calls)
    finally:
        stack.stop()


def post(w: World, body: dict[str, Any], key: str | None = None, headers: dict[str, str] = GATEWAY) -> Any:
    extra = {"Idempotency-Key": key} if key else {}
    return w.http.post("/api/journeys", json=body, headers={**headers, **extra})


@contextmanager
def start_consumer_held(stack: LocalStack) -> Iterator[None]:
    """The start queue's consumers take their batch but wait to handle it until the block ends: what the block
    does happens before any start is committed, however fast the pollers are."""
    release = threading.Event()
    held = [p for p in stack.pollers if p.name.startswith("StartFunction-")]
    assert held, "the stack has no start consumer"
    invokes = {p: p.invoke for p in held}

    def invoke_later(invoke: Any, event: dict[str, Any]) -> Any:
        assert release.wait(30), "the start consumer was held for 30 s"
        return invoke(event)

    for poller, invoke in invokes.items():
        poller.invoke = functools.partial(invoke_later, invoke)
    try:
        yield
    finally:
        release.set()
        for poller, invoke in invokes.items():
            poller.invoke = invoke


def test_the_same_idempotency_key_twice_starts_one_journey(world: World) -> None:
    """Two calls with one key, the second before the first committed, then a third after: one journey item,
    one start in its log, every answer naming it; the repeat after the commit sends nothing at all."""
    body = {"definition_id": "payment-approval", "input": PAYMENT, "business_key": "PAY-START-1"}
    before = len(world.journeys())
    with start_consumer_held(world.stack):  # else the start consumer can commit between the two calls (seen once)
        first, second = post(world, body, key="order-77"), post(world, body, key="order-77")
        assert not world.engine.get(first.json()["journey_id"]), "committed while the consumer was held"
    assert first.status_code == second.status_code == 202, first.text
    journey_id = first.json()["journey_id"]
    assert second.json()["journey_id"] == journey_id == journey_id_for("mod-075-gateway", "order-77")
    assert first.headers["location"] == first.json()["link"] == f"/api/journeys/{journey_id}"
    settled(world.engine, journey_id, lambda j: j.version >= 1)
    world.stack.wait_quiet()
    sends = len(world.sends())
    third = post(world, body, key="order-77")
    assert third.status_code == 200 and third.json() == {**first.json(), "created": False, "status": "RUNNING"}
    assert len(world.sends()) == sends, "a repeat of a started journey sends nothing"
    assert len(world.journeys()) == before + 1
    starts = [r for r in world.engine.timeline(journey_id) if r.event == "start"]
    assert len(starts) == 1 and world.engine.get(journey_id).initiator == "mod-075-gateway"


def test_a_key_reused_for_another_request_is_a_conflict(world: World) -> None:
    """The key's journey exists with another business key: 409, and no second start is sent."""
    body = {"definition_id": "payment-approval", "input": PAYMENT, "business_key": "PAY-REUSE"}
    journey_id = post(world, body, key="reused").json()["journey_id"]
    settled(world.engine, journey_id, lambda j: j.version >= 1)
    sends = len(world.sends())
    again = post(world, {**body, "business_key": "PAY-OTHER"}, key="reused")
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    assert len(world.sends()) == sends


def test_invalid_input_is_refused_with_field_errors_and_nothing_stored(world: World) -> None:
    """A 422 names each field at fault, never its value; no message is sent and no journey appears."""
    bad = {**PAYMENT, "amount": -5, "currency": "pounds"}
    del bad["beneficiary"]
    before, sends = len(world.journeys()), len(world.sends())
    response = post(world, {"definition_id": "payment-approval", "input": bad}, key="bad-one")
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert sorted(d.split(":")[0] for d in detail) == ["input", "input.amount", "input.currency"]
    assert any("beneficiary" in d for d in detail) and "pounds" not in str(detail)
    world.stack.wait_quiet()
    assert (len(world.journeys()), len(world.sends())) == (before, sends)
    assert world.engine.get(journey_id_for("mod-075-gateway", "bad-one")) is None


def test_an_unknown_definition_and_a_malformed_key_are_refused(world: World) -> None:
    """Neither sends anything."""
    sends = len(world.sends())
    unknown = post(world, {"definition_id": "no-such-journey", "input": {}})
    assert unknown.status_code == 404 and "no-such-journey" in unknown.json()["detail"]  # a missing resource
    malformed = post(world, {"definition_id": "payment-approval", "input": PAYMENT}, key="has spaces")
    assert malformed.status_code == 422
    assert len(world.sends()) == sends


@pytest.mark.parametrize(
    ("roles", "status"), [(("viewer",), 403), (("payments-officer",), 403), ((STARTER,), 202), (("operator",), 202)]
)
def test_operators_and_starters_may_start_nobody_else(world: World, roles: tuple[str, ...], status: int) -> None:
    """A viewer or an approver cannot start a journey; a starter (machine caller) or an operator can."""
    body = {"definition_id": "payment-approval", "input": {**PAYMENT, "payment_id": f"PAY-{'-'.join(roles)}"}}
    assert post(world, body, headers=bearer("someone", *roles)).status_code == status


def test_cli_start_refuses_bad_input_and_exits_non_zero(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same checks as the API: the reason printed, exit 1, nothing sent."""
    monkeypatch.setattr(cli.main, "_client", lambda _args: world.engine)
    sends = len(world.sends())
    code = cli.main.main(["start", "payment-approval", "--input", '{"amount": 3}'])
    err = capsys.readouterr().err
    assert code == 1 and "refused, nothing started" in err and "payment_id" in err
    assert len(world.sends()) == sends


def test_cli_start_wait_prints_where_the_journey_needs_a_person(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--wait returns once the payment waits on an approver, and says so; a repeat names the same journey."""
    monkeypatch.setattr(cli.main, "_client", lambda _args: world.engine)
    argv = ["start", "payment-approval", "--input", json.dumps(PAYMENT)]
    argv += ["--idempotency-key", "cli-1", "--as", "maker-mo", "--wait", "--timeout", "30"]
    assert cli.main.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    journey_id = journey_id_for("maker-mo", "cli-1")
    assert lines == [journey_id, "WAITING at approve-payment for an approver"]
    assert world.engine.get(journey_id).status is JourneyStatus.RUNNING
    assert cli.main.main(argv[:-3]) == 0
    assert capsys.readouterr().out.strip() == f"{journey_id} (already started: RUNNING)"


def test_zz_every_call_the_start_route_made_is_declared_for_the_api_function(world: World) -> None:
    """Runs last: the API's calls here are what infra/calls.yaml grants ApiFunction, the start row included."""
    assert world.stack.stack is not None
    physical = {name: lid for lid, name in world.stack.stack.resources.items()}
    made = set()
    for service, operation, params in world.calls:
        action = f"{IAM_PREFIX.get(service, service)}:{operation}"
        made |= {(IAM_ACTION.get(action, action), r) for r in resources_of(service, params, physical, None)}
    rows = yaml.safe_load((DEFAULT_TEMPLATE.parent / "calls.yaml").read_text())["ApiFunction"]
    declared = {(a, r) for row in rows if row["by"] == "code" for a in row["calls"] for r in row["resources"]}
    assert sorted(made - declared) == []
    assert ("sqs:SendMessage", "StartQueue") in made
