"""The MOD-062 technical design's YAML format runs as written, or validation says exactly what to add."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli.client import JourneysClient
from devstack.emulator import Emulator
from devstack.stack import LocalStack
from reliability.instruments import settled
from router.core.model import JourneyStatus
from router.language.asl import compile_definition
from router.language.definition import TaskStep
from router.language.loader import DefinitionError, load_file, parse
from router.language.registry import Registry
from tests.routing import template_with_workers
from workers.step import Workers

pytestmark = pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")

DATA = Path(__file__).parent / "data"
EXCERPT = DATA / "mod062-excerpt.yaml"
COMPLETED = DATA / "mod062-account-opening.yaml"

WORKERS = Workers()


@WORKERS.step("collect-application")
def collect_application(full_name: str) -> dict[str, Any]:
    return {"application": {"received": True}}


@WORKERS.step("run-kyc")
def run_kyc(full_name: str) -> dict[str, Any]:
    """Answers as the design's transition handler did: a `decision` for the DECISION after it."""
    verdict = "CLEAR" if "Clear" in full_name else "REFER" if "Refer" in full_name else "DECLINED"
    return {"decision": verdict}


@WORKERS.step("credit-check")
def credit_check(decision: str) -> dict[str, Any]:
    return {"credit": {"checked": decision}}


@WORKERS.step("provision-account")
def provision_account(full_name: str) -> dict[str, Any]:
    return {"account": {"opened": True}}


def test_the_design_excerpt_is_told_exactly_what_to_add_once_per_gap() -> None:
    """The excerpt as printed: its missing steps, the worker its TASK names by default and the APPROVAL's
    approvers, each reported once at its own line, nothing else."""
    with pytest.raises(DefinitionError) as caught:
        load_file(EXCERPT, WORKERS.names() - {"run-kyc"})
    problems = [(p.line, p.message) for p in caught.value.problems]
    assert [line for line, _ in problems] == [5, 7, 11, 19, 19]
    assert "undefined step 'collect-application'" in problems[0][1]
    assert "add `worker:`" in problems[1][1]
    assert "undefined step 'credit-check'" in problems[2][1]
    assert "add `levels: [{role: <approver role>, timeout_seconds: 43050}]`" in problems[3][1]
    assert "undefined step 'provision-account'" in problems[4][1]  # the same step's link, checked all the same


def test_the_completed_design_definition_validates_unchanged_in_its_format() -> None:
    """TASKs without `worker:` run the worker named after the step; `when: CLEAR` tests the state's decision,
    which the compiled machine's Choice reads as $.decision too."""
    definition = load_file(COMPLETED, WORKERS.names())
    run_kyc_step = definition.step("run-kyc")
    assert isinstance(run_kyc_step, TaskStep) and run_kyc_step.worker == "run-kyc"
    assert run_kyc_step.retry.max_attempts == 3 and run_kyc_step.retry.backoff_rate == 2  # the design's Retry
    choice = compile_definition(definition)["States"]["kyc-outcome"]
    assert [c["And"][1] for c in choice["Choices"]] == [
        {"Variable": "$.state.decision", "StringEquals": "CLEAR"},
        {"Variable": "$.state.decision", "StringEquals": "REFER"},
    ]


def test_a_jmespath_when_is_left_alone() -> None:
    """Only a bare upper-case word is the design's shorthand; an expression stays an expression."""
    text = COMPLETED.read_text().replace("when: REFER", "when: \"decision == 'REFER' && refer_ok\"")
    definition = parse(text, "inline.yaml", WORKERS.names())
    whens = [b.when for b in definition.step("kyc-outcome").branches]  # type: ignore[union-attr]
    assert whens == ["decision == 'CLEAR'", "decision == 'REFER' && refer_ok"]


@pytest.fixture(scope="module")
def stack(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    emulator.reset()
    template = template_with_workers(tmp_path_factory.mktemp("design"), WORKERS.names())
    registry = Registry([load_file(COMPLETED, WORKERS.names())])
    with LocalStack(emulator, template=template, workers=WORKERS, registry=registry) as local:
        yield local


@pytest.mark.parametrize(
    ("name", "status", "path_tail"),
    [
        ("Clara Clear", JourneyStatus.SUCCEEDED, ["kyc-outcome", "credit-check", "completed"]),
        ("Dan Decline", JourneyStatus.FAILED, ["kyc-outcome", "abort"]),
        ("Rita Refer", JourneyStatus.RUNNING, ["kyc-outcome", "manual-approval"]),
    ],
)
def test_the_design_journey_ends_where_its_when_branches_say(
    stack: LocalStack, name: str, status: JourneyStatus, path_tail: list[str]
) -> None:
    """On the emulator: CLEAR goes to credit-check and completes, anything unlisted takes the default (abort),
    REFER waits at the approval for an onboarding officer."""
    engine = JourneysClient(stack.runtimes["StartFunction"])
    journey_id = engine.start("mod062-account-opening", {"full_name": name})
    journey = settled(engine, journey_id, lambda j: j.status is status and j.path[-len(path_tail) :] == path_tail)
    assert journey.path[:2] == ["collect-application", "run-kyc"]
    if status is JourneyStatus.RUNNING:
        assert [a.step for a in journey.open.values()] == ["manual-approval"]
