"""What the local stack deliberately leaves out of infra/template.yaml, and why.

provision.py builds every resource type and property it knows and raises on anything
else, unless it is named here. Adding a line here is a decision that the template and
the local stack may differ in that respect; nothing drifts silently.

Gaps of moto 5.2.5 that provision.py works around rather than skips (see MOTO.md):
- Lambda functions are not created: without Docker moto cannot run them. Each becomes a
  LocalFunction whose handler the devstack calls in-process.
- Event source mappings are not created: an enabled SQS mapping makes moto itself receive
  (and fail) the messages, pushing them toward the DLQ. Each becomes a poller source.
- A schedule rule that targets a function becomes a ScheduleSource: a Lambda target makes
  every matching put_events fail with HTTP 500, and moto never fires schedules anyway.
- A schedule rule that targets queues (a SYSTEM journey's) is created as a rule matching the
  Scheduled Events the devstack puts for it, with the same targets and InputTransformer; a
  rate(...) is put every rate, a cron(...) only when fired (`LocalStack.fire_schedule`).
- Resources are created through the service APIs, not moto's CloudFormation, which fails on
  `Ref` to an event bus, ignores DefinitionSubstitutions and hides state machines from the
  Step Functions interpreter.
"""

from __future__ import annotations

from collections.abc import Mapping

_NO_KMS = "KMS is skipped locally: local data is not encrypted"

SKIPPED_TYPES: Mapping[str, str] = {
    "AWS::SecretsManager::Secret": "the local stack makes its own proof key per run (LocalStack.proof_key)",
    "AWS::KMS::Key": _NO_KMS,
    "AWS::KMS::Alias": _NO_KMS,
    "AWS::IAM::Role": "moto does not enforce IAM; consumers run in-process with the emulator's credentials",
    "AWS::IAM::Policy": "moto does not enforce IAM",
    "AWS::IAM::ManagedPolicy": "moto does not enforce IAM",
    "AWS::CloudWatch::Alarm": "moto never evaluates alarms; read DLQ depth directly",
    "AWS::CloudWatch::Dashboard": "metrics stay local: `journeys stats` summarises what the dashboard would show",
    "AWS::Logs::LogGroup": "consumers log to the local process",
    "AWS::Logs::MetricFilter": "consumers log to the local process; `journeys list --status STUCK` shows the same",
    "AWS::Lambda::Permission": "there is no Lambda service locally: pollers call handlers in-process",
    "AWS::XRay::Group": "there is no tracing backend locally",
    "AWS::XRay::SamplingRule": "there is no tracing backend locally",
    "AWS::ApiGatewayV2::Api": "the local stack serves the same app with uvicorn (LocalStack.serve_api)",
    "AWS::ApiGatewayV2::Stage": "the local stack serves the same app with uvicorn (LocalStack.serve_api)",
    "AWS::Cognito::UserPool": "locally a development issuer signs the API's tokens (`journeys token`)",
    "AWS::Cognito::UserPoolClient": "locally a development issuer signs the API's tokens (`journeys token`)",
    "AWS::Cognito::UserPoolGroup": "locally a token's roles are given to `journeys token --roles`",
}

IGNORED_PROPERTIES: Mapping[str, Mapping[str, str]] = {
    "*": {"Tags": "tags are metadata with no local behaviour"},
    "AWS::SQS::Queue": {
        "KmsMasterKeyId": _NO_KMS,
        "KmsDataKeyReusePeriodSeconds": _NO_KMS,
    },
    "AWS::SNS::Topic": {"KmsMasterKeyId": _NO_KMS},
    "AWS::S3::Bucket": {
        "BucketEncryption": _NO_KMS,
        "PublicAccessBlockConfiguration": "nothing is public locally",
        "LifecycleConfiguration": "moto never expires objects (as TTL never deletes items)",
    },
    "AWS::DynamoDB::Table": {
        "SSESpecification": _NO_KMS,
        "PointInTimeRecoverySpecification": "no backups locally; moto keeps nothing across restarts",
        "DeletionProtectionEnabled": "local tables must stay disposable",
        "TableClass": "a storage price class: nothing behaves differently",
    },
    "AWS::Lambda::Function": {
        "Code": "the handler is imported from the working tree",
        "Role": "IAM is skipped",
        "Runtime": "handlers run on the developer's interpreter",
        "Architectures": "handlers run on the developer's machine",
        "MemorySize": "no Lambda sandbox locally",
        "Timeout": "the local pollers do not enforce Lambda's timeout",
        "TracingConfig": "there is no tracing backend locally",
        "LoggingConfig": "consumers log to the local process",
        "Description": "documentation only",
    },
    "AWS::Lambda::EventSourceMapping": {
        "ParallelizationFactor": "one local poller reads each stream shard, in order; parallel batches per shard "
        "matter only at AWS write rates (bench/capacity.py sizes it)",
    },
    "AWS::StepFunctions::StateMachine": {
        "LoggingConfiguration": "executions are inspected through the local API",
        "TracingConfiguration": "there is no tracing backend locally",
    },
}


def ignored_properties(resource_type: str) -> frozenset[str]:
    """Property names that provision.py drops for this type before building it."""
    return frozenset(IGNORED_PROPERTIES["*"]) | frozenset(IGNORED_PROPERTIES.get(resource_type, {}))
