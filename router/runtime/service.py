"""The router service: load, decide, commit with one conditional write, then act."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from router.core.decide import Absorb, Commit, Rejected, decide
from router.core.model import (
    FINISHED,
    Action,
    ApprovalOutcome,
    ArmTimer,
    Event,
    InputSubmitted,
    Journey,
    RetriesExhausted,
    SendWork,
    StartApproval,
    StartJourney,
    StartRetryChain,
    StepFailed,
    StepSucceeded,
    TimerFired,
    charge,
)
from router.core.proofs import proof_for, verify
from router.core.subscriptions import SubscriptionGate
from router.core.usage import APPROVAL_TRANSITIONS, Usage
from router.language.definition import Definition
from router.language.registry import Registry, UnknownDefinition
from router.ports import Dispatcher, JourneyStore, Unmetered, UsageMeter, VersionConflict

MAX_CONFLICTS = 8
# Answers that arrive on a queue anyone with send rights could write to: applied only with the router's proof.
PROVEN = (StepSucceeded, StepFailed, RetriesExhausted, InputSubmitted, TimerFired, ApprovalOutcome)


class DefinitionChanged(Rejected):
    """The journey's pinned definition no longer matches what this process loaded."""


class Router:
    def __init__(
        self,
        registry: Registry,
        store: JourneyStore,
        dispatcher: Dispatcher,
        clock: Callable[[], float],
        meter: UsageMeter | None = None,
        proof_key: bytes | None = None,
        gate: SubscriptionGate | None = None,
    ) -> None:
        """`proof_key`: answers must carry the proof issued with their work (router/core/proofs.py); the deployed
        engine always passes one. Without it (unit tests of the decision), answers are taken as they come."""
        self.registry, self.store, self.dispatcher, self.clock = registry, store, dispatcher, clock
        self.meter = meter or Unmetered()
        self.proof_key = proof_key
        # Called between the commit and its actions; nothing in production. A fault-injection harness sets it to
        # kill the consumer at the worst moment, from outside the shipped code.
        self.after_commit: Callable[[], None] | None = None
        self.gate = gate  # subscription locks for MODIFY and TERMINATE journeys (router/core/subscriptions.py)
        self.counts: Counter[str] = Counter()

    def handle(self, event: Event, redelivered: bool = False) -> Commit | Absorb:
        """Apply one event exactly once; safe to call again with the same event.

        `redelivered`: the message came back after an unfinished attempt, so a duplicate's actions
        are performed again (the attempt may have died between commit and send).
        """
        self.meter.begin()
        if self.proof_key is not None and isinstance(event, PROVEN):
            verify(self.proof_key, event.journey_id, event.activation_id, event.proof)
        outcome = self._commit(event, redelivered)
        if self.after_commit is not None:
            self.after_commit()
        self.dispatcher.perform(self._proved(outcome.actions))
        if self.gate is not None and isinstance(outcome, Commit) and outcome.journey.status in FINISHED:
            journey = outcome.journey  # lost to a crash here, the lock is taken over later (its holder finished)
            self.gate.release(
                self.registry.get(journey.definition_id, journey.definition_version), journey, self.clock()
            )
        self.counts["committed" if isinstance(outcome, Commit) else f"absorbed: {outcome.reason}"] += 1
        return outcome

    def _proved(self, actions: list[Action]) -> list[Action]:
        """The actions, each carrying the proof its answer must hand back."""
        if self.proof_key is None:
            return actions
        key = self.proof_key

        def proved(action: Action) -> Action:
            if isinstance(action, SendWork | ArmTimer | StartApproval):
                return action.model_copy(update={"proof": proof_for(key, action.journey_id, action.activation_id)})
            if isinstance(action, StartRetryChain):
                return action.model_copy(update={"work": proved(action.work)})
            return action

        return [proved(action) for action in actions]

    def _commit(self, event: Event, redelivered: bool) -> Commit | Absorb:
        # A start needs no read: its conditional write fails on an existing journey and returns it.
        journey = None if isinstance(event, StartJourney) else self.store.load(event.journey_id)
        try:
            return self._attempt(event, journey, redelivered)  # the usual case: no race, no retry machinery
        except VersionConflict as conflict:
            journey = conflict.current
        retrying = Retrying(
            retry=retry_if_exception_type(VersionConflict),
            stop=stop_after_attempt(MAX_CONFLICTS - 1),
            wait=wait_random_exponential(multiplier=0.005, max=0.2),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                try:
                    outcome = self._attempt(event, journey, redelivered)
                except VersionConflict as conflict:
                    journey = conflict.current
                    raise
        return outcome

    def _attempt(self, event: Event, journey: Journey | None, redelivered: bool) -> Commit | Absorb:
        """Decide on `journey` as loaded and commit; a lost race raises VersionConflict with the current item."""
        definition = self._definition(event, journey)
        outcome = decide(definition, journey, event, self.clock(), redelivered)
        if isinstance(outcome, Commit):
            outcome = self._charged(outcome, event)
            if self.gate is not None and isinstance(event, StartJourney):  # refused here if it is someone else's
                self.gate.acquire(definition, outcome.journey, self.clock())
            try:
                self.store.commit(outcome.journey, outcome.record)
            except VersionConflict:
                self.counts["conflicts"] += 1
                raise
        return outcome

    def _charged(self, commit: Commit, event: Event) -> Commit:
        """The commit carrying what it costs: its record the usage, its journey the running total."""
        chain = Usage()
        if isinstance(event, ApprovalOutcome):  # the approval execution that produced this outcome
            chain = Usage(sfn_transitions=APPROVAL_TRANSITIONS)
        usage = self.meter.usage(commit.journey, commit.record, commit.actions, chain)
        journey, record = charge(commit.journey, commit.record, usage)
        return commit.model_copy(update={"journey": journey, "record": record})

    def _definition(self, event: Event, journey: Journey | None) -> Definition:
        try:
            if journey is None:
                if not isinstance(event, StartJourney):
                    raise Rejected(f"journey {event.journey_id} does not exist")
                return self.registry.get(event.definition_id, event.definition_version)
            definition = self.registry.get(journey.definition_id, journey.definition_version)
        except UnknownDefinition as exc:
            raise Rejected(str(exc)) from exc
        if definition.content_hash != journey.definition_hash:
            raise DefinitionChanged(
                f"{definition.id} {definition.version} changed since journey {journey.id} started "
                f"(hash {journey.definition_hash}, loaded {definition.content_hash}); publish a new version"
            )
        return definition
