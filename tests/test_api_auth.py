"""Who may call what: 401 for every missing or bad token, 403 for every role that may not, before any engine call.

The app here has no engine at all (its runtime factory fails the test if called), which proves that
refusals are answered before anything is read or written.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

import api.lambda_handler
from api import approvals, circuits, customer, ops, start
from api.app import create_app
from api.auth import DevIssuer, Forbidden, GatewayClaims, Unauthenticated, principal_from
from reliability.instruments import gateway_event

SECRET = "a-test-secret-of-at-least-thirty-two-bytes"
ISSUER = DevIssuer(SECRET)


def no_engine() -> Any:
    raise AssertionError("the engine was reached by a call that should have been refused")


@pytest.fixture(scope="module")
def http() -> TestClient:
    return TestClient(create_app(no_engine, ISSUER))


def routes() -> list[tuple[str, str]]:
    """Every API route the app includes, with sample ids in the path."""
    return sorted(
        (method, route.path.replace("{journey_id}", "j-1").replace("{ticket_id}", "t-1"))
        for module in (start, ops, approvals, customer, circuits)
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_every_endpoint_is_listed_here() -> None:
    """The parametrized tests below cover every API route the app has."""
    assert len(routes()) == 11


@pytest.mark.parametrize(("method", "path"), routes())
def test_every_endpoint_answers_401_without_a_token(http: TestClient, method: str, path: str) -> None:
    """No header: 401 with a body that says what to send, and the Bearer challenge."""
    response = http.request(method, path, json={})
    assert response.status_code == 401
    assert response.json() == {"error": "unauthenticated", "detail": "send an Authorization: Bearer <token> header"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_no_token_is_401_even_with_a_body_that_does_not_parse(http: TestClient) -> None:
    """Authentication comes before any parsing: nothing about the request is judged for an unknown caller."""
    response = http.post(
        "/api/journeys/j-1/interventions", content="{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 401 and response.json()["error"] == "unauthenticated"


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({"Authorization": "Bearer not-a-jwt"}, "the token is not valid"),
        ({"Authorization": "Basic b3BlcmF0b3I6cGFzcw=="}, "must be 'Bearer <token>'"),
        (bearer(ISSUER.issue("olga", ["operator"], ttl=-60)), "the token has expired"),
        (bearer(DevIssuer("another-secret-of-at-least-thirty-two-b").issue("olga", ["operator"])), "not valid"),
        (bearer(DevIssuer(SECRET, issuer="someone-else").issue("olga", ["operator"])), "not valid"),
    ],
    ids=["garbage", "not-bearer", "expired", "wrong-signature", "wrong-issuer"],
)
def test_a_bad_token_is_401_with_a_clear_reason(http: TestClient, headers: dict[str, str], says: str) -> None:
    """Garbage, another scheme, expired, signed with another key, or from another issuer: each says why."""
    response = http.get("/api/journeys", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated" and says in response.json()["detail"]


VIEWER = ISSUER.issue("vera", ["viewer"])
OPERATOR = ISSUER.issue("olga", ["viewer", "operator"])
OFFICER = ISSUER.issue("olivia", ["payments-officer"])
CUSTOMER = ISSUER.issue("customer:CUST-000007", ["customer"], customer_id="CUST-000007")
CUSTOMERLESS = ISSUER.issue("customer:nobody", ["customer"])
SKIP = {"command": "skip", "reason": "done by hand"}


@pytest.mark.parametrize(
    ("token", "method", "path", "body", "needs"),
    [
        (VIEWER, "POST", "/api/journeys/j-1/interventions", SKIP, "operator"),
        (OFFICER, "POST", "/api/journeys/j-1/interventions", SKIP, "operator"),
        (CUSTOMER, "POST", "/api/journeys/j-1/interventions", SKIP, "operator"),
        (CUSTOMER, "GET", "/api/journeys", None, "viewer or operator"),
        (CUSTOMER, "GET", "/api/journeys/stuck", None, "viewer or operator"),
        (CUSTOMER, "GET", "/api/journeys/j-1", None, "viewer or operator"),
        (OFFICER, "GET", "/api/journeys", None, "viewer or operator"),
        (VIEWER, "GET", "/api/approvals", None, "approval role"),
        (OPERATOR, "POST", "/api/approvals/t-1/approve", {}, "approval role"),
        (CUSTOMER, "POST", "/api/approvals/t-1/reject", {"reason": "no"}, "approval role"),
        (OPERATOR, "GET", "/api/customer/journeys/j-1/progress", None, "customer"),
        (OFFICER, "POST", "/api/customer/journeys/j-1/input", {"data": {}}, "customer"),
        (CUSTOMERLESS, "GET", "/api/customer/journeys/j-1/progress", None, "names no customer"),
    ],
)
def test_a_role_that_may_not_gets_403_naming_what_it_needs(
    http: TestClient, token: str, method: str, path: str, body: Any, needs: str
) -> None:
    """A viewer never writes, a customer never reaches ops, staff never reach the customer endpoints."""
    response = http.request(method, path, headers=bearer(token), json=body)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden" and needs in response.json()["detail"]


def test_openapi_document_is_public_and_lists_every_endpoint(http: TestClient) -> None:
    """FastAPI's own OpenAPI document: every route, with the intervention body's schema."""
    document = http.get("/openapi.json").json()
    assert {(m.upper(), p) for p, ops in document["paths"].items() for m in ops} == {
        (m, p.replace("j-1", "{journey_id}").replace("t-1", "{ticket_id}")) for m, p in routes()
    }
    body = document["components"]["schemas"]["InterventionBody"]
    assert set(body["required"]) == {"command", "reason"}
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert all(op["security"] == [{"HTTPBearer": []}] for ops in document["paths"].values() for op in ops.values())


def test_gateway_claims_read_cognito_groups_as_api_gateway_passes_them() -> None:
    """API Gateway flattens cognito:groups to "[a b]"; a customer's id may come as custom:customer_id."""
    staff = principal_from({"sub": "u-1", "cognito:groups": "[viewer operator]"})
    assert staff.roles == {"viewer", "operator"}
    customer = principal_from({"sub": "u-2", "cognito:groups": ["customer"], "custom:customer_id": "CUST-1"})
    assert customer.customer_id == "CUST-1"


@pytest.mark.parametrize(
    ("claims", "name"),
    [
        ({"sub": "7d3f5a2e-uuid", "cognito:username": "alice"}, "alice"),  # a Cognito ID token
        ({"sub": "7d3f5a2e-uuid", "username": "alice"}, "alice"),  # a Cognito access token
        ({"sub": "alice"}, "alice"),  # the local issuer's tokens
    ],
    ids=["id-token", "access-token", "local"],
)
def test_the_caller_is_known_by_username_not_by_cognitos_uuid_subject(claims: dict[str, str], name: str) -> None:
    caller = principal_from(claims)
    assert caller.name == name and caller.sub == claims["sub"]


def test_on_lambda_the_authorizer_claims_decide_who_calls() -> None:
    """Through Mangum, as on AWS: no verified claims is 401; a viewer's claims may not intervene (403)."""
    handler = api.lambda_handler.handler
    unverified = handler(gateway_event("GET", "/api/journeys", None), None)
    assert unverified["statusCode"] == 401 and json.loads(unverified["body"])["error"] == "unauthenticated"
    viewer = {"sub": "vera", "cognito:groups": "[viewer]"}
    refused = handler(gateway_event("POST", "/api/journeys/j-1/interventions", viewer, SKIP), None)
    assert refused["statusCode"] == 403 and "operator" in json.loads(refused["body"])["detail"]


def test_a_gateway_authenticator_ignores_bearer_headers_it_did_not_verify() -> None:
    """On AWS only the authorizer's claims count: a locally signed token in the header is not enough."""
    from starlette.requests import Request

    request = Request({"type": "http", "headers": [(b"authorization", f"Bearer {OPERATOR}".encode())]})
    with pytest.raises(Exception, match="no verified token"):
        GatewayClaims()(request)


def test_journeys_token_signs_with_the_running_stacks_secret(tmp_path, monkeypatch, capsys) -> None:
    """`journeys token` reads the secret `journeys up` wrote; its tokens are the API's, roles and customer included."""
    import cli.connect
    from cli.main import main

    local = tmp_path / "local.json"
    local.write_text(json.dumps({"TOKEN_SECRET": SECRET, "API_URL": "http://127.0.0.1:1"}))
    monkeypatch.setattr(cli.connect, "LOCAL_FILE", local)
    assert main(["token", "--user", "alice", "--roles", "operator,payments-officer"]) == 0
    staff = capsys.readouterr().out.strip()
    assert main(["token", "--customer", "CUST-000007"]) == 0
    customer_token = capsys.readouterr().out.strip()
    http = TestClient(create_app(no_engine, ISSUER))
    refused = http.get("/api/customer/journeys/j-1/progress", headers=bearer(staff))
    assert refused.status_code == 403 and "alice" in refused.json()["detail"]
    assert http.get("/api/journeys", headers=bearer(customer_token)).json()["detail"].startswith("customer:CUST-000007")


def test_journeys_token_without_a_running_stack_says_how_to_start_one(tmp_path, monkeypatch, capsys) -> None:
    import cli.connect
    from cli.main import main

    monkeypatch.setattr(cli.connect, "LOCAL_FILE", tmp_path / "missing.json")
    assert main(["token", "--user", "alice"]) == 1
    assert "start one with `journeys up`" in capsys.readouterr().err


# ------------------------------------------------------------------ identities: one canonical form, nothing invisible

INVISIBLE = {
    "zero-width-space": "mal\u200blory",
    "soft-hyphen": "mal\u00adlory",
    "bidi-override": "\u202emallory",
    "bell": "mallory\x07",
    "newline": "mallory\nadmin",
    "word-joiner": "mallory\u2060",
}


@pytest.mark.parametrize("claim", ["cognito:username", "username", "sub"])
@pytest.mark.parametrize("name", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_a_username_with_an_invisible_or_control_character_is_401(claim: str, name: str) -> None:
    """From any of the three claims a name is read from, on AWS as locally: never a second identity."""
    claims = {"sub": "7d3f5a2e-uuid", claim: name, "cognito:groups": ["viewer"]}
    with pytest.raises(Unauthenticated, match=r"username is not plain text: .*U\+"):
        principal_from(claims)


@pytest.mark.parametrize("role", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_a_role_with_an_invisible_or_control_character_is_401(http: TestClient, role: str) -> None:
    """Over HTTP with the local issuer: refused before any route, and the answer does not repeat the role."""
    response = http.get("/api/approvals", headers=bearer(ISSUER.issue("olivia", ["viewer", role])))
    assert response.status_code == 401
    assert response.json()["detail"].startswith("the token's role is not plain text")
    assert role not in response.json()["detail"]


def test_a_username_with_invisible_characters_is_401_over_http(http: TestClient) -> None:
    response = http.get("/api/journeys", headers=bearer(ISSUER.issue("ol\u200bga", ["viewer", "operator"])))
    assert response.status_code == 401 and response.json()["error"] == "unauthenticated"


def test_plain_names_in_other_scripts_and_cases_are_accepted() -> None:
    """Only invisible and control characters are refused: accents, other scripts and capitals are names."""
    for name in ("Zoë", "Σοφία", "李雷", "O'Brien", "Mallory"):
        assert principal_from({"sub": name, "cognito:groups": ["viewer"]}).name == name


@pytest.mark.parametrize("spelling", ["Operator", "OPERATOR", "\uff2fperator"])  # the last with a fullwidth O
def test_role_case_and_width_never_matter_for_what_a_caller_may_do(spelling: str) -> None:
    """require() compares roles canonically, as maker-checker does: `OPERATOR` is the operator role."""
    caller = principal_from({"sub": "olga", "cognito:groups": [spelling]})
    caller.require("operator")
    assert caller.holds("operator") and not caller.approval_roles


def test_approval_roles_are_canonical_and_never_include_staff_roles() -> None:
    caller = principal_from({"sub": "olivia", "cognito:groups": "[Viewer Payments-Officer CUSTOMER]"})
    assert caller.approval_roles == {"payments-officer"}
    with pytest.raises(Forbidden):
        caller.require("operator")


class Reached(Exception):
    pass


def reached() -> Any:
    raise Reached


@pytest.mark.parametrize(
    ("roles", "method", "path"),
    [(["VIEWER"], "GET", "/api/journeys"), (["Payments-Officer"], "GET", "/api/approvals")],
)
def test_a_role_in_capitals_gets_past_authorization(roles: list[str], method: str, path: str) -> None:
    """Over HTTP: the route's role check passes and the request reaches the engine."""
    http = TestClient(create_app(reached, ISSUER))
    with pytest.raises(Reached):
        http.request(method, path, headers=bearer(ISSUER.issue("vera", roles)))
