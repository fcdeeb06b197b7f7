"""Schemathesis against /openapi.json: every operation, valid and invalid inputs, every check; no 5xx, no answer
the document does not declare.

The app runs in-process on a local stack (a KYC journey waiting for its customer, a payment waiting for an
approver), called with a token that holds every role, so each route runs its own code rather than stopping at 401.
Examples are bounded (MAX_EXAMPLES per operation) so the run takes well under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from api.app import create_app
from api.auth import DevIssuer
from cli.client import JourneysClient
from consumers.runtime import Runtime
from devstack.emulator import Emulator
from devstack.stack import LocalStack
from reliability.instruments import settled
from router.model import JourneyStatus

MAX_EXAMPLES = 30
ISSUER = DevIssuer("a-test-secret-of-at-least-thirty-two-bytes")
CUSTOMER_ID = "CUST-000900"
EVERY_ROLE = ["viewer", "operator", "payments-officer", "payments-manager", "customer"]
TOKEN = {"Authorization": f"Bearer {ISSUER.issue('sam', EVERY_ROLE, customer_id=CUSTOMER_ID)}"}
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

    @classmethod
    def get(cls) -> Runtime:
        assert cls.runtime is not None, "the stack fixture provides the engine"
        return cls.runtime


schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(Engine.get, ISSUER))


@schema.hook
def map_case(_: Any, case: Any) -> Any:
    """Valid data, as the API describes it in words where OpenAPI cannot say it: a cursor is one the API issued
    (never made up), created_from comes before created_to, a reason says something, goto names its target, patch
    carries a patch and a rejection its reason. Invalid data (negative mode) is left as generated."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return case
    if isinstance(case.query, dict):
        case.query.pop("cursor", None)
        if {"created_from", "created_to"} <= case.query.keys():
            case.query["created_to"] = float(case.query["created_from"]) + 1
    if isinstance(case.body, dict) and case.path.endswith("/interventions"):
        case.body["reason"] = "a reason in words"
        case.body["target"] = case.body.get("target") or "a-step"
        case.body["patch"] = case.body.get("patch") or {"note": "patched"}
    if isinstance(case.body, dict) and case.path.endswith("/reject"):
        case.body["reason"] = "a reason in words"
    return case


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
        settled(engine, payment, lambda j: bool(j.open) and bool(engine.approvals()))
        stack.wait_quiet()
        yield stack
    finally:
        Engine.runtime = None
        stack.stop()


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_gets_a_5xx_or_an_undeclared_answer(case: Any, stack: LocalStack) -> None:
    """Every check schemathesis has (server errors, status codes, content types, response schemas, negative data
    rejected, auth not ignored...) on every operation, with a token that may call it."""
    case.call_and_validate(headers=TOKEN)
