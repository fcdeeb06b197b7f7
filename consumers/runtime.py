"""Settings and clients, built once per process from the environment and passed in; nothing at import time.

Adapters, boto3 and the definition loader are imported where they are first used, so a consumer's cold
start loads only what that consumer uses (bench/cpu.py measures each consumer's import time).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, field_validator

from consumers.telemetry import Emit, Telemetry, tracer_for
from workers.step import Workers

if TYPE_CHECKING:
    import boto3

    from router.core.circuits import Breaker
    from router.language.registry import Registry
    from router.runtime.approval_desk import ApprovalDesk
    from router.runtime.journal import Journal
    from router.runtime.service import Router


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    journeys_table: str = Field(alias="JOURNEYS_TABLE")
    transition_log_table: str = Field("", alias="TRANSITION_LOG_TABLE")
    idempotency_table: str = Field("", alias="IDEMPOTENCY_TABLE")
    start_queue_url: str = Field("", alias="START_QUEUE_URL")
    advance_queue_url: str = Field(alias="ADVANCE_QUEUE_URL")
    dead_letter_queue_url: str = Field("", alias="DEAD_LETTER_QUEUE_URL")
    worker_queues: dict[str, str] = Field(default_factory=dict, alias="WORKER_QUEUES")
    # worker -> its circuit breaker's policy (router/core/circuits.py BreakerPolicy fields); unnamed workers have none
    circuit_breakers: dict[str, dict[str, float]] = Field(default_factory=dict, alias="CIRCUIT_BREAKERS")
    domain_buses: dict[str, str] = Field(default_factory=dict, alias="DOMAIN_BUSES")
    approval_queue_url: str = Field("", alias="APPROVAL_QUEUE_URL")
    retry_state_machine_arn: str = Field("", alias="RETRY_STATE_MACHINE_ARN")
    approval_state_machine_arn: str = Field("", alias="APPROVAL_STATE_MACHINE_ARN")
    tickets_table: str = Field("", alias="TICKETS_TABLE")
    alerts_topic_arn: str = Field("", alias="ALERTS_TOPIC_ARN")
    # The key of the router's proofs (router/core/proofs.py): every answer on a queue must carry one. On AWS a Secrets
    # Manager secret (infra/template.yaml ProofKeySecret); locally the stack's own, per run.
    proof_key: str = Field("", alias="PROOF_KEY", repr=False)
    # Who signs the tokens approval_recorded events carry: on AWS the user pool (issuer URL; its JWKS is read from
    # it), locally the development issuer's secret (`journeys up` writes it beside the settings).
    approver_issuer: str = Field("", alias="APPROVER_TOKEN_ISSUER")
    approver_secret: str = Field("", alias="APPROVER_TOKEN_SECRET", repr=False)
    payload_bucket: str = Field("", alias="PAYLOAD_BUCKET")  # claim check: step outputs too large for a message
    region: str = Field("eu-west-1", alias="AWS_REGION")
    endpoint_url: str | None = Field(None, alias="AWS_ENDPOINT_URL")

    @field_validator("worker_queues", "domain_buses", "circuit_breakers", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        return cls.model_validate(dict(environ))


def _sample_workers() -> Workers:
    from workers.samples import SAMPLES

    return SAMPLES


@dataclass
class Runtime:
    """Everything a consumer needs, wired from one Settings and one boto3 session."""

    settings: Settings
    session: boto3.Session
    registry: Registry
    workers: Workers = field(default_factory=_sample_workers)
    clock: Any = time.time
    emit: Emit = print  # where EMF metric documents go: stdout on Lambda (CloudWatch Logs extracts them)
    tracer: Any = None  # a Powertools Tracer on Lambda (consumers/telemetry.py)
    # Hooks between a transition's commit and its actions, and between a message's actions and its acknowledgement:
    # None in production; a fault-injection harness sets them from outside the shipped code.
    after_commit: Callable[[], None] | None = None
    after_act: Callable[[], None] | None = None
    _clients: dict[str, Any] = field(default_factory=dict)
    _queue_urls: dict[str, str] = field(default_factory=dict)
    jitter: Callable[[], float] = random.random  # spreads busy messages' retries (consumers/batch.py)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            from botocore.config import Config

            # boto3-stubs type client() per literal service name; this cache serves any name, as Any
            make = cast(Callable[..., Any], self.session.client)
            self._clients[service] = make(
                service,
                region_name=self.settings.region,
                endpoint_url=self.settings.endpoint_url,
                config=Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30),
            )
        return self._clients[service]

    @cached_property
    def router(self) -> Router:
        from router.adapters.dispatch import AwsDispatcher, Targets
        from router.adapters.dynamodb import DynamoJourneyStore
        from router.adapters.locks import DynamoLocks
        from router.adapters.usage import AwsUsageMeter
        from router.core.subscriptions import SubscriptionGate
        from router.runtime.service import Router

        store = DynamoJourneyStore(self.client("dynamodb"), self.settings.journeys_table)
        targets = Targets(
            worker_queues=self.settings.worker_queues,
            timer_queue=self.settings.advance_queue_url,
            token_queue=self.settings.approval_queue_url,
            retry_machine=self.settings.retry_state_machine_arn,
            approval_machine=self.settings.approval_state_machine_arn,
            alerts_topic=self.settings.alerts_topic_arn,
        )
        clients = [self.client(name) for name in ("dynamodb", "sqs", "stepfunctions", "sns")]
        dispatcher = AwsDispatcher(clients[1], clients[2], clients[3], targets)
        if not self.settings.proof_key:
            raise RuntimeError("PROOF_KEY is not set: the router cannot prove its work or verify answers")
        gate = SubscriptionGate(DynamoLocks(clients[0], self.settings.journeys_table), store)
        meter = AwsUsageMeter(clients, dispatcher)
        key = self.settings.proof_key.encode()
        router = Router(self.registry, store, dispatcher, self.clock, meter, proof_key=key, gate=gate)
        router.after_commit = self.after_commit
        return router

    def vouch(self, token: str) -> tuple[str, list[str]]:
        """Who signed-in person a token names, and their roles, if the approval service's issuer signed it;
        raise Unvouched otherwise. An approval event's approver is who this says, never what the event says."""
        from router.adapters.vouch import vouch

        return vouch(self.settings, token)

    @cached_property
    def breaker(self) -> Breaker:
        """Circuit breakers per worker, shared through the idempotency table (router/core/circuits.py)."""
        from router.adapters.circuits import DynamoCircuits
        from router.core.circuits import Breaker, BreakerPolicy

        circuits = DynamoCircuits(self.client("dynamodb"), self.settings.idempotency_table)
        policies = {w: BreakerPolicy.model_validate(p) for w, p in self.settings.circuit_breakers.items()}
        return Breaker(circuits, policies, self.clock)

    def telemetry(self, service: str) -> Telemetry:
        """The metrics (and trace spans) of one invocation of the consumer named `service`."""
        return Telemetry(service, self.emit, self.tracer)

    @cached_property
    def desk(self) -> ApprovalDesk:
        """The approval desk as the approvals function runs it: it answers task tokens itself."""
        from router.adapters.dynamodb import DynamoJourneyStore
        from router.adapters.events import EventBridgePublisher
        from router.adapters.tickets import DynamoTicketStore, StepFunctionsTokens
        from router.runtime.approval_desk import ApprovalDesk

        return ApprovalDesk(
            DynamoTicketStore(self.client("dynamodb"), self.settings.tickets_table),
            DynamoJourneyStore(self.client("dynamodb"), self.settings.journeys_table),
            self.registry,
            self.clock,
            events=EventBridgePublisher(self.client("events"), self.settings.domain_buses),
            tokens=StepFunctionsTokens(self.client("stepfunctions")),
        )

    @cached_property
    def journal(self) -> Journal:
        from router.adapters.dynamodb import DynamoTransitionLog
        from router.adapters.events import EventBridgePublisher
        from router.runtime.journal import Journal

        log = DynamoTransitionLog(self.client("dynamodb"), self.settings.transition_log_table)
        return Journal(log, EventBridgePublisher(self.client("events"), self.settings.domain_buses))

    def send_again(self, queue_arn: str, body: str, attributes: dict[str, Any], delay: int) -> None:
        """Send a message again to the queue it came from, after `delay` seconds, as a new message."""
        sqs = self.client("sqs")
        if queue_arn not in self._queue_urls:  # once per queue and process: the URL never changes
            *_, account, name = queue_arn.split(":")
            self._queue_urls[queue_arn] = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(
            QueueUrl=self._queue_urls[queue_arn], MessageBody=body, MessageAttributes=attributes, DelaySeconds=delay
        )

    def reject(self, body: str, reason: str) -> None:
        """Park a message that can never succeed in this function's DLQ, with its reason attached."""
        self.client("sqs").send_message(
            QueueUrl=self.settings.dead_letter_queue_url,
            MessageBody=body,
            MessageAttributes={"rejection_reason": {"DataType": "String", "StringValue": reason[:1000]}},
        )


def runtime_from_env(environ: Mapping[str, str]) -> Runtime:
    import boto3

    from router.language.registry import Registry

    return with_published_definitions(Runtime(Settings.from_env(environ), boto3.Session(), Registry([])))


def with_published_definitions(runtime: Runtime, known_workers: set[str] | None = None) -> Runtime:
    """Definitions from definitions/, then the published copies in the journeys table: a journey pinned to a
    version this deploy no longer carries still runs on it."""
    from router.adapters.definitions import DynamoDefinitionStore
    from router.language.versions import PublishedRegistry

    store = DynamoDefinitionStore(runtime.client("dynamodb"), runtime.settings.journeys_table)
    runtime.registry = PublishedRegistry.deployed_and_published(store, known_workers=known_workers)
    return runtime


Consume = Callable[[Runtime, dict[str, Any], Any], dict[str, Any]]


def lambda_handler(consume: Consume, logger: Logger) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda entry point for a consumer: its runtime is built on the first call, then reused."""

    @cache
    def entry() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        runtime = runtime_from_env(os.environ)
        runtime.tracer = tracer_for(logger.service, os.environ)

        def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
            return consume(runtime, event, context)

        if runtime.tracer is None:
            return invoke
        invoke.__name__ = logger.service  # the invocation's subsegment: "## journeys-start"
        traced = runtime.tracer.capture_lambda_handler(invoke, capture_response=False)
        return cast(Callable[[dict[str, Any], Any], dict[str, Any]], traced)  # Powertools returns it as Any

    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return entry()(event, context)

    return handler
