"""Compiling definitions into every-step-a-state Step Functions machines (issue #8)."""

from __future__ import annotations

import json

import boto3
import pytest

from devstack.emulator import CREDENTIALS, Emulator
from router.core.model import RETRYABLE_ERROR, TERMINAL_ERROR, StepFailed, StepSucceeded, token_reply
from router.language.asl import (
    UnsupportedExpression,
    choice,
    compile_definition,
    condition,
    placeholder,
    queues_of,
    retry,
)
from router.language.definition import DecisionStep, RetryPolicy
from router.language.registry import Registry

DEFINITIONS = list(Registry.from_directory())
ROLE = "arn:aws:iam::123456789012:role/journeys-asl"


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.id)
def test_every_sample_compiles_and_the_emulator_accepts_it(definition, fresh_emulator: Emulator) -> None:
    """Each sample definition becomes a machine the emulator's ASL parser creates."""
    sfn = boto3.Session(**CREDENTIALS).client("stepfunctions", endpoint_url=fresh_emulator.url)
    urls = {name: f"https://sqs.eu-west-1.amazonaws.com/123456789012/{name}" for name in queues_of(definition)}
    document = compile_definition(definition, urls)
    arn = sfn.create_state_machine(name=definition.id, definition=json.dumps(document), roleArn=ROLE)["stateMachineArn"]
    assert sfn.describe_state_machine(stateMachineArn=arn)["status"] == "ACTIVE"
    assert {s.name for s in definition.steps} <= set(document["States"])


def test_unnamed_queues_become_substitution_placeholders() -> None:
    """A worker without a URL is left as ${Queue...} for DefinitionSubstitutions."""
    document = compile_definition(Registry.from_directory().get("dispute"))
    assert document["States"]["assess"]["Parameters"]["QueueUrl"] == "${QueueDisputeAssess}"
    assert placeholder("customer-input") == "${QueueCustomerInput}"
    assert "${" not in json.dumps(
        compile_definition(
            Registry.from_directory().get("dispute"),
            {name: "url" for name in queues_of(Registry.from_directory().get("dispute"))},
        )
    )


def test_a_task_carries_work_in_the_workers_shape_and_answers_by_token() -> None:
    """The message body is what a worker reads, with the token and reply: token."""
    task = compile_definition(Registry.from_directory().get("dispute"), {"dispute-assess": "q"})["States"]["assess"]
    body = task["Parameters"]["MessageBody"]
    assert body["work"] | {"kind": "send_work", "worker": "dispute-assess", "step": "assess"} == body["work"]
    assert body["task_token.$"] == "$$.Task.Token" and body["reply"] == "token"
    assert task["TimeoutSeconds"] == 120 and task["Next"] == "assess/merge"


def test_retry_maps_the_policy_with_full_jitter() -> None:
    """max_attempts counts the first attempt; only retryable errors and timeouts retry."""
    rule = retry(RetryPolicy(max_attempts=5, backoff_seconds=2, backoff_rate=2))
    assert rule["MaxAttempts"] == 4 and rule["IntervalSeconds"] == 2 and rule["BackoffRate"] == 2.0
    assert rule["JitterStrategy"] == "FULL" and "States.ALL" not in rule["ErrorEquals"]


def test_comparison_with_a_string_guards_a_missing_path() -> None:
    """kyc.result == 'CLEAR' is false, not an error, when kyc is absent."""
    assert condition("kyc.result == 'CLEAR'") == {
        "And": [
            {"Variable": "$.state.kyc.result", "IsPresent": True},
            {"Variable": "$.state.kyc.result", "StringEquals": "CLEAR"},
        ]
    }


def test_not_equal_is_true_for_a_missing_path() -> None:
    """JMESPath null != 'X' is true, so != is the negation of the guarded ==."""
    assert condition("sanctions.result != 'NO_MATCH'")["Not"]["And"][1]["StringEquals"] == "NO_MATCH"


def test_numbers_booleans_and_logic_translate() -> None:
    """Numeric and boolean literals, and/or/not, and a literal on the left all have rules."""
    rule = condition("!(a.n > `5`) && (b == `true` || `10` <= c)")
    assert rule["And"][0]["Not"]["And"][1] == {"Variable": "$.state.a.n", "NumericGreaterThan": 5}
    assert rule["And"][1]["Or"][0]["And"][1] == {"Variable": "$.state.b", "BooleanEquals": True}
    assert rule["And"][1]["Or"][1]["And"][1] == {"Variable": "$.state.c", "NumericGreaterThanEquals": 10}


def test_truthiness_of_a_path_excludes_null_false_and_empty_string() -> None:
    """application.eligible is truthy when present and not null, false or ''."""
    rules = condition("application.eligible")["And"]
    assert {"Variable": "$.state.application.eligible", "IsNull": False} in rules


@pytest.mark.parametrize("expression", ["length(items) > `1`", "a[0] == 'x'", "a == b", "a < 'x'"])
def test_an_unsupported_expression_names_the_step_and_expression(expression: str) -> None:
    """Anything outside the subset is refused with the step and the expression in the message."""
    step = DecisionStep(type="DECISION", name="route", branches=[{"when": expression, "goto": "x"}], default="y")
    with pytest.raises(UnsupportedExpression, match=r"step 'route': cannot translate") as raised:
        choice(step)
    assert expression in str(raised.value)


def test_the_cli_prints_the_machine_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    """`journeys asl ID` prints a document that starts by wrapping the input as the state."""
    from cli.main import main

    assert main(["asl", "payment-approval"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["States"]["start"]["Parameters"] == {"state.$": "$"}


def test_a_worker_answer_becomes_the_tokens_answer() -> None:
    """Success carries the output; failure says whether Retry may retry, the worker's error in the cause."""
    ids = {"journey_id": "j", "activation_id": "j/assess", "actor": "kyc"}
    done = token_reply(StepSucceeded(**ids, output={"kyc": {"result": "CLEAR"}}), "tok")
    assert done.success and done.output == {"kyc": {"result": "CLEAR"}} and done.task_token == "tok"
    flaky = token_reply(StepFailed(**ids, error="Timeout", message="bureau", retryable=True), "tok")
    assert (flaky.success, flaky.error, flaky.cause) == (False, RETRYABLE_ERROR, "Timeout: bureau")
    assert token_reply(StepFailed(**ids, error="TerminalError", message="no"), "tok").error == TERMINAL_ERROR


def test_the_same_workers_run_a_compiled_machine_end_to_end(fresh_emulator: Emulator) -> None:
    """On the local stack, the dispute machine's tasks are answered by the worker consumer through tokens."""
    from devstack.samples import SAMPLES
    from devstack.stack import LocalStack

    sample = next(s for s in SAMPLES if s.definition_id == "dispute" and s.expect == "SUCCEEDED")
    with LocalStack(fresh_emulator) as stack:
        definition = stack.registry.get("dispute")
        urls = stack.settings().worker_queues
        sfn = stack.client("stepfunctions")
        machine = compile_definition(definition, urls)
        arn = sfn.create_state_machine(name="dispute", definition=json.dumps(machine), roleArn=ROLE)
        good = sfn.start_execution(stateMachineArn=arn["stateMachineArn"], name="good", input=json.dumps(sample.input))
        broken = {k: v for k, v in sample.input.items() if k != "transaction_id"}  # a terminal worker error
        bad = sfn.start_execution(stateMachineArn=arn["stateMachineArn"], name="bad", input=json.dumps(broken))
        ended = _wait_ended(sfn, [good["executionArn"], bad["executionArn"]])
    assert ended[0]["status"] == "SUCCEEDED"
    assert json.loads(ended[0]["output"])["state"]["chargeback"]["merchant"] == sample.input["merchant"]
    assert (ended[1]["status"], ended[1].get("error")) == ("FAILED", TERMINAL_ERROR)


def _wait_ended(sfn, arns: list[str], timeout: float = 60) -> list[dict]:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = [sfn.describe_execution(executionArn=arn) for arn in arns]
        if all(d["status"] != "RUNNING" for d in described):
            return described
        time.sleep(0.1)
    raise TimeoutError("executions still running")
