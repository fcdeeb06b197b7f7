"""The letter-of-credit sample on the emulator, as `make run` plays it: each branch to its end."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from devstack.emulator import Emulator
from devstack.run import play
from devstack.samples import LETTER_OF_CREDIT, TRADE_SAMPLES, Sample
from devstack.stack import LocalStack
from reliability.instruments import Calls, SideEffects, rewrapped
from router.core.model import JourneyStatus
from workers.samples import SAMPLES as SAMPLE_WORKERS

pytestmark = pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")

SANCTIONED = Sample(
    "letter of credit: beneficiary on a sanctions list",
    "letter-of-credit",
    {
        **LETTER_OF_CREDIT,
        "beneficiary": {"name": "Sam Sanction Trading", "country": "FR"},
        "amount": 80000,
        "documents": ["commercial_invoice", "bill_of_lading", "insurance_certificate"],
    },
    "FAILED",
)


def test_each_letter_of_credit_branch_ends_where_it_should_with_one_issuance_each(fresh_emulator: Emulator) -> None:
    """One officer below 250,000; a discrepancy sent back to the applicant, then two approvals above it; a
    sanctions hit refused before any approval. Each issued credit is issued once and announced once."""
    effects, calls = SideEffects(), Calls()
    workers = rewrapped(SAMPLE_WORKERS, effects)
    samples = [*TRADE_SAMPLES, SANCTIONED]
    with LocalStack(fresh_emulator, workers=workers, hooks=calls.hooks()) as stack:
        small, large, refused = play(stack, samples, out=lambda _line: None)
        stack.wait_quiet()
    assert [j.status for j in (small, large, refused)] == [
        JourneyStatus.SUCCEEDED,
        JourneyStatus.SUCCEEDED,
        JourneyStatus.FAILED,
    ]
    assert "approve" in small.path and "approve-large" not in small.path
    assert small.state["approval"]["approvers"] == ["officer-tom"]
    assert large.path.count("check-documents") == 2 and "documents-discrepancy" in large.path
    assert large.state["approval"]["approvers"] == ["officer-tom", "committee-cleo"]
    assert refused.path[-1] == "compliance-refused" and "approve" not in refused.path
    assert effects.succeeded["issue-lc"] == 2 and effects.succeeded["lc-document-check"] == 4
    announced = Counter(
        (json.loads(p.entry["Detail"])["data"]["workflow_id"], p.entry["DetailType"])
        for p in calls.published
        if p.entry["DetailType"].startswith("bank.trade.")
    )
    assert announced == {
        (small.id, "bank.trade.lc_issued"): 1,
        (large.id, "bank.trade.lc_issued"): 1,
        (refused.id, "bank.trade.lc_declined"): 1,
    }
