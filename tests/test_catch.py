"""Catch and fallback for TASK steps: a failure for good goes to the catch's step with the error in state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cli.client import JourneysClient
from devstack.emulator import Emulator
from devstack.stack import LocalStack
from reliability.instruments import settled
from router.core.model import JourneyStatus, RetriesExhausted, StartJourney, StepFailed, StepSucceeded
from router.language.asl import UnsupportedExpression, compile_definition
from router.language.definition import Definition
from router.language.loader import DefinitionError, parse
from router.language.registry import Registry
from router.ports.memory import MemoryDispatcher, MemoryStore
from router.runtime.service import Router
from tests.journey_driver import FakeClock, JourneyDriver
from tests.routing import template_with_workers
from workers.step import RetryableError, TerminalError, Workers

pytestmark = pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")


class InsufficientFunds(TerminalError):
    """A business refusal: the worker's error name is the class name."""


WORKERS = Workers()
CALLS: list[str] = []


@WORKERS.step("charge-card")
def charge_card(amount: float) -> dict[str, Any]:
    CALLS.append("charge-card")
    if amount > 100:
        raise InsufficientFunds("the card's available balance is lower than the amount")
    if amount == 7:
        raise TerminalError("the card is blocked")
    return {"charged": amount}


@WORKERS.step("post-ledger")
def post_ledger(amount: float) -> dict[str, Any]:
    CALLS.append("post-ledger")
    if amount == 13:
        raise RetryableError("the ledger is down")
    return {"posted": True}


@WORKERS.step("notify-ops")
def notify_ops() -> dict[str, Any]:
    return {"ops_notified": True}


DEFINITION = """\
id: catch-demo
version: "1.0.0"
owning_domain: bank-payments
input_schema: {type: object, required: [amount], properties: {amount: {type: number}}}
start_at: charge
steps:
  - name: charge
    type: TASK
    worker: charge-card
    sla_seconds: 30
    catch:
      - errors: [InsufficientFunds]
        next: declined
        result_path: charge_error
    next: post
  - name: post
    type: TASK
    worker: post-ledger
    sla_seconds: 30
    retry: {max_attempts: 2, backoff_seconds: 1, backoff_rate: 1}
    catch:
      - errors: [ALL]
        next: post-by-hand
    next: done
  - name: post-by-hand
    type: TASK
    worker: notify-ops
    sla_seconds: 30
    next: done
  - name: done
    type: SUCCESS
  - name: declined
    type: FAIL
    error: InsufficientFunds
"""


def definition() -> Definition:
    return parse(DEFINITION, "catch-demo.yaml", WORKERS.names())


def test_a_terminal_error_the_catch_names_goes_to_its_step_with_the_error_in_state() -> None:
    """InsufficientFunds lands on `declined`, the error under `charge_error`; the worker ran once."""
    driver = JourneyDriver([definition()], WORKERS)
    journey = driver.run("catch-demo", {"amount": 500})
    assert journey.status is JourneyStatus.FAILED and journey.path == ["charge", "declined"]
    assert journey.state["charge_error"] == {
        "error": "InsufficientFunds",
        "message": "the card's available balance is lower than the amount",
        "step": "charge",
    }
    assert driver.worker_calls == ["charge-card"]


def test_an_error_no_catch_names_still_fails_the_journey() -> None:
    """A TerminalError is not InsufficientFunds: the journey fails at the step, as without a catch."""
    journey = JourneyDriver([definition()], WORKERS).run("catch-demo", {"amount": 7})
    assert journey.status is JourneyStatus.FAILED and journey.path == ["charge"]
    assert journey.error == {"error": "TerminalError", "message": "the card is blocked", "step": "charge"}
    assert "charge_error" not in journey.state


def _router(defs: list[Definition]) -> tuple[Router, MemoryStore]:
    store = MemoryStore()
    return Router(Registry(defs), store, MemoryDispatcher(), FakeClock()), store


def ids(activation_id: str) -> dict[str, str]:
    return {"journey_id": "j-1", "activation_id": activation_id}


def charged(router: Router, store: MemoryStore) -> str:
    """Start j-1 for 13 and answer its charge: the id of the `post` activation it then waits on."""
    router.handle(StartJourney(journey_id="j-1", definition_id="catch-demo", input={"amount": 13}))
    charge = next(iter(store.load("j-1").open))
    router.handle(StepSucceeded(**ids(charge), output={"charged": 13}, actor="charge-card"))
    return next(iter(store.load("j-1").open))


def test_retries_exhausted_go_to_the_catch_all_step_instead_of_escalating() -> None:
    """The retry chain gives up: no escalation, no alert; the fallback's work is sent, the failure in state."""
    router, store = _router([definition()])
    post = charged(router, store)
    failed = router.handle(StepFailed(**ids(post), error="RetryableError", message="down", retryable=True, actor="w"))
    assert [a.kind for a in failed.actions] == ["start_retry_chain"]
    outcome = router.handle(RetriesExhausted(**ids(post), message="2 attempts failed"))
    journey = store.load("j-1")
    assert journey.status is JourneyStatus.RUNNING and journey.step == "post-by-hand"
    assert [(a.kind, getattr(a, "worker", None)) for a in outcome.actions] == [("send_work", "notify-ops")]
    assert journey.state["error"] == {
        "error": "RetriesExhausted",
        "message": "2 attempts failed",
        "step": "post",
        "first_error": "RetryableError: down",
    }
    again = router.handle(RetriesExhausted(**ids(post), message="2 attempts failed"))
    assert again.actions == [] and store.load("j-1").version == journey.version  # a duplicate changes nothing


def test_without_a_catch_exhausted_retries_still_escalate() -> None:
    """Today's escalation stands: STUCK and one alert."""
    bare = definition().model_copy(
        update={"steps": [s.model_copy(update={"catch": []}) if s.name == "post" else s for s in definition().steps]}
    )
    router, store = _router([bare])
    outcome = router.handle(RetriesExhausted(**ids(charged(router, store))))
    assert store.load("j-1").status is JourneyStatus.STUCK
    assert [a.kind for a in outcome.actions] == ["alert"]


def test_a_catch_to_an_undefined_step_is_reported_at_its_line() -> None:
    """Validation follows catch targets like any next."""
    with pytest.raises(DefinitionError) as caught:
        parse(DEFINITION.replace("next: post-by-hand", "next: nowhere"), "x.yaml", WORKERS.names())
    assert str(caught.value.problems[0]).startswith("x.yaml:16: step 'post': next/goto names undefined")


def test_a_catch_all_compiles_to_asl_catch_and_a_named_one_is_refused() -> None:
    """States.ALL with the error placed in the state at result_path; names cannot be told apart there."""
    bare = definition().model_copy(
        update={"steps": [s.model_copy(update={"catch": []}) if s.name == "charge" else s for s in definition().steps]}
    )
    states = compile_definition(bare)["States"]
    assert states["post"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "post/catch-1"}
    ]
    assert states["post/catch-1"]["Parameters"]["failure"] == {"error.$": "$.caught"}
    assert states["post/catch-1/merge"]["Next"] == "post-by-hand"
    with pytest.raises(UnsupportedExpression):
        compile_definition(definition())


@pytest.fixture(scope="module")
def stack(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    emulator.reset()
    template = template_with_workers(tmp_path_factory.mktemp("catch"), WORKERS.names())
    with LocalStack(emulator, template=template, workers=WORKERS, registry=Registry([definition()])) as local:
        yield local


def test_on_the_emulator_each_catch_lands_on_its_fallback(stack: LocalStack) -> None:
    """A named terminal error and an exhausted retry chain (Step Functions) each reach their fallback, with the
    error in state; the ledger worker ran exactly its two attempts, the card worker once per journey."""
    engine = JourneysClient(stack.runtimes["StartFunction"])
    CALLS.clear()
    declined = engine.start("catch-demo", {"amount": 500})
    by_hand = engine.start("catch-demo", {"amount": 13})
    declined_journey = settled(engine, declined, lambda j: j.status is JourneyStatus.FAILED)
    assert declined_journey.path == ["charge", "declined"]
    assert declined_journey.state["charge_error"]["error"] == "InsufficientFunds"
    journey = settled(engine, by_hand, lambda j: j.status is JourneyStatus.SUCCEEDED, timeout=90)
    assert journey.path == ["charge", "post", "post-by-hand", "done"]
    assert journey.state["error"]["error"] == "RetriesExhausted" and journey.state["ops_notified"] is True
    stack.wait_quiet()
    assert sorted(CALLS) == ["charge-card", "charge-card", "post-ledger", "post-ledger"]
    assert [r.event for r in engine.timeline(by_hand)].count("caught") == 1
