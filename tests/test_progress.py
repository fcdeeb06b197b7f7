"""What a customer sees of their journey: percent along the path still ahead, and what is needed next (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from router.core.model import Activation, ActivationKind, Journey, JourneyStatus
from router.core.progress import needed, percent, steps_ahead
from router.language.registry import Registry

KYC = Registry.from_directory().get("kyc-uplift")  # request-details > verify-identity > (decision) > confirm > done


def at(step: str, path: list[str], status: JourneyStatus = JourneyStatus.RUNNING, **fields: Any) -> Journey:
    return Journey(
        id="j-1",
        definition_id=KYC.id,
        definition_version=KYC.version,
        definition_hash=KYC.content_hash,
        status=status,
        version=len(path),
        step=step,
        state={},
        path=path,
        initiator="test",
        created_at=0.0,
        updated_at=0.0,
        **fields,
    )


def test_steps_ahead_skip_decisions_and_stop_before_success() -> None:
    """From the input step: itself, the check and the confirmation; the instant decision does not count."""
    assert steps_ahead(KYC, "request-details") == 3
    assert steps_ahead(KYC, "confirm") == 1
    assert steps_ahead(KYC, "details-updated") == 0
    assert steps_ahead(KYC, "identity-not-verified") is None


def test_percent_rises_along_the_path_from_zero_to_a_hundred() -> None:
    """0 at the first step, strictly more at each later step, 100 only once it succeeded."""
    walk = [
        at("request-details", ["request-details"]),
        at("verify-identity", ["request-details", "verify-identity"]),
        at("confirm", ["request-details", "verify-identity", "identity-outcome", "confirm"]),
    ]
    figures = [percent(KYC, j) for j in walk]
    assert figures == [0, 33, 66]
    done = at("details-updated", [*walk[-1].path, "details-updated"], JourneyStatus.SUCCEEDED)
    assert percent(KYC, done) == 100


def test_a_failed_journey_reports_how_far_it_had_come() -> None:
    """It ended at a FAIL step after the check: as far as the check, never 100."""
    failed = at(
        "identity-not-verified",
        ["request-details", "verify-identity", "identity-outcome", "identity-not-verified"],
        JourneyStatus.FAILED,
    )
    assert percent(KYC, failed) == 33


@pytest.mark.parametrize("reminded", [False, True])
def test_needed_names_the_open_input_step_its_label_and_schema(reminded: bool) -> None:
    """The customer is told which step waits on them, in its own words, with the schema to send."""
    waiting = Activation(
        id="j-1.1", step="request-details", kind=ActivationKind.INPUT, opened_seq=1, deadline=9e9, reminded=reminded
    )
    journey = at("request-details", ["request-details"], open={waiting.id: waiting})
    step = KYC.step("request-details")
    assert needed(KYC, journey) == {"step": step.name, "label": step.label, "input_schema": step.input_schema}
    assert needed(KYC, at("verify-identity", ["request-details", "verify-identity"])) is None


def test_a_migrated_journey_whose_path_names_a_step_the_definition_lost_still_has_a_percent() -> None:
    """A migration renamed `collect-details` to `request-details`: the old name stays in the path and is not counted."""
    migrated = at("verify-identity", ["collect-details", "verify-identity"])
    assert percent(KYC, migrated) == 0
    assert percent(KYC, at("confirm", ["collect-details", "request-details", "verify-identity", "confirm"])) == 66
