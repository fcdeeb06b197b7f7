"""The step-worker SDK and the deterministic sample workers."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import BaseModel

from workers.samples import SAMPLES
from workers.step import RetryableError, StepError, TerminalError, UnknownWorker, Workers


class Applicant(BaseModel):
    full_name: str
    income: float


@pytest.fixture
def workers() -> Workers:
    registry = Workers()

    @registry.step("greet")
    def greet(full_name: str, visits: int, born: date, title: str = "Ms") -> dict[str, Any]:
        return {"greeting": f"{title} {full_name}", "visits": visits + 1, "born_year": born.year}

    @registry.step("nested")
    def nested(applicant: Applicant) -> dict[str, Any]:
        return {"affordable": applicant.income > 10_000}

    @registry.step("not-a-dict")
    def not_a_dict(full_name: str) -> Any:
        return [full_name]

    @registry.step("timeout", retry_on=(TimeoutError,))
    def timeout() -> dict[str, Any]:
        raise TimeoutError("bureau did not answer in 5s")

    @registry.step("crash")
    def crash() -> dict[str, Any]:
        raise ConnectionResetError("peer reset")

    @registry.step("declined")
    def declined() -> dict[str, Any]:
        raise TerminalError("applicant is under 18")

    return registry


def test_arguments_are_filled_from_the_state_by_name_and_coerced_by_type(workers: Workers) -> None:
    """Parameters pick their state keys by name; hints validate and convert; other keys are ignored."""
    state = {"full_name": "Ada Lovelace", "visits": "2", "born": "1815-12-10", "kyc": {"result": "CLEAR"}}
    assert workers.run("greet", state) == {"greeting": "Ms Ada Lovelace", "visits": 3, "born_year": 1815}


def test_a_parameter_with_a_default_is_optional(workers: Workers) -> None:
    """A default fills in when the state lacks the key, and the state wins when it has it."""
    state = {"full_name": "Ada", "visits": 0, "born": "1815-12-10", "title": "Countess"}
    assert workers.run("greet", state)["greeting"] == "Countess Ada"


def test_a_nested_model_parameter_validates_the_nested_dict(workers: Workers) -> None:
    """A pydantic-typed parameter receives the nested object, validated."""
    assert workers.run("nested", {"applicant": {"full_name": "Ada", "income": "52000"}}) == {"affordable": True}


def test_a_missing_argument_is_terminal_and_named(workers: Workers) -> None:
    """Every missing argument is named in one TerminalError, so the definition can be fixed."""
    with pytest.raises(TerminalError, match=r"worker 'greet': missing argument 'full_name', 'born'"):
        workers.run("greet", {"visits": 1})


def test_an_argument_of_the_wrong_type_is_terminal_and_named(workers: Workers) -> None:
    """A value that does not fit the hint fails the step and names the argument and the field."""
    with pytest.raises(TerminalError, match=r"invalid argument 'visits'") as raised:
        workers.run("greet", {"full_name": "Ada", "visits": "many", "born": "1815-12-10"})
    with pytest.raises(TerminalError, match=r"invalid argument 'applicant.income'"):
        workers.run("nested", {"applicant": {"full_name": "Ada", "income": "lots"}})
    assert not Workers.is_retryable(raised.value)


def test_a_result_that_is_not_a_dict_is_terminal(workers: Workers) -> None:
    """Only a dict can be merged into the state."""
    with pytest.raises(TerminalError, match=r"returned list, not a dict"):
        workers.run("not-a-dict", {"full_name": "Ada"})


def test_an_exception_listed_in_retry_on_becomes_retryable(workers: Workers) -> None:
    """A declared transient failure is reported as RetryableError, with the original as its cause."""
    with pytest.raises(RetryableError, match="TimeoutError") as raised:
        workers.run("timeout", {})
    assert isinstance(raised.value.__cause__, TimeoutError)
    assert workers.is_retryable(raised.value)


def test_an_unexpected_exception_is_retryable(workers: Workers) -> None:
    """An unknown exception type is an infrastructure hiccup: it propagates as is and is retried."""
    with pytest.raises(ConnectionResetError) as raised:
        workers.run("crash", {})
    assert workers.is_retryable(raised.value)


def test_a_terminal_error_is_not_retryable(workers: Workers) -> None:
    """The exception type, not its message, decides: TerminalError is final."""
    with pytest.raises(TerminalError) as raised:
        workers.run("declined", {})
    assert not workers.is_retryable(raised.value)
    assert workers.is_retryable(RetryableError("busy"))
    assert workers.is_retryable(StepError("unclassified"))


def test_an_unknown_worker_raises_a_key_error(workers: Workers) -> None:
    """A name the registry does not hold is an UnknownWorker, which is a KeyError."""
    with pytest.raises(KeyError):
        workers.run("teleport", {})
    with pytest.raises(UnknownWorker):
        workers.run("teleport", {})


def test_names_lists_the_registered_workers(workers: Workers) -> None:
    """names() is what the loader checks a definition's workers against."""
    assert workers.names() == {"greet", "nested", "not-a-dict", "timeout", "crash", "declined"}


def test_a_worker_name_registers_once(workers: Workers) -> None:
    """Registering the same name twice is a programming error, caught at import."""
    with pytest.raises(ValueError, match="already registered"):
        workers.step("greet")(lambda: {})


def test_a_worker_taking_var_keyword_arguments_is_refused() -> None:
    """**kwargs cannot be filled by name, so the worker is refused at registration."""
    with pytest.raises(TypeError, match="cannot be filled from the state"):
        Workers().step("loose")(lambda **state: state)


ADA = {"full_name": "Ada Lovelace", "date_of_birth": "1990-12-10", "email": "ada@example.com"}


@pytest.mark.parametrize(
    ("full_name", "documents", "result"),
    [
        ("Ada Lovelace", None, "CLEAR"),
        ("Rita Refer", None, "REFER"),
        ("Rita Refer", {"document_type": "passport", "document_number": "P1234567"}, "CLEAR"),
        ("Rita Refer", {"document_type": "passport", "document_number": "LOST1234"}, "FAIL"),
        ("Frank Fraud", None, "FAIL"),
    ],
)
def test_kyc_outcome_follows_the_name_and_documents(full_name: str, documents: Any, result: str) -> None:
    """KYC clears by default, refers "Refer" names until documents arrive, fails "Fraud" and lost documents."""
    output = SAMPLES.run("kyc", {**ADA, "full_name": full_name, "documents": documents})
    assert output["kyc"]["result"] == result
    assert output["kyc"]["reference"].startswith("KYC-")


def test_sample_workers_are_deterministic() -> None:
    """The same input gives the same answer, references included: no randomness, no clock."""
    for name in ("kyc", "credit-bureau", "fraud-screen", "sanctions-screen"):
        assert SAMPLES.run(name, dict(ADA)) == SAMPLES.run(name, dict(ADA))


def test_the_bureau_scores_clean_thin_and_adverse_files_apart() -> None:
    """Clean files score 640-799, "Arrears" 380-539, and "Thin" has no score."""
    assert 640 <= SAMPLES.run("credit-bureau", ADA)["bureau"]["score"] < 800
    assert 380 <= SAMPLES.run("credit-bureau", {**ADA, "full_name": "Arthur Arrears"})["bureau"]["score"] < 540
    thin = SAMPLES.run("credit-bureau", {**ADA, "full_name": "Theo Thin"})["bureau"]
    assert (thin["file"], thin["score"]) == ("THIN", None)


@pytest.mark.parametrize(
    ("bureau", "risk", "requested", "proof", "decision", "amount"),
    [
        ({"file": "FULL", "score": 700}, "LOW", 20_000, None, "APPROVE", 20_000),
        ({"file": "FULL", "score": 700}, "LOW", 50_000, None, "ALTERNATE", 30_000),
        ({"file": "FULL", "score": 700}, "LOW", 95_000, None, "DECLINE", 0),
        ({"file": "FULL", "score": 450}, "LOW", 20_000, None, "DECLINE", 0),
        ({"file": "FULL", "score": 700}, "HIGH", 20_000, None, "DECLINE", 0),
        ({"file": "THIN", "score": None}, "LOW", 20_000, None, "REFER", 0),
        ({"file": "THIN", "score": None}, "LOW", 20_000, {"verified_annual_income": 41_000}, "APPROVE", 20_000),
    ],
)
def test_credit_decision_weighs_risk_then_affordability(
    bureau: dict[str, Any], risk: str, requested: int, proof: Any, decision: str, amount: int
) -> None:
    """With a 60k income: up to half is approved, up to 1.5x gets a smaller offer, beyond is declined."""
    state = {"bureau": bureau, "fraud": {"risk": risk}, "annual_income": 60_000, "requested_amount": requested}
    credit = SAMPLES.run("credit-decision", {**state, "income_proof": proof})["credit"]
    assert (credit["decision"], credit["approved_amount"]) == (decision, amount)


def test_disbursing_an_undecided_loan_is_terminal() -> None:
    """A guard in the worker: money never moves on a REFER or DECLINE, whatever the definition says."""
    state = {**ADA, "credit": {"decision": "DECLINE", "approved_amount": 0}, "term_months": 24}
    with pytest.raises(TerminalError, match="DECLINE"):
        SAMPLES.run("disburse-loan", state)


@pytest.mark.parametrize(
    ("reason", "days", "category"),
    [
        ("not_recognised", 10, "FRAUD"),
        ("duplicate_charge", 10, "MERCHANT_ERROR"),
        ("changed_mind", 10, "INVALID"),
        ("goods_not_received", 200, "INVALID"),
    ],
)
def test_dispute_assessment_categorises_by_reason_and_age(reason: str, days: int, category: str) -> None:
    """Unrecognised is fraud, merchant faults are merchant error; buyer's remorse and old disputes are invalid."""
    state = {"reason": reason, "transaction_id": "TX-1", "days_since_transaction": days}
    assert SAMPLES.run("dispute-assess", state)["dispute"]["category"] == category
