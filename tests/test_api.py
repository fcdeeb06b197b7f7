"""The HTTP API on the emulator: every endpoint against real journeys, as operators, approvers and customers see it.

One local stack per module plays the journeys the tests read: 25 customers waiting on an INPUT step,
a dispute known by its business key, an account opening that escalates (its worker always fails), and a
payment waiting for two approvers. The API runs with its own boto3 session, so every AWS call it makes
is recorded and, last, held to the ApiFunction's rows in infra/calls.yaml.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import boto3
import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from mangum import Mangum

import api.lambda_handler
import api.listing
from api.app import create_app
from api.auth import DevIssuer, GatewayClaims
from cli.client import JourneysClient
from consumers.runtime import Runtime
from devstack.emulator import CREDENTIALS, Emulator
from devstack.provision import DEFAULT_TEMPLATE
from devstack.stack import LocalStack
from reliability.instruments import gateway_event, inbox_ticket, resources_of, settled
from router.adapters.definitions import DynamoDefinitionStore
from router.adapters.dynamodb import journey_item
from router.core.model import JourneyStatus, StartJourney
from router.language.registry import Registry
from tests.test_policies import ALWAYS_BUSY, IAM_ACTION, IAM_PREFIX, failing
from workers.samples import SAMPLES as SAMPLE_WORKERS

ISSUER = DevIssuer("a-test-secret-of-at-least-thirty-two-bytes")
KYC_ANSWER = {
    "full_name": "Kim Keeper",
    "date_of_birth": "1990-01-01",
    "address": {"line1": "1 High Street", "postcode": "AB1 2CD", "country": "GB"},
    "documents": {"document_type": "driving_licence", "document_number": "KEEPE901"},
}
PAYMENT = {
    "payment_id": "PAY-2024-0077",
    "amount": 25000,
    "currency": "GBP",
    "beneficiary": {"name": "Difference Engines plc", "iban": "GB82WEST12345698765432"},
    "reference": "Invoice 1877",
    "initiated_by": "maker-mo",
}
MONTH = 30 * 86400.0


def bearer(sub: str, *roles: str, customer: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {ISSUER.issue(sub, list(roles), customer_id=customer)}"}


OPERATOR = bearer("olga", "viewer", "operator")
VIEWER = bearer("vera", "viewer")


def customer(customer_id: str) -> dict[str, str]:
    return bearer(f"customer:{customer_id}", "customer", customer=customer_id)


@dataclass
class World:
    stack: LocalStack
    http: TestClient
    engine: JourneysClient
    skew: list[float]
    calls: list[tuple[str, str, dict[str, Any]]]
    kyc: list[str] = field(default_factory=list)  # kyc[i] belongs to customer CUST-000100 + i
    created_between: float = 0.0  # after kyc[:10] were created, before kyc[10:]
    dispute: str = ""
    stuck: str = ""
    more_stuck: list[str] = field(default_factory=list)  # for retry and resume
    payment: str = ""


@pytest.fixture(scope="module")
def world(emulator: Emulator) -> Iterator[World]:
    emulator.reset()
    stack = LocalStack(emulator, workers=failing(SAMPLE_WORKERS)).start()
    skew, calls = [0.0], []
    session = boto3.Session(**CREDENTIALS)  # the API's own, so its calls can be told apart
    session.events.register(
        "before-parameter-build",
        lambda model, params, **_: calls.append((model.service_model.service_name, model.name, dict(params))),
    )
    runtime = Runtime(
        stack.runtimes["ApiFunction"].settings, session, stack.registry, stack.workers, lambda: time.time() + skew[0]
    )
    engine = JourneysClient(stack.runtimes["StartFunction"])
    w = World(stack, TestClient(create_app(lambda: runtime, ISSUER)), engine, skew, calls)
    try:
        w.kyc = [_kyc(engine, i) for i in range(10)]
        stack.wait_quiet()  # created_at is when the start consumer commits
        w.created_between = time.time()
        w.kyc += [_kyc(engine, i) for i in range(10, 25)]
        w.dispute = engine.start("dispute", _dispute(), actor="dora")
        engine._send(  # a journey its domain knows by the customer's id (the business key)
            engine.settings.start_queue_url,
            StartJourney(
                journey_id="dispute-by-key", definition_id="dispute", input=_dispute(), business_key="CUST-000400"
            ).model_dump_json(),
        )
        applicant = {"full_name": f"Bea {ALWAYS_BUSY}", "email": "bea@example.com", "date_of_birth": "1990-01-01"}
        w.stuck, *w.more_stuck = [
            engine.start("account-opening", {**applicant, "country": "GB"}, actor="web") for _ in range(3)
        ]
        w.payment = engine.start("payment-approval", PAYMENT, actor="maker-mo")
        for journey in (w.stuck, *w.more_stuck):
            settled(engine, journey, lambda j: j.status is JourneyStatus.STUCK)
        inbox_ticket(engine, w.payment, 1)
        stack.wait_quiet()
        yield w
    finally:
        stack.stop()


def _kyc(engine: JourneysClient, i: int) -> str:
    person = {"customer_id": f"CUST-{100 + i:06d}", "full_name": f"Ida Idle {i}", "email": f"ida{i}@example.com"}
    return engine.start("kyc-uplift", person, actor="crm")


def _dispute() -> dict[str, Any]:
    return {
        "full_name": "Dora Dispute",
        "card_last4": "4242",
        "transaction_id": "TX-7",
        "merchant": "Acme",
        "amount": 25,
        "reason": "duplicate_charge",
        "days_since_transaction": 2,
    }


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


def listing(w: World, **query: Any) -> dict[str, Any]:
    response = w.http.get("/api/journeys", params=query, headers=VIEWER)
    assert response.status_code == 200, response.text
    return response.json()


# ------------------------------------------------------------------ listing


def test_pages_cover_every_journey_once_even_when_one_moves_meanwhile(world: World) -> None:
    """25 journeys, 10 a page: 3 pages, oldest first, no duplicates, no gaps; one that advances between
    pages (its status and updated_at change) still shows exactly once."""
    pages, cursor = [], None
    while True:
        page = listing(world, definition="kyc-uplift", limit=10, **({"cursor": cursor} if cursor else {}))
        pages.append(ids(page))
        if len(pages) == 1:  # a customer on the last page answers: that journey moves on
            world.engine.submit(world.kyc[-1], KYC_ANSWER, actor="customer:test")
            settled(world.engine, world.kyc[-1], lambda j: j.step != "request-details")
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [10, 10, 5]
    oldest_first = sorted(world.kyc, key=lambda i: (world.engine.get(i).created_at, i))
    assert [i for p in pages for i in p] == oldest_first


@pytest.mark.parametrize(
    ("query", "expect"),
    [
        ({"status": "STUCK"}, "stuck"),
        ({"definition": "payment-approval"}, "payment"),
        ({"business_key": "CUST-000400"}, "dispute-by-key"),
        ({"stuck_reason": "escalated"}, "stuck"),
        ({"sla_breached": "true"}, "stuck"),
        ({"definition": "account-opening", "version": "1.0.0"}, "stuck"),
    ],
)
def test_each_filter_finds_its_journey(world: World, query: dict[str, str], expect: str) -> None:
    """Status, definition and version, business key, stuck reason and SLA breach each narrow the list."""
    found = ids(listing(world, **query))
    if expect == "stuck":
        assert set(found) == {world.stuck, *world.more_stuck}
    else:
        assert found == [getattr(world, expect, expect)]


def test_date_range_and_version_filters(world: World) -> None:
    """created_from is inclusive, created_to exclusive; an unknown version matches nothing."""
    between = world.created_between
    assert set(ids(listing(world, definition="kyc-uplift", created_to=between))) == set(world.kyc[:10])
    assert set(ids(listing(world, definition="kyc-uplift", created_from=between))) == set(world.kyc[10:])
    assert ids(listing(world, definition="kyc-uplift", version="9.9.9")) == []


def test_a_month_later_every_waiting_customer_is_past_the_sla(world: World) -> None:
    """sla_breached and the stuck queue follow the clock: inputs unanswered for a month are overdue."""
    waiting = {j for j in world.kyc if world.engine.get(j).step == "request-details"}
    assert not set(ids(listing(world, sla_breached="true"))) & waiting
    world.skew[0] = MONTH
    try:
        breached = set(ids(listing(world, sla_breached="true", limit=200)))
        queue = world.http.get("/api/journeys/stuck", params={"limit": 200}, headers=VIEWER).json()
    finally:
        world.skew[0] = 0.0
    assert waiting | {world.stuck} <= breached
    assert waiting | {world.stuck} <= set(ids(queue))
    assert all(item["sla_breached"] and item["stuck_reason"] for item in queue["items"])


def test_the_stuck_queue_lists_the_escalated_journey_and_why(world: World) -> None:
    """Only journeys that need an operator, each with its reason."""
    queue = world.http.get("/api/journeys/stuck", headers=VIEWER).json()
    assert set(ids(queue)) == {world.stuck, *world.more_stuck}
    item = queue["items"][0]
    assert item["status"] == "STUCK" and "escalated at step validate-application" in item["stuck_reason"]
    assert item["waiting_on"] == "escalated" and item["step_label"] == "Checking your application"


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"status": "NOPE"}, "query.status"),
        ({"limit": "0"}, "query.limit"),
        ({"limit": "1000"}, "query.limit"),
        ({"sla_breached": "perhaps"}, "query.sla_breached"),
        ({"created_from": "yesterday"}, "query.created_from"),
        ({"created_from": "20", "created_to": "10"}, "created_from must be before created_to"),
    ],
)
def test_bad_filter_values_are_422_naming_the_problem(world: World, query: dict[str, str], names: str) -> None:
    """Every refusal says which value is wrong, in words."""
    response = world.http.get("/api/journeys", params=query, headers=VIEWER)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid" and any(names in problem for problem in body["detail"]), body


# ------------------------------------------------------------------ detail and interventions


def test_detail_shows_state_timeline_graph_and_why(world: World) -> None:
    """The escalated journey: its state, why it is stuck, the log with actors, the graph with where it is."""
    response = world.http.get(f"/api/journeys/{world.stuck}", headers=VIEWER)
    assert response.status_code == 200
    detail = response.json()
    assert detail["journey"]["status"] == "STUCK" and detail["state"]["full_name"] == f"Bea {ALWAYS_BUSY}"
    assert detail["why"].startswith("escalated at step validate-application")
    assert detail["error"]["step"] == "validate-application"
    assert detail["timeline"][0] | {"at": 0} == {
        "seq": 1,
        "at": 0,
        "actor": "web",
        "event": "start",
        "from_step": "validate-application",
        "to_step": "validate-application",
        "result": "started",
        "status": "RUNNING",
        "reason": None,
    }
    assert detail["timeline"][-1]["status"] == "STUCK"
    graph = detail["graph"]
    assert graph["current"] == ["validate-application"] and graph["path"] == ["validate-application"]
    assert ["validate-application", graph["edges"][0][1], ""] == graph["edges"][0]
    assert "class validate_application current" in graph["mermaid"]
    assert "token" not in response.text.lower()


def test_an_unknown_journey_is_404(world: World) -> None:
    response = world.http.get("/api/journeys/no-such-journey", headers=VIEWER)
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "there is no journey no-such-journey"}


def test_the_id_of_a_published_definition_is_an_unknown_journey(world: World) -> None:
    """Published definitions share the journeys table (definition#id#version, no journey document): asking for
    one as a journey is 404, not a 500 from reading a document it does not have."""
    kyc = Registry.from_directory().get("kyc-uplift")
    DynamoDefinitionStore(world.engine.runtime.client("dynamodb"), world.engine.settings.journeys_table).put(kyc)
    key = f"definition#kyc-uplift#{kyc.version}"
    response = world.http.get(f"/api/journeys/{quote(key, safe='')}", headers=VIEWER)
    assert response.status_code == 404 and response.json()["detail"] == f"there is no journey {key}"


def test_a_journey_on_a_version_found_nowhere_is_listed_without_labels_and_its_detail_is_409(world: World) -> None:
    """Its definition version is neither deployed nor published: the list still answers (that row has no step
    label) and the journey's own page says why it cannot be shown, rather than a 500."""
    orphan = world.engine.get(world.dispute).model_copy(update={"id": "orphan-version", "definition_version": "0.0.1"})
    dynamodb, table = world.engine.runtime.client("dynamodb"), world.engine.settings.journeys_table
    record = world.engine.timeline(world.dispute)[-1].model_copy(update={"journey_id": orphan.id})
    dynamodb.put_item(TableName=table, Item=journey_item(orphan, record))
    try:
        page = listing(world, definition="dispute", limit=200)
        detail = world.http.get("/api/journeys/orphan-version", headers=VIEWER)
    finally:
        dynamodb.delete_item(TableName=table, Key={"journey_id": {"S": orphan.id}})
    (row,) = [item for item in page["items"] if item["id"] == orphan.id]
    assert row["definition_version"] == "0.0.1" and row["step_label"] is None
    assert detail.status_code == 409 and detail.json()["error"] == "unknown_definition"
    assert "0.0.1 is neither deployed nor published" in detail.json()["detail"]


@pytest.mark.parametrize("path", ["/api/journeys", "/api/journeys/stuck"])
def test_a_malformed_cursor_is_400_saying_so(world: World, path: str) -> None:
    """A cursor this API never returned is the caller's mistake (400), in words, without echoing it back."""
    response = world.http.get(path, params={"cursor": "not-a-cursor"}, headers=VIEWER)
    assert response.status_code == 400
    says = "the cursor is not one this API returned: pass back the next_cursor of a page"
    assert response.json() == {"error": "invalid", "detail": says}


def test_a_page_examines_at_most_max_scan_index_entries_and_goes_on_from_there(world: World, monkeypatch) -> None:
    """A listing never reads without bound: past MAX_SCAN the page is cut short with a cursor, and following
    the cursors still lists every journey once."""
    everyone = ids(listing(world, definition="kyc-uplift", limit=200))
    monkeypatch.setattr(api.listing, "MAX_SCAN", 1)
    pages, cursor = [], None
    while True:
        page = listing(world, definition="kyc-uplift", limit=3, **({"cursor": cursor} if cursor else {}))
        pages.append(ids(page))
        if (cursor := page["next_cursor"]) is None:
            break
    assert len(pages) > 1 and all(len(page) <= 3 for page in pages)
    assert [j for page in pages for j in page] == everyone


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"command": "skip"}, "body.reason: Field required"),
        ({"command": "skip", "reason": "   "}, "body.reason: a reason is required"),
        ({"command": "reboot", "reason": "try it"}, "body.command: Input should be 'retry', 'skip'"),
        ({"command": "goto", "reason": "back to the start"}, "goto needs a target step"),
        ({"command": "patch", "reason": "fix the name"}, "patch needs a non-empty patch object"),
        ({"command": "skip", "reason": "done", "extra": 1}, "body.extra: Extra inputs are not permitted"),
    ],
)
def test_an_invalid_intervention_is_422_and_changes_nothing(world: World, body: dict[str, Any], says: str) -> None:
    """A reason is mandatory and must say something; commands and their arguments are checked."""
    before = world.engine.get(world.stuck)
    response = world.http.post(f"/api/journeys/{world.stuck}/interventions", json=body, headers=OPERATOR)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid" and any(says in p for p in response.json()["detail"]), response.json()
    assert world.engine.get(world.stuck) == before


def test_a_refused_intervention_is_409_with_the_routers_reason(world: World) -> None:
    """Resume on a running journey, or at a version the operator did not see: refused, nothing written."""
    running = world.kyc[0]
    resume = world.http.post(
        f"/api/journeys/{running}/interventions", json={"command": "resume", "reason": "try"}, headers=OPERATOR
    )
    assert resume.status_code == 409
    assert resume.json() == {
        "error": "conflict",
        "detail": f"journey {running} is RUNNING, not STUCK: resume is for escalated journeys",
    }
    stale = world.http.post(
        f"/api/journeys/{world.stuck}/interventions",
        json={"command": "skip", "reason": "done by hand", "expected_version": 1},
        headers=OPERATOR,
    )
    assert stale.status_code == 409 and "version" in stale.json()["detail"]
    unknown = world.http.post(
        "/api/journeys/nope/interventions", json={"command": "cancel", "reason": "gone"}, headers=OPERATOR
    )
    assert unknown.status_code == 404


def test_an_operator_skips_the_stuck_step_and_the_log_names_them_and_why(world: World) -> None:
    """202; the journey leaves STUCK; its transition log records the token's subject and the reason."""
    version = world.engine.get(world.stuck).version
    response = world.http.post(
        f"/api/journeys/{world.stuck}/interventions",
        json={
            "command": "skip",
            "reason": "validated by phone",
            "expected_version": version,
            "output": {"application": {"eligible": True, "reason": None, "reference": "APP-PHONE"}},  # what it'd give
        },
        headers=OPERATOR,
    )
    assert response.status_code == 202
    assert response.json() | {"step": None, "status": None} == {
        "journey_id": world.stuck,
        "command": "skip",
        "accepted": True,
        "version": version + 1,
        "status": None,
        "step": None,
    }
    world.stack.wait_quiet()
    timeline = world.http.get(f"/api/journeys/{world.stuck}", headers=VIEWER).json()["timeline"]
    (skipped,) = [e for e in timeline if e["seq"] == version + 1]
    assert (
        skipped["actor"] == "olga"
        and skipped["reason"] == "validated by phone"
        and skipped["event"] == "intervention_skip"
    )
    assert world.engine.get(world.stuck).status is not JourneyStatus.STUCK


@pytest.mark.parametrize(
    ("command", "journey", "fields", "after"),
    [
        ("goto", "kyc4", {"target": "request-details"}, lambda j: j.version > 1),  # asked again, afresh
        ("patch", "kyc5", {"patch": {"email": "ida5@example.org"}}, lambda j: j.state["email"] == "ida5@example.org"),
        ("cancel", "kyc6", {}, lambda j: j.status is JourneyStatus.CANCELLED),
        ("retry", "stuck1", {}, lambda j: j.status is JourneyStatus.RUNNING),
        ("resume", "stuck2", {}, lambda j: j.status is JourneyStatus.RUNNING),
    ],
)
def test_every_intervention_is_accepted_and_audited_with_its_actor(
    world: World, command: str, journey: str, fields: dict[str, Any], after: Any
) -> None:
    """goto, patch, cancel, retry and resume (skip above): 202, applied, logged as the operator with the reason."""
    journey_id = {"kyc4": world.kyc[4], "kyc5": world.kyc[5], "kyc6": world.kyc[6]}.get(journey) or (
        world.more_stuck[int(journey[-1]) - 1]
    )
    body = {"command": command, "reason": f"{command} by the book", **fields}
    response = world.http.post(f"/api/journeys/{journey_id}/interventions", json=body, headers=OPERATOR)
    assert response.status_code == 202, response.text
    assert response.json()["command"] == command and response.json()["accepted"] is True
    settled(world.engine, journey_id, after)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logged = [r for r in world.engine.timeline(journey_id) if r.seq == response.json()["version"]]
        if logged:
            break
        time.sleep(0.1)
    assert [(r.actor, r.reason, r.event) for r in logged] == [("olga", body["reason"], f"intervention_{command}")]


def test_a_goto_to_a_step_whose_inputs_were_never_produced_is_409_naming_them_and_changes_nothing(
    world: World,
) -> None:
    """The API checks what the target needs, as the CLI does: not a worker's TerminalError later."""
    journey_id = world.kyc[7]
    before = world.engine.get(journey_id)
    body = {"command": "goto", "reason": "try the end", "target": "verify-identity"}
    response = world.http.post(f"/api/journeys/{journey_id}/interventions", json=body, headers=OPERATOR)
    assert response.status_code == 409 and "date_of_birth" in response.json()["detail"], response.text
    world.stack.wait_quiet()
    assert world.engine.get(journey_id).version == before.version


# ------------------------------------------------------------------ approvals


def officer(name: str = "officer-olivia") -> dict[str, str]:
    return bearer(name, "payments-officer")


def level_one(world: World) -> dict[str, Any]:
    inbox = world.http.get("/api/approvals", headers=officer()).json()
    (ticket,) = [t for t in inbox if t["journey_id"] == world.payment and t["level"] == 1]
    return ticket


def test_the_inbox_shows_only_tickets_of_roles_the_caller_holds_and_never_a_token(world: World) -> None:
    """A payments officer sees level 1; a payments manager does not (level 2 is not open yet)."""
    ticket = level_one(world)
    assert ticket | {"opened_at": 0, "expires_at": 0, "ticket_id": ""} == {
        "ticket_id": "",
        "journey_id": world.payment,
        "definition_id": "payment-approval",
        "step": ticket["step"],
        "level": 1,
        "levels": 2,
        "role": "payments-officer",
        "limit": 50000,
        "amount": 25000,
        "initiator": "maker-mo",
        "approvers": [],
        "opened_at": 0,
        "expires_at": 0,
        "currency": "GBP",
        "beneficiary": "Difference Engines plc, GB82WEST12345698765432",
        "reference": "Invoice 1877",
    }
    assert world.http.get("/api/approvals", headers=bearer("max", "payments-manager")).json() == []


def test_maker_checker_and_roles_are_enforced_and_audited(world: World) -> None:
    """The maker may not approve (403), nor someone without the level's role (403); both refusals are
    audited on the ticket with who tried; a rejection needs a reason (422); an unknown ticket is 404."""
    ticket_id = level_one(world)["ticket_id"]
    maker = world.http.post(f"/api/approvals/{ticket_id}/approve", json={}, headers=officer("maker-mo"))
    assert maker.status_code == 403 and "maker-checker" in maker.json()["detail"]
    manager = bearer("manager-max", "payments-manager")
    wrong_role = world.http.post(f"/api/approvals/{ticket_id}/approve", json={}, headers=manager)
    assert wrong_role.status_code == 403 and "does not hold role 'payments-officer'" in wrong_role.json()["detail"]
    no_reason = world.http.post(f"/api/approvals/{ticket_id}/reject", json={}, headers=officer())
    assert no_reason.status_code == 422 and no_reason.json()["detail"] == ["a rejection needs a reason"]
    assert world.http.post("/api/approvals/nope/approve", json={}, headers=officer()).status_code == 404
    audit = world.engine.desk.ticket(ticket_id).audit
    assert [(a.actor, a.result) for a in audit if a.result == "refused"] == [
        ("maker-mo", "refused"),
        ("manager-max", "refused"),
    ]


def test_on_aws_the_maker_is_refused_though_cognitos_subject_is_a_uuid(world: World) -> None:
    """Cognito's `sub` is a UUID; the maker is recorded by username. Through Mangum with the authorizer's
    claims, maker-mo (cognito:username) holding the officer role is still the maker: 403, audited by name."""
    ticket_id = level_one(world)["ticket_id"]
    gateway = Mangum(create_app(world.http.app.state.runtime_factory, GatewayClaims()), lifespan="off")
    claims = {
        "sub": "7d3f5a2e-0b1c-4e8a-9f6d-2c4b8e1a9d70",
        "cognito:username": "maker-mo",
        "cognito:groups": "[payments-officer]",
    }
    answer = gateway(gateway_event("POST", f"/api/approvals/{ticket_id}/approve", claims, {}), None)
    assert answer["statusCode"] == 403 and "maker-checker" in json.loads(answer["body"])["detail"]
    refused = [a for a in world.engine.desk.ticket(ticket_id).audit if a.result == "refused"]
    assert refused[-1].actor == "maker-mo"


def test_an_approver_approves_as_themselves_and_the_next_level_opens(world: World) -> None:
    """200 with the outcome; a repeat is recognised; the chain opens level 2 for a payments manager."""
    ticket_id = level_one(world)["ticket_id"]
    first = world.http.post(f"/api/approvals/{ticket_id}/approve", json={"reason": "checked"}, headers=officer())
    assert first.status_code == 200
    assert first.json() == {"ticket_id": ticket_id, "outcome": "approve", "repeat": False}
    again = world.http.post(f"/api/approvals/{ticket_id}/approve", json={}, headers=officer())
    assert again.status_code == 200 and again.json()["repeat"] is True
    decided = world.engine.desk.ticket(ticket_id)
    assert decided.decided_by == "officer-olivia" and decided.audit[-1].channel == "api"
    manager = bearer("manager-max", "payments-manager")
    deadline = time.monotonic() + 30
    while not world.http.get("/api/approvals", headers=manager).json() and time.monotonic() < deadline:
        time.sleep(0.2)
    (level_two,) = world.http.get("/api/approvals", headers=manager).json()
    assert level_two["level"] == 2 and level_two["approvers"] == ["officer-olivia"]


# ------------------------------------------------------------------ customers


PROGRESS_KEYS = {"journey_id", "title", "status", "percent", "step_label", "needed", "finished", "locale", "page"}


def test_a_customer_sees_progress_and_what_is_needed_but_nothing_internal(world: World) -> None:
    """Percent, the step's customer label, the input asked for; no state, no errors, no other data."""
    journey = world.kyc[1]
    response = world.http.get(f"/api/customer/journeys/{journey}/progress", headers=customer("CUST-000101"))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PROGRESS_KEYS
    assert body["percent"] == 0 and body["status"] == "RUNNING" and body["finished"] is False
    assert body["title"] == "Updating your details"  # the customer's title, not the staff one
    assert body["needed"]["step"] == "request-details" and body["needed"]["input_schema"]["type"] == "object"
    assert body["step_label"] == body["needed"]["label"] == "Please confirm your details and upload a photo ID"
    for internal in ("ida1@example.com", "CUST-000101", "Ida Idle", "initiator", "crm", "state"):
        assert internal not in response.text


FRENCH_REQUEST = "Veuillez confirmer vos coordonnées et téléverser une pièce d'identité avec photo"


@pytest.mark.parametrize(
    ("headers", "params", "expect"),
    [
        ({"Accept-Language": "fr-BE,fr;q=0.9,en;q=0.8"}, {}, FRENCH_REQUEST),
        ({"Accept-Language": "de, fr;q=0.5"}, {}, FRENCH_REQUEST),  # no German catalogue: the next preference
        ({"Accept-Language": "en"}, {"locale": "fr"}, FRENCH_REQUEST),
        ({"Accept-Language": "de-AT, de;q=0.9"}, {}, "Please confirm your details and upload a photo ID"),
        ({}, {"locale": "xx"}, "Please confirm your details and upload a photo ID"),
    ],
    ids=["accept-language", "second-preference", "query-overrides", "unknown-falls-back", "unknown-query"],
)
def test_a_customer_reads_labels_in_their_language_or_the_source_text(
    world: World, headers: dict[str, str], params: dict[str, str], expect: str
) -> None:
    """definitions/labels/fr.yaml translates kyc-uplift's steps; a language without a catalogue gets the source."""
    response = world.http.get(
        f"/api/customer/journeys/{world.kyc[2]}/progress",
        params=params,
        headers={**customer("CUST-000102"), **headers},
    )
    assert response.status_code == 200
    assert response.json()["step_label"] == response.json()["needed"]["label"] == expect


def test_a_journey_known_by_the_customers_business_key_is_theirs(world: World) -> None:
    """Ownership by business key as well as by the state's customer_id."""
    response = world.http.get("/api/customer/journeys/dispute-by-key/progress", headers=customer("CUST-000400"))
    assert response.status_code == 200 and response.json()["title"] == "Your card dispute"


@pytest.mark.parametrize("journey", ["other", "dispute", "missing"])
def test_another_customers_journey_is_404_exactly_like_a_missing_one(world: World, journey: str) -> None:
    """Never 403: a customer cannot learn whether someone else's journey exists."""
    journey_id = {"other": world.kyc[2], "dispute": world.dispute, "missing": "no-such-journey"}[journey]
    for method, path, body in [
        ("GET", f"/api/customer/journeys/{journey_id}/progress", None),
        ("POST", f"/api/customer/journeys/{journey_id}/input", {"data": KYC_ANSWER}),
    ]:
        response = world.http.request(method, path, json=body, headers=customer("CUST-000101"))
        assert response.status_code == 404
        assert response.json() == {"error": "not_found", "detail": f"you have no journey {journey_id}"}
    if journey == "other":
        assert world.engine.get(journey_id).step == "request-details"  # the answer went nowhere


def test_a_customer_resumes_their_journey_with_valid_data_only(world: World) -> None:
    """Invalid data is 400 with what is wrong field by field, in words; valid data is 202 and the journey moves on."""
    journey, headers = world.kyc[3], customer("CUST-000103")
    bad = world.http.post(f"/api/customer/journeys/{journey}/input", json={"data": {"full_name": "K"}}, headers=headers)
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid" and bad.json()["fields"] == {
        "full_name": "This is too short",
        "date_of_birth": "Please fill this in",
        "address": "Please fill this in",
        "documents": "Please fill this in",
    }
    missing = world.http.post(f"/api/customer/journeys/{journey}/input", json={}, headers=headers)
    assert missing.status_code == 422 and missing.json()["detail"] == ["body.data: Field required"]
    good = world.http.post(f"/api/customer/journeys/{journey}/input", json={"data": KYC_ANSWER}, headers=headers)
    assert good.status_code == 202 and good.json() == {"accepted": True}
    moved = settled(world.engine, journey, lambda j: j.step != "request-details")
    deadline = time.monotonic() + 30  # the journal writes the timeline from the table's stream, a little later
    while len(world.engine.timeline(journey)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert world.engine.timeline(journey)[1].actor == "customer:CUST-000103"
    progress = world.http.get(f"/api/customer/journeys/{journey}/progress", headers=headers).json()
    assert progress["percent"] > 0 and progress["needed"] is None, moved
    again = world.http.post(f"/api/customer/journeys/{journey}/input", json={"data": KYC_ANSWER}, headers=headers)
    assert again.status_code == 400 and "not waiting for customer input" in again.json()["detail"]


# ------------------------------------------------------------------ served for real, and least privilege


def test_the_local_stack_serves_the_api_over_http(world: World) -> None:
    """Through uvicorn on a real port: the OpenAPI document, a 401, and a list with a token."""
    url = world.stack.serve_api(ISSUER)
    assert httpx.get(f"{url}/openapi.json").json()["info"]["title"] == "Journeys"
    assert httpx.get(f"{url}/api/journeys").status_code == 401
    page = httpx.get(f"{url}/api/journeys", params={"status": "STUCK"}, headers=VIEWER).json()
    assert page["next_cursor"] is None and isinstance(page["items"], list)


def test_the_lambda_handler_configured_only_by_its_environment_lists_journeys(world: World, monkeypatch) -> None:
    """api.lambda_handler.handler as on AWS: settings from the ApiFunction's template environment, the
    caller from the authorizer's claims, the answer through Mangum."""
    assert world.stack.stack is not None
    (function,) = [f for f in world.stack.stack.functions if f.logical_id == "ApiFunction"]
    environment = {**function.environment, "AWS_ENDPOINT_URL": world.stack.emulator.url, "AWS_REGION": "eu-west-1"}
    for name, value in {**environment, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}.items():
        monkeypatch.setenv(name, value)
    api.lambda_handler._runtime.cache_clear()
    try:
        event = gateway_event("GET", "/api/journeys", {"sub": "vera", "cognito:groups": "[viewer]"})
        event["rawQueryString"] = "definition=kyc-uplift&limit=100"
        response = api.lambda_handler.handler(event, None)
    finally:
        api.lambda_handler.handler.app.state.client = None
        api.lambda_handler._runtime.cache_clear()
    assert response["statusCode"] == 200
    assert [item["id"] for item in json.loads(response["body"])["items"]] == sorted(
        world.kyc, key=lambda i: (world.engine.get(i).created_at, i)
    )


def test_zz_every_call_the_api_made_is_declared_for_its_function(world: World) -> None:
    """Runs last: what the tests above made the API call is what infra/calls.yaml grants ApiFunction, and
    every ApiFunction row marked as recorded here was made."""
    assert world.stack.stack is not None
    physical = {name: lid for lid, name in world.stack.stack.resources.items()}
    made = set()
    for service, operation, params in world.calls:
        action = f"{IAM_PREFIX.get(service, service)}:{operation}"
        made |= {(IAM_ACTION.get(action, action), r) for r in resources_of(service, params, physical, None)}
    rows = yaml.safe_load((DEFAULT_TEMPLATE.parent / "calls.yaml").read_text())["ApiFunction"]
    declared = {(a, r) for row in rows if row["by"] == "code" for a in row["calls"] for r in row["resources"]}
    recorded_here = {
        (a, r)
        for row in rows
        if "test_api" in row.get("unexercised", "")
        for a in row["calls"]
        for r in row["resources"]
    }
    assert sorted(made - declared) == []
    assert sorted(recorded_here - made) == []
