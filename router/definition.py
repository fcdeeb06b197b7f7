"""The journey definition model: what a YAML file in definitions/ says, once parsed."""

from __future__ import annotations

import hashlib
import json
import re
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class StepType(StrEnum):
    TASK = "TASK"
    DECISION = "DECISION"
    APPROVAL = "APPROVAL"
    INPUT = "INPUT"
    WAIT = "WAIT"
    PARALLEL = "PARALLEL"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RetryPolicy(Model):
    max_attempts: int = Field(3, ge=1, le=10)
    backoff_seconds: float = Field(2, gt=0)
    backoff_rate: float = Field(2, ge=1)


class Trigger(Model):
    source: str
    detail_type: str


class StepBase(Model):
    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    label: str | None = None  # what a customer sees while the journey is here


class TaskStep(StepBase):
    type: Literal[StepType.TASK]
    worker: str
    sla_seconds: int = Field(gt=0)
    retry: RetryPolicy = RetryPolicy()
    next: str


class DecisionBranch(Model):
    when: str  # JMESPath over the journey state; truthy means take this branch
    goto: str


class DecisionStep(StepBase):
    type: Literal[StepType.DECISION]
    branches: list[DecisionBranch] = Field(min_length=1)
    default: str


class InputStep(StepBase):
    type: Literal[StepType.INPUT]
    sla_seconds: int = Field(gt=0)
    input_schema: dict[str, Any]
    store_as: str | None = None  # state key for the submitted data; merged at the top when absent
    next: str
    on_expiry: str | None = None  # where to go if the customer never answers; the journey fails when absent


class WaitStep(StepBase):
    type: Literal[StepType.WAIT]
    seconds: int = Field(gt=0)
    next: str


class ParallelBranch(Model):
    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    worker: str
    sla_seconds: int = Field(gt=0)
    retry: RetryPolicy = RetryPolicy()


class ParallelStep(StepBase):
    type: Literal[StepType.PARALLEL]
    branches: list[ParallelBranch] = Field(min_length=2)
    next: str


class ApprovalLevel(Model):
    role: str = Field(min_length=1)  # who may decide this level; the approver must hold it when deciding
    limit: float | None = Field(None, gt=0)  # the most this role may approve, compared with the step's `amount`
    timeout_seconds: int = Field(gt=0)  # the level expires (and the approval with it) when nobody decides in time


class ApprovalStep(StepBase):
    type: Literal[StepType.APPROVAL]
    sla_seconds: int = Field(gt=0)
    amount: str | None = None  # JMESPath to the amount the limits apply to
    initiator: str | None = None  # JMESPath to the maker in the state; the journey's initiator is one anyway
    levels: list[ApprovalLevel] = Field(min_length=1)
    store_as: str = "approval"  # state key for {outcome, approvers}, for a DECISION to branch on
    next: str


# A domain event type such as bank.payments.approval_granted: published when the journey ends here.
EventType = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9_-]*)+$", max_length=128)]


class SuccessStep(StepBase):
    type: Literal[StepType.SUCCESS]
    emit: EventType | None = None


class FailStep(StepBase):
    type: Literal[StepType.FAIL]
    error: str = "JourneyFailed"
    cause: str | None = None
    emit: EventType | None = None


Step = Annotated[
    TaskStep | DecisionStep | InputStep | WaitStep | ParallelStep | ApprovalStep | SuccessStep | FailStep,
    Field(discriminator="type"),
]

TERMINAL = (StepType.SUCCESS, StepType.FAIL)


def successors(step: Step) -> list[str]:
    """Names a step can move to, in declaration order."""
    if isinstance(step, DecisionStep):
        return [b.goto for b in step.branches] + [step.default]
    if isinstance(step, SuccessStep | FailStep):
        return []
    if isinstance(step, InputStep) and step.on_expiry:
        return [step.next, step.on_expiry]
    return [step.next]


# EventBridge takes the singular unit for 1 only: it refuses "rate(1 minutes)" and "rate(5 minute)" at deploy.
_SCHEDULE = re.compile(r"^rate\((1 (minute|hour|day)|([2-9]|[1-9]\d+) (minutes|hours|days))\)$|^cron\(.+\)$")


class Definition(Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: str
    title: str | None = None
    owning_domain: str
    triggers: list[Trigger] = []
    # A SYSTEM journey runs on a schedule instead of a trigger, with no input form: "rate(1 day)" or "cron(...)".
    schedule: str | None = None
    input_schema: dict[str, Any] = {"type": "object"}
    start_at: str
    steps: list[Step] = Field(min_length=1)
    # Days a finished journey and each transition record are kept before DynamoDB's TTL deletes them.
    retention_days: int = Field(400, ge=1, le=3650)

    @field_validator("schedule")
    @classmethod
    def _an_eventbridge_schedule(cls, schedule: str | None) -> str | None:
        if schedule is not None and not _SCHEDULE.match(schedule):
            raise ValueError(
                f"{schedule!r} is not an EventBridge schedule: rate(1 minute|hour|day), rate(N minutes|hours|days) "
                "with N of 2 or more, or cron(...)"
            )
        return schedule

    def step(self, name: str) -> Step:
        for candidate in self.steps:
            if candidate.name == name:
                return candidate
        raise KeyError(f"{self.id} has no step {name!r}")

    @cached_property
    def content_hash(self) -> str:
        """Pins a journey to exactly the definition it started with. Frozen, so hashed once (per copy)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Definition:
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("content_hash", None)  # a copy with updates hashes its own content
        return copy
