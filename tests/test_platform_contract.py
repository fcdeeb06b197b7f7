"""MOD-062's contract with the bank's platform (issue 21), checked on the SAM-transformed template and on the emulator:
the SSM parameters other modules read, the cost tags, MOD-104's shared buses and key, retention, the approval rule
on the platform bus, and the queue metrics and alarms the platform's dashboards expect."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from devstack.emulator import CREDENTIALS, Emulator
from devstack.intrinsics import references, translate
from devstack.provision import DEFAULT_TEMPLATE, provision
from router.core.approvals import decision_from_event
from router.core.metrics import CATALOGUE, for_transition
from router.core.model import JourneyStatus, StartJourney, TransitionRecord
from router.language.registry import Registry
from tests.journey_driver import JourneyDriver
from workers.samples import SAMPLES

REGION = "eu-west-1"
MODULE_TAGS = {"module_id": "MOD-062", "system_id": "SD07", "cost_center": "sd07-bank-platform"}
DAY = 86400

# The design's "SSM outputs table", then ours (infra/README.md), as path under /bank/<stage>/mod062/ -> value.
DESIGN_PARAMETERS = {
    "state-table/name": {"Ref": "JourneysTable"},
    "state-table/arn": {"Fn::GetAtt": ["JourneysTable", "Arn"]},
    "approval-queue/arn": {"Fn::GetAtt": ["ApprovalQueue", "Arn"]},
    "approval-queue/url": {"Ref": "ApprovalQueue"},
    "approval-dlq/arn": {"Fn::GetAtt": ["ApprovalDLQ", "Arn"]},
    "retry-queue/arn": {"Fn::GetAtt": ["RetryQueue", "Arn"]},
    "retry-queue/url": {"Ref": "RetryQueue"},
    "retry-dlq/arn": {"Fn::GetAtt": ["RetryDLQ", "Arn"]},
    "lambda/workflow-starter/arn": {"Fn::GetAtt": ["StartFunction", "Arn"]},
    "lambda/transition-handler/arn": {"Fn::GetAtt": ["AdvanceFunction", "Arn"]},
    "lambda/approval-recorder/arn": {"Fn::GetAtt": ["ApprovalsFunction", "Arn"]},
    "lambda/retry-processor/arn": {"Fn::GetAtt": ["RetryFunction", "Arn"]},
    "lambda/escalation-notifier/arn": {"Fn::GetAtt": ["WatchdogFunction", "Arn"]},
    "state-machine/approval-chain/arn": {"Ref": "ApprovalStateMachine"},
    "rule/approval-recorded/arn": {"Fn::GetAtt": ["ApprovalRecordedRule", "Arn"]},
}
OUR_PARAMETERS = {
    "state-machine/retry-chain/arn": {"Ref": "RetryChainStateMachine"},
    "transition-log-table/name": {"Ref": "TransitionLogTable"},
    "transition-log-table/arn": {"Fn::GetAtt": ["TransitionLogTable", "Arn"]},
    "approval-tickets-table/name": {"Ref": "ApprovalTicketsTable"},
    "start-queue/arn": {"Fn::GetAtt": ["StartQueue", "Arn"]},
    "start-queue/url": {"Ref": "StartQueue"},
    "start-dlq/arn": {"Fn::GetAtt": ["StartDLQ", "Arn"]},
    "advance-queue/arn": {"Fn::GetAtt": ["AdvanceQueue", "Arn"]},
    "advance-queue/url": {"Ref": "AdvanceQueue"},
    "advance-dlq/arn": {"Fn::GetAtt": ["AdvanceDLQ", "Arn"]},
    "journal-dlq/arn": {"Fn::GetAtt": ["JournalDLQ", "Arn"]},
    "lambda/journal/arn": {"Fn::GetAtt": ["JournalFunction", "Arn"]},
    "lambda/api/arn": {"Fn::GetAtt": ["ApiFunction", "Arn"]},
    "alerts-topic/arn": {"Ref": "AlertsTopic"},
}
# What Standalone=true creates and a bank environment takes from MOD-104 instead (parameter Shared<Id>).
STANDALONE_ONLY = {
    "JourneysKey",
    "JourneysKeyAlias",
    "CoreBus",
    "CreditBus",
    "DisputesBus",
    "PaymentsBus",
    "PlatformBus",
    "PlatformDLQ",
    "PlatformDLQPolicy",
    "PlatformDLQAlarm",
}
SHARED = {
    "SharedKmsKey": "JourneysKey",
    "SharedCoreBus": "CoreBus",
    "SharedCreditBus": "CreditBus",
    "SharedDisputesBus": "DisputesBus",
    "SharedPaymentsBus": "PaymentsBus",
    "SharedPlatformBus": "PlatformBus",
    "SharedPlatformDLQ": "PlatformDLQ",
}
PSEUDO = {"AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::StackName", "AWS::URLSuffix", "AWS::NoValue"}
CONSUMED = ["StartQueue", "AdvanceQueue", "SampleWorkQueue", "RetryQueue", "ApprovalQueue"]
DLQS = ["StartDLQ", "AdvanceDLQ", "SampleWorkDLQ", "RetryDLQ", "ApprovalDLQ", "JournalDLQ", "PlatformDLQ"]


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return translate(DEFAULT_TEMPLATE, REGION)


def of_type(cfn: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v.get("Properties", {}) for k, v in cfn["Resources"].items() if v["Type"] == resource_type}


def choose(value: Any, standalone: bool) -> Any:
    """The template as CloudFormation deploys it for one value of Standalone: each IsStandalone If resolved."""
    if isinstance(value, list):
        return [choose(item, standalone) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::If"} and value["Fn::If"][0] == "IsStandalone":
        return choose(value["Fn::If"][1 if standalone else 2], standalone)
    return {k: choose(v, standalone) for k, v in value.items()}


def deployed(cfn: dict[str, Any], standalone: bool) -> dict[str, dict[str, Any]]:
    """The resources CloudFormation creates for that value of Standalone, with their Ifs resolved."""
    return {
        lid: choose(resource, standalone)
        for lid, resource in cfn["Resources"].items()
        if resource.get("Condition") != "IsStandalone" or standalone
    }


# -- the consumer contract


def test_every_contract_parameter_exists_with_its_value(cfn: dict[str, Any]) -> None:
    """Every path the design lists, and ours, is an SSM parameter under /bank/<Stage>/mod062/ holding its resource."""
    published = {}
    for lid, parameter in of_type(cfn, "AWS::SSM::Parameter").items():
        name = parameter["Name"]["Fn::Sub"]
        assert name.startswith("/bank/${Stage}/mod062/"), lid
        assert parameter["Type"] == "String", lid
        published[name.removeprefix("/bank/${Stage}/mod062/")] = parameter["Value"]
    assert published == DESIGN_PARAMETERS | OUR_PARAMETERS


def test_the_contract_is_published_in_a_bank_environment_too(cfn: dict[str, Any]) -> None:
    """No contract parameter is standalone-only: with MOD-104's infrastructure they all still exist."""
    resources = deployed(cfn, standalone=False)
    assert set(of_type(cfn, "AWS::SSM::Parameter")) <= set(resources)


# -- cost attribution


def _tags(resource_type: str, properties: dict[str, Any]) -> dict[str, Any] | None:
    """The resource's tags by key, or None when CloudFormation cannot tag the type."""
    tagging = PROVIDER_SCHEMA_MANAGER.get_resource_schema(REGION, resource_type).schema.get("tagging", {})
    if not tagging.get("taggable"):
        return None
    value = properties.get(tagging["tagProperty"].removeprefix("/properties/"), {})
    if resource_type == "AWS::ApiGatewayV2::Api" and "Body" in properties:  # SAM writes them into the OpenAPI body
        return {t["name"]: t["x-amazon-apigateway-tag-value"] for t in properties["Body"].get("tags", [])}
    return {t["Key"]: t["Value"] for t in value} if isinstance(value, list) else dict(value)


# Taggable types the template cannot tag, and why (infra/README.md says so too).
UNTAGGABLE_HERE = {
    "AWS::Lambda::EventSourceMapping": "SAM generates them from a function's Events and, in translator 1.115, its "
    "mapping model has no Tags, so PropagateTags skips them; a mapping costs nothing of its own",
}


def test_every_taggable_resource_carries_the_module_tags(cfn: dict[str, Any]) -> None:
    """After the SAM transform, every resource CloudFormation can tag (cfn-lint's schemas say which, and where)
    carries module_id, system_id and cost_center beside Application and Stage."""
    checked: set[str] = set()
    missing = []
    for lid, resource in cfn["Resources"].items():
        tags = _tags(resource["Type"], resource.get("Properties", {}))
        if tags is None or resource["Type"] in UNTAGGABLE_HERE:
            continue
        checked.add(resource["Type"])
        if not (tags.items() >= MODULE_TAGS.items() and {"Application", "Stage"} <= tags.keys()):
            missing.append(f"{lid} ({resource['Type']})")
    assert missing == []
    assert checked >= {  # what the issue names: functions, tables, queues, buses, rules, machines, logs, key, ...
        "AWS::Lambda::Function",
        "AWS::DynamoDB::Table",
        "AWS::SQS::Queue",
        "AWS::Events::EventBus",
        "AWS::Events::Rule",
        "AWS::StepFunctions::StateMachine",
        "AWS::Logs::LogGroup",
        "AWS::KMS::Key",
        "AWS::SNS::Topic",
        "AWS::SSM::Parameter",
        "AWS::CloudWatch::Alarm",
        "AWS::IAM::Role",
    }


# -- MOD-104's shared infrastructure


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _named(value: Any) -> set[str]:
    """Every logical name or parameter a fragment points at; a Sub's own variables are not names."""
    if isinstance(value, list):
        return set().union(set(), *map(_named, value))
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, arg in value.items():
        if key == "Fn::Sub" and isinstance(arg, list):
            text, variables = arg
            found |= (references({"Fn::Sub": text}) - set(variables)) | _named(variables)
        elif key in ("Ref", "Fn::GetAtt", "Fn::Sub"):
            found |= references({key: arg})
        else:
            found |= _named(arg)
    return found


def test_a_bank_environment_creates_no_bus_or_key_and_uses_the_parameters(cfn: dict[str, Any]) -> None:
    """With Standalone=false no bus, key or platform DLQ is created; every reference resolves to a resource that
    exists or a parameter, and each shared one is reached through its SSM-typed Shared* parameter."""
    resources = deployed(cfn, standalone=False)
    assert not {r["Type"] for r in resources.values()} & {"AWS::Events::EventBus", "AWS::KMS::Key", "AWS::KMS::Alias"}
    assert STANDALONE_ONLY.isdisjoint(resources)
    parameters = cfn["Parameters"]
    referenced: set[str] = set()
    for lid, resource in resources.items():
        named = _named(resource.get("Properties", {})) | set(_listed(resource.get("DependsOn", [])))
        assert named <= set(resources) | set(parameters) | PSEUDO, f"{lid} references {named - set(resources)}"
        referenced |= named
    outputs = choose(cfn["Outputs"], standalone=False)
    assert _named(outputs) <= set(resources) | set(parameters) | PSEUDO
    assert set(SHARED) <= referenced | _named(outputs)
    for name in SHARED:
        assert parameters[name]["Type"] == "AWS::SSM::Parameter::Value<String>", name
        assert parameters[name]["Default"].startswith("/bank/dev/mod104/"), name


def test_standalone_creates_its_own_and_never_reads_the_shared_parameters(cfn: dict[str, Any]) -> None:
    """With Standalone=true (the local stack, a developer account) the stack makes and uses its own buses and key."""
    resources = deployed(cfn, standalone=True)
    assert set(resources) >= STANDALONE_ONLY
    referenced = set().union(*(_named(r.get("Properties", {})) for r in resources.values()))
    referenced |= _named(choose(cfn["Outputs"], standalone=True))
    assert referenced.isdisjoint(SHARED)
    assert referenced >= set(SHARED.values())


def test_every_use_of_a_shared_resource_switches_on_standalone(cfn: dict[str, Any]) -> None:
    """A reference to a standalone-only resource outside its own kind is always the first branch of IsStandalone."""

    def loose(value: Any) -> set[str]:  # references outside an IsStandalone If
        if isinstance(value, list):
            return set().union(*map(loose, value)) if value else set()
        if not isinstance(value, dict):
            return set()
        if set(value) == {"Fn::If"} and value["Fn::If"][0] == "IsStandalone":
            return set()
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], list):
            text, variables = value["Fn::Sub"]
            return (references({"Fn::Sub": text}) - set(variables)) | loose(variables)
        if set(value) & {"Ref", "Fn::GetAtt", "Fn::Sub"}:
            return references(value)
        return set().union(set(), *map(loose, value.values()))

    for lid, resource in cfn["Resources"].items():
        if resource.get("Condition") == "IsStandalone":
            continue  # only created with its peers
        assert loose(resource.get("Properties", {})).isdisjoint(STANDALONE_ONLY), lid


# -- retention


def test_retention_follows_the_bank_standards(cfn: dict[str, Any]) -> None:
    """Logs 90 days (a parameter); the approval queue and every DLQ 14 days, the retry queue 4; the state table with
    PITR, a stream, SSE and TTL on expires_at; timeline items expire with it; finished journeys kept 400 days."""
    parameters = cfn["Parameters"]
    assert parameters["LogRetentionDays"]["Default"] == 90
    for lid, group in of_type(cfn, "AWS::Logs::LogGroup").items():
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}, lid
    queues = of_type(cfn, "AWS::SQS::Queue")
    for name in ["ApprovalQueue", *DLQS]:
        assert queues[name]["MessageRetentionPeriod"] == 14 * DAY, name
    assert queues["RetryQueue"]["MessageRetentionPeriod"] == 4 * DAY
    assert {n for n, q in queues.items() if q["MessageRetentionPeriod"] == 14 * DAY} == {"ApprovalQueue", *DLQS}
    tables = of_type(cfn, "AWS::DynamoDB::Table")
    state = tables["JourneysTable"]
    assert state["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert state["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert state["SSESpecification"]["SSEEnabled"] is True
    for name in ("JourneysTable", "TransitionLogTable"):
        assert tables[name]["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}, name
    # Retention is the definition's (`retention_days`, default 400: router/language/definition.py); the TTL is written
    # by the router on finished journeys and on every transition record (tests/test_retention_emulator.py).


# -- the approval rule on the platform bus


def test_the_approval_rule_matches_both_decision_types_from_trusted_sources(cfn: dict[str, Any]) -> None:
    """On the platform bus: approval_recorded and workflow_approval_recorded from ApprovalSourcePrefix (bank.), to
    the approvals consumer's queue, 3 retries, then MOD-104's platform DLQ (or the stack's own, standalone)."""
    rule = of_type(cfn, "AWS::Events::Rule")["ApprovalRecordedRule"]
    assert rule["EventBusName"] == {
        "Fn::If": ["IsStandalone", {"Fn::GetAtt": ["PlatformBus", "Name"]}, {"Ref": "SharedPlatformBus"}]
    }
    assert rule["EventPattern"] == {
        "source": [{"prefix": {"Ref": "ApprovalSourcePrefix"}}],
        "detail-type": ["approval_recorded", "workflow_approval_recorded"],
    }
    assert cfn["Parameters"]["ApprovalSourcePrefix"]["Default"] == "bank."
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["ApprovalQueue", "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 3}
    assert target["DeadLetterConfig"]["Arn"] == {
        "Fn::If": ["IsStandalone", {"Fn::GetAtt": ["PlatformDLQ", "Arn"]}, {"Ref": "SharedPlatformDLQ"}]
    }
    policy = of_type(cfn, "AWS::SQS::QueuePolicy")["ApprovalQueuePolicy"]["PolicyDocument"]["Statement"][0]
    assert {"Fn::GetAtt": ["ApprovalRecordedRule", "Arn"]} in policy["Condition"]["ArnEquals"]["aws:SourceArn"]


# -- metrics and alarms


def test_dlq_depth_and_oldest_message_age_alarm(cfn: dict[str, Any]) -> None:
    """Every DLQ alarms on depth; every consumed queue alarms when its oldest message is older than the parameter."""
    alarms = of_type(cfn, "AWS::CloudWatch::Alarm").values()

    def alarmed(metric: str) -> dict[str, dict[str, Any]]:
        found = {}
        for alarm in alarms:
            if (alarm.get("Namespace"), alarm.get("MetricName")) == ("AWS/SQS", metric):
                (dimension,) = alarm["Dimensions"]
                found[dimension["Value"]["Fn::GetAtt"][0]] = alarm
                assert alarm["AlarmActions"] == [{"Ref": "AlertsTopic"}]
        return found

    assert set(alarmed("ApproximateNumberOfMessagesVisible")) == set(DLQS)
    ages = alarmed("ApproximateAgeOfOldestMessage")
    assert set(ages) == set(CONSUMED)
    assert all(a["Threshold"] == {"Ref": "QueueAgeAlarmSeconds"} for a in ages.values())
    assert cfn["Parameters"]["QueueAgeAlarmSeconds"]["Default"] == 300


def test_the_dashboard_shows_journey_and_step_duration_and_every_queue(cfn: dict[str, Any]) -> None:
    """Journey duration by definition and outcome, step duration, and depth and oldest-message age per queue."""
    (dashboard,) = of_type(cfn, "AWS::CloudWatch::Dashboard").values()
    body = json.loads(dashboard["DashboardBody"]["Fn::Sub"].replace("${AWS::Region}", REGION))
    rows = [m for w in body["widgets"] for m in w["properties"]["metrics"]]
    searches = [r[0]["expression"] for r in rows if isinstance(r[0], dict)]
    duration = "SEARCH('{Journeys,definition,outcome,service} MetricName=\"JourneyDuration\"'"
    assert any(e.startswith(duration) for e in searches)
    assert any('MetricName="StepLatency"' in e for e in searches)
    queues = [q for q in of_type(cfn, "AWS::SQS::Queue") if q != "PlatformDLQ"]  # MOD-104's, in a bank environment
    for metric in ("ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"):
        shown = {r[3] for r in rows if r[:2] == ["AWS/SQS", metric]}
        assert shown == {f"${{{q}.QueueName}}" for q in queues}, metric


def _record(**fields: Any) -> TransitionRecord:
    base = {"journey_id": "j-1", "seq": 7, "at": 500.0, "definition_id": "dispute", "definition_version": "1.0.0"}
    base |= {"owning_domain": "bank-disputes", "event": "step_succeeded", "actor": "w", "step_name": "assess"}
    return TransitionRecord(**(base | {"step_result": "succeeded", "status": JourneyStatus.RUNNING} | fields))


def test_a_finished_journey_reports_its_duration_by_definition_and_outcome() -> None:
    """The transition that ends a journey carries how long it lasted; the journal reports it once, in ms."""
    points = for_transition(_record(status=JourneyStatus.FAILED, lifecycle=["journey_failed"], lasted=12.5))
    (duration,) = [p for p in points if p.name == "JourneyDuration"]
    assert duration.value == 12500.0
    assert duration.dimensions == (("definition", "dispute"), ("outcome", "failed"))
    assert CATALOGUE["JourneyDuration"].unit == "Milliseconds"
    assert not [p for p in for_transition(_record()) if p.name == "JourneyDuration"]  # still running


def test_only_the_transition_that_ends_a_journey_says_how_long_it_lasted() -> None:
    """Driven through the real router: the last transition carries the time since the start, the others nothing."""
    driver = JourneyDriver(Registry.from_directory(), SAMPLES)
    start = StartJourney(journey_id="j-d", definition_id="subscription-reconciliation", input={}, actor="schedule")
    actions = list(driver.router.handle(start).actions)
    driver.clock.advance(42.0)
    assert driver.drive("j-d", actions, {}).status is JourneyStatus.SUCCEEDED
    *running, last = driver.store.records
    assert running and all(record.lasted is None for record in running)
    assert last.lasted == 42.0


# -- on the emulator


@pytest.fixture(scope="module")
def local(emulator: Emulator) -> Iterator[tuple[Any, dict[str, str]]]:
    emulator.reset()
    stack = provision(emulator.url, REGION, stage="contract")
    session = boto3.Session(**CREDENTIALS)
    yield (lambda service: session.client(service, endpoint_url=emulator.url)), stack.resources
    emulator.reset()


def test_the_local_stack_publishes_the_contract(local: tuple[Any, dict[str, str]]) -> None:
    """`journeys up` provisions the SSM parameters: every path, under /bank/<stage>/mod062/."""
    aws, _ = local
    pages = aws("ssm").get_paginator("get_parameters_by_path").paginate(Path="/bank/contract/mod062", Recursive=True)
    names = {p["Name"].removeprefix("/bank/contract/mod062/") for page in pages for p in page["Parameters"]}
    assert names == set(DESIGN_PARAMETERS) | set(OUR_PARAMETERS)


def test_a_consumer_module_finds_the_table_and_queues_through_ssm(local: tuple[Any, dict[str, str]]) -> None:
    """Another module, knowing only the stage, reads the state table and sends to the approval and retry queues."""
    aws, resources = local
    ssm = aws("ssm")

    def lookup(path: str) -> str:
        return str(ssm.get_parameter(Name=f"/bank/contract/mod062/{path}")["Parameter"]["Value"])

    table = lookup("state-table/name")
    assert table == resources["JourneysTable"]
    described = aws("dynamodb").describe_table(TableName=table)["Table"]
    assert described["TableArn"] == lookup("state-table/arn")
    sqs = aws("sqs")
    for queue in ("approval-queue", "retry-queue"):
        url = lookup(f"{queue}/url")
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        assert arn == lookup(f"{queue}/arn")
    assert lookup("lambda/approval-recorder/arn").endswith(":function:journeys-contract-ApprovalsFunction")


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_a_workflow_approval_recorded_event_reaches_the_approvals_consumer(local: tuple[Any, dict[str, str]]) -> None:
    """On the platform bus, both decision types from a bank. source arrive, as published, where the approvals
    consumer reads a decision from them; the same event from another source is not routed."""
    aws, resources = local
    events, sqs, queue = aws("events"), aws("sqs"), resources["ApprovalQueue"]
    _drain(sqs, queue)
    decision = {"ticket_id": str(uuid.uuid4()), "decision": "approve", "token": "signed-by-the-user-pool"}
    entries = [
        {"EventBusName": resources["PlatformBus"], "Source": source, "DetailType": kind, "Detail": json.dumps(decision)}
        for source, kind in [
            ("bank.staff", "workflow_approval_recorded"),
            ("bank.ops", "approval_recorded"),
            ("partner.staff", "approval_recorded"),  # not a bank. source: never reaches the queue
        ]
    ]
    assert events.put_events(Entries=entries)["FailedEntryCount"] == 0
    bodies = _drain(sqs, queue)
    assert sorted((b["source"], b["detail-type"]) for b in bodies) == [
        ("bank.ops", "approval_recorded"),
        ("bank.staff", "workflow_approval_recorded"),
    ]
    vouched = []

    def vouch(token: str) -> tuple[str, list[str]]:  # the consumer verifies the token; here, who it names
        vouched.append(token)
        return "olivia", ["checker"]

    for body in bodies:
        assert decision_from_event(body, vouch).ticket_id == decision["ticket_id"]
    assert vouched == [decision["token"]] * 2
