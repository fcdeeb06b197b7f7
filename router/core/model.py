"""Journeys, activations, the events that move them and the transitions they commit."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field

from router.core.usage import Usage, cost_usd
from router.language.definition import RETRYABLE_ERROR, TERMINAL_ERROR, Model


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
    retrying: bool = False  # a retry chain (Step Functions) owns the attempts now
    last_error: str | None = None
    reminded: bool = False  # INPUT: the customer has been reminded once
    opened_at: float | None = None  # when it opened: the step's latency is measured from here
    covers: list[str] | None = None  # APPROVAL: the fields its approvers certify (router/core/gates.py) ...
    digest: str | None = None  # ... and their digest when it opened


class Grant(Model):
    """An approval granted on the covered fields' digest; a journey keeps one per APPROVAL step it passed."""

    digest: str
    paths: list[str]
    approvers: list[str] = []


class Override(Model):
    """An operator's move past an approval gate, waiting for a second, different person to confirm it."""

    step: str  # where to go
    gate: str  # the approval it passes
    proposed_by: str
    reason: str
    version: int  # the journey's version when proposed: a confirmation of a journey that moved on is refused


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
    closed_by: dict[str, int] = {}  # the CLOSED_WINDOW most recently consumed activations -> consuming sequence
    path: list[str] = []  # the most recent steps entered, in order (PATH_WINDOW; all of them in the log)
    initiator: str
    business_key: str | None = None
    error: dict[str, str] | None = None  # why it failed, or why it was escalated
    created_at: float
    updated_at: float
    cost_usd: float = 0.0  # the running sum of its transitions' cost_usd (router/core/usage.py)
    granted: dict[str, Grant] = {}  # APPROVAL steps passed, by step name, with what they certified
    override: Override | None = None  # a move past an approval gate proposed, not yet confirmed
    expires_at: float | None = None  # once finished: when DynamoDB's TTL may delete it (definition retention_days)

    @property
    def next_deadline(self) -> float | None:
        """What the SLA watchdog's index sorts on; finished and escalated journeys leave the index."""
        if self.status is not JourneyStatus.RUNNING:
            return None
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
    task_token: str | None = Field(None, repr=False)  # set when a retry chain's attempt ran the step
    proof: str | None = Field(None, repr=False)  # the router's proof for this activation (router/core/proofs.py)


class StepFailed(Model):
    kind: Literal["step_failed"] = "step_failed"
    journey_id: str
    activation_id: str
    error: str
    message: str = ""
    retryable: bool = False
    actor: str
    task_token: str | None = Field(None, repr=False)
    proof: str | None = Field(None, repr=False)  # the router's proof for this activation (router/core/proofs.py)


class RetriesExhausted(Model):
    """From the retry queue: the step's retry chain ran out of attempts."""

    kind: Literal["retries_exhausted"] = "retries_exhausted"
    journey_id: str
    activation_id: str
    error: str = "RetriesExhausted"
    message: str = ""
    proof: str | None = Field(None, repr=False)  # the router's proof for this activation (router/core/proofs.py)


class DeadlinePassed(Model):
    """From the SLA watchdog: some open activation of this journey may be past its deadline."""

    kind: Literal["deadline_passed"] = "deadline_passed"
    journey_id: str


class ApprovalOutcome(Model):
    """From the approval state machine when its chain of levels resolves."""

    kind: Literal["approval_outcome"] = "approval_outcome"
    journey_id: str
    activation_id: str
    outcome: Literal["granted", "rejected", "expired", "withdrawn"]
    approvers: list[str] = []  # who approved, level by level (for a rejection: the levels before it)
    digest: str | None = None  # granted: the covered fields' digest every level's approver saw
    proof: str | None = Field(None, repr=False)  # the router's proof for this activation (router/core/proofs.py)
    rejected_by: str | None = None
    reason: str | None = None


class Command(StrEnum):
    RETRY = "retry"
    SKIP = "skip"
    GOTO = "goto"
    PATCH = "patch"
    CANCEL = "cancel"
    RESUME = "resume"
    CONFIRM = "confirm"  # a second person confirms an operator's override of an approval gate


class Intervention(Model):
    """An operator's command; refused unless the journey is still at `expected_version`."""

    kind: Literal["intervention"] = "intervention"
    journey_id: str
    command: Command
    expected_version: int
    actor: str = Field(min_length=1)
    reason: str = Field(min_length=3, max_length=1000)
    output: dict[str, Any] | None = None  # skip: the step's output
    step: str | None = None  # goto: where to
    patch: dict[str, Any] | None = None  # patch: merged into the state


class InputSubmitted(Model):
    kind: Literal["input_submitted"] = "input_submitted"
    journey_id: str
    activation_id: str
    data: dict[str, Any]
    actor: str = "customer"
    proof: str | None = Field(None, repr=False)  # the router's proof for this activation (router/core/proofs.py)


class TimerFired(Model):
    kind: Literal["timer_fired"] = "timer_fired"
    journey_id: str
    activation_id: str
    proof: str | None = Field(None, repr=False)  # the router's proof for this activation (router/core/proofs.py)


Answer = StepSucceeded | StepFailed | InputSubmitted | TimerFired | ApprovalOutcome | RetriesExhausted
Event = Annotated[StartJourney | Answer | DeadlinePassed | Intervention, Field(discriminator="kind")]


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
    lifecycle: list[str] = []  # journey_started, journey_completed, journey_failed, journey_stuck, ...
    reason: str | None = None  # an operator's stated reason, for interventions; an approver's, for a rejection
    emits: list[str] = []  # domain event types the definition publishes here (`emit:` on SUCCESS/FAIL)
    emitted: dict[str, Any] = {}  # what those events carry besides the ids: {reason, failure: {error, step}}
    business_key: str | None = None  # the id the triggering domain knows the journey by
    waited: float | None = None  # seconds the answered activation was open (the step's latency)
    lasted: float | None = None  # seconds from the journey's start, on the transition that finished it
    usage: Usage | None = None  # the AWS usage this transition caused (router/core/usage.py)
    cost_usd: float = 0.0  # its list price
    expires_at: float | None = None  # when DynamoDB's TTL may delete the record (definition retention_days)


# Actions: what the consumer performs after the commit, all idempotent by activation id.


class SendWork(Model):
    kind: Literal["send_work"] = "send_work"
    worker: str
    activation_id: str
    journey_id: str
    step: str
    state: dict[str, Any]
    proof: str | None = Field(None, repr=False)  # the router's proof for this activation (router/core/proofs.py)


class ArmTimer(Model):
    kind: Literal["arm_timer"] = "arm_timer"
    activation_id: str
    journey_id: str
    delay_seconds: int
    proof: str | None = Field(None, repr=False)  # the router's proof for this activation (router/core/proofs.py)


class StartRetryChain(Model):
    """Start the retry-chain execution named after the activation: backoff, re-dispatch, escalate."""

    kind: Literal["start_retry_chain"] = "start_retry_chain"
    activation_id: str
    journey_id: str
    delays: list[int]  # seconds to wait before each remaining attempt, jitter included
    attempt_timeout: int
    work: SendWork



class CloseToken(Model):
    """Answer a Step Functions task token; performed by the one consumer allowed to."""

    kind: Literal["close_token"] = "close_token"
    activation_id: str
    journey_id: str
    task_token: str = Field(repr=False)
    success: bool
    error: str | None = None
    cause: str | None = None
    output: dict[str, Any] | None = None  # a step worker's output, for a state machine that waits on it


def token_reply(answer: StepSucceeded | StepFailed, task_token: str) -> CloseToken:
    """A worker's answer as the token's answer: the output on success; on failure an error that says
    whether a state machine's Retry may try again, the worker's error and message in the cause."""
    ids = {"activation_id": answer.activation_id, "journey_id": answer.journey_id, "task_token": task_token}
    if isinstance(answer, StepSucceeded):
        return CloseToken.model_validate({**ids, "success": True, "output": answer.output})
    error = RETRYABLE_ERROR if answer.retryable else TERMINAL_ERROR
    cause = f"{answer.error}: {answer.message}"[:32768]
    return CloseToken.model_validate({**ids, "success": False, "error": error, "cause": cause})


class StartApproval(Model):
    """Start the approval execution named after the activation; its input is this action as JSON."""

    kind: Literal["start_approval"] = "start_approval"
    activation_id: str
    journey_id: str
    step: str
    levels: list[dict[str, Any]]  # {level (1-based), role, limit, timeout_seconds}
    amount: float | None
    initiator: str  # the maker: never one of the approvers
    timeout_seconds: int  # the chain's backstop timer (router.core.approvals.chain_timeout)
    digest: str  # of the fields the approvers certify (router/core/gates.py): every decision is taken on it
    proof: str | None = Field(None, repr=False)  # set by the dispatcher: the chain's outcome carries it back


class WithdrawApproval(Model):
    """An approval activation the journey no longer waits on (cancelled, moved away, voided): its open tickets
    are withdrawn and its chain told, by the approvals function."""

    kind: Literal["withdraw_approval"] = "withdraw_approval"
    activation_id: str
    journey_id: str
    step: str
    reason: str


class Alert(Model):
    kind: Literal["alert"] = "alert"
    activation_id: str
    journey_id: str
    subject: str
    message: str


Action = Annotated[
    SendWork | ArmTimer | StartRetryChain | CloseToken | StartApproval | WithdrawApproval | Alert,
    Field(discriminator="kind"),
]


def charge(journey: Journey, record: TransitionRecord, usage: Usage) -> tuple[Journey, TransitionRecord]:
    """The record carries its usage and price; the journey's running cost adds that price, so a journey's
    cost_usd is, to the bit, the sum of its transitions' cost_usd in order."""
    cost = cost_usd(usage)
    return (
        journey.model_copy(update={"cost_usd": journey.cost_usd + cost}),
        record.model_copy(update={"usage": usage, "cost_usd": cost}),
    )
