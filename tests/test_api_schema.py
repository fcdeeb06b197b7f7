"""Schemathesis against /openapi.json: every operation, valid and invalid inputs, every check; no 5xx, no answer
the document does not declare.

The app runs in-process on a local stack (a KYC journey waiting for its customer, a payment waiting for an
approver), called with a token that holds every role, so each route runs its own code rather than stopping at 401.
Examples are bounded (MAX_EXAMPLES per operation) so the run takes well under a minute.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from api.app import create_app
from api.auth import DevIssuer
from cli.client import JourneysClient
from consumers.runtime import Runtime
from devstack.emulator import Emulator
from devstack.stack import LocalStack
from reliability.instruments import inbox_ticket, settled
from router.core.model import JourneyStatus

MAX_EXAMPLES = 30
ISSUER = DevIssuer("a-test-secret-of-at-least-thirty-two-bytes")
CUSTOMER_ID = "CUST-000900"
EVERY_ROLE = ["viewer", "operator", "payments-officer", "payments-manager", "customer"]
TOKEN = ISSUER.issue("sam", EVERY_ROLE, customer_id=CUSTOMER_ID)
PAYMENT = {
    "payment_id": "PAY-2024-0900",
    "amount": 25000,
    "currency": "GBP",
    "beneficiary": {"name": "Difference Engines plc", "iban": "GB82WEST12345698765432"},
    "reference": "Invoice 900",
    "initiated_by": "maker-mo",
}


class Engine:
    """The app's runtime, set once the module's stack is up. The schema is loaded when the module is imported
    (schemathesis's fixture loader does not run on this pytest), and /openapi.json never needs the engine."""

    runtime: Runtime | None = None
    ids: dict[str, list[str]] = {}  # path parameter -> ids that exist: a journey waiting for input, a payment...

    @classmethod
    def get(cls) -> Runtime:
        assert cls.runtime is not None, "the stack fixture provides the engine"
        return cls.runtime


# Valid data may still be refused with a 400: that is the answer for data a journey's own rules refuse (the input
# schema of the step it waits at), which no static document can describe. 422 stays a failure for valid data.
ACCEPTED = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]  # 5xx: not_a_server_error fails those
CONFIG = SchemathesisConfig.from_dict(
    {
        # The token through the document's own security scheme: schemathesis then knows the header is auth, checks
        # that a call without it is refused (ignored_auth), and does not count a call we re-signed as invalid data.
        "auth": {"openapi": {"HTTPBearer": {"bearer": TOKEN}}},
        "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(Engine.get, ISSUER), config=CONFIG)


@schema.hook
def map_case(_: Any, case: Any) -> Any:
    """Valid data, as the API describes it in words where OpenAPI cannot say it: a cursor is one the API issued
    (never made up), created_from comes before created_to, a reason says something, goto names its target, patch
    carries a patch and a rejection its reason; half the ids are ones that exist. Invalid data (negative mode) is
    left as generated."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return case
    for name, value in (case.path_parameters or {}).items():
        real = Engine.ids.get(name, [])
        if real and len(str(value)) % 2 == 0:  # half the cases reach journeys and tickets that exist
            case.path_parameters[name] = real[len(str(value)) % len(real)]
    if isinstance(case.query, dict):
        case.query.pop("cursor", None)
        if {"created_from", "created_to"} <= case.query.keys():
            start = float(case.query["created_from"])
            case.query["created_to"] = max(float(case.query["created_to"]), math.nextafter(start, math.inf))
    if isinstance(case.body, dict) and case.path.endswith("/interventions"):
        case.body["reason"] = "a reason in words"
        case.body["target"] = case.body.get("target") or "a-step"
        case.body["patch"] = case.body.get("patch") or {"note": "patched"}
    if isinstance(case.body, dict) and case.path.endswith("/reject"):
        case.body["reason"] = "a reason in words"
    return case


SEEN: dict[str, set[int]] = {}  # operation -> the statuses it answered, for the last test
OPERATIONS = {  # every operation the document declares
    f"{method.upper()} {path}"
    for path, item in create_app(Engine.get, ISSUER).openapi()["paths"].items()
    for method in item
}


@schema.hook
def after_call(_: Any, case: Any, response: Any) -> None:
    SEEN.setdefault(case.operation.label, set()).add(response.status_code)


@pytest.fixture(scope="module")
def stack(emulator: Emulator) -> Iterator[LocalStack]:
    emulator.reset()
    stack = LocalStack(emulator).start()
    Engine.runtime = stack.runtimes["ApiFunction"]
    try:
        engine = JourneysClient(stack.runtimes["StartFunction"])
        person = {"customer_id": CUSTOMER_ID, "full_name": "Ida Idle", "email": "ida@example.com"}
        kyc = engine.start("kyc-uplift", person, actor="crm")
        payment = engine.start("payment-approval", PAYMENT, actor="maker-mo")
        settled(engine, kyc, lambda j: j.status is JourneyStatus.RUNNING and bool(j.open))
        inbox_ticket(engine, payment, 1)
        stack.wait_quiet()
        Engine.ids = {"journey_id": [kyc, payment], "ticket_id": [t.ticket_id for t in engine.approvals()]}
        yield stack
    finally:
        Engine.runtime, Engine.ids = None, {}
        stack.stop()


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_gets_a_5xx_or_an_undeclared_answer(case: Any, stack: LocalStack) -> None:
    """Every check schemathesis has (server errors, status codes, content types, response schemas, negative data
    rejected, auth not ignored...) on every operation, with a token that may call it."""
    case.call_and_validate()


def test_the_run_got_past_authentication_on_every_operation() -> None:
    """Every operation answered something besides 401 (the token worked), and the journeys and tickets that exist
    were reached: a listing, a journey's detail, a customer's progress and the inbox each answered 200."""
    assert len(SEEN) == len(OPERATIONS), sorted(SEEN)
    assert all(statuses - {401} for statuses in SEEN.values()), SEEN
    for operation in (
        "GET /api/journeys",
        "GET /api/journeys/{journey_id}",
        "GET /api/customer/journeys/{journey_id}/progress",
        "GET /api/approvals",
    ):
        assert 200 in SEEN[operation], (operation, SEEN[operation])
