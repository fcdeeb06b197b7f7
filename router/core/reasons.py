"""Why a journey is where it is: a reason anyone can read, derived from the journey alone."""

from __future__ import annotations

from datetime import UTC, datetime

from router.core.model import FINISHED, Activation, ActivationKind, Journey, JourneyStatus


def waiting_on(journey: Journey) -> str:
    """A short, filterable code: customer, approver, worker:<name>, timer, escalated, orphaned or finished."""
    if journey.status in FINISHED:
        return "finished"
    if journey.status is JourneyStatus.STUCK:
        return "escalated"
    kinds = sorted({_code(a) for a in journey.open.values()})
    return ",".join(kinds) if kinds else "orphaned"


def why(journey: Journey, now: float) -> str:
    if journey.status in FINISHED:
        error = f": {journey.error['error']} at {journey.error['step']}" if journey.error else ""
        return f"{journey.status.value.lower()}{error}"
    if journey.status is JourneyStatus.STUCK:
        recorded = journey.error or {}
        return (
            f"escalated at step {recorded.get('step', journey.step)}: {recorded.get('message', 'no error recorded')}"
        )
    if not journey.open:
        return "orphaned: nothing in flight and nothing to wait for"
    return "; ".join(_describe(a, now) for a in sorted(journey.open.values(), key=lambda a: a.deadline))


def _code(activation: Activation) -> str:
    if activation.kind is ActivationKind.TASK:
        return f"worker:{activation.worker}"
    return {ActivationKind.INPUT: "customer", ActivationKind.APPROVAL: "approver", ActivationKind.TIMER: "timer"}[
        activation.kind
    ]


def _describe(activation: Activation, now: float) -> str:
    due = datetime.fromtimestamp(activation.deadline, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if activation.deadline < now:
        return f"orphaned: step {activation.step} passed its deadline ({due}) with nothing in flight"
    if activation.kind is ActivationKind.INPUT:
        reminded = ", reminded once" if activation.reminded else ""
        return f"waiting on the customer at step {activation.step} (due {due}{reminded})"
    if activation.kind is ActivationKind.APPROVAL:
        return f"waiting on an approver at step {activation.step} (due {due})"
    if activation.kind is ActivationKind.TIMER:
        return f"waiting until {due} at step {activation.step}"
    retrying = f", retrying after {activation.last_error}" if activation.retrying else ""
    return f"waiting on worker {activation.worker} at step {activation.branch or activation.step} (due {due}{retrying})"


def sla_breached(journey: Journey, now: float) -> bool:
    """An unfinished journey with an open activation past its deadline, or escalated to operators."""
    if journey.status in FINISHED:
        return False
    return journey.status is JourneyStatus.STUCK or any(a.deadline < now for a in journey.open.values())


def stuck_reason(journey: Journey, now: float) -> str | None:
    """Why an operator should look: escalated, orphaned or past an SLA; None while all is in hand."""
    reason = why(journey, now)
    return reason if sla_breached(journey, now) or reason.startswith("orphaned") else None
