"""Sample workers standing in for the bank's domain modules in demos and tests.

Every answer is derived from the input alone (a stable hash, never randomness or the clock),
so a given application always takes the same branch. Marker words in the applicant's name
steer the outcome, so a demo can reach every branch on purpose (see definitions/README.md):
"Refer", "Fraud", "Thin", "Arrears" and "Sanction".
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel

from workers.step import RetryableError, TerminalError, Workers

SAMPLES = Workers()

SUPPORTED_COUNTRIES = frozenset({"GB", "IE"})
DISPOSABLE_EMAIL_DOMAINS = frozenset({"mailinator.com", "tempmail.dev", "throwaway.email"})
DISPUTE_WINDOW_DAYS = 120
MIN_SCORE = 560  # below it the bureau file alone declines
APPROVE_RATIO = 0.5  # requested amount / annual income that is affordable as asked
ALTERNATE_RATIO = 1.5  # up to here a smaller loan is offered instead of a decline
CHARGEBACK_CODES = {  # card-scheme reason codes, by the customer's reason
    "not_recognised": "10.4",
    "goods_not_received": "13.1",
    "duplicate_charge": "12.6.1",
    "wrong_amount": "12.5",
    "cancelled_subscription": "13.2",
}


def _digest(*parts: object) -> int:
    return int(hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest(), 16)


def _ref(prefix: str, *parts: object) -> str:
    return f"{prefix}-{_digest(prefix, *parts) % 16**10:010X}"


def _has(name: str, marker: str) -> bool:
    return marker.casefold() in name.casefold()


class Documents(BaseModel):
    document_type: Literal["passport", "driving_licence", "national_identity_card"]
    document_number: str
    proof_of_address: str | None = None


class Bureau(BaseModel):
    file: Literal["FULL", "THIN"]
    score: int | None


class Fraud(BaseModel):
    risk: Literal["LOW", "HIGH"]


class IncomeProof(BaseModel):
    verified_annual_income: float


class Credit(BaseModel):
    decision: Literal["APPROVE", "REFER", "DECLINE", "ALTERNATE"]
    approved_amount: float


class Dispute(BaseModel):
    category: Literal["FRAUD", "MERCHANT_ERROR", "INVALID"]


@SAMPLES.step("validate-application")
def validate_application(full_name: str, date_of_birth: date, email: str, country: str) -> dict[str, Any]:
    """Eligibility the bank can tell from the form alone."""
    eligible = country in SUPPORTED_COUNTRIES
    reason = None if eligible else f"we cannot open accounts for residents of {country} yet"
    return {"application": {"eligible": eligible, "reason": reason, "reference": _ref("APP", full_name, email)}}


_TIMED_OUT_ONCE: set[str] = set()  # applicants the identity provider has already timed out on, this process


@SAMPLES.step("kyc")
def kyc(full_name: str, date_of_birth: date, documents: Documents | None = None) -> dict[str, Any]:
    """Identity check: electronic first; documents settle a referral unless they are reported lost.

    The provider is down for "Outage" names and times out on the first call for "Flaky" names, so
    the demo shows a retry that recovers and one that escalates (both retryable, by exception type).
    """
    if _has(full_name, "Outage"):
        raise RetryableError("the identity provider is unavailable")
    if _has(full_name, "Flaky") and full_name not in _TIMED_OUT_ONCE:
        _TIMED_OUT_ONCE.add(full_name)
        raise RetryableError("the identity provider timed out")
    if _has(full_name, "Fraud") or (documents and documents.document_number.startswith("LOST")):
        result, reason = "FAIL", "identity could not be verified"
    elif _has(full_name, "Refer") and documents is None:
        result, reason = "REFER", "address not verified electronically"
    else:
        result, reason = "CLEAR", None
    method = "documents" if documents else "electronic"
    reference = _ref("KYC", full_name, date_of_birth)
    return {"kyc": {"result": result, "reason": reason, "method": method, "reference": reference}}


@SAMPLES.step("sanctions-screen")
def sanctions_screen(full_name: str, date_of_birth: date) -> dict[str, Any]:
    result = "POTENTIAL_MATCH" if _has(full_name, "Sanction") else "NO_MATCH"
    return {"sanctions": {"result": result, "lists": ["UN", "OFAC", "UK-HMT"], "reference": _ref("SAN", full_name)}}


@SAMPLES.step("fraud-screen")
def fraud_screen(full_name: str, email: str) -> dict[str, Any]:
    """Device and email intelligence; a disposable mailbox is the classic synthetic-identity tell."""
    disposable = email.rsplit("@", 1)[-1].lower() in DISPOSABLE_EMAIL_DOMAINS
    score = 90 + _digest(email) % 10 if disposable else _digest(full_name, email) % 30
    return {"fraud": {"risk": "HIGH" if disposable else "LOW", "score": score, "reference": _ref("FRD", email)}}


@SAMPLES.step("credit-bureau")
def credit_bureau(full_name: str, date_of_birth: date) -> dict[str, Any]:
    """A bureau score from a stable hash: clean files land 640-799, files with arrears 380-539."""
    if _has(full_name, "Thin"):
        return {"bureau": {"file": "THIN", "score": None, "reference": _ref("CRB", full_name)}}
    base = 380 if _has(full_name, "Arrears") else 640
    score = base + _digest(full_name, date_of_birth) % 160
    return {"bureau": {"file": "FULL", "score": score, "reference": _ref("CRB", full_name)}}


@SAMPLES.step("credit-decision")
def credit_decision(
    bureau: Bureau,
    fraud: Fraud,
    annual_income: float,
    requested_amount: float,
    income_proof: IncomeProof | None = None,
) -> dict[str, Any]:
    """Risk first, then affordability; verified income (after a referral) replaces the declared one."""
    income = income_proof.verified_annual_income if income_proof else annual_income
    decision, amount, reason = "APPROVE", requested_amount, None
    if fraud.risk == "HIGH":
        decision, amount, reason = "DECLINE", 0.0, "fraud risk"
    elif bureau.file == "THIN" and income_proof is None:
        decision, amount, reason = "REFER", 0.0, "thin credit file: proof of income needed"
    elif bureau.score is not None and bureau.score < MIN_SCORE:
        decision, amount, reason = "DECLINE", 0.0, "credit history"
    elif requested_amount > income * ALTERNATE_RATIO:
        decision, amount, reason = "DECLINE", 0.0, "not affordable"
    elif requested_amount > income * APPROVE_RATIO:
        affordable = float(int(income * APPROVE_RATIO) // 500 * 500)  # offers come in steps of 500
        decision, amount, reason = "ALTERNATE", affordable, "smaller loan affordable"
    return {"credit": {"decision": decision, "approved_amount": amount, "reason": reason}}


@SAMPLES.step("disburse-loan")
def disburse_loan(full_name: str, credit: Credit, term_months: int) -> dict[str, Any]:
    """Pays out the approved amount, which after an accepted alternate offer is the smaller one."""
    if credit.decision not in ("APPROVE", "ALTERNATE"):
        raise TerminalError(f"cannot disburse a loan whose decision is {credit.decision}")
    loan_id = _ref("LN", full_name, credit.approved_amount, term_months)
    amount = credit.approved_amount
    return {"loan": {"loan_id": loan_id, "amount": amount, "term_months": term_months, "status": "DISBURSED"}}


@SAMPLES.step("open-account")
def open_account(full_name: str, kyc: dict[str, Any], product: str = "current-account") -> dict[str, Any]:
    if kyc.get("result") != "CLEAR":
        raise TerminalError("cannot open an account before identity is verified")
    number = f"{_digest(full_name, product) % 10**8:08d}"
    return {"account": {"account_number": number, "sort_code": "04-00-04", "product": product, "status": "OPEN"}}


@SAMPLES.step("issue-card")
def issue_card(full_name: str, card_last4: str) -> dict[str, Any]:
    """A replacement card: the old number is compromised, so it is blocked first."""
    last4 = f"{_digest(full_name, card_last4) % 10**4:04d}"
    return {"card": {"last4": last4, "replaces": card_last4, "status": "ISSUED"}}


@SAMPLES.step("dispute-assess")
def dispute_assess(reason: str, transaction_id: str, days_since_transaction: int) -> dict[str, Any]:
    """Sorts a dispute into the scheme's categories; some are not chargeable at all."""
    if reason not in CHARGEBACK_CODES:
        category, why = "INVALID", "not a disputable reason"
    elif days_since_transaction > DISPUTE_WINDOW_DAYS:
        category, why = "INVALID", "outside the dispute window"
    else:
        category, why = ("FRAUD" if reason == "not_recognised" else "MERCHANT_ERROR"), None
    return {"dispute": {"category": category, "reason": why, "case_id": _ref("DSP", transaction_id)}}


@SAMPLES.step("provisional-credit")
def provisional_credit(amount: float, transaction_id: str, dispute: Dispute) -> dict[str, Any]:
    if dispute.category == "INVALID":
        raise TerminalError("no provisional credit on an invalid dispute")
    return {"provisional_credit": {"amount": amount, "reference": _ref("PCR", transaction_id)}}


@SAMPLES.step("chargeback")
def chargeback(reason: str, amount: float, merchant: str, transaction_id: str) -> dict[str, Any]:
    code = CHARGEBACK_CODES.get(reason)
    if code is None:
        raise TerminalError(f"no chargeback reason code for {reason!r}")
    reference = _ref("CB", transaction_id)
    return {"chargeback": {"reason_code": code, "amount": amount, "merchant": merchant, "reference": reference}}


@SAMPLES.step("notify-customer")
def notify_customer(
    full_name: str,
    email: str | None = None,
    account: dict[str, Any] | None = None,
    loan: dict[str, Any] | None = None,
    dispute: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One worker for every journey: the outcome already in the state picks the message."""
    outcomes = [("dispute-resolved", dispute), ("loan-disbursed", loan), ("account-opened", account)]
    template = next((name for name, outcome in outcomes if outcome), "details-updated")
    channel = "email" if email else "post"
    return {"notification": {"template": template, "channel": channel, "reference": _ref("NTF", full_name, template)}}


class SchemeRefused(TerminalError):
    """The payment scheme will not take the payment (a closed account, a sanctioned beneficiary)."""


@SAMPLES.step("release-payment")
def release_payment(payment_id: str, amount: float, currency: str, approval: dict[str, Any]) -> dict[str, Any]:
    """Hands an approved payment to the payment scheme; never one whose approval was not granted.
    A payment id containing "REFUSED" is refused by the scheme, to show the release-failed outcome."""
    if approval.get("outcome") != "granted":
        raise TerminalError(f"payment {payment_id} is not approved ({approval.get('outcome')})")
    if "REFUSED" in payment_id:
        raise SchemeRefused("the payment scheme refused the payment")
    reference = _ref("PAY", payment_id, amount, currency)
    return {"release": {"status": "RELEASED", "reference": reference, "approved_by": approval.get("approvers", [])}}


# A fixed sample ledger for the nightly reconciliation: what customers subscribe to, and what was billed.
SUBSCRIPTIONS = {"SUB-1001": "ACTIVE", "SUB-1002": "ACTIVE", "SUB-1003": "CANCELLED"}
BILLED = {"SUB-1001": 9.99, "SUB-1003": 4.99}


@SAMPLES.step("reconcile-subscriptions")
def reconcile_subscriptions() -> dict[str, Any]:
    """Compares subscriptions with billing: active but unbilled, or billed after cancelling, are mismatches."""
    mismatches = sorted(ref for ref, status in SUBSCRIPTIONS.items() if (status == "ACTIVE") != (ref in BILLED))
    return {"reconciliation": {"checked": len(SUBSCRIPTIONS), "mismatches": mismatches}}


# Trade finance: an import letter of credit (definitions/letter-of-credit.yaml). Under UCP 600 the bank pays
# against documents, so these three must all be presented before the credit is issued.
LC_REQUIRED_DOCUMENTS = ("commercial_invoice", "bill_of_lading", "insurance_certificate")
LC_EMBARGOED_COUNTRIES = frozenset({"KP", "IR", "SY"})
DUAL_USE_WORDS = ("centrifuge", "night vision", "encryption module")


class Beneficiary(BaseModel):
    name: str
    country: str


class MoreDocuments(BaseModel):
    documents: list[str]


@SAMPLES.step("lc-application")
def lc_application(applicant: str, beneficiary: Beneficiary, amount: float, currency: str) -> dict[str, Any]:
    """Registers the application; the reference is stable for the same application."""
    reference = _ref("LCA", applicant, beneficiary.name, amount, currency)
    return {"lc_application": {"reference": reference, "registered": True}}


@SAMPLES.step("lc-document-check")
def lc_document_check(documents: list[str], additional_documents: MoreDocuments | None = None) -> dict[str, Any]:
    """Compares the documents presented (with any sent after a discrepancy) with those the credit requires."""
    presented = set(documents) | set(additional_documents.documents if additional_documents else [])
    missing = [d for d in LC_REQUIRED_DOCUMENTS if d not in presented]
    return {"document_check": {"result": "DISCREPANT" if missing else "COMPLIANT", "missing": missing}}


@SAMPLES.step("lc-compliance-screen")
def lc_compliance_screen(beneficiary: Beneficiary, goods: str) -> dict[str, Any]:
    """Sanctions on the beneficiary (the "Sanction" marker, an embargoed country) and dual-use goods."""
    hits = []
    if _has(beneficiary.name, "Sanction") or beneficiary.country in LC_EMBARGOED_COUNTRIES:
        hits.append("sanctions")
    if any(word in goods.casefold() for word in DUAL_USE_WORDS):
        hits.append("dual_use_goods")
    return {"compliance": {"result": "HIT" if hits else "CLEAR", "hits": hits, "reference": _ref("TFC", goods)}}


@SAMPLES.step("issue-lc")
def issue_lc(lc_application: dict[str, Any], amount: float, currency: str, approval: dict[str, Any]) -> dict[str, Any]:
    """Issues the credit (an MT700 to the advising bank); never one whose approval was not granted."""
    if approval.get("outcome") != "granted":
        raise TerminalError("the letter of credit is not approved")
    number = _ref("LC", lc_application.get("reference"), amount, currency)
    return {"letter_of_credit": {"number": number, "status": "ISSUED", "approved_by": approval.get("approvers", [])}}
