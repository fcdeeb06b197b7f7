"""The sample journeys `make run` plays, with the customer's answers for their INPUT steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sample:
    title: str
    definition_id: str
    input: dict[str, Any]
    expect: str  # the final status the inputs should reach
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # INPUT step -> what the customer sends
    trigger: tuple[str, str, str] | None = None  # (domain, source, detail-type): arrive as a domain event
    business_key: str | None = None  # the trigger event's subject: the id the domain knows the journey by
    approvers: tuple[tuple[str, str], ...] = ()  # (staff id, role) deciding each approval level, in order
    operator_fix: dict[str, Any] | None = None  # once escalated: the intervention an operator makes


APPLICANT = {"date_of_birth": "1988-04-12", "country": "GB"}
BORROWER = {"date_of_birth": "1979-09-30", "term_months": 36}

SAMPLES = [
    Sample(
        "account opened (event-triggered)",
        "account-opening",
        {"full_name": "Clara Clear", "email": "clara@example.com", **APPLICANT},
        "SUCCEEDED",
        trigger=("bank-core", "bank.onboarding", "application_submitted"),
    ),
    Sample(
        "account: identity referred, documents uploaded",
        "account-opening",
        {"full_name": "Rita Refer", "email": "rita@example.com", **APPLICANT},
        "SUCCEEDED",
        answers={
            "upload-documents": {
                "document_type": "passport",
                "document_number": "P1234567",
                "proof_of_address": "utility_bill",
            }
        },
    ),
    Sample(
        "account: identity check failed",
        "account-opening",
        {"full_name": "Frank Fraud", "email": "frank@example.com", **APPLICANT},
        "FAILED",
    ),
    Sample(
        "credit approved",
        "credit-application",
        {
            "full_name": "Anna Approve",
            "email": "anna@example.com",
            "annual_income": 90000,
            "requested_amount": 12000,
            **BORROWER,
        },
        "SUCCEEDED",
        trigger=("bank-credit", "bank.lending", "credit_application_submitted"),
    ),
    Sample(
        "credit: smaller loan offered and accepted",
        "credit-application",
        {
            "full_name": "Owen Offer",
            "email": "owen@example.com",
            "annual_income": 60000,
            "requested_amount": 50000,
            **BORROWER,
        },
        "SUCCEEDED",
        answers={"alternate-offer": {"accepted": True}},
    ),
    Sample(
        "credit declined (arrears)",
        "credit-application",
        {
            "full_name": "Arthur Arrears",
            "email": "arthur@example.com",
            "annual_income": 40000,
            "requested_amount": 5000,
            **BORROWER,
        },
        "FAILED",
    ),
    Sample(
        "card dispute: chargeback after the merchant window",
        "dispute",
        {
            "full_name": "Dora Dispute",
            "email": "dora@example.com",
            "card_last4": "4242",
            "transaction_id": "TX-1001",
            "merchant": "Acme Online",
            "amount": 129.99,
            "reason": "not_recognised",
            "days_since_transaction": 12,
        },
        "SUCCEEDED",
        trigger=("bank-disputes", "bank.cards", "dispute_raised"),
    ),
    Sample(
        "card dispute: not a disputable reason",
        "dispute",
        {
            "full_name": "Colin Changed",
            "card_last4": "1111",
            "transaction_id": "TX-1002",
            "merchant": "Acme Online",
            "amount": 20,
            "reason": "changed_mind",
            "days_since_transaction": 3,
        },
        "FAILED",
    ),
    Sample(
        "KYC refresh: customer confirms details",
        "kyc-uplift",
        {"customer_id": "CUST-000042", "full_name": "Kim Keeper", "email": "kim@example.com"},
        "SUCCEEDED",
        answers={
            "request-details": {
                "full_name": "Kim Keeper",
                "date_of_birth": "1990-01-01",
                "address": {"line1": "1 High Street", "postcode": "AB1 2CD", "country": "GB"},
                "documents": {"document_type": "driving_licence", "document_number": "KEEPE901"},
            }
        },
    ),
]


# Played by `make run` after SAMPLES; kept apart because its approval events come from the approvals function.
PAYMENT_SAMPLES = [
    Sample(
        "payment approved by two people (maker-checker)",
        "payment-approval",
        {
            "payment_id": "PAY-2024-0042",
            "amount": 25000,
            "currency": "GBP",
            "beneficiary": {"name": "Difference Engines plc", "iban": "GB82WEST12345698765432"},
            "reference": "Invoice 1843",
            "initiated_by": "maker-mo",
        },
        "SUCCEEDED",
        trigger=("bank-payments", "bank.payments", "approval_required"),
        business_key="PAY-2024-0042",
        approvers=(("officer-olivia", "payments-officer"), ("manager-max", "payments-manager")),
    ),
]


LETTER_OF_CREDIT = {
    "applicant": "Babbage Instruments Ltd",
    "beneficiary": {"name": "Jacquard Looms SA", "country": "FR"},
    "currency": "EUR",
    "goods": "40 programmable looms",
    "requested_by": "rm-rosa",  # the relationship manager: the maker, never an approver
}
ALL_DOCUMENTS = ["commercial_invoice", "bill_of_lading", "insurance_certificate", "packing_list"]

# Trade finance, played with the payments (their approvals come from the approvals function too).
TRADE_SAMPLES = [
    Sample(
        "letter of credit: one officer approves, issued",
        "letter-of-credit",
        {**LETTER_OF_CREDIT, "amount": 120000, "documents": ALL_DOCUMENTS},
        "SUCCEEDED",
        trigger=("bank-credit", "bank.trade", "lc_application_submitted"),
        business_key="LC-2024-0101",
        approvers=(("officer-tom", "trade-officer"),),
    ),
    Sample(
        "letter of credit: bill of lading missing, sent, then two approvals above 250,000",
        "letter-of-credit",
        {**LETTER_OF_CREDIT, "amount": 900000, "documents": ["commercial_invoice", "insurance_certificate"]},
        "SUCCEEDED",
        answers={"documents-discrepancy": {"documents": ["bill_of_lading"]}},
        approvers=(("officer-tom", "trade-officer"), ("committee-cleo", "trade-credit-committee")),
    ),
]


# Failures, played by `make run` after the others: a retry that recovers, and an escalation an
# operator fixes by skipping the step with the result they obtained by hand.
FAILURE_SAMPLES = [
    Sample(
        "account: identity provider times out once, retried",
        "account-opening",
        {"full_name": "Fay Flaky", "email": "fay@example.com", **APPLICANT},
        "SUCCEEDED",
    ),
    Sample(
        "account: identity provider down, escalated, fixed by ops",
        "account-opening",
        {"full_name": "Otto Outage", "email": "otto@example.com", **APPLICANT},
        "SUCCEEDED",
        operator_fix={
            "command": "skip",
            "actor": "ops-olga",
            "reason": "identity verified by phone against the passport on file",
            "output": {"kyc": {"result": "CLEAR", "reason": None, "method": "manual", "reference": "KYC-MANUAL-7"}},
        },
    ),
]
