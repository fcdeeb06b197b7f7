"""Maker-checker against a hostile insider, on the local stack: every route that once released a payment alone.

Each test drives the real HTTP API, bus and queues, and asserts the payment was not released: the release
worker never ran, and the journey is where it was (or back at its approval, asked again from level 1).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from cli.client import JourneysClient
from devstack.emulator import Emulator
from devstack.stack import LocalStack
from reliability.instruments import inbox_ticket, rewrapped
from router.core.approvals import Ticket, TicketStatus
from router.core.model import Journey, JourneyStatus
from router.core.proofs import proof_for
from tests.test_approvals_emulator import waited
from workers.samples import SAMPLES
from workers.step import Workers

pytestmark = pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")
BENEFICIARY = {"name": "Difference Engines plc", "iban": "GB82WEST12345698765432"}


def counted(runs: list[str]) -> Workers:
    """The sample workers, with every run of the payment release counted: the side effect that must not happen."""

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)  # the argument model is built from the signature
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if name == "release-payment":
                runs.append(str(kwargs.get("payment_id")))
            return fn(*args, **kwargs)

        return wrapped

    return rewrapped(SAMPLES, wrap)


@dataclass
class Bank:
    stack: LocalStack
    engine: JourneysClient
    api: TestClient
    releases: list[str] = field(default_factory=list)

    def headers(self, who: str, *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.stack.issuer.issue(who, list(roles))}"}

    def pay(self, amount: float = 100.0, maker: str = "mallory") -> str:
        payment = {"payment_id": f"P-{time.monotonic_ns()}", "amount": amount, "currency": "EUR"}
        payment |= {"beneficiary": BENEFICIARY, "initiated_by": maker}
        journey_id = self.engine.start("payment-approval", payment)
        self.ticket(journey_id, 1)
        return journey_id

    def journey(self, journey_id: str) -> Journey:
        journey = self.engine.get(journey_id)
        assert journey is not None
        return journey

    def ticket(self, journey_id: str, level: int, activation: str | None = None) -> Ticket:
        return inbox_ticket(self.engine, journey_id, level, activation)

    def decide(self, ticket: Ticket, who: str, role: str, verdict: str = "approve") -> Any:
        body = {"reason": "checked"} if verdict == "approve" else {"reason": "no"}
        return self.api.post(f"/api/approvals/{ticket.ticket_id}/{verdict}", json=body, headers=self.headers(who, role))

    def intervene(self, journey_id: str, who: str = "olga", **body: Any) -> Any:
        return self.api.post(
            f"/api/journeys/{journey_id}/interventions",
            json={"reason": "operator fix", **body},
            headers=self.headers(who, "viewer", "operator"),
        )

    def settle(self) -> None:
        self.stack.wait_quiet()


@pytest.fixture(scope="module")
def bank(emulator: Emulator) -> Iterator[Bank]:
    emulator.reset()
    runs: list[str] = []
    with LocalStack(emulator, workers=counted(runs)) as stack:
        runtime = stack.runtimes["ApiFunction"]
        api = TestClient(create_app(lambda: runtime, stack.issuer))
        yield Bank(stack, JourneysClient(stack.runtimes["AdvanceFunction"]), api, runs)


def unchanged(bank: Bank, before: Journey) -> None:
    bank.settle()
    after = bank.journey(before.id)
    assert (after.version, after.step, after.status) == (before.version, before.step, before.status)
    assert before.state["payment_id"] not in bank.releases


# -- route 1: an operator's goto past the gate


def test_an_operators_goto_past_an_unpassed_approval_is_refused_and_changes_nothing(bank: Bank) -> None:
    """goto `release` (or the decision after the approval) while level 1 waits: 409 approval-gate."""
    journey_id = bank.pay()
    before = bank.journey(journey_id)
    for target in ("release", "approval-outcome", "released"):
        response = bank.intervene(journey_id, command="goto", target=target)
        assert response.status_code == 409, response.text
        assert response.json()["error"] == "approval-gate"
    unchanged(bank, before)


def test_skip_retry_and_resume_never_step_past_an_approval(bank: Bank) -> None:
    """An approval cannot be skipped; retrying it asks from level 1 again, never releases."""
    journey_id = bank.pay()
    before = bank.journey(journey_id)
    skipped = bank.intervene(journey_id, command="skip", output={"approval": {"outcome": "granted"}})
    assert skipped.status_code == 409 and skipped.json()["error"] == "approval-gate"
    unchanged(bank, before)


# -- route 2: a patch between levels


def test_a_patch_to_the_amount_between_levels_voids_level_one_and_asks_again(bank: Bank) -> None:
    """A approves 100; the amount is patched to 999,999: A's approval is void, level 2's ticket withdrawn,
    B's approval of it refused, and the new level 1 (over the officer's limit) cannot be approved by A."""
    journey_id = bank.pay(amount=100)
    first = bank.ticket(journey_id, 1)
    assert bank.decide(first, "alice", "payments-officer").status_code == 200
    second = bank.ticket(journey_id, 2)
    patched = bank.intervene(journey_id, command="patch", patch={"amount": 999_999})
    assert patched.status_code == 202, patched.text
    bank.settle()
    withdrawn = waited(lambda: _if(bank.engine.desk.ticket(second.ticket_id), TicketStatus.WITHDRAWN))
    assert any(e.action == "withdraw" and "patch" in e.detail for e in withdrawn.audit)  # the approvers are told why
    late = bank.decide(second, "bob", "payments-manager")
    assert late.status_code == 409, late.text
    journey = bank.journey(journey_id)
    assert journey.step == "approve-payment" and journey.status is JourneyStatus.RUNNING
    again = bank.ticket(journey_id, 1, activation=next(iter(journey.open)))
    assert again.activation_id != first.activation_id and again.amount == 999_999 and again.digest != first.digest
    over = bank.decide(again, "alice", "payments-officer")
    assert over.status_code == 403 and "limit" in over.json()["detail"]
    bank.settle()
    assert journey.state["payment_id"] not in bank.releases


def _if(ticket: Ticket | None, status: TicketStatus) -> Ticket | None:
    return ticket if ticket is not None and ticket.status is status else None


# -- route 3: patching the maker field


def test_the_maker_field_cannot_be_patched_so_the_maker_cannot_approve_their_own_payment(bank: Bank) -> None:
    """patch initiated_by: 409 maker-field; the maker's approval after a retry is still refused."""
    journey_id = bank.pay(maker="mallory")
    before = bank.journey(journey_id)
    response = bank.intervene(journey_id, command="patch", patch={"initiated_by": "someone-else"})
    assert response.status_code == 409 and response.json()["error"] == "maker-field"
    unchanged(bank, before)
    retried = bank.intervene(journey_id, command="retry")
    assert retried.status_code == 202
    bank.settle()
    journey = bank.journey(journey_id)
    ticket = bank.ticket(journey_id, 1, activation=next(iter(journey.open)))
    own = bank.decide(ticket, "mallory", "payments-officer")
    assert own.status_code == 403 and "maker" in own.json()["detail"]


def test_the_maker_cannot_intervene_in_their_own_payment(bank: Bank) -> None:
    """An operator who is the payment's maker moves nothing in it."""
    journey_id = bank.pay(maker="olga")
    before = bank.journey(journey_id)
    response = bank.intervene(journey_id, who="OLGA", command="goto", target="approve-payment")
    assert response.status_code == 409 and response.json()["error"] == "maker-field"
    unchanged(bank, before)


# -- route 4: look-alike identities


@pytest.mark.parametrize(
    "alias",
    ["MALLORY", "\uff4d\uff41\uff4c\uff4c\uff4f\uff52\uff59", "Mallory "],  # the middle one in fullwidth letters
    ids=["upper case", "fullwidth", "trailing space"],
)
def test_the_maker_under_a_look_alike_name_is_still_the_maker(bank: Bank, alias: str) -> None:
    """Compared after NFKC and case folding, every spelling of the maker is the maker: 403."""
    journey_id = bank.pay(maker="mallory")
    ticket = bank.ticket(journey_id, 1)
    response = bank.decide(ticket, alias, "payments-officer")
    assert response.status_code == 403 and "maker" in response.json()["detail"]
    assert bank.engine.desk.ticket(ticket.ticket_id).status is TicketStatus.OPEN  # type: ignore[union-attr]


@pytest.mark.parametrize("alias", ["mal\u200blory", "mal\u00adlory", "mallory\u2060"], ids=["zwsp", "shy", "wj"])
def test_a_name_carrying_invisible_characters_is_never_trusted(bank: Bank, alias: str) -> None:
    """A token whose username hides invisible characters is refused outright (401), or at worst as the maker."""
    journey_id = bank.pay(maker="mallory")
    ticket = bank.ticket(journey_id, 1)
    response = bank.decide(ticket, alias, "payments-officer")
    assert response.status_code in (401, 403, 422), response.text
    assert bank.engine.desk.ticket(ticket.ticket_id).status is TicketStatus.OPEN  # type: ignore[union-attr]


def test_one_person_cannot_approve_two_levels_under_two_spellings(bank: Bank) -> None:
    """alice at level 1, ALICE in fullwidth letters at level 2: the same person, refused."""
    journey_id = bank.pay(maker="mallory")
    assert bank.decide(bank.ticket(journey_id, 1), "alice", "payments-officer").status_code == 200
    second = bank.ticket(journey_id, 2)
    response = bank.decide(second, "\uff21\uff2c\uff29\uff23\uff25", "payments-manager")  # ALICE, fullwidth
    assert response.status_code == 403 and "already approved" in response.json()["detail"]


# -- route 5: forged messages


def test_a_forged_approval_event_with_invented_approvers_releases_nothing(bank: Bank) -> None:
    """approval_recorded on the bus from bank.staff without the approver's signed token: not applied."""
    journey_id = bank.pay()
    before = bank.journey(journey_id)
    ticket = bank.ticket(journey_id, 1)
    bus = bank.engine.settings.domain_buses["bank-payments"]
    forged = [
        {"ticket_id": ticket.ticket_id, "decision": "approve", "approver": "alice", "roles": ["payments-officer"]},
        {
            "ticket_id": ticket.ticket_id,
            "decision": "approve",
            "approver": "alice",
            "token": bank.stack.issuer.issue("alice", ["payments-officer"]) + "x",  # tampered
        },
        {
            "ticket_id": ticket.ticket_id,
            "decision": "approve",
            "approver": "alice",
            "token": bank.stack.issuer.issue("mallory", ["payments-officer"]),  # the maker's own, renamed
        },
    ]
    for detail in forged:
        entry = {"EventBusName": bus, "Source": "bank.staff", "DetailType": "approval_recorded"}
        bank.stack.client("events").put_events(Entries=[{**entry, "Detail": json.dumps(detail)}])
    bank.settle()
    stored = bank.engine.desk.ticket(ticket.ticket_id)
    assert stored is not None and stored.status is TicketStatus.OPEN and stored.decided_by is None
    unchanged(bank, before)


def test_forged_answers_on_the_advance_queue_are_parked_and_change_nothing(bank: Bank) -> None:
    """A granted approval outcome and a step success without the router's proof (or with another's): never applied."""
    journey_id = bank.pay()
    before = bank.journey(journey_id)
    (activation,) = before.open
    other = bank.pay()
    (other_activation,) = bank.journey(other).open
    stolen = proof_for(bank.stack.proof_key.encode(), other, other_activation)  # valid, for another activation
    grant = {"kind": "approval_outcome", "journey_id": journey_id, "activation_id": activation, "outcome": "granted"}
    forged = [
        {**grant, "approvers": ["alice", "bob"], "digest": before.open[activation].digest},
        {**grant, "approvers": ["alice", "bob"], "digest": before.open[activation].digest, "proof": stolen},
        {"kind": "step_succeeded", "journey_id": journey_id, "activation_id": activation, "actor": "x", "output": {}},
    ]
    sqs = bank.stack.client("sqs")
    for body in forged:
        sqs.send_message(QueueUrl=bank.engine.settings.advance_queue_url, MessageBody=json.dumps(body))
    bank.settle()
    unchanged(bank, before)


def test_a_grant_by_two_people_on_the_current_digest_releases_once(bank: Bank) -> None:
    """The honest path still works: two different people, each holding their level's role, release it once."""
    journey_id = bank.pay(amount=100, maker="mallory")
    assert bank.decide(bank.ticket(journey_id, 1), "alice", "payments-officer").status_code == 200
    assert bank.decide(bank.ticket(journey_id, 2), "bob", "payments-manager").status_code == 200
    journey = waited(lambda: _done(bank, journey_id))
    assert journey.status is JourneyStatus.SUCCEEDED
    assert bank.releases.count(journey.state["payment_id"]) == 1
    assert journey.granted["approve-payment"].approvers == ["alice", "bob"]


def _done(bank: Bank, journey_id: str) -> Journey | None:
    journey = bank.engine.get(journey_id)
    return journey if journey is not None and journey.status is not JourneyStatus.RUNNING else None
