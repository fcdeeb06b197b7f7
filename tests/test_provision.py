"""The local stack is built from infra/template.yaml: every binding it declares is live, and nothing else exists."""

from __future__ import annotations

import json
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer

from devstack.provision import (
    DEFAULT_TEMPLATE,
    QueueSource,
    ScheduleSource,
    Stack,
    StreamSource,
    TemplateError,
    provision,
    translate,
)
from devstack.stack import deployed_definitions
from workers.samples import SAMPLES

# Regions of their own: moto's state is per process, and the devstack's tests use eu-west-1.
REGION = "ap-southeast-2"
SCRATCH_REGION = "ca-central-1"
DEFINITIONS = Path(__file__).resolve().parents[1] / "definitions"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MOTO_PORT", str(port))  # the Step Functions interpreter calls back on this port
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        yield f"http://127.0.0.1:{port}"
        server.stop()


@pytest.fixture(scope="module")
def timed_stack(endpoint: str) -> tuple[Stack, float]:
    began = time.perf_counter()
    stack = provision(endpoint, REGION, stage="test")
    return stack, time.perf_counter() - began


@pytest.fixture(scope="module")
def stack(timed_stack: tuple[Stack, float]) -> Stack:
    return timed_stack[0]


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return translate(DEFAULT_TEMPLATE, REGION, {"Stage": "test"})


@pytest.fixture(scope="module")
def aws(endpoint: str) -> Any:
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    return lambda service: session.client(service, endpoint_url=endpoint)


def logical(cfn: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v.get("Properties", {}) for k, v in cfn["Resources"].items() if v["Type"] == resource_type}


def routing_rules(cfn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The event-pattern rules; a schedule rule is a function source, run by the local stack itself."""
    return {k: v for k, v in logical(cfn, "AWS::Events::Rule").items() if "ScheduleExpression" not in v}


def target(value: Any) -> str:
    """The logical id behind a Ref or GetAtt; behind a shared resource's If, the stack's own (the local stack is
    standalone)."""
    if "Fn::If" in value and value["Fn::If"][0] == "IsStandalone":
        value = value["Fn::If"][1]
    return str(value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0])


def a_source(cfn: dict[str, Any], pattern: dict[str, Any]) -> str:
    """A source the pattern matches: its first listed one, or one under its first prefix; a parameter's default
    where the pattern names a parameter (the decision rules' ApprovalEventSource, ApprovalSourcePrefix)."""
    first = pattern["source"][0]
    value, suffix = (first["prefix"], "staff") if isinstance(first, dict) and "prefix" in first else (first, "")
    if isinstance(value, dict):
        value = cfn["Parameters"][value["Ref"]]["Default"]
    return str(value) + suffix


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages"):
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_every_template_function_is_provisioned(
    cfn: dict[str, Any], timed_stack: tuple[Stack, float], capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole stack, translation included, comes up with one local function per template function; the time it
    took is printed, not asserted (machines are noisy: bench/ measures speed)."""
    stack, elapsed = timed_stack
    with capsys.disabled():
        print(f"\nprovisioned {len(stack.resources)} resources and {len(stack.functions)} functions in {elapsed:.2f} s")
    assert sorted(f.logical_id for f in stack.functions) == sorted(logical(cfn, "AWS::Lambda::Function"))


def test_queues_exist_with_their_redrive_policies(cfn: dict[str, Any], stack: Stack, aws: Any) -> None:
    """Every queue is live with the template's timeouts, retention and dead-letter redrive."""
    sqs = aws("sqs")
    for name, declared in logical(cfn, "AWS::SQS::Queue").items():
        live = sqs.get_queue_attributes(QueueUrl=stack.resources[name], AttributeNames=["All"])["Attributes"]
        assert live["MessageRetentionPeriod"] == str(declared["MessageRetentionPeriod"]), name
        assert live["VisibilityTimeout"] == str(declared.get("VisibilityTimeout", 30)), name
        if "RedrivePolicy" in declared:
            dlq = stack.resources[target(declared["RedrivePolicy"]["deadLetterTargetArn"])]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            redrive = json.loads(live["RedrivePolicy"])
            assert (redrive["deadLetterTargetArn"], int(redrive["maxReceiveCount"])) == (dlq_arn, 5), name


def test_start_queue_carries_its_policy(cfn: dict[str, Any], stack: Stack, aws: Any) -> None:
    """The queue policy lets exactly the trigger and schedule rules send, and denies every other sender
    (no JourneyStarterRoleArns are given locally, so no role is excepted)."""
    policy = aws("sqs").get_queue_attributes(QueueUrl=stack.resources["StartQueue"], AttributeNames=["Policy"])
    allow, deny = json.loads(policy["Attributes"]["Policy"])["Statement"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    rules = logical(cfn, "AWS::Events::Rule").items()
    starting = {stack.resources[n] for n, r in rules if "StartQueue" in {target(t["Arn"]) for t in r["Targets"]}}
    assert {arn.rsplit("/", 1)[1] for arn in allow["Condition"]["ArnEquals"]["aws:SourceArn"]} == starting
    assert len(starting) == 7  # six triggers and one SYSTEM journey's schedule
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "sqs:SendMessage")
    rules = allow["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert deny["Condition"]["ArnNotEquals"]["aws:SourceArn"] == rules
    (api,) = deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]  # POST /api/journeys, which validates first
    assert api.endswith("ApiFunctionRole")


def test_every_bus_denies_approval_recorded_to_all_but_the_approval_service(stack: Stack, aws: Any) -> None:
    """The policy is on the emulator's buses as on AWS (moto keeps it; it does not enforce it)."""
    events = aws("events")
    for bus in ("CoreBus", "CreditBus", "DisputesBus", "PaymentsBus"):
        (statement,) = json.loads(events.describe_event_bus(Name=stack.resources[bus])["Policy"])["Statement"]
        assert (statement["Effect"], statement["Action"]) == ("Deny", "events:PutEvents"), bus
        assert statement["Condition"]["StringEquals"] == {"events:detail-type": "approval_recorded"}, bus
        assert statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"].endswith("ApiFunctionRole"), bus


def test_journeys_table_has_its_stream_indexes_and_ttl(stack: Stack, aws: Any) -> None:
    """The journal's stream and the sharded status and deadline indexes exist as declared."""
    ddb, name = aws("dynamodb"), stack.resources["JourneysTable"]
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    indexes = {i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in table["GlobalSecondaryIndexes"]}
    assert indexes == {"by-status-shard": ["status_shard", "created_at"], "by-deadline-shard": ["due_shard", "due"]}
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert (ttl["AttributeName"], ttl["TimeToLiveStatus"]) == ("expires_at", "ENABLED")


def test_each_routed_event_on_its_bus_lands_in_the_rules_queue(cfn: dict[str, Any], stack: Stack, aws: Any) -> None:
    """put_events of every pattern the rules declare, on the rule's bus, arrives in the rule's queue."""
    events, sqs = aws("events"), aws("sqs")
    for name, rule in routing_rules(cfn).items():
        queue = stack.resources[target(rule["Targets"][0]["Arn"])]
        drain(sqs, queue)
        bus = stack.resources[target(rule["EventBusName"])]
        marker = str(uuid.uuid4())
        pattern = rule["EventPattern"]
        entry = {
            "Source": a_source(cfn, pattern),
            "DetailType": pattern["detail-type"][0],
            "EventBusName": bus,
            "Detail": json.dumps({"marker": marker}),
        }
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
        assert [b["detail"]["marker"] for b in drain(sqs, queue)] == [marker], name


def test_definition_triggers_reach_the_start_queue(stack: Stack, aws: Any) -> None:
    """Every trigger a journey definition declares is routed from its owning domain's bus."""
    events, sqs = aws("events"), aws("sqs")
    buses = json.loads(stack.functions[0].environment["DOMAIN_BUSES"])
    drain(sqs, stack.resources["StartQueue"])
    for path in sorted(DEFINITIONS.glob("*.yaml")):
        definition = yaml.safe_load(path.read_text(encoding="utf-8"))
        for trigger in definition.get("triggers", []):
            entry = {
                "Source": trigger["source"],
                "DetailType": trigger["detail_type"],
                "Detail": "{}",
                "EventBusName": buses[definition["owning_domain"]],
            }
            events.put_events(Entries=[entry])
            assert len(drain(sqs, stack.resources["StartQueue"])) == 1, (path.name, trigger)


def test_events_no_rule_declares_are_not_routed(stack: Stack, aws: Any) -> None:
    """A trigger's detail-type from another source, or on another bus, starts nothing."""
    events, sqs = aws("events"), aws("sqs")
    drain(sqs, stack.resources["StartQueue"])
    events.put_events(
        Entries=[
            {
                "Source": "bank.kyc",
                "DetailType": "application_submitted",
                "Detail": "{}",
                "EventBusName": stack.resources["CoreBus"],
            },
            {
                "Source": "bank.onboarding",
                "DetailType": "application_submitted",
                "Detail": "{}",
                "EventBusName": stack.resources["CreditBus"],
            },
        ]
    )
    assert drain(sqs, stack.resources["StartQueue"]) == []


def test_functions_are_bound_to_the_sources_the_template_declares(cfn: dict[str, Any], stack: Stack) -> None:
    """Each event source mapping or schedule becomes a poller source of its function, with its settings."""
    declared: set[tuple[str, str, float]] = set()
    for mapping in logical(cfn, "AWS::Lambda::EventSourceMapping").values():
        source = target(mapping["EventSourceArn"])
        declared.add((target(mapping["FunctionName"]), stack.resources[source], mapping["BatchSize"]))
    for rule in logical(cfn, "AWS::Events::Rule").values():
        if "ScheduleExpression" in rule and "StartQueue" not in {target(t["Arn"]) for t in rule["Targets"]}:
            declared |= {(target(t["Arn"]), rule["ScheduleExpression"], 60.0) for t in rule["Targets"]}
    live: set[tuple[str, str, float]] = set()
    for function in stack.functions:
        for s in function.sources:
            if isinstance(s, ScheduleSource):
                live.add((function.logical_id, "rate(1 minute)", s.rate_seconds))
                continue
            live.add((function.logical_id, s.queue_url if isinstance(s, QueueSource) else s.table_name, s.batch_size))
            assert s.report_failures
    assert live == declared
    (journal,) = [f for f in stack.functions if f.logical_id == "JournalFunction"]
    (stream,) = journal.sources
    assert isinstance(stream, StreamSource)
    assert stream.on_failure_queue_url == stack.resources["JournalDLQ"] and stream.bisect_on_error
    queues = [s for f in stack.functions for s in f.sources if isinstance(s, QueueSource)]
    defaults = {int(p["Default"]) for name, p in cfn["Parameters"].items() if name.endswith("MaxConcurrency")}
    assert queues and {q.max_concurrency for q in queues} == defaults  # the back-pressure caps, resolved


def test_function_environment_is_fully_resolved(stack: Stack) -> None:
    """Consumers get plain strings naming the local resources: no intrinsic survives."""
    for function in stack.functions:
        env = function.environment
        assert not [v for v in env.values() if "${" in v or "Fn::" in v or "'Ref'" in v], function.logical_id
        assert env["JOURNEYS_TABLE"] == stack.resources["JourneysTable"]
        assert set(json.loads(env["WORKER_QUEUES"]).values()) == {stack.resources["SampleWorkQueue"]}
        assert json.loads(env["DOMAIN_BUSES"])["bank-payments"] == "bank-payments-test"
    handlers = {f.logical_id: f.handler for f in stack.functions}
    assert handlers["StartFunction"] == "consumers.start.handler"


def test_the_retry_chain_is_live_with_its_substitutions(stack: Stack, aws: Any) -> None:
    """The checked-in ASL is inlined, and its exhaustion goes to the live RetryQueue."""
    machine = aws("stepfunctions").describe_state_machine(stateMachineArn=stack.resources["RetryChainStateMachine"])
    exhausted = json.loads(machine["definition"])["States"]["Exhausted"]["Parameters"]
    assert exhausted["QueueUrl"] == stack.resources["RetryQueue"]
    retry_variable = {f.environment["RETRY_STATE_MACHINE_ARN"] for f in stack.functions}
    assert retry_variable == {stack.resources["RetryChainStateMachine"]}


def test_outputs_name_the_live_resources(stack: Stack) -> None:
    """Outputs resolve to the same physical names as the resources."""
    assert stack.outputs["JourneysTableName"] == stack.resources["JourneysTable"]
    assert stack.outputs["StartQueueUrl"] == stack.resources["StartQueue"]
    assert stack.outputs["CoreBusName"] == "bank-core-test"
    assert stack.outputs["AlertsTopicArn"] == stack.resources["AlertsTopic"]


def test_nothing_exists_locally_that_the_template_does_not_declare(cfn: dict[str, Any], stack: Stack, aws: Any) -> None:
    """Queues, tables, buses, rules and topics in the emulator are exactly the template's."""

    def physical(resource_type: str) -> set[str]:
        return {stack.resources[name] for name in logical(cfn, resource_type)}

    events = aws("events")
    assert set(aws("sqs").list_queues().get("QueueUrls", [])) == physical("AWS::SQS::Queue")
    assert set(aws("dynamodb").list_tables()["TableNames"]) == physical("AWS::DynamoDB::Table")
    buses = {b["Name"] for b in events.list_event_buses()["EventBuses"]} - {"default"}
    assert buses == physical("AWS::Events::EventBus")
    rules = {r["Name"] for bus in buses | {"default"} for r in events.list_rules(EventBusName=bus)["Rules"]}
    queue_schedules = {stack.resources[s.logical_id] for s in stack.schedules}  # function schedules run locally
    assert rules == {stack.resources[name] for name in routing_rules(cfn)} | queue_schedules
    machines = {m["stateMachineArn"] for m in aws("stepfunctions").list_state_machines()["stateMachines"]}
    assert machines == physical("AWS::StepFunctions::StateMachine")
    assert {t["TopicArn"] for t in aws("sns").list_topics()["Topics"]} == physical("AWS::SNS::Topic")
    assert aws("sns").list_subscriptions()["Subscriptions"] == []  # AlertEmail is empty: the condition is false


def scratch(endpoint: str, service: str) -> Any:
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=SCRATCH_REGION)
    return session.client(service, endpoint_url=endpoint)


def test_a_conditional_resource_appears_when_its_condition_holds(endpoint: str) -> None:
    """With AlertEmail set, the alerts topic gets its email subscription."""
    stack = provision(endpoint, SCRATCH_REGION, stage="alerting", parameters={"AlertEmail": "ops@example.com"})
    subscriptions = scratch(endpoint, "sns").list_subscriptions_by_topic(TopicArn=stack.resources["AlertsTopic"])
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions["Subscriptions"]] == [("email", "ops@example.com")]


def test_the_trust_parameters_name_who_may_send_step_results_and_approvals(endpoint: str) -> None:
    """Given roles and a source, the advance queue excepts the listed step workers (wildcards kept, the list as
    CloudFormation's CommaDelimitedList gives it), the buses the named approval service, and the approval rules
    take decisions only from its source."""
    workers = "arn:aws:iam::123456789012:role/payments-worker-*,arn:aws:iam::123456789012:role/kyc-worker"
    service = "arn:aws:iam::123456789012:role/staff-approvals"
    given = {"StepWorkerRoleArns": workers, "ApprovalServiceRoleArn": service, "ApprovalEventSource": "bank.approvals"}
    stack = provision(endpoint, SCRATCH_REGION, stage="trusting", parameters=given)
    sqs, events = scratch(endpoint, "sqs"), scratch(endpoint, "events")
    policy = sqs.get_queue_attributes(QueueUrl=stack.resources["AdvanceQueue"], AttributeNames=["Policy"])
    (deny,) = json.loads(policy["Attributes"]["Policy"])["Statement"]
    assert deny["Condition"]["ArnNotLike"] == {"aws:PrincipalArn": workers.split(",")}
    (bus,) = json.loads(events.describe_event_bus(Name=stack.resources["PaymentsBus"])["Policy"])["Statement"]
    assert bus["Condition"]["ArnNotEquals"] == {"aws:PrincipalArn": service}
    rule = events.describe_rule(
        Name=stack.resources["PaymentsApprovalDecisionRule"], EventBusName="bank-payments-trusting"
    )
    assert json.loads(rule["EventPattern"])["source"] == ["bank.approvals"]


EXTRAS = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Inbox:
    Type: AWS::SQS::Queue
  Sweeper:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ../
      Runtime: python3.12
      Handler: consumers.sweep.handler
      Environment: {Variables: {INBOX: !Ref Inbox}}
      Events:
        Every5Minutes: {Type: Schedule, Properties: {Schedule: rate(5 minutes)}}
  Approval:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Ask
        States:
          Ask:
            Type: Task
            Resource: arn:aws:states:::sqs:sendMessage
            Parameters: {QueueUrl: "${InboxUrl}", MessageBody: {}}
            End: true
      DefinitionSubstitutions: {InboxUrl: !Ref Inbox}
      Policies: [{SQSSendMessagePolicy: {QueueName: !GetAtt Inbox.QueueName}}]
"""


def test_schedules_and_state_machines_are_supported(endpoint: str, tmp_path: Path) -> None:
    """A schedule becomes a function source; a state machine is created with its substitutions applied."""
    template = tmp_path / "template.yaml"
    template.write_text(EXTRAS, encoding="utf-8")
    stack = provision(endpoint, SCRATCH_REGION, template, stage="extras")
    (sweeper,) = stack.functions
    assert sweeper.sources == (ScheduleSource(300.0),)
    assert sweeper.environment == {"INBOX": stack.resources["Inbox"]}
    machine = scratch(endpoint, "stepfunctions").describe_state_machine(stateMachineArn=stack.resources["Approval"])
    assert json.loads(machine["definition"])["States"]["Ask"]["Parameters"]["QueueUrl"] == stack.resources["Inbox"]
    assert "Every5Minutes" not in json.dumps(scratch(endpoint, "events").list_rules())  # polled, not created


@pytest.mark.parametrize(
    ("resource", "complaint"),
    [
        ("Type: AWS::EFS::FileSystem", "AWS::EFS::FileSystem has no local equivalent"),
        ("Type: AWS::SQS::Queue\n    Properties: {SqsManagedSseEnabled: true}", "['SqsManagedSseEnabled']"),
    ],
)
def test_anything_the_local_stack_cannot_build_is_refused(
    endpoint: str, tmp_path: Path, resource: str, complaint: str
) -> None:
    """An unknown type or property raises, naming gaps.py, rather than silently drifting from AWS."""
    template = tmp_path / "template.yaml"
    template.write_text(f"Resources:\n  Thing:\n    {resource}\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"gaps\.py") as refused:
        provision(endpoint, SCRATCH_REGION, template, stage="refused")
    assert complaint in str(refused.value)


def test_the_translation_is_remembered_until_a_file_it_was_read_from_changes(tmp_path: Path) -> None:
    infra = tmp_path / "infra"
    shutil.copytree(DEFAULT_TEMPLATE.parent, infra)
    template, asl = infra / "template.yaml", infra / "statemachines" / "approval.asl.json"
    first = translate(template, REGION)
    first["Resources"].clear()  # each caller's copy is its own: provisioning takes properties out of it
    again = translate(template, REGION)
    assert again["Resources"] and "a comment added since" not in json.dumps(again)

    machine = json.loads(asl.read_text(encoding="utf-8"))
    asl.write_text(json.dumps({**machine, "Comment": "a comment added since"}), encoding="utf-8")
    assert "a comment added since" in json.dumps(translate(template, REGION))


def test_the_deployed_definitions_are_read_again_only_when_a_file_changes_or_comes(tmp_path: Path) -> None:
    folder, workers = tmp_path / "definitions", SAMPLES.names()
    folder.mkdir()
    shutil.copy(DEFINITIONS / "account-opening.yaml", folder)
    shutil.copytree(DEFINITIONS / "fragments", folder / "fragments")  # it includes fragments/identity-check.yaml
    first = deployed_definitions(workers, folder)
    assert deployed_definitions(workers, folder)[0] is first[0]  # every stack after the first: nothing read again

    for edited in [folder / "account-opening.yaml", folder / "fragments" / "identity-check.yaml"]:
        read = deployed_definitions(workers, folder)
        with edited.open("a", encoding="utf-8") as out:
            out.write("# edited\n")  # same definitions, other bytes: read again
        assert deployed_definitions(workers, folder)[0] is not read[0], edited.name
    shutil.copy(DEFINITIONS / "kyc-uplift.yaml", folder)
    assert sorted(d.id for d in deployed_definitions(workers, folder)) == ["account-opening", "kyc-uplift"]
