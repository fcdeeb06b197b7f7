"""Least privilege, proven against the code: infra/calls.yaml is what each function calls; its role grants that.

The recorded run plays the sample journeys on the local stack, plus what the samples never do: a
poison message on each queue, a worker that fails once (a retry chain that succeeds), a worker that
always fails (a chain that runs out and escalates), and a watchdog sweep past an input's deadline.
Every AWS call is recorded: one through a function's own clients is that function's code; any other
on a function's poller thread is its event source mapping. The static tests read the roles from
the translated template and hold them to the table.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import cfnlint
import pytest
import yaml

from cli.client import JourneysClient
from consumers.runtime import Runtime
from devstack import run
from devstack.emulator import Emulator
from devstack.intrinsics import SUB_VAR, references, translate
from devstack.pollers import SchedulePoller
from devstack.provision import DEFAULT_TEMPLATE, StreamSource
from devstack.samples import PAYMENT_SAMPLES, SAMPLES
from devstack.stack import LocalStack
from reliability.instruments import resources_of, settled
from router.core.model import JourneyStatus
from workers.samples import SAMPLES as SAMPLE_WORKERS
from workers.step import RetryableError, Workers

CALLS = DEFAULT_TEMPLATE.parent / "calls.yaml"
REGION = "eu-west-1"
BY = {"code", "event-source", "platform"}
# API operations whose IAM action has another name; dynamodbstreams' actions are dynamodb's.
IAM_ACTION = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
IAM_PREFIX = {"dynamodbstreams": "dynamodb", "stepfunctions": "states"}
TABLE_WRITES = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
)
# The functions that host the router, whose one conditional put per transition is the only way a journey changes.
# The API hosts it for operators' interventions (api/ops.py), as the command line does.
ROUTERS = {"StartFunctionRole", "AdvanceFunctionRole", "RetryFunctionRole", "WatchdogFunctionRole", "ApiFunctionRole"}
# Each IAM action's resource types, from cfn-lint's copy of the service authorization reference.
POLICIES = json.loads((Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json").read_text())
ARN_ATTRIBUTES = {"Arn", "TopicArn"}

Grant = tuple[str, str, str]  # (principal, IAM action, logical resource)


@dataclass(frozen=True)
class Row:
    principal: str
    by: str
    calls: tuple[str, ...]
    resources: tuple[str, ...]
    because: str
    unexercised: str | None

    def grants(self) -> set[Grant]:
        return {(self.principal, action, resource) for action in self.calls for resource in self.resources}


def table() -> list[Row]:
    declared = yaml.safe_load(CALLS.read_text(encoding="utf-8"))
    return [
        Row(name, row["by"], tuple(row["calls"]), tuple(row["resources"]), row["because"], row.get("unexercised"))
        for name, rows in declared.items()
        for row in rows
    ]


def declared(by: set[str] = BY) -> set[Grant]:
    return set().union(*(row.grants() for row in table() if row.by in by))


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return translate(DEFAULT_TEMPLATE, REGION)


def of_type(cfn: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v.get("Properties", {}) for k, v in cfn["Resources"].items() if v["Type"] == resource_type}


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def logical(resource: Any) -> str:
    """A role's Resource as the table names it: `Id` (its ARN), `Id.StreamArn`, `Id/index/by-x`, or `*`."""
    if resource == "*":
        return "*"
    if isinstance(resource, dict) and set(resource) == {"Fn::If"}:  # a MOD-104 resource, or the stack's own
        condition, own, shared = resource["Fn::If"]
        assert condition == "IsStandalone" and set(shared) == {"Ref"}, resource
        return logical(own)
    if isinstance(resource, dict) and set(resource) == {"Fn::GetAtt"}:
        lid, attribute = resource["Fn::GetAtt"]
        return lid if attribute in ARN_ATTRIBUTES else f"{lid}.{attribute}"
    if isinstance(resource, dict) and set(resource) == {"Fn::Sub"} and isinstance(resource["Fn::Sub"], str):
        match = SUB_VAR.match(resource["Fn::Sub"])
        if match and match.group(1).endswith(".Arn") and "${" not in resource["Fn::Sub"][match.end() :]:
            return match.group(1).removesuffix(".Arn") + resource["Fn::Sub"][match.end() :]
    raise AssertionError(f"name role resources as GetAtt Id.Arn, Sub ${{Id.Arn}}/suffix or '*': {resource}")


def role_statements(cfn: dict[str, Any], role: str) -> Iterator[dict[str, Any]]:
    properties = of_type(cfn, "AWS::IAM::Role")[role]
    assert "ManagedPolicyArns" not in properties, f"{role}: managed policies grant on '*'"
    for policy in properties.get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]


def principal_roles(cfn: dict[str, Any]) -> dict[str, str]:
    """The role of every function and state machine, by the principal's logical id."""
    functions = of_type(cfn, "AWS::Lambda::Function").items()
    machines = of_type(cfn, "AWS::StepFunctions::StateMachine").items()
    return {
        **{name: f["Role"]["Fn::GetAtt"][0] for name, f in functions},
        **{name: m["RoleArn"]["Fn::GetAtt"][0] for name, m in machines},
    }


def granted(cfn: dict[str, Any]) -> set[Grant]:
    grants = set()
    for principal, role in principal_roles(cfn).items():
        for statement in role_statements(cfn, role):
            assert statement["Effect"] == "Allow" and not ({"NotAction", "NotResource"} & statement.keys()), statement
            for action in listed(statement["Action"]):
                grants |= {(principal, action, logical(r)) for r in listed(statement["Resource"])}
    return grants


# ------------------------------------------------------------------ the table and the roles, statically


def test_the_table_names_every_principal_and_only_real_resources(cfn: dict[str, Any]) -> None:
    """Every function and state machine has rows; each row names resources of the template and its source."""
    assert {row.principal for row in table()} == set(principal_roles(cfn))
    for row in table():
        assert row.by in BY and row.because, row
        assert row.by != "platform" or row.unexercised, f"{row}: a platform call never shows locally; say so"
        for resource in row.resources:
            lid = resource.split("/")[0].split(".")[0]
            assert resource == "*" or lid in cfn["Resources"], row


def test_each_role_grants_exactly_the_table(cfn: dict[str, Any]) -> None:
    """Nothing the code does is refused on AWS, and no role grants what no code does."""
    roles, table_grants = granted(cfn), declared()
    assert sorted(roles - table_grants) == [], "granted, but no row in infra/calls.yaml"
    assert sorted(table_grants - roles) == [], "in infra/calls.yaml, but the role does not grant it"


def test_star_only_for_actions_without_resource_level_permissions(cfn: dict[str, Any]) -> None:
    """`*` only where IAM knows no narrower resource (X-Ray, ListStreams, task tokens); no wildcard actions."""
    for principal, action, resource in granted(cfn):
        assert "*" not in action, (principal, action)
        service, name = action.split(":")
        known = POLICIES[service]["Actions"][name.lower()]
        if resource == "*":
            assert not known.get("Resources"), f"{principal}: {action} can name a {known['Resources']}, not '*'"


def roles_that_may(cfn: dict[str, Any], actions: tuple[str, ...], resource: str | None = None) -> set[str]:
    """Every role, of any principal or none, granting one of `actions` on `resource` (any resource if None)."""
    roles = set()
    for role in of_type(cfn, "AWS::IAM::Role"):
        for statement in role_statements(cfn, role):
            on = any(r == "*" or resource is None or resource in references(r) for r in listed(statement["Resource"]))
            if on and any(fnmatch(a, pattern) for pattern in listed(statement["Action"]) for a in actions):
                roles.add(role)
    return roles


def test_only_the_router_writes_the_journeys_table(cfn: dict[str, Any]) -> None:
    """A journey changes only by the router's conditional put, in the functions that host it."""
    assert roles_that_may(cfn, TABLE_WRITES, "JourneysTable") == ROUTERS


def test_the_transition_log_is_append_only(cfn: dict[str, Any]) -> None:
    """No role may update or delete a logged transition; only the journal may put one."""
    assert roles_that_may(cfn, TABLE_WRITES[1:], "TransitionLogTable") == set()
    assert roles_that_may(cfn, ("dynamodb:PutItem",), "TransitionLogTable") == {"JournalFunctionRole"}


def test_only_the_approvals_function_answers_task_tokens(cfn: dict[str, Any]) -> None:
    """Task-token calls cannot name a resource, so only one role may make them at all."""
    answers = ("states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat")
    assert roles_that_may(cfn, answers) == {"ApprovalsFunctionRole"}


def test_platform_rows_follow_from_the_template(cfn: dict[str, Any]) -> None:
    """Log group, tracing and KMS rows are what each principal's logging, tracing and encrypted targets need."""
    keys = {
        **{lid: p.get("KmsMasterKeyId") for lid, p in of_type(cfn, "AWS::SQS::Queue").items()},
        **{lid: p.get("KmsMasterKeyId") for lid, p in of_type(cfn, "AWS::SNS::Topic").items()},
    }
    functions = of_type(cfn, "AWS::Lambda::Function")
    machines = of_type(cfn, "AWS::StepFunctions::StateMachine")
    for principal in principal_roles(cfn):
        expected: set[tuple[str, str]] = set()
        if principal in functions:
            log_group = functions[principal]["LoggingConfig"]["LogGroup"]["Ref"]
            expected |= {("logs:CreateLogStream", log_group), ("logs:PutLogEvents", log_group)}
            if functions[principal].get("TracingConfig", {}).get("Mode") == "Active":
                expected |= {("xray:PutTraceSegments", "*"), ("xray:PutTelemetryRecords", "*")}
        machine = machines.get(principal)
        if machine and "LoggingConfiguration" in machine:
            expected |= {(action, "*") for action in STATE_MACHINE_LOG_DELIVERY}
        if machine and machine.get("TracingConfiguration", {}).get("Enabled"):
            expected |= {(action, "*") for action in STATE_MACHINE_TRACING}
        for caller, action, target in declared({"code", "event-source"}):
            if caller != principal or not keys.get(target):
                continue
            key = logical(keys[target])
            if action in ("sqs:SendMessage", "sns:Publish"):
                expected |= {("kms:GenerateDataKey", key), ("kms:Decrypt", key)}
            elif action == "sqs:ReceiveMessage":
                expected.add(("kms:Decrypt", key))
        platform = {(action, resource) for p, action, resource in declared({"platform"}) if p == principal}
        assert platform == expected, principal


# What Step Functions needs to deliver execution logs and traces; none has resource-level permissions.
STATE_MACHINE_LOG_DELIVERY = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
STATE_MACHINE_TRACING = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
)


# ------------------------------------------------------------------ the recorded run


@dataclass(frozen=True)
class Call:
    function: str
    by: str
    action: str
    resource: str


class Recorder:
    """Sees every call of the stack's session; a function's own clients mark theirs in the request context."""

    MARK = "journeys.function"

    def __init__(self) -> None:
        self.raw: list[tuple[str, str | None, str, str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def hook(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        service, operation = model.service_model.service_name, model.name
        entry = (threading.current_thread().name, context.get(self.MARK), service, operation, dict(params))
        with self._lock:
            self.raw.append(entry)

    def mark(self, runtime: Runtime, function: str) -> None:
        """Make every client the function's code uses, now or later, mark its calls as the function's."""
        create = runtime.client

        def mark_context(context: dict[str, Any], **_: Any) -> None:
            context[self.MARK] = function

        @functools.wraps(create)
        def client(service: str) -> Any:
            made = create(service)
            if not getattr(made, "_journeys_marked", False):
                made.meta.events.register("provide-client-params", mark_context)
                made._journeys_marked = True
            return made

        runtime.client = client  # type: ignore[method-assign]


BUSY_ONCE, ALWAYS_BUSY = "notify-customer", "Always Busy"  # a worker failing once; a name every worker fails on


def failing(workers: Workers) -> Workers:
    """The sample workers, but BUSY_ONCE fails its first call and every call about ALWAYS_BUSY fails, retryably."""
    failed_once = threading.Event()

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)  # the argument model is built from the signature
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if any(ALWAYS_BUSY in str(value) for value in kwargs.values()):
                raise RetryableError("the downstream is always busy for this customer")
            if name == BUSY_ONCE and not failed_once.is_set():
                failed_once.set()
                raise RetryableError("the downstream is busy, once")
            return fn(*args, **kwargs)

        return wrapped

    registry = Workers()
    for name, (fn, retry_on) in workers.registered().items():
        registry.step(name, retry_on=retry_on)(wrap(name, fn))
    return registry


def record_run(emulator: Emulator) -> list[Call]:
    """Play every path the functions have; return every call they and their mappings made."""
    recorder, skew = Recorder(), [0.0]
    stack = LocalStack(
        emulator,
        workers=failing(SAMPLE_WORKERS),
        hooks=[("before-parameter-build", recorder.hook)],
        clock=lambda: time.time() + skew[0],
    ).start()
    try:
        assert stack.stack is not None
        for function, runtime in stack.runtimes.items():
            recorder.mark(runtime, function)
        # Journeys are started and inspected as an operator would, not through a function's clients.
        operator = Runtime(stack.settings(), stack.session, stack.registry, stack.workers, stack.clock)
        stack.runtimes = {"Operator": operator, **stack.runtimes}
        client, sqs = JourneysClient(operator), stack.client("sqs")
        for queue in ("StartQueue", "AdvanceQueue", "SampleWorkQueue", "RetryQueue", "ApprovalQueue"):
            sqs.send_message(QueueUrl=stack.stack.resources[queue], MessageBody="not a journey message")
        applicant = {"full_name": f"Bea {ALWAYS_BUSY}", "email": "bea@example.com", "date_of_birth": "1990-01-01"}
        stuck = client.start("account-opening", {**applicant, "country": "GB"})
        waiting = client.start(
            "kyc-uplift", {"customer_id": "CUST-000007", "full_name": "Ida Idle", "email": "i@example.com"}
        )
        samples = [*SAMPLES, *PAYMENT_SAMPLES]  # payments: tickets, decisions, the approval chain
        journeys = run.play(stack, samples, out=lambda _: None)
        assert [j.status.value for j in journeys] == [s.expect for s in samples]
        assert settled(client, stuck, lambda j: j.status is JourneyStatus.STUCK).error["step"] == "validate-application"
        # The watchdog, a month on: the customer who never answered is reminded.
        skew[0] = 30 * 86400.0
        (watchdog,) = [p for p in stack.pollers if isinstance(p, SchedulePoller)]
        watchdog.next_at = 0
        watchdog.wake.set()
        settled(client, waiting, lambda j: any(a.reminded for a in j.open.values()))
        stack.wait_quiet()
        for dlq in ("StartDLQ", "AdvanceDLQ", "SampleWorkDLQ", "RetryDLQ", "ApprovalDLQ"):  # the poison, parked
            depth = sqs.get_queue_attributes(QueueUrl=stack.stack.resources[dlq], AttributeNames=["All"])
            assert depth["Attributes"]["ApproximateNumberOfMessages"] == "1", dlq
        return attribute(recorder, stack)
    finally:
        stack.stop()


def attribute(recorder: Recorder, stack: LocalStack) -> list[Call]:
    """Each call as (function, code or event-source, IAM action, logical resource); the operator's are dropped."""
    assert stack.stack is not None
    physical = {name: lid for lid, name in stack.stack.resources.items()}
    threads, streams = {}, {}
    for function in stack.stack.functions:
        for poller in stack.pollers:
            if getattr(poller, "source", None) in function.sources:
                threads[poller.name] = function.logical_id
                if isinstance(poller.source, StreamSource):
                    streams[poller.name] = f"{physical[poller.source.table_name]}.StreamArn"
    calls = []
    for thread, marked, service, operation, params in recorder.raw:
        if thread not in threads:
            assert marked is None, f"{marked} called {service}:{operation} outside its poller (thread {thread})"
            continue
        assert marked in (None, threads[thread]), (thread, marked)
        action = f"{IAM_PREFIX.get(service, service)}:{operation}"
        action = IAM_ACTION.get(action, action)
        for resource in resources_of(service, params, physical, streams.get(thread)):
            calls.append(Call(threads[thread], "code" if marked else "event-source", action, resource))
    return calls


def test_recorded_calls_match_the_table(fresh_emulator: Emulator) -> None:
    """Every call the code and the mappings made is in the table; every row the run can make, it made."""
    made = {(c.function, c.by, c.action, c.resource) for c in record_run(fresh_emulator)}
    rows = {(r.principal, r.by, a, res): r for r in table() for a in r.calls for res in r.resources}
    assert sorted(m for m in made if m not in rows) == [], "made, but not declared in infra/calls.yaml"
    never = sorted(key for key, row in rows.items() if row.by != "platform" and not row.unexercised and key not in made)
    assert never == [], "declared in infra/calls.yaml, but never made: mark it unexercised, saying why, or drop it"
    # A visibility change follows any failed batch, even a transient one, so only its mark may be wrong by chance.
    stale = sorted(k for k in made if rows[k].unexercised and k[2] != "sqs:ChangeMessageVisibility")
    assert stale == [], "made, yet infra/calls.yaml says it cannot be: drop `unexercised`"
