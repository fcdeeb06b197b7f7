"""The sample definitions: they load, the loader catches what is wrong, and every branch is reachable."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from router.core.decide import Rejected
from router.core.model import InputSubmitted, JourneyStatus
from router.language.definition import Definition, StepType
from router.language.loader import DefinitionError, load_file, parse
from router.language.registry import DEFINITIONS_DIR
from tests.journey_driver import JourneyDriver
from workers.samples import SAMPLES

SAMPLE_FILES = sorted(DEFINITIONS_DIR.glob("*.yaml"))


@pytest.fixture(scope="module")
def definitions() -> dict[str, Definition]:
    return {d.id: d for d in (load_file(path, SAMPLES.names()) for path in SAMPLE_FILES)}


@pytest.fixture
def driver(definitions: dict[str, Definition]) -> JourneyDriver:
    return JourneyDriver(definitions.values(), SAMPLES)


# Loading


def test_the_samples_are_present() -> None:
    """The samples the README documents are the ones on disk."""
    assert [p.stem for p in SAMPLE_FILES] == [
        "account-opening",
        "credit-application",
        "dispute",
        "kyc-uplift",
        "letter-of-credit",
        "payment-approval",
        "subscription-reconciliation",
    ]


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.stem)
def test_every_sample_loads_with_the_sample_workers(path: Path) -> None:
    """Each sample is valid, names only workers SAMPLES provides, and is pinned at 1.0.0."""
    definition = load_file(path, SAMPLES.names())
    assert definition.id == path.stem
    assert definition.version == "1.0.0"
    assert bool(definition.triggers) != bool(definition.schedule)  # started by events, or a SYSTEM journey


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.stem)
def test_every_resting_step_has_a_customer_label_and_waits_are_short(path: Path) -> None:
    """A customer can always be told where their journey is, and the local demo never waits long."""
    definition = load_file(path, SAMPLES.names())
    unlabelled = [s.name for s in definition.steps if s.type is not StepType.DECISION and not s.label]
    assert unlabelled == [] or definition.schedule  # a scheduled SYSTEM journey has no customer to tell
    assert all(s.seconds <= 2 for s in definition.steps if s.type is StepType.WAIT)


BROKEN = """\
id: broken
version: "1.0.0"
owning_domain: bank-core
start_at: check
steps:
  - name: check                 # unknown worker
    type: TASK
    worker: teleport
    sla_seconds: 60
    next: route
  - name: route                 # bad expression, undefined default
    type: DECISION
    branches:
      - when: "kyc.result == "
        goto: done
      - when: "kyc.result == 'REFER'"
        goto: limbo
    default: nowhere
  - name: limbo                 # no way out
    type: WAIT
    seconds: 1
    next: limbo-again
  - name: limbo-again           # no way out either
    type: WAIT
    seconds: 1
    next: limbo
  - name: done
    type: SUCCESS
  - name: done                  # duplicate
    type: SUCCESS
  - name: orphan                # unreachable
    type: FAIL
  - name: task-without-sla      # missing sla on a TASK
    type: TASK
    worker: kyc
    next: done
  - name: input-without-sla     # missing sla on an INPUT
    type: INPUT
    input_schema: {type: object}
    next: done
"""


def _line(marker: str) -> int:
    """The 1-based line of BROKEN carrying a comment, so the expectations survive edits."""
    return next(n for n, text in enumerate(BROKEN.splitlines(), 1) if f"# {marker}" in text)


def test_a_broken_definition_reports_every_problem_with_its_line() -> None:
    """One load reports all problems at once, each as file:line: message."""
    with pytest.raises(DefinitionError) as raised:
        parse(BROKEN, "broken.yaml", SAMPLES.names())
    reported = [str(p) for p in raised.value.problems]
    expected = [
        (_line("unknown worker"), "step 'check': unknown worker 'teleport'"),
        (_line("bad expression"), "step 'route': expression 'kyc.result == ' does not parse"),
        (_line("bad expression"), "step 'route': next/goto names undefined step 'nowhere'"),
        (_line("no way out"), "step 'limbo': no path to a SUCCESS or FAIL step"),
        (_line("no way out either"), "step 'limbo-again': no path to a SUCCESS or FAIL step"),
        (_line("duplicate"), "step 'done': duplicate name"),
        (_line("unreachable"), "step 'orphan': unreachable from 'check'"),
        (_line("missing sla on a TASK"), "steps.7.sla_seconds: Field required"),
        (_line("missing sla on an INPUT"), "steps.8.sla_seconds: Field required"),
    ]
    missing = [
        f"broken.yaml:{line}: {message}"
        for line, message in expected
        if not any(r.startswith(f"broken.yaml:{line}: {message}") for r in reported)
    ]
    assert missing == [], "\n".join(["not reported:", *missing, "reported:", *reported])
    assert str(raised.value) == "\n".join(reported)


def test_an_invalid_step_does_not_shift_or_cascade_into_other_problems() -> None:
    """A step that fails validation is reported once; the others keep their own lines."""
    text = BROKEN.replace("    sla_seconds: 60\n    next: route", "    next: route")  # `check` loses its SLA
    with pytest.raises(DefinitionError) as raised:
        parse(text, "broken.yaml", SAMPLES.names())
    reported = [str(p) for p in raised.value.problems]
    route = _line("bad expression") - 1  # one line up: the SLA line was removed above it
    assert f"broken.yaml:{route}: step 'route': next/goto names undefined step 'nowhere'" in reported
    assert not any("start_at: undefined step 'check'" in r for r in reported)


# Driving every branch end to end


ADA = {"full_name": "Ada Lovelace", "date_of_birth": "1990-12-10", "email": "ada@example.com"}
DOCUMENTS = {"document_type": "passport", "document_number": "P1234567", "proof_of_address": "utility_bill"}
LOAN = {**ADA, "annual_income": 60_000, "requested_amount": 15_000, "term_months": 36}
THEO = {**LOAN, "full_name": "Theo Thin"}
PROOF = {"employer": "Analytical Engines Ltd", "payslip_reference": "PS-2024-03", "verified_annual_income": 48_000}
DISPUTE = {
    "full_name": "Ada Lovelace",
    "email": "ada@example.com",
    "card_last4": "4242",
    "transaction_id": "TX-991",
    "merchant": "Difference Engines plc",
    "amount": 129.99,
    "reason": "duplicate_charge",
    "days_since_transaction": 12,
}
UPLIFT_DETAILS = {
    "full_name": "Ada King",
    "date_of_birth": "1990-12-10",
    "address": {"line1": "12 St James's Square", "postcode": "SW1Y 4JH", "country": "GB"},
    "documents": {"document_type": "driving_licence", "document_number": "KING9012"},
}

PAYMENT = {
    "payment_id": "PAY-1",
    "amount": 25_000,
    "currency": "GBP",
    "beneficiary": {"name": "Difference Engines plc", "iban": "GB82WEST12345698765432"},
    "initiated_by": "maker-mo",
}
GRANTED = {"approve-payment": {"outcome": "granted", "approvers": ["olivia", "max"]}}
LC = {
    "applicant": "Babbage Instruments Ltd",
    "beneficiary": {"name": "Jacquard Looms SA", "country": "FR"},
    "amount": 120_000,
    "currency": "EUR",
    "goods": "40 programmable looms",
    "documents": ["commercial_invoice", "bill_of_lading", "insurance_certificate"],
    "requested_by": "rm-rosa",
}
LC_GRANTED = {"approve": {"outcome": "granted", "approvers": ["tom"]}}
LC_LARGE_GRANTED = {"outcome": "granted", "approvers": ["tom", "cleo"]}  # two levels: two different people


class Scenario(NamedTuple):
    name: str
    definition: str
    start: dict[str, Any]
    answers: dict[str, dict[str, Any]]
    status: JourneyStatus
    ends_at: str
    through: tuple[str, ...] = ()


SCENARIOS = [
    Scenario("clear", "account-opening", {**ADA, "country": "GB"}, {}, JourneyStatus.SUCCEEDED, "account-opened",
             ("screening", "activation-delay", "open-account", "welcome")),
    Scenario("refer-then-documents", "account-opening", {**ADA, "full_name": "Rita Refer", "country": "GB"},
             {"upload-documents": DOCUMENTS}, JourneyStatus.SUCCEEDED, "account-opened",
             ("upload-documents", "recheck-identity", "screening")),
    Scenario("refer-then-lost-document", "account-opening", {**ADA, "full_name": "Rita Refer", "country": "GB"},
             {"upload-documents": {**DOCUMENTS, "document_number": "LOST1234"}}, JourneyStatus.FAILED,
             "identity-not-verified", ("upload-documents", "recheck-outcome")),
    Scenario("kyc-fail", "account-opening", {**ADA, "full_name": "Frank Fraud", "country": "GB"}, {},
             JourneyStatus.FAILED, "identity-not-verified"),
    Scenario("not-eligible", "account-opening", {**ADA, "country": "US"}, {}, JourneyStatus.FAILED, "not-eligible"),
    Scenario("sanctions-match", "account-opening", {**ADA, "full_name": "Sam Sanction", "country": "GB"}, {},
             JourneyStatus.FAILED, "screening-failed", ("screening",)),
    Scenario("fraud-risk", "account-opening", {**ADA, "email": "ada@mailinator.com", "country": "IE"}, {},
             JourneyStatus.FAILED, "screening-failed", ("screening",)),
    Scenario("uplift-clear", "kyc-uplift", {"customer_id": "CUST-000042", **ADA}, {"request-details": UPLIFT_DETAILS},
             JourneyStatus.SUCCEEDED, "details-updated", ("request-details", "confirm")),
    Scenario("uplift-fail", "kyc-uplift", {"customer_id": "CUST-000042", **ADA},
             {"request-details": {**UPLIFT_DETAILS, "full_name": "Frank Fraud"}}, JourneyStatus.FAILED,
             "identity-not-verified"),
    Scenario("uplift-lost-document", "kyc-uplift", {"customer_id": "CUST-000042", **ADA},
             {"request-details": {**UPLIFT_DETAILS, "documents": {**UPLIFT_DETAILS["documents"],
                                                                   "document_number": "LOST9012"}}},
             JourneyStatus.FAILED, "identity-not-verified"),
    Scenario("approve", "credit-application", LOAN, {}, JourneyStatus.SUCCEEDED, "loan-paid-out",
             ("credit-checks", "decide-credit", "disburse", "confirm")),
    Scenario("refer-then-proof", "credit-application", THEO,
             {"proof-of-income": PROOF}, JourneyStatus.SUCCEEDED, "loan-paid-out",
             ("proof-of-income", "redecide-credit", "disburse")),
    Scenario("refer-then-alternate", "credit-application", {**THEO, "requested_amount": 40_000},
             {"proof-of-income": PROOF, "alternate-offer": {"accepted": True}}, JourneyStatus.SUCCEEDED,
             "loan-paid-out", ("proof-of-income", "reviewed-outcome", "alternate-offer")),
    Scenario("refer-then-unaffordable", "credit-application", {**THEO, "requested_amount": 90_000},
             {"proof-of-income": PROOF}, JourneyStatus.FAILED, "declined", ("proof-of-income", "reviewed-outcome")),
    Scenario("decline-unaffordable", "credit-application", {**LOAN, "requested_amount": 95_000}, {},
             JourneyStatus.FAILED, "declined", ("decide-credit",)),
    Scenario("decline-fraud-risk", "credit-application", {**LOAN, "email": "ada@mailinator.com"}, {},
             JourneyStatus.FAILED, "declined", ("credit-checks",)),
    Scenario("decline-arrears", "credit-application", {**LOAN, "full_name": "Arthur Arrears"}, {},
             JourneyStatus.FAILED, "declined"),
    Scenario("alternate-accepted", "credit-application", {**LOAN, "requested_amount": 50_000},
             {"alternate-offer": {"accepted": True}}, JourneyStatus.SUCCEEDED, "loan-paid-out",
             ("alternate-offer", "offer-outcome", "disburse")),
    Scenario("alternate-declined", "credit-application", {**LOAN, "requested_amount": 50_000},
             {"alternate-offer": {"accepted": False}}, JourneyStatus.FAILED, "offer-declined", ("alternate-offer",)),
    Scenario("credit-kyc-fail", "credit-application", {**LOAN, "full_name": "Frank Fraud"}, {},
             JourneyStatus.FAILED, "identity-not-verified"),
    Scenario("fraud", "dispute", {**DISPUTE, "reason": "not_recognised"}, {}, JourneyStatus.SUCCEEDED,
             "dispute-resolved", ("replace-card", "provisional-credit", "merchant-response-window", "chargeback")),
    Scenario("merchant-error", "dispute", DISPUTE, {}, JourneyStatus.SUCCEEDED, "dispute-resolved",
             ("provisional-credit", "merchant-response-window", "chargeback", "notify")),
    Scenario("invalid-reason", "dispute", {**DISPUTE, "reason": "changed_mind"}, {}, JourneyStatus.FAILED,
             "dispute-rejected"),
    Scenario("out-of-time", "dispute", {**DISPUTE, "days_since_transaction": 200}, {}, JourneyStatus.FAILED,
             "dispute-rejected"),
    Scenario("granted", "payment-approval", PAYMENT, GRANTED, JourneyStatus.SUCCEEDED, "released",
             ("approve-payment", "approval-outcome", "release")),
    Scenario("rejected", "payment-approval", PAYMENT,
             {"approve-payment": {"outcome": "rejected", "approvers": ["olivia"], "rejected_by": "max"}},
             JourneyStatus.FAILED, "payment-rejected"),
    Scenario("nightly", "subscription-reconciliation", {}, {}, JourneyStatus.SUCCEEDED, "reconciled"),
    Scenario("expired", "payment-approval", PAYMENT, {"approve-payment": {"outcome": "expired"}},
             JourneyStatus.FAILED, "approval-expired"),
    Scenario("lc-issued", "letter-of-credit", LC, LC_GRANTED, JourneyStatus.SUCCEEDED, "lc-issued",
             ("check-documents", "compliance-screening", "approve", "issue")),
    Scenario("lc-discrepancy-then-large", "letter-of-credit",
             {**LC, "amount": 900_000, "documents": ["commercial_invoice", "insurance_certificate"]},
             {"documents-discrepancy": {"documents": ["bill_of_lading"]}, "approve-large": LC_LARGE_GRANTED},
             JourneyStatus.SUCCEEDED, "lc-issued", ("documents-discrepancy", "approve-large")),
    Scenario("lc-sanctioned", "letter-of-credit", {**LC, "beneficiary": {"name": "Sam Sanction", "country": "FR"}},
             {}, JourneyStatus.FAILED, "compliance-refused"),
    Scenario("lc-rejected", "letter-of-credit", LC, {"approve": {"outcome": "rejected", "rejected_by": "tom"}},
             JourneyStatus.FAILED, "lc-declined"),
    Scenario("release-refused", "payment-approval", {**PAYMENT, "payment_id": "PAY-REFUSED-1"}, GRANTED,
             JourneyStatus.FAILED, "release-failed", ("release",)),
]  # fmt: skip


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: f"{s.definition}:{s.name}")
def test_each_branch_of_each_sample_runs_to_its_end(driver: JourneyDriver, scenario: Scenario) -> None:
    """Driven through the real router, each scenario ends where definitions/README.md says it does."""
    journey = driver.run(scenario.definition, scenario.start, scenario.answers)
    assert (journey.status, journey.path[-1]) == (scenario.status, scenario.ends_at), journey.path
    assert set(scenario.through) <= set(journey.path)
    assert journey.open == {}


def test_the_scenarios_visit_every_step_of_every_sample(definitions: dict[str, Definition]) -> None:
    """No step is dead: together the scenarios enter each step of each sample at least once."""
    visited: dict[str, set[str]] = defaultdict(set)
    for n, scenario in enumerate(SCENARIOS):
        driver = JourneyDriver(definitions.values(), SAMPLES)
        visited[scenario.definition] |= set(
            driver.run(scenario.definition, scenario.start, scenario.answers, journey_id=f"j-{n}").path
        )
    unvisited = {d.id: sorted({s.name for s in d.steps} - visited[d.id]) for d in definitions.values()}
    assert unvisited == {d: [] for d in definitions}


def test_an_alternate_offer_pays_out_the_smaller_amount(driver: JourneyDriver) -> None:
    """Accepting the alternate offer disburses what credit-decision approved, not what was asked."""
    accept = {"alternate-offer": {"accepted": True}}
    journey = driver.run("credit-application", {**LOAN, "requested_amount": 50_000}, accept)
    assert journey.state["loan"]["amount"] == 30_000
    assert journey.state["notification"]["template"] == "loan-disbursed"


def test_screening_runs_both_checks_and_joins(driver: JourneyDriver) -> None:
    """The PARALLEL step sends both screens at once and moves on only when both answered."""
    journey = driver.run("account-opening", {**ADA, "country": "GB"})
    assert journey.status is JourneyStatus.SUCCEEDED
    screens = [w for w in driver.worker_calls if w in ("sanctions-screen", "fraud-screen")]
    assert sorted(screens) == ["fraud-screen", "sanctions-screen"]
    assert journey.path.count("open-account") == 1
    assert {"sanctions", "fraud", "account"} <= journey.state.keys()


def test_the_activation_wait_holds_until_the_clock_reaches_it(driver: JourneyDriver) -> None:
    """The WAIT step arms a timer and the journey advances only after the clock moved past it."""
    before = driver.clock()
    driver.run("account-opening", {**ADA, "country": "GB"})
    assert driver.clock() - before == 2


def test_a_journey_waits_for_the_customer_until_input_arrives(driver: JourneyDriver) -> None:
    """Without an answer the journey rests on the INPUT step; the answer resumes it to the end."""
    journey = driver.run("account-opening", {**ADA, "full_name": "Rita Refer", "country": "GB"})
    assert (journey.status, journey.step) == (JourneyStatus.RUNNING, "upload-documents")
    journey = driver.drive(journey.id, [], {"upload-documents": DOCUMENTS})
    assert (journey.status, journey.path[-1]) == (JourneyStatus.SUCCEEDED, "account-opened")
    assert journey.state["kyc"]["method"] == "documents"


def test_documents_missing_a_required_field_are_rejected(driver: JourneyDriver) -> None:
    """The INPUT step's schema is enforced: an upload without proof of address is refused, not merged."""
    journey = driver.run("account-opening", {**ADA, "full_name": "Rita Refer", "country": "GB"})
    (activation_id,) = journey.open
    incomplete = {k: v for k, v in DOCUMENTS.items() if k != "proof_of_address"}
    with pytest.raises(Rejected, match="proof_of_address"):
        driver.router.handle(InputSubmitted(journey_id=journey.id, activation_id=activation_id, data=incomplete))
    assert driver.load(journey.id).step == "upload-documents"


def test_a_start_input_outside_the_schema_is_rejected(driver: JourneyDriver) -> None:
    """The top-level input_schema guards the start: a loan without an income never starts."""
    with pytest.raises(Rejected, match="annual_income"):
        driver.run("credit-application", {k: v for k, v in LOAN.items() if k != "annual_income"})


def test_a_terminal_worker_error_fails_the_journey(definitions: dict[str, Definition]) -> None:
    """A worker's TerminalError comes back as StepFailed and the journey ends FAILED with its message."""
    text = """\
id: bad-disbursal
version: "1.0.0"
owning_domain: bank-credit
start_at: disburse
steps:
  - {name: disburse, type: TASK, worker: disburse-loan, sla_seconds: 60, next: done}
  - {name: done, type: SUCCESS}
"""
    driver = JourneyDriver([parse(text, known_workers=SAMPLES.names())], SAMPLES)
    journey = driver.run("bad-disbursal", {**LOAN, "credit": {"decision": "REFER", "approved_amount": 0}})
    assert journey.status is JourneyStatus.FAILED
    assert journey.error is not None
    assert journey.error["error"] == "TerminalError"
    assert "REFER" in journey.error["message"]


def test_a_documents_discrepancy_goes_back_to_the_applicant_and_is_checked_again(driver: JourneyDriver) -> None:
    """The missing bill of lading is asked for, the documents are checked a second time, and the credit above
    250,000 takes the two-level approval; the below-threshold one takes the single level."""
    short = {**LC, "amount": 900_000, "documents": ["commercial_invoice", "insurance_certificate"]}
    answers = {"documents-discrepancy": {"documents": ["bill_of_lading"]}, "approve-large": LC_LARGE_GRANTED}
    journey = driver.run("letter-of-credit", short, answers)
    assert journey.path.count("check-documents") == 2 and "approve" not in journey.path
    assert journey.state["document_check"] == {"result": "COMPLIANT", "missing": []}
    assert journey.state["letter_of_credit"]["status"] == "ISSUED"
    small = driver.run("letter-of-credit", LC, LC_GRANTED, journey_id="j-2")
    assert "approve" in small.path and "approve-large" not in small.path
