"""Build the local stack from infra/template.yaml, so the template stays the one list of what exists.

The SAM template is transformed offline to CloudFormation; each resource is then created
through the emulator's service APIs in dependency order, with Ref/GetAtt/Sub/Join/If/Select
resolved against what already exists (intrinsics.py holds the loader, the transform and the
resolver). Functions and their triggers come back as data for the devstack's in-process pollers.
A type or property neither built here nor listed in gaps.py raises.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any, cast

import boto3

from devstack import gaps
from devstack.emulator import session as emulator_session
from devstack.intrinsics import Scope, TemplateError, parameter_values, pseudo_parameters, references, translate

DEFAULT_TEMPLATE = Path(__file__).resolve().parents[1] / "infra" / "template.yaml"
_RATE = re.compile(r"rate\((\d+) (minute|hour|day)s?\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class QueueSource:
    queue_url: str
    queue_arn: str
    batch_size: int
    report_failures: bool
    max_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency: at most this many local pollers


@dataclass(frozen=True)
class StreamSource:
    stream_arn: str
    table_name: str
    batch_size: int
    report_failures: bool = False
    starting_position: str = "TRIM_HORIZON"
    max_retries: int = -1  # -1: retry until the record expires, as Lambda does
    bisect_on_error: bool = False
    on_failure_queue_url: str = ""


@dataclass(frozen=True)
class ScheduleSource:
    rate_seconds: float


Source = QueueSource | StreamSource | ScheduleSource


@dataclass(frozen=True)
class RuleSchedule:
    """A schedule rule that targets queues: created in moto as a rule on the Scheduled Events the devstack puts."""

    logical_id: str
    rule_arn: str
    expression: str
    rate_seconds: float | None  # None for cron(...): fired only when asked


@dataclass(frozen=True)
class LocalFunction:
    logical_id: str
    handler: str
    environment: dict[str, str]
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Stack:
    functions: tuple[LocalFunction, ...]
    outputs: dict[str, str]
    resources: dict[str, str]  # logical id -> queue url / table name / bus or rule name / topic or machine arn
    schedules: tuple[RuleSchedule, ...] = ()
    event_routes: tuple[tuple[str, dict[str, Any]], ...] = ()  # (target arn, event pattern) of every rule


@dataclass
class _Made:
    ref: str
    attrs: dict[str, str] = field(default_factory=dict)
    physical: bool = True  # False: nothing exists in the emulator under this logical id


@dataclass
class _Context:
    session: boto3.Session
    endpoint_url: str
    region: str
    account: str
    stack_name: str
    clients: dict[str, Any] = field(default_factory=dict)
    functions: dict[str, LocalFunction] = field(default_factory=dict)
    function_ids: dict[str, str] = field(default_factory=dict)  # function name and arn -> logical id
    queue_urls: dict[str, str] = field(default_factory=dict)  # queue arn -> url
    stream_tables: dict[str, str] = field(default_factory=dict)  # stream arn -> table name
    schedules: list[RuleSchedule] = field(default_factory=list)
    event_routes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            # boto3-stubs type client() per literal service name; this cache serves any name, as Any
            make = cast(Callable[..., Any], self.session.client)
            self.clients[service] = make(service, endpoint_url=self.endpoint_url)
        return self.clients[service]

    def name(self, logical_id: str, props: dict[str, Any], key: str) -> str:
        """Take the declared name out of props, or make one up as CloudFormation would."""
        return str(props.pop(key, None) or f"{self.stack_name}-{logical_id}")

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def add_source(self, logical_id: str, source: Source) -> None:
        function = self.functions[logical_id]
        self.functions[logical_id] = replace(function, sources=(*function.sources, source))


_Builder = Callable[[_Context, str, dict[str, Any]], _Made]
_BUILDERS: dict[str, tuple[frozenset[str], _Builder]] = {}


def _builds(resource_type: str, properties: str) -> Callable[[_Builder], _Builder]:
    """Register a builder with the only properties it knows how to honour."""

    def register(builder: _Builder) -> _Builder:
        _BUILDERS[resource_type] = (frozenset(properties.split()), builder)
        return builder

    return register


def _attribute(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


@_builds(
    "AWS::SQS::Queue",
    "QueueName VisibilityTimeout MessageRetentionPeriod RedrivePolicy RedriveAllowPolicy "
    "DelaySeconds MaximumMessageSize ReceiveMessageWaitTimeSeconds FifoQueue ContentBasedDeduplication",
)
def _queue(ctx: _Context, lid: str, p: dict[str, Any]) -> _Made:
    name = ctx.name(lid, p, "QueueName")
    name += ".fifo" if p.get("FifoQueue") and not name.endswith(".fifo") else ""
    attributes = {k: _attribute(v) for k, v in p.items()}
    url = ctx.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    ctx.queue_urls[ctx.arn("sqs", name)] = url
    return _Made(url, {"Arn": ctx.arn("sqs", name), "QueueName": name, "QueueUrl": url})


@_builds("AWS::SQS::QueuePolicy", "Queues PolicyDocument")
def _queue_policy(ctx: _Context, lid: str, p: dict[str, Any]) -> _Made:
    for url in p["Queues"]:
        ctx.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(p["PolicyDocument"])})
    return _Made(lid, physical=False)


@_builds(
    "AWS::DynamoDB::Table",
    "TableName AttributeDefinitions KeySchema BillingMode GlobalSecondaryIndexes "
    "LocalSecondaryIndexes ProvisionedThroughput StreamSpecification TimeToLiveSpecification",
)
def _table(ctx: _Context, lid: str, p: dict[str, Any]) -> _Made:
    name, ttl = ctx.name(lid, p, "TableName"), p.pop("TimeToLiveSpecification", None)
    if "StreamSpecification" in p:
        p["StreamSpecification"] = {"StreamEnabled": True, **p["StreamSpecification"]}
    table = ctx.client("dynamodb").create_table(TableName=name, **p)["TableDescription"]
    if ttl:
        ctx.client("dynamodb").update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    attrs = {"Arn": table["TableArn"]}
    if "LatestStreamArn" in table:
        attrs["StreamArn"] = table["LatestStreamArn"]
        ctx.stream_tables[table["LatestStreamArn"]] = name
    return _Made(name, attrs)


@_builds("AWS::S3::Bucket", "BucketName")
def _bucket(ctx: _Context, lid: str, p: dict[str, Any]) -> _Made:
    name = ctx.name(lid, p, "BucketName").lower()[:63]  # S3 names are lower case
    s3 = ctx.client("s3")
    if ctx.region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": ctx.region})
    return _Made(name, {"Arn": f"arn:aws:s3:::{name}"})


@_builds("AWS::Events::EventBus", "Name")
def _bus(ctx: _Context, lid: str, p: dict[str, Any]) -> _Made:
    arn = ctx.client("events").create_event_bus(Name=p["Name"])["EventBusArn"]
    return _Made(p["Name"], {"Name": p["Name"], "Arn": arn})


@_builds("AWS::Events::EventBusPolicy", "EventBusName StatementId Statement")
def _bus_policy(ctx: _Context, lid: str, p: dict[str, Any]) -> _Made:
    """Kept on the bus as on AWS, so the policy can be read back; moto does not enforce it (MOTO.md)."""
    policy = {"Version": "2012-10-17", "Statement": [{"Sid": p["StatementId"], **p["Statement"]}]}
    ctx.client("events").put_permission(EventBusName=p["EventBusName"], Policy=json.dumps(policy))
    return _Made(p["StatementId"], physical=False)


@_builds("AWS::Events::Rule", "Name EventBusName EventPattern ScheduleExpression State Description Targets")
def _rule(ctx: _Context, lid: str, p: dict[str, Any]) -> _Made:
    name, targets = ctx.name(lid, p, "Name")[:64], p.pop("Targets", [])
    if any(target["Arn"] in ctx.function_ids for target in targets):
        return _schedule(ctx, name, p, targets)
    if "ScheduleExpression" in p:
        return _queue_schedule(ctx, lid, name, p, targets)
    events = ctx.client("events")
    arn = events.put_rule(Name=name, **{**p, "EventPattern": json.dumps(p["EventPattern"])})["RuleArn"]
    ctx.event_routes += [(target["Arn"], p["EventPattern"]) for target in targets]
    if targets:
        bus = p.get("EventBusName", "default")
        failed = events.put_targets(Rule=name, EventBusName=bus, Targets=targets)["FailedEntries"]
        if failed:
            raise TemplateError(f"{lid}: the emulator rejected targets {failed}")
    return _Made(name, {"Arn": arn})


def _schedule(ctx: _Context, name: str, p: dict[str, Any], targets: list[dict[str, Any]]) -> _Made:
    """Lambda targets make put_events fail on moto (MOTO.md), so the devstack runs schedules itself."""
    functions = [ctx.function_ids.get(target["Arn"]) for target in targets]
    match = _RATE.fullmatch(p.get("ScheduleExpression", ""))
    if None in functions or "EventPattern" in p or not match:
        raise TemplateError(f"{name}: a rule targeting a function must be a rate(...) schedule of functions only")
    if p.get("State", "ENABLED") == "ENABLED":
        for logical_id in functions:
            ctx.add_source(str(logical_id), ScheduleSource(float(int(match[1]) * _UNIT_SECONDS[match[2]])))
    return _Made(name, {"Arn": ctx.arn("events", f"rule/{name}")}, physical=False)


def _queue_schedule(ctx: _Context, lid: str, name: str, p: dict[str, Any], targets: list[dict[str, Any]]) -> _Made:
    """moto never fires schedules: the rule matches the Scheduled Events the devstack puts for it instead,
    with the same targets, so moto's own InputTransformer shapes what reaches the queue."""
    expression = p.pop("ScheduleExpression")
    arn = ctx.arn("events", f"rule/{name}")
    pattern = {"source": ["aws.events"], "detail-type": ["Scheduled Event"], "resources": [arn]}
    events = ctx.client("events")
    events.put_rule(Name=name, EventPattern=json.dumps(pattern), **p)
    ctx.event_routes += [(target["Arn"], pattern) for target in targets]
    failed = events.put_targets(Rule=name, Targets=targets)["FailedEntries"]
    if failed:
        raise TemplateError(f"{lid}: the emulator rejected targets {failed}")
    match = _RATE.fullmatch(expression)
    rate = float(int(match[1]) * _UNIT_SECONDS[match[2]]) if match else None
    if p.get("State", "ENABLED") == "ENABLED":
        ctx.schedules.append(RuleSchedule(lid, arn, expression, rate))
    return _Made(name, {"Arn": arn})


@_builds("AWS::SSM::Parameter", "Name Type Value Description Tier DataType AllowedPattern")
def _parameter(ctx: _Context, lid: str, p: dict[str, Any]) -> _Made:
    """The consumer contract (/bank/<stage>/mod062/...): other modules find the engine's resources here."""
    name, value = ctx.name(lid, p, "Name"), str(p.pop("Value"))
    ctx.client("ssm").put_parameter(Name=name, Value=value, Overwrite=True, **p)
    return _Made(name, {"Type": str(p.get("Type", "String")), "Value": value})


@_builds("AWS::SNS::Topic", "TopicName DisplayName FifoTopic Subscription")
def _topic(ctx: _Context, lid: str, p: dict[str, Any]) -> _Made:
    name, subscriptions = ctx.name(lid, p, "TopicName"), p.pop("Subscription", [])
    arn = ctx.client("sns").create_topic(Name=name, Attributes={k: _attribute(v) for k, v in p.items()})["TopicArn"]
    for subscription in subscriptions:
        ctx.client("sns").subscribe(TopicArn=arn, **subscription)
    return _Made(arn, {"TopicArn": arn, "TopicName": name})


@_builds("AWS::SNS::Subscription", "TopicArn Protocol Endpoint RawMessageDelivery FilterPolicy")
def _subscription(ctx: _Context, lid: str, p: dict[str, Any]) -> _Made:
    args = {k: p.pop(k) for k in ("TopicArn", "Protocol", "Endpoint")}
    attributes = {k: _attribute(v) for k, v in p.items()}
    arn = ctx.client("sns").subscribe(**args, Attributes=attributes, ReturnSubscriptionArn=True)["SubscriptionArn"]
    return _Made(arn)


@_builds(
    "AWS::StepFunctions::StateMachine",
    "StateMachineName Definition DefinitionString DefinitionSubstitutions RoleArn StateMachineType",
)
def _state_machine(ctx: _Context, lid: str, p: dict[str, Any]) -> _Made:
    """Created here, not by moto's CloudFormation, which would hide it from the interpreter."""
    name = ctx.name(lid, p, "StateMachineName")
    definition = json.dumps(p["Definition"]) if "Definition" in p else str(p["DefinitionString"])
    for key, value in p.get("DefinitionSubstitutions", {}).items():  # moto ignores them
        definition = definition.replace("${" + key + "}", str(value))
    arn = ctx.client("stepfunctions").create_state_machine(
        name=name, definition=definition, roleArn=p["RoleArn"], type=p.get("StateMachineType", "STANDARD")
    )["stateMachineArn"]
    return _Made(arn, {"Arn": arn, "Name": name})


@_builds("AWS::Lambda::Function", "FunctionName Handler Environment")
def _function(ctx: _Context, lid: str, p: dict[str, Any]) -> _Made:
    name = ctx.name(lid, p, "FunctionName")
    variables = p.get("Environment", {}).get("Variables", {})
    ctx.functions[lid] = LocalFunction(lid, p["Handler"], {k: str(v) for k, v in variables.items()}, ())
    arn = ctx.arn("lambda", f"function:{name}")
    ctx.function_ids.update({name: lid, arn: lid})
    return _Made(name, {"Arn": arn}, physical=False)


@_builds(
    "AWS::Lambda::EventSourceMapping",
    "EventSourceArn FunctionName BatchSize FunctionResponseTypes Enabled "
    "StartingPosition MaximumRetryAttempts BisectBatchOnFunctionError DestinationConfig ScalingConfig",
)
def _mapping(ctx: _Context, lid: str, p: dict[str, Any]) -> _Made:
    """Not created in moto: an enabled SQS mapping makes moto consume (and fail) the messages itself."""
    function = ctx.function_ids.get(p["FunctionName"])
    if function is None:
        raise TemplateError(f"{lid}: {p['FunctionName']} is not a function of this template")
    if p.get("Enabled", True):
        ctx.add_source(function, _source(ctx, lid, p))
    return _Made(lid, physical=False)


def _source(ctx: _Context, lid: str, p: dict[str, Any]) -> Source:
    arn, report = p["EventSourceArn"], "ReportBatchItemFailures" in p.get("FunctionResponseTypes", [])
    if arn in ctx.queue_urls:
        concurrency = p.get("ScalingConfig", {}).get("MaximumConcurrency")
        return QueueSource(
            ctx.queue_urls[arn], arn, int(p.get("BatchSize", 10)), report, int(concurrency) if concurrency else None
        )
    if arn not in ctx.stream_tables:
        raise TemplateError(f"{lid}: event source {arn} is neither a queue nor a table stream of this template")
    on_failure = p.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination", "")
    return StreamSource(
        stream_arn=arn,
        table_name=ctx.stream_tables[arn],
        batch_size=int(p.get("BatchSize", 100)),
        report_failures=report,
        starting_position=p.get("StartingPosition", "TRIM_HORIZON"),
        max_retries=int(p.get("MaximumRetryAttempts", -1)),
        bisect_on_error=bool(p.get("BisectBatchOnFunctionError")),
        on_failure_queue_url=ctx.queue_urls.get(on_failure, ""),
    )


def _build(ctx: _Context, scope: Scope, lid: str, resource: Mapping[str, Any]) -> _Made:
    rtype = resource["Type"]
    if rtype in gaps.SKIPPED_TYPES:  # placeholders, so that e.g. a state machine's RoleArn still resolves
        service = rtype.split("::")[1].lower()
        arn = f"arn:aws:iam::{ctx.account}:role/{ctx.stack_name}-{lid}" if service == "iam" else ctx.arn(service, lid)
        return _Made(f"{ctx.stack_name}-{lid}", {"Arn": arn}, physical=False)
    if rtype not in _BUILDERS:
        raise TemplateError(
            f"{lid}: {rtype} has no local equivalent; build it in devstack/provision.py "
            "or skip it, with the reason, in devstack/gaps.py"
        )
    supported, builder = _BUILDERS[rtype]
    props = {k: v for k, v in resource.get("Properties", {}).items() if k not in gaps.ignored_properties(rtype)}
    if unknown := sorted(set(props) - supported):
        raise TemplateError(f"{lid}: {rtype} properties {unknown} are neither built locally nor listed in gaps.py")
    return builder(ctx, lid, scope.resolve(props))


def _creation_order(resources: Mapping[str, Any]) -> list[str]:
    graph: TopologicalSorter[str] = TopologicalSorter()
    for lid, resource in resources.items():
        depends = resource.get("DependsOn", [])
        needs = references(resource.get("Properties", {})) | set([depends] if isinstance(depends, str) else depends)
        graph.add(lid, *sorted(needs & resources.keys()))
    return list(graph.static_order())


def provision(
    endpoint_url: str,
    region: str,
    template_path: Path = DEFAULT_TEMPLATE,
    stage: str = "local",
    parameters: Mapping[str, str] | None = None,
) -> Stack:
    """Create in the emulator everything the template declares; return the functions and their triggers."""
    # The emulator has no MOD-104: the local stack always creates its own buses, platform DLQ and (skipped) key.
    given = {"Standalone": "true", **(parameters or {}), "Stage": stage}
    template = translate(template_path, region, given)
    session = emulator_session(region)
    account = session.client("sts", endpoint_url=endpoint_url).get_caller_identity()["Account"]
    ctx = _Context(session, endpoint_url, region, account, f"journeys-{stage}")
    pseudo = pseudo_parameters(region, account, ctx.stack_name)
    scope = Scope({**parameter_values(template, given), **pseudo}, template.get("Conditions", {}))
    resources, physical = template["Resources"], {}
    for lid in _creation_order(resources):
        condition = resources[lid].get("Condition")
        if condition and not scope.condition(condition):
            continue
        made = _build(ctx, scope, lid, resources[lid])
        scope.refs[lid], scope.attrs[lid] = made.ref, made.attrs
        if made.physical:
            physical[lid] = made.ref
    outputs = {
        name: str(scope.resolve(output["Value"]))
        for name, output in template.get("Outputs", {}).items()
        if "Condition" not in output or scope.condition(output["Condition"])
    }
    return Stack(tuple(ctx.functions.values()), outputs, physical, tuple(ctx.schedules), tuple(ctx.event_routes))
