"""Which journeys an operator should look at, and why (router/core/reasons.py, pure)."""

from __future__ import annotations

from typing import Any

import pytest

from router.core.model import Activation, ActivationKind, Journey, JourneyStatus
from router.core.reasons import stuck_reason

INPUT = Activation(id="j.2", step="request-details", kind=ActivationKind.INPUT, opened_seq=2, deadline=100.0)


def journey(status: JourneyStatus, **fields: Any) -> Journey:
    return Journey(
        id="j",
        definition_id="kyc-uplift",
        definition_version="1.0.0",
        definition_hash="h",
        status=status,
        version=2,
        step="request-details",
        state={},
        initiator="t",
        created_at=0.0,
        updated_at=0.0,
        **fields,
    )


@pytest.mark.parametrize(
    ("j", "now", "reason"),
    [
        (journey(JourneyStatus.RUNNING, open={INPUT.id: INPUT}), 50.0, None),
        (journey(JourneyStatus.RUNNING, open={INPUT.id: INPUT}), 150.0, "orphaned: step request-details passed"),
        (journey(JourneyStatus.RUNNING), 50.0, "orphaned: nothing in flight"),
        (journey(JourneyStatus.STUCK, error={"step": "verify-identity", "message": "boom"}), 50.0, "escalated at"),
        (journey(JourneyStatus.SUCCEEDED), 50.0, None),
    ],
    ids=["in-hand", "past-its-deadline", "nothing-in-flight", "escalated", "finished"],
)
def test_stuck_reason_names_escalated_orphaned_and_overdue_journeys_only(
    j: Journey, now: float, reason: str | None
) -> None:
    found = stuck_reason(j, now)
    if reason is None:
        assert found is None
    else:
        assert found is not None and found.startswith(reason)
