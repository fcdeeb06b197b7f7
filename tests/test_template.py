"""Static checks on infra/template.yaml: it lints, it transforms offline, and its wiring is safe to operate.

Roles are checked against the code in tests/test_policies.py.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint, lint_file

from devstack.intrinsics import translate
from devstack.provision import DEFAULT_TEMPLATE
from router.language.definition import SWEEP_SLACK
from workers.samples import SAMPLES

REGION = "eu-west-1"
ROOT = Path(__file__).resolve().parents[1]
CONSUMERS = {
    "StartFunction": "consumers.start.handler",
    "AdvanceFunction": "consumers.advance.handler",
    "JournalFunction": "consumers.journal.handler",
    "SampleWorkersFunction": "consumers.worker.handler",
    "RetryFunction": "consumers.retry.handler",
    "ApprovalsFunction": "consumers.approvals.handler",
    "WatchdogFunction": "consumers.watchdog.handler",
}
API = {"ApiFunction": "api.lambda_handler.handler"}  # the HTTP API, behind API Gateway (tests/test_api_template.py)
WORKERS = SAMPLES.names()  # every sample worker needs a queue, or the router cannot send it work
SHARED_VARIABLES = {
    "POWERTOOLS_SERVICE_NAME",
    "JOURNEYS_TABLE",
    "TRANSITION_LOG_TABLE",
    "IDEMPOTENCY_TABLE",
    "START_QUEUE_URL",
    "ADVANCE_QUEUE_URL",
    "APPROVAL_QUEUE_URL",
    "RETRY_STATE_MACHINE_ARN",
    "ALERTS_TOPIC_ARN",
    "WORKER_QUEUES",
    "DOMAIN_BUSES",
}


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return translate(DEFAULT_TEMPLATE, REGION)


def of_type(cfn: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v.get("Properties", {}) for k, v in cfn["Resources"].items() if v["Type"] == resource_type}


def target(value: Any) -> str:
    """The logical id behind a Ref or GetAtt; behind a shared resource's If, the stack's own (Standalone=true)."""
    if "Fn::If" in value and value["Fn::If"][0] == "IsStandalone":
        value = value["Fn::If"][1]
    return str(value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0])


def queue_mappings(cfn: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(function, queue) for every SQS event source mapping."""
    queues = of_type(cfn, "AWS::SQS::Queue")
    for mapping in of_type(cfn, "AWS::Lambda::EventSourceMapping").values():
        if target(mapping["EventSourceArn"]) in queues:
            yield target(mapping["FunctionName"]), target(mapping["EventSourceArn"])


def test_template_is_lint_clean() -> None:
    """cfn-lint reports nothing on the SAM template."""
    assert [str(match) for match in lint_file(DEFAULT_TEMPLATE)] == []


def test_transformed_template_is_lint_clean(cfn: dict[str, Any]) -> None:
    """The CloudFormation the SAM transform produces lints clean too (roles, mappings, policies)."""
    assert [str(match) for match in lint(json.dumps(cfn))] == []


def test_sam_transform_runs_offline(cfn: dict[str, Any]) -> None:
    """One function and one role per consumer, transformed without AWS credentials; the watchdog runs on a schedule."""
    functions = of_type(cfn, "AWS::Lambda::Function")
    assert {name: f["Handler"] for name, f in functions.items()} == CONSUMERS | API
    assert len({target(f["Role"]) for f in functions.values()}) == len(functions)
    mapped = {target(m["FunctionName"]) for m in of_type(cfn, "AWS::Lambda::EventSourceMapping").values()}
    assert mapped == set(functions) - {"WatchdogFunction", *API}
    (schedule,) = [
        r
        for r in of_type(cfn, "AWS::Events::Rule").values()
        if "ScheduleExpression" in r and target(r["Targets"][0]["Arn"]) in functions
    ]
    assert schedule["ScheduleExpression"] == "rate(1 minute)"
    assert SWEEP_SLACK >= 2 * 60  # a lapsed approval level reaches its chain before the chain's own timer
    assert [target(t["Arn"]) for t in schedule["Targets"]] == ["WatchdogFunction"]


def test_every_consumer_module_is_deployed() -> None:
    """A consumer module without a function in the template would never run on AWS."""
    modules = {path.stem for path in (ROOT / "consumers").glob("*.py")} - {"__init__", "batch", "runtime", "telemetry"}
    assert {handler.split(".")[1] for handler in CONSUMERS.values()} == modules


@pytest.mark.parametrize("handler", sorted((CONSUMERS | API).values()))
def test_handler_imports_and_is_callable(cfn: dict[str, Any], handler: str) -> None:
    """Every Handler in the template names a callable in the repository."""
    assert handler in {f["Handler"] for f in of_type(cfn, "AWS::Lambda::Function").values()}
    module, attribute = handler.rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), attribute))


@pytest.mark.parametrize(
    ("logical_id", "file", "substitutions"),
    [
        ("RetryChainStateMachine", "retry-chain.asl.json", {"RetryQueueUrl": {"Ref": "RetryQueue"}}),
        (
            "ApprovalStateMachine",
            "approval.asl.json",
            {"ApprovalQueueUrl": {"Ref": "ApprovalQueue"}, "AdvanceQueueUrl": {"Ref": "AdvanceQueue"}},
        ),
    ],
)
def test_state_machines_are_the_checked_in_definitions(
    cfn: dict[str, Any], logical_id: str, file: str, substitutions: dict[str, Any]
) -> None:
    """Each state machine is its file under infra/statemachines, with the queues it needs substituted."""
    machine = of_type(cfn, "AWS::StepFunctions::StateMachine")[logical_id]
    asl = json.loads((ROOT / "infra" / "statemachines" / file).read_text(encoding="utf-8"))
    assert json.loads("".join(machine["DefinitionString"]["Fn::Join"][1])) == asl
    assert machine["DefinitionSubstitutions"] == substitutions


def test_every_consumed_queue_has_a_dead_letter_queue_with_an_alarm(cfn: dict[str, Any]) -> None:
    """A message that keeps failing is parked, and someone is told."""
    queues, alarmed = of_type(cfn, "AWS::SQS::Queue"), alarmed_queues(cfn)
    consumed = {queue for _, queue in queue_mappings(cfn)}
    assert consumed == {"StartQueue", "AdvanceQueue", "SampleWorkQueue", "RetryQueue", "ApprovalQueue"}
    for queue in consumed:
        policy = queues[queue]["RedrivePolicy"]
        assert policy["maxReceiveCount"] == 5
        assert target(policy["deadLetterTargetArn"]) in alarmed, queue


def test_the_journal_stream_parks_failures_in_an_alarmed_queue(cfn: dict[str, Any]) -> None:
    """A stream batch the journal gives up on lands in JournalDLQ, which alarms."""
    (mapping,) = [m for m in of_type(cfn, "AWS::Lambda::EventSourceMapping").values() if "StartingPosition" in m]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["JourneysTable", "StreamArn"]}
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert target(mapping["DestinationConfig"]["OnFailure"]["Destination"]) in alarmed_queues(cfn)


def alarmed_queues(cfn: dict[str, Any]) -> set[str]:
    alarmed = set()
    for alarm in of_type(cfn, "AWS::CloudWatch::Alarm").values():
        if alarm.get("Namespace") != "AWS/SQS" or alarm["MetricName"] == "ApproximateAgeOfOldestMessage":
            continue  # age alarms watch the consumed queues (tests/test_platform_contract.py)
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold" and alarm["Threshold"] == 0
        assert [target(action) for action in alarm["AlarmActions"]] == ["AlertsTopic"]
        alarmed |= {target(d["Value"]) for d in alarm["Dimensions"] if d["Name"] == "QueueName"}
    return alarmed


def test_stuck_journeys_page_operations(cfn: dict[str, Any]) -> None:
    """Escalations are counted from the retry consumer's own log line, and any in 5 minutes alarms."""
    from consumers.retry import ESCALATED

    (metric,) = of_type(cfn, "AWS::Logs::MetricFilter").values()
    assert metric["FilterPattern"] == f'{{ $.message = "{ESCALATED}" }}'
    assert target(metric["LogGroupName"]) == "RetryLogGroup"
    alarm = of_type(cfn, "AWS::CloudWatch::Alarm")["StuckJourneysAlarm"]
    assert (alarm["MetricName"], alarm["Threshold"]) == (metric["MetricTransformations"][0]["MetricName"], 0)
    assert [target(action) for action in alarm["AlarmActions"]] == ["AlertsTopic"]


def test_state_machines_log_and_trace(cfn: dict[str, Any]) -> None:
    """Execution logs (errors, without execution data: tokens and journey state stay out) and X-Ray."""
    for name, machine in of_type(cfn, "AWS::StepFunctions::StateMachine").items():
        logging = machine["LoggingConfiguration"]
        assert (logging["Level"], logging["IncludeExecutionData"]) == ("ERROR", False), name
        assert machine["TracingConfiguration"] == {"Enabled": True}, name


def test_visibility_timeout_is_six_times_the_function_timeout(cfn: dict[str, Any]) -> None:
    """Lambda's guidance: a message is not redelivered while a batch, with retries, may still run."""
    functions, queues = of_type(cfn, "AWS::Lambda::Function"), of_type(cfn, "AWS::SQS::Queue")
    for function, queue in queue_mappings(cfn):
        assert queues[queue]["VisibilityTimeout"] >= 6 * functions[function]["Timeout"], queue


def test_dead_letter_queues_keep_a_failed_message_for_a_week(cfn: dict[str, Any]) -> None:
    """A message moved to a DLQ keeps its original enqueue time. A message that fails every receive reaches the DLQ
    after maxReceiveCount visibility timeouts, and must then have at least a week left there; a DLQ never keeps
    less than its source (ApprovalQueue and its DLQ are both at SQS's 14-day maximum, as the design says)."""
    queues = of_type(cfn, "AWS::SQS::Queue")
    for name, queue in queues.items():
        if "RedrivePolicy" in queue:
            dlq = queues[target(queue["RedrivePolicy"]["deadLetterTargetArn"])]
            assert dlq["MessageRetentionPeriod"] >= queue["MessageRetentionPeriod"], name
            to_dlq = queue["RedrivePolicy"]["maxReceiveCount"] * queue["VisibilityTimeout"]
            assert dlq["MessageRetentionPeriod"] - to_dlq >= 7 * 86400, name


def test_every_function_gets_the_shared_environment(cfn: dict[str, Any]) -> None:
    """Consumers find every table, queue and bus by environment; the worker map names every sample worker."""
    for name, function in of_type(cfn, "AWS::Lambda::Function").items():
        variables = function["Environment"]["Variables"]
        assert set(variables) >= SHARED_VARIABLES, name
        workers = json.loads(variables["WORKER_QUEUES"]["Fn::Sub"].replace("${SampleWorkQueue}", "url"))
        assert set(workers) == WORKERS
        text, names = variables["DOMAIN_BUSES"]["Fn::Sub"]
        buses = json.loads(text)
        assert set(buses) == {"bank-core", "bank-credit", "bank-disputes", "bank-payments"}
        assert {v.strip("${}") for v in buses.values()} == set(names)


def test_dead_letter_variable_names_the_dlq_of_the_functions_own_source(cfn: dict[str, Any]) -> None:
    """DEAD_LETTER_QUEUE_URL is where a consumer parks poison input: the DLQ of the queue it reads."""
    functions, queues = of_type(cfn, "AWS::Lambda::Function"), of_type(cfn, "AWS::SQS::Queue")
    for function, queue in queue_mappings(cfn):
        dlq = target(queues[queue]["RedrivePolicy"]["deadLetterTargetArn"])
        assert functions[function]["Environment"]["Variables"]["DEAD_LETTER_QUEUE_URL"] == {"Ref": dlq}
    journal = functions["JournalFunction"]["Environment"]["Variables"]
    assert journal["DEAD_LETTER_QUEUE_URL"] == {"Ref": "JournalDLQ"}
    assert "DEAD_LETTER_QUEUE_URL" not in functions["WatchdogFunction"]["Environment"]["Variables"]  # no input


def test_event_rules_target_only_queues(cfn: dict[str, Any]) -> None:
    """EventBridge delivers to SQS only: a Lambda target breaks put_events on the emulator (MOTO.md)."""
    queues = of_type(cfn, "AWS::SQS::Queue")
    for name, rule in of_type(cfn, "AWS::Events::Rule").items():
        if "ScheduleExpression" in rule:  # the watchdog's schedule: the local stack runs it itself
            continue
        approvals = set(rule["EventPattern"]["detail-type"]) <= {"approval_recorded", "workflow_approval_recorded"}
        routed_to = "ApprovalQueue" if approvals else "StartQueue"
        assert {target(t["Arn"]) for t in rule["Targets"]} == {routed_to}, name
        condition, own, shared = rule["EventBusName"]["Fn::If"]  # the stack's own bus, or MOD-104's by parameter
        assert (condition, list(shared)) == ("IsStandalone", ["Ref"]), name
        assert "Fn::GetAtt" in own, "Ref to an event bus fails on the emulator"
        assert all(target(t["DeadLetterConfig"]["Arn"]) in queues for t in rule["Targets"])


def test_sam_manifest_is_the_runtime_dependencies(tmp_path: Path) -> None:
    """`make sam-manifest` writes pyproject's `dependencies`, and nothing else, for sam's pip builder."""
    manifest = tmp_path / "requirements.txt"
    subprocess.run(  # noqa: S603 - fixed arguments
        ["make", "-s", "sam-manifest", f"SAM_MANIFEST={manifest}", f"PYTHON312={sys.executable}"],  # noqa: S607
        cwd=ROOT,
        check=True,
    )
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert manifest.read_text(encoding="utf-8").splitlines() == project["dependencies"]


@pytest.mark.parametrize("handler", sorted(CONSUMERS.values()))
def test_a_consumer_cold_start_does_not_import_boto3(handler: str) -> None:
    """boto3 (sessions, clients, resource models) loads on first use, not at import: part of what keeps each
    consumer's cold start under the 300 ms target bench/cpu.py measures."""
    module = handler.rsplit(".", 1)[0]
    probe = f"import sys, {module}; print('boto3' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)  # noqa: S603
    assert result.stdout.strip() == "False", f"{module} imports boto3 at cold start"


# ------------------------------------------------------------------ trust boundaries: who may send what

CALLS = ROOT / "infra" / "calls.yaml"
GUARDED_QUEUES = ("StartQueue", "AdvanceQueue", "ApprovalQueue")
BUSES = ("CoreBus", "CreditBus", "DisputesBus", "PaymentsBus")


def role_of(cfn: dict[str, Any], logical_id: str) -> str:
    """The logical id of the role a function or state machine runs as."""
    props = cfn["Resources"][logical_id]["Properties"]
    return target(props.get("Role") or props["RoleArn"])


def senders(cfn: dict[str, Any], queue: str) -> set[str]:
    """The roles infra/calls.yaml says send to `queue`: every function and state machine whose code does."""
    import yaml

    calls = yaml.safe_load(CALLS.read_text(encoding="utf-8"))
    return {
        role_of(cfn, caller)
        for caller, rows in calls.items()
        for row in rows
        if "sqs:SendMessage" in row["calls"] and queue in row["resources"]
    }


def denial(cfn: dict[str, Any], queue: str) -> dict[str, Any]:
    """The one Deny statement on `queue`, from the one QueuePolicy that covers it."""
    (policy,) = [p for p in of_type(cfn, "AWS::SQS::QueuePolicy").values() if {"Ref": queue} in p["Queues"]]
    statements = policy["PolicyDocument"]["Statement"]
    (deny,) = [s for s in statements if s["Effect"] == "Deny" and s["Resource"] == {"Fn::GetAtt": [queue, "Arn"]}]
    assert (deny["Principal"], deny["Action"]) == ("*", "sqs:SendMessage")
    return deny


@pytest.mark.parametrize("queue", ["AdvanceQueue", "ApprovalQueue"])
def test_step_results_and_answers_are_denied_to_all_but_the_roles_that_send_them(
    cfn: dict[str, Any], queue: str
) -> None:
    """The Deny excepts exactly the roles infra/calls.yaml lists as senders (a new sender fails here until the
    policy names it), and the StepWorkerRoleArns parameter, only when it is given."""
    condition = denial(cfn, queue)["Condition"]
    excepted = {target(arn) for arn in condition["ArnNotEquals"]["aws:PrincipalArn"]}
    assert excepted == senders(cfn, queue) and excepted
    assert condition["ArnNotLike"] == {
        "Fn::If": ["HasStepWorkerRoles", {"aws:PrincipalArn": {"Ref": "StepWorkerRoleArns"}}, {"Ref": "AWS::NoValue"}]
    }


def test_decisions_reach_the_approval_queue_only_from_the_decision_rules(cfn: dict[str, Any]) -> None:
    """EventBridge delivers to the approval queue only for this stack's decision rules: the two on the domain buses
    and the platform bus's ApprovalRecordedRule (MOD-062's design)."""
    rules = {target(arn) for arn in denial(cfn, "ApprovalQueue")["Condition"]["ArnNotEquals"]["aws:SourceArn"]}
    decision_rules = {
        name
        for name, rule in of_type(cfn, "AWS::Events::Rule").items()
        if "approval_recorded" in rule.get("EventPattern", {}).get("detail-type", [])
    }
    expected = {"CoreApprovalDecisionRule", "PaymentsApprovalDecisionRule", "ApprovalRecordedRule"}
    assert rules == decision_rules == expected


def test_journeys_start_only_through_their_rules_or_named_starters(cfn: dict[str, Any]) -> None:
    """Of the engine's functions only the API sends to the start queue (POST /api/journeys validates first); the
    trigger and schedule rules do, and the roles given in JourneyStarterRoleArns (none by default)."""
    assert senders(cfn, "StartQueue") == {"ApiFunctionRole"}
    condition = denial(cfn, "StartQueue")["Condition"]
    assert {target(arn) for arn in condition["ArnNotEquals"]["aws:PrincipalArn"]} == {"ApiFunctionRole"}
    starting = {
        name
        for name, rule in of_type(cfn, "AWS::Events::Rule").items()
        if any(target(t["Arn"]) == "StartQueue" for t in rule.get("Targets", []))
    }
    assert {target(arn) for arn in condition["ArnNotEquals"]["aws:SourceArn"]} == starting and len(starting) == 7
    assert condition["ArnNotLike"]["Fn::If"][0] == "HasJourneyStarterRoles"


@pytest.mark.parametrize("bus", BUSES)
def test_only_the_approval_service_may_put_approval_recorded_on_a_bus(cfn: dict[str, Any], bus: str) -> None:
    """A Deny on PutEvents of that detail-type for every principal but the approval service's role (this stack's
    ApiFunction role unless ApprovalServiceRoleArn names another)."""
    (policy,) = [p for p in of_type(cfn, "AWS::Events::EventBusPolicy").values() if target(p["EventBusName"]) == bus]
    statement = policy["Statement"]
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == ("Deny", "*", "events:PutEvents")
    assert statement["Resource"] == {"Fn::GetAtt": [bus, "Arn"]}
    assert statement["Condition"] == {
        "StringEquals": {"events:detail-type": "approval_recorded"},
        "ArnNotEquals": {
            "aws:PrincipalArn": {
                "Fn::If": [
                    "HasApprovalServiceRole",
                    {"Ref": "ApprovalServiceRoleArn"},
                    {"Fn::GetAtt": ["ApiFunctionRole", "Arn"]},
                ]
            }
        },
    }


def test_the_decision_rules_take_approval_recorded_only_from_the_approval_services_source(
    cfn: dict[str, Any],
) -> None:
    for name in ("CoreApprovalDecisionRule", "PaymentsApprovalDecisionRule"):
        pattern = of_type(cfn, "AWS::Events::Rule")[name]["EventPattern"]
        assert pattern == {"source": [{"Ref": "ApprovalEventSource"}], "detail-type": ["approval_recorded"]}, name
    assert cfn["Parameters"]["ApprovalEventSource"]["Default"] == "bank.staff"


def test_every_queue_mapping_has_a_maximum_concurrency_and_the_journal_a_parallelization_factor(
    cfn: dict[str, Any],
) -> None:
    """Back-pressure: each SQS event source mapping caps its concurrency with a parameter (a burst waits in the
    queue rather than throttling and using up receives); the journal reads each stream shard in parallel."""
    mappings = of_type(cfn, "AWS::Lambda::EventSourceMapping")
    queues = {n: m for n, m in mappings.items() if "StreamArn" not in json.dumps(m["EventSourceArn"])}
    streams = {n: m for n, m in mappings.items() if n not in queues}
    assert len(queues) == 5 and len(streams) == 1
    for name, properties in queues.items():
        parameter = cfn["Parameters"][properties["ScalingConfig"]["MaximumConcurrency"]["Ref"]]
        assert parameter["Type"] == "Number" and 2 <= parameter["Default"] <= parameter["MaxValue"] <= 1000, name
    (journal,) = streams.values()
    assert cfn["Parameters"][journal["ParallelizationFactor"]["Ref"]]["Default"] == 10
