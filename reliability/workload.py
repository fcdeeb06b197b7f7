"""The journey the reliability runs drive: tasks, a decision, a parallel step and a timer, on workers that
count their side effects per journey, with canary personal data in every input."""

from __future__ import annotations

import threading
import zlib
from collections import Counter
from typing import Any

from router.core.model import StartJourney
from router.language.definition import Definition
from router.language.loader import parse
from workers.step import RetryableError, Workers

# Canary personal data: a fake IBAN and name that must never leave the journey's own state.
CANARY_IBAN = "GB00CANARY00000000000042"
CANARY_NAME = "Cassia Canarywood"
CANARIES = (CANARY_IBAN, CANARY_NAME)

LOAD_ID = "reliability-load"
LOAD = f"""
id: {LOAD_ID}
version: "1.0.0"
owning_domain: bank-core
input_schema:
  type: object
  required: [reference, full_name, iban, amount]
  properties:
    reference: {{type: string}}
    full_name: {{type: string}}
    iban: {{type: string}}
    amount: {{type: number}}
start_at: verify
steps:
  - name: verify
    type: TASK
    worker: kyc
    sla_seconds: 600
    retry: {{max_attempts: 3, backoff_seconds: 1, backoff_rate: 1}}
    next: verified
  - name: verified
    type: DECISION
    branches:
      - {{when: "kyc.result == 'CLEAR'", goto: screen}}
    default: declined
  - name: screen
    type: PARALLEL
    branches:
      - {{name: sanctions, worker: sanctions-screen, sla_seconds: 600}}
      - {{name: fraud, worker: fraud-screen, sla_seconds: 600}}
    next: cool-off
  - name: cool-off
    type: WAIT
    seconds: 1
    next: open
  - name: open
    type: TASK
    worker: open-account
    sla_seconds: 600
    next: opened
  - {{name: opened, type: SUCCESS}}
  - {{name: declined, type: FAIL, error: Declined}}
"""


def definition() -> Definition:
    return parse(LOAD, "reliability/workload.py")


def start(n: int, prefix: str = "rel") -> StartJourney:
    """Journey n: its id is its reference; one in ten is declined at verify, so both ends are exercised."""
    reference = f"{prefix}-{n:05d}"
    data = {"reference": reference, "full_name": CANARY_NAME, "iban": CANARY_IBAN, "amount": 100 + n}
    return StartJourney(journey_id=reference, definition_id=LOAD_ID, input=data, actor="reliability")


def declined(reference: str) -> bool:
    return reference.endswith("7")


class Ledger:
    """The workers' side effects, by (worker, journey reference); `flaky` of first kyc attempts fail retryably."""

    def __init__(self, flaky: float = 0.0) -> None:
        self.effects: Counter[tuple[str, str]] = Counter()
        self.attempts: Counter[str] = Counter()
        self.flaky = flaky
        self._lock = threading.Lock()

    def effect(self, worker: str, reference: str) -> None:
        with self._lock:
            self.effects[worker, reference] += 1

    def first_attempt_fails(self, reference: str) -> bool:
        with self._lock:
            self.attempts[reference] += 1
            first = self.attempts[reference] == 1
        return first and zlib.crc32(reference.encode()) % 1000 < self.flaky * 1000

    def workers(self) -> Workers:
        registry = Workers()

        @registry.step("kyc")
        def kyc(reference: str, full_name: str) -> dict[str, Any]:
            if self.first_attempt_fails(reference):
                raise RetryableError("the identity bureau timed out")
            self.effect("kyc", reference)
            return {"kyc": {"result": "DECLINED" if declined(reference) else "CLEAR", "checked_name": full_name}}

        @registry.step("sanctions-screen")
        def sanctions(reference: str, full_name: str) -> dict[str, Any]:
            self.effect("sanctions-screen", reference)
            return {"sanctions": {"hit": False, "screened": full_name}}

        @registry.step("fraud-screen")
        def fraud(reference: str, iban: str) -> dict[str, Any]:
            self.effect("fraud-screen", reference)
            return {"fraud": {"risk": "LOW", "payee_iban": iban}}

        @registry.step("open-account")
        def open_account(reference: str, amount: float) -> dict[str, Any]:
            self.effect("open-account", reference)
            return {"account": {"number": f"ACC-{reference}", "opening_deposit": amount}}

        return registry
