"""The journey definition model: what a YAML file in definitions/ says, once parsed."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Errors a worker answers a task token with (reply "token"): the compiled state machines retry only the first.
RETRYABLE_ERROR = "Journeys.Retryable"
TERMINAL_ERROR = "Journeys.StepFailed"

LAPSE_SLACK = 30  # seconds of queue latency allowed per level (and around a compiled machine's level timer)
SWEEP_SLACK = 120  # the chain's own timer runs this long past its last level deadline: the watchdog sweeps
# every minute (infra/template.yaml), so a lapsed level reaches the chain before its backstop timer does


def chain_timeout(timeouts: list[int]) -> int:
    """How long the approval chain waits on its token at most: every level's timeout and slack per level, then
    SWEEP_SLACK. Each level lapses at its own deadline (the watchdog expires it); this timer is the backstop."""
    return sum(timeouts) + LAPSE_SLACK * len(timeouts) + SWEEP_SLACK


class StepType(StrEnum):
    TASK = "TASK"
    DECISION = "DECISION"
    APPROVAL = "APPROVAL"
    INPUT = "INPUT"
    WAIT = "WAIT"
    PARALLEL = "PARALLEL"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"


class Kind(StrEnum):
    """The workflow-engine page's kinds: what a journey does to a customer's subscription."""

    CREATE = "CREATE"  # produces a subscription
    MODIFY = "MODIFY"  # changes the subscription its business key names; one at a time per subscription
    TERMINATE = "TERMINATE"  # ends it; also one at a time, and never beside a MODIFY
    SYSTEM = "SYSTEM"  # scheduled, no input form


LOCKING = (Kind.MODIFY, Kind.TERMINATE)


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


ALL_ERRORS = "ALL"  # a catch for every error; ASL's "States.ALL" is read as the same


class Catch(Model):
    """Where a TASK goes when it fails for good (a terminal error, or retries exhausted), like ASL's Catch."""

    errors: list[str] = Field(min_length=1)  # a worker's error names (its exception's class), or ALL
    next: str
    result_path: str = Field("error", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")  # state key for {error, message, step}

    def catches(self, names: set[str]) -> bool:
        return bool({ALL_ERRORS, "States.ALL"} & set(self.errors)) or bool(names & set(self.errors))


class TaskStep(StepBase):
    type: Literal[StepType.TASK]
    worker: str
    sla_seconds: int = Field(gt=0)
    retry: RetryPolicy = RetryPolicy()
    next: str
    catch: list[Catch] = []  # the first that names the error wins; none: terminal fails, exhausted escalates

    @model_validator(mode="before")
    @classmethod
    def _worker_named_after_the_step(cls, data: Any) -> Any:
        """The MOD-062 design's TASKs name no worker (one shared handler ran them all): the step's name then."""
        if isinstance(data, dict) and "worker" not in data and isinstance(data.get("name"), str):
            return {**data, "worker": data["name"]}
        return data


# The MOD-062 design keys every DECISION on the previous step's `$.decision`: `when: CLEAR` there means
# "the state's `decision` is CLEAR". A bare upper-case word is read that way; anything else is JMESPath.
_DECIDED = re.compile(r"^[A-Z][A-Z0-9_]*$")


class DecisionBranch(Model):
    when: str  # JMESPath over the journey state; truthy means take this branch
    goto: str

    @field_validator("when")
    @classmethod
    def _design_shorthand(cls, when: str) -> str:
        return f"decision == '{when}'" if _DECIDED.match(when) else when


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
    # What the approvers certify (JMESPath over the state): a change to any of it after the approval opened
    # voids its decisions and asks again from level 1. Default: every field of the state it is entered with.
    covers: list[str] | None = Field(None, min_length=1)
    # "four-eyes": an operator may move a journey past this approval, and a second, different person must
    # confirm the move. Absent: no intervention ever moves a journey past it.
    override: Literal["four-eyes"] | None = None
    next: str


# A domain event type such as bank.payments.approval_granted: published when the journey ends here.
EventType = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9_-]*)+$", max_length=128)]


# Published with `emit` as the event's `reason`: a fixed code the receiving domain branches on (expired, withdrawn).
Reason = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class SuccessStep(StepBase):
    type: Literal[StepType.SUCCESS]
    emit: EventType | None = None
    reason: Reason | None = None


class FailStep(StepBase):
    type: Literal[StepType.FAIL]
    error: str = "JourneyFailed"
    cause: str | None = None
    emit: EventType | None = None
    reason: Reason | None = None


class Outcome(Model):
    """A domain event the definition publishes when its journey ends other than at a step (a cancellation)."""

    emit: EventType
    reason: Reason | None = None


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
    if isinstance(step, TaskStep):
        return [step.next, *(c.next for c in step.catch)]
    return [step.next]


# EventBridge takes the singular unit for 1 only: it refuses "rate(1 minutes)" and "rate(5 minute)" at deploy.
_SCHEDULE = re.compile(r"^rate\((1 (minute|hour|day)|([2-9]|[1-9]\d+) (minutes|hours|days))\)$|^cron\(.+\)$")


class Definition(Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: str
    title: str | None = None
    kind: Kind | None = None  # a subscription workflow's kind; None: not about a subscription
    owning_domain: str
    triggers: list[Trigger] = []
    # A SYSTEM journey runs on a schedule instead of a trigger, with no input form: "rate(1 day)" or "cron(...)".
    schedule: str | None = None
    input_schema: dict[str, Any] = {"type": "object"}
    on_cancel: Outcome | None = None  # published when an operator cancels a journey (CAP-090: withdrawn)
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
        canonical = json.dumps(_pinned(self.model_dump(mode="json")), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Definition:
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("content_hash", None)  # a copy with updates hashes its own content
        return copy


# Fields added after journeys were first pinned to hashes: hashed only when set, so a definition that does not
# use them keeps the hash its journeys (and its published copy) were pinned to.
_LATER_FIELDS: dict[str, Any] = {"kind": None, "on_cancel": None}
_LATER_STEP_FIELDS: dict[str, Any] = {"catch": [], "reason": None}


def _pinned(dump: dict[str, Any]) -> dict[str, Any]:
    def strip(data: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in data.items() if not (k in later and v == later[k])}

    return {**strip(dump, _LATER_FIELDS), "steps": [strip(step, _LATER_STEP_FIELDS) for step in dump["steps"]]}
