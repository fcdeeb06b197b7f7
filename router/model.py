"""Journeys, activations, the events that move them and the transitions they commit."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field

from router.definition import Model


class JourneyStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    STUCK = "STUCK"


FINISHED = (JourneyStatus.SUCCEEDED, JourneyStatus.FAILED, JourneyStatus.CANCELLED)


class ActivationKind(StrEnum):
    TASK = "TASK"
    INPUT = "INPUT"
    TIMER = "TIMER"
    APPROVAL = "APPROVAL"


class Activation(Model):
    """One open piece of work the journey waits on; answered at most once."""

    id: str  # journey id + sequence (+ branch), e.g. "j-1.4" or "j-1.4.fraud"
    step: str
    kind: ActivationKind
    opened_seq: int
    deadline: float
    worker: str | None = None
    branch: str | None = None
    wake_at: float | None = None
    attempt: int = 1


class Journey(Model):
    id: str
    definition_id: str
    definition_version: str
    definition_hash: str
    status: JourneyStatus
    version: int  # the number of committed transitions; the sequence of the last one
    step: str | None  # where the journey waits (the PARALLEL step while its branches run)
    state: dict[str, Any]
    open: dict[str, Activation] = {}
    closed_by: dict[str, int] = {}  # activation id -> sequence of the transition that consumed it
    path: list[str] = []  # every step entered, in order
    initiator: str
    business_key: str | None = None
    error: dict[str, str] | None = None
    created_at: float
    updated_at: float

    @property
    def next_deadline(self) -> float | None:
        return min((a.deadline for a in self.open.values()), default=None)


# Events: what arrives at the router. Each names the activation it answers, except a start.


class StartJourney(Model):
    kind: Literal["start"] = "start"
    journey_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    definition_id: str
    definition_version: str | None = None  # the newest when absent
    input: dict[str, Any] = {}
    actor: str = "system"
    business_key: str | None = None


class StepSucceeded(Model):
    kind: Literal["step_succeeded"] = "step_succeeded"
    journey_id: str
    activation_id: str
    output: dict[str, Any] = {}
    actor: str


class StepFailed(Model):
    kind: Literal["step_failed"] = "step_failed"
    journey_id: str
    activation_id: str
    error: str
    message: str = ""
    retryable: bool = False
    actor: str


class InputSubmitted(Model):
    kind: Literal["input_submitted"] = "input_submitted"
    journey_id: str
    activation_id: str
    data: dict[str, Any]
    actor: str = "customer"


class TimerFired(Model):
    kind: Literal["timer_fired"] = "timer_fired"
    journey_id: str
    activation_id: str


Answer = StepSucceeded | StepFailed | InputSubmitted | TimerFired
Event = Annotated[StartJourney | Answer, Field(discriminator="kind")]


class TransitionRecord(Model):
    """What one committed transition did; the journal turns it into the log and CloudEvents."""

    journey_id: str
    seq: int
    at: float
    definition_id: str
    definition_version: str
    owning_domain: str
    event: str
    actor: str
    step_name: str  # the step that completed (or the first step, for a start)
    step_result: str
    activation_id: str | None = None
    entered: list[str] = []  # steps entered by this transition, decisions included
    status: JourneyStatus
    lifecycle: list[str] = []  # journey_started, journey_completed, journey_failed


# Actions: what the consumer performs after the commit, all idempotent by activation id.


class SendWork(Model):
    kind: Literal["send_work"] = "send_work"
    worker: str
    activation_id: str
    journey_id: str
    step: str
    state: dict[str, Any]


class ArmTimer(Model):
    kind: Literal["arm_timer"] = "arm_timer"
    activation_id: str
    journey_id: str
    delay_seconds: int


Action = Annotated[SendWork | ArmTimer, Field(discriminator="kind")]
