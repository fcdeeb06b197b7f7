"""The workflow-engine page's DSL: built-in `init` and `done`, and its minimal example run as written."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cli.client import JourneysClient
from devstack.emulator import Emulator
from devstack.stack import LocalStack
from reliability.instruments import SideEffects, rewrapped, settled
from router.core.model import JourneyStatus
from router.language.definition import Kind, StepType
from router.language.dsl import Target, Workflow, done, init, load_module, step, steps_of, task, workflow
from router.language.loader import DefinitionError
from router.language.registry import Registry
from tests.journey_driver import JourneyDriver
from tests.routing import template_with_workers
from workers.samples import SAMPLES
from workers.step import with_steps

pytestmark = pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")

PAGE = Path(__file__).parent / "data" / "create_product_subscription.py"
PRODUCT = "6f8b1d2e-3c4a-4b5d-8e9f-0a1b2c3d4e5f"


def test_the_page_example_declares_init_its_step_and_done() -> None:
    """Named by its description; the @step is a TASK run by the worker of the same name; `done` is a SUCCESS."""
    (definition,) = load_module(PAGE, SAMPLES.names())
    assert (definition.id, definition.title) == ("create-product-subscription", "Create product subscription")
    assert definition.start_at == "create-subscription"
    assert [(s.name, s.type) for s in definition.steps] == [
        ("create-subscription", StepType.TASK),
        ("done", StepType.SUCCESS),
    ]
    assert definition.step("create-subscription").worker == "create-subscription"  # type: ignore[union-attr]


def test_the_page_step_is_still_a_plain_function() -> None:
    """Called directly (a unit test of the step), it runs its body."""
    (declared,) = steps_of(PAGE)
    assert declared(uuid.UUID(PRODUCT), "gold plan")["subscription"]["product"] == PRODUCT


def test_the_page_example_runs_its_step_body_as_a_worker_in_memory() -> None:
    """The state's product (a UUID string) and user_input fill the arguments; the returned dict is merged."""
    definitions = load_module(PAGE, SAMPLES.names())
    driver = JourneyDriver(definitions, with_steps(SAMPLES, steps_of(PAGE)))
    journey = driver.run("create-product-subscription", {"product": PRODUCT, "user_input": "gold plan"})
    assert journey.status is JourneyStatus.SUCCEEDED and journey.path == ["create-subscription", "done"]
    assert journey.state["subscription"] == {"product": PRODUCT, "description": "gold plan", "status": "INITIAL"}
    assert driver.worker_calls == ["create-subscription"]


def test_a_missing_argument_fails_the_step_naming_it() -> None:
    """No product in the state: the worker refuses before the body runs, saying which argument."""
    driver = JourneyDriver(load_module(PAGE, SAMPLES.names()), with_steps(SAMPLES, steps_of(PAGE)))
    journey = driver.run("create-product-subscription", {"user_input": "gold plan"})
    assert journey.status is JourneyStatus.FAILED and "'product'" in journey.error["message"]  # type: ignore[index]


def test_init_and_done_work_in_keyword_workflows_and_a_step_used_twice_is_one_step() -> None:
    """`done` is created once, where first linked; the header keywords still declare the rest."""

    @step("Notify customer")
    def notify(full_name: str) -> dict[str, object]:
        return {"notified": full_name}

    @workflow(id="tiny", version="1.0.0", owning_domain="bank-core", target=Target.SYSTEM, schedule="rate(1 day)")
    def tiny() -> object:
        return init >> task("first", worker="kyc", sla_seconds=30) >> notify >> done

    assert isinstance(tiny, Workflow)
    definition = tiny.definition(SAMPLES.names() | {"notify-customer"})
    assert [s.name for s in definition.steps] == ["first", "notify-customer", "done"]
    assert definition.kind is Kind.SYSTEM

    @workflow("Loops")
    def loops() -> object:
        return init >> notify >> notify

    with pytest.raises(DefinitionError):  # notify -> notify: no path to an end, reported, not a crash
        loops.definition({"notify-customer"})


def test_the_page_example_runs_on_the_emulator_its_body_once(
    emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Through the start queue, the worker consumer and the journal: SUCCEEDED at done, the body ran once."""
    emulator.reset()
    effects = SideEffects()
    workers = rewrapped(with_steps(SAMPLES, steps_of(PAGE)), effects)
    template = template_with_workers(tmp_path_factory.mktemp("page"), ["create-subscription"])
    registry = Registry(load_module(PAGE, workers.names()))
    with LocalStack(emulator, template=template, workers=workers, registry=registry) as local:
        engine = JourneysClient(local.runtimes["StartFunction"])
        journey_id = engine.start("create-product-subscription", {"product": PRODUCT, "user_input": "gold plan"})
        journey = settled(engine, journey_id, lambda j: j.status is JourneyStatus.SUCCEEDED)
        local.wait_quiet()
    assert journey.state["subscription"]["product"] == PRODUCT and journey.path[-1] == "done"
    assert effects.succeeded == {"create-subscription": 1}
