"""Bad input at the HTTP edge: a clear 4xx, its field's path but never its value, and nothing stored or sent.

The first tests run the app with no engine at all (reaching it fails the test), so a refusal is proven to come
before any read or write; the last ones run on the emulator and check the journey and every dead-letter queue.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import DevIssuer
from api.edges import MAX_BODY_BYTES, MAX_DEPTH
from cli.client import JourneysClient
from devstack.emulator import Emulator
from devstack.stack import LocalStack
from reliability.instruments import settled
from router.core.model import JourneyStatus

ISSUER = DevIssuer("a-test-secret-of-at-least-thirty-two-bytes")
CUSTOMER_ID = "CUST-000777"
EVERY_ROLE = ["viewer", "operator", "payments-officer", "customer"]
HEADERS = {
    "Authorization": f"Bearer {ISSUER.issue('olga', EVERY_ROLE, customer_id=CUSTOMER_ID)}",
    "content-type": "application/json",
}
SECRET_AMOUNT = "1e400"  # the value a refusal must never repeat


class Reached(Exception):
    """The request got past the edge to the engine."""


def reached() -> Any:
    raise Reached


@pytest.fixture(scope="module")
def http() -> TestClient:
    return TestClient(create_app(reached, ISSUER))


def nested(depth: int) -> str:
    """A body `depth` levels deep: {"patch": {"a": {"a": ... 1}}} counts the body itself as level 0."""
    return '{"command": "patch", "reason": "deep", "patch": ' + '{"a": ' * (depth - 1) + "1" + "}" * depth


BODY_ROUTES = [  # (path, body with the number in it, the number's path)
    ("/api/journeys/j-1/interventions", '{{"command":"patch", "reason": "fix","patch": {{"n": {}}}}}', "body.patch.n"),
    ("/api/customer/journeys/j-1/input", '{{"data": {{"n": {}}}}}', "body.data.n"),
    ("/api/approvals/t-1/approve", '{{"reason": "ok", "n": {}}}', "body.n"),
]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
@pytest.mark.parametrize(("path", "template", "field"), BODY_ROUTES, ids=["interventions", "input", "approve"])
def test_a_non_finite_number_is_422_naming_its_path_not_its_value(
    http: TestClient, path: str, template: str, field: str, number: str
) -> None:
    """NaN, ±Infinity and numbers that overflow to inf are refused on every route that takes a body."""
    response = http.post(path, content=template.format(number), headers=HEADERS)
    assert response.status_code == 422
    assert response.json() == {"error": "invalid", "detail": [f"{field}: must be a finite number"]}


def test_a_non_finite_number_deep_in_a_list_is_found_by_its_path(http: TestClient) -> None:
    body = '{"data": {"items": [1, 2.5, {"x": [NaN]}]}}'
    response = http.post("/api/customer/journeys/j-1/input", content=body, headers=HEADERS)
    assert response.status_code == 422 and response.json()["detail"][0].startswith("body.data.items.2.x.0:")


def test_finite_numbers_pass_the_edge(http: TestClient) -> None:
    """The check refuses only what is not JSON: a large but finite number reaches the route."""
    with pytest.raises(Reached):
        http.post("/api/customer/journeys/j-1/input", content='{"data": {"amount": 1e300}}', headers=HEADERS)


@pytest.mark.parametrize("declared", [True, False])
def test_a_body_over_the_limit_is_413_naming_the_limit(http: TestClient, declared: bool) -> None:
    """Over 256 KB is refused whether the client declares its length or streams it in chunks."""
    body = json.dumps({"data": {"note": "x" * MAX_BODY_BYTES}}).encode()
    if declared:
        response = http.post("/api/customer/journeys/j-1/input", content=body, headers=HEADERS)
    else:
        chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
        response = http.post("/api/customer/journeys/j-1/input", content=chunks, headers=HEADERS)
    assert response.status_code == 413
    assert response.json() == {
        "error": "too_large",
        "detail": "body: over the 262144-byte limit (256 KB, as SQS and EventBridge)",
    }


def test_a_body_at_the_limit_passes_the_edge(http: TestClient) -> None:
    envelope = len(json.dumps({"data": {"note": ""}}))
    body = json.dumps({"data": {"note": "x" * (MAX_BODY_BYTES - envelope)}})
    assert len(body) == MAX_BODY_BYTES
    with pytest.raises(Reached):
        http.post("/api/customer/journeys/j-1/input", content=body, headers=HEADERS)


@pytest.mark.parametrize(
    "body",
    [nested(MAX_DEPTH + 1), nested(500), "[" * 100_000 + "]" * 100_000],
    ids=["33-deep", "500-deep", "100000-deep"],
)
def test_nesting_past_the_limit_is_422(http: TestClient, body: str) -> None:
    """33 levels, 500, and 100,000 (past Python's own recursion limit) are all a 422 that names the limit."""
    response = http.post("/api/journeys/j-1/interventions", content=body, headers=HEADERS)
    assert response.status_code == 422
    assert response.json()["detail"][0].endswith(f"nested deeper than {MAX_DEPTH} levels, the limit")


def test_nesting_at_the_limit_passes_the_edge(http: TestClient) -> None:
    with pytest.raises(Reached):
        http.post("/api/journeys/j-1/interventions", content=nested(MAX_DEPTH), headers=HEADERS)


@pytest.mark.parametrize(
    "body", [b'{"data": {"n": 1' + b"0" * 5000 + b"}}", b'{"data": {"name": "\xff\xfe"}}'], ids=["digits", "utf8"]
)
def test_json_python_cannot_read_is_422_not_400_or_500(http: TestClient, body: bytes) -> None:
    """An integer past Python's 4,300-digit limit, or bytes that are not UTF-8."""
    response = http.post("/api/customer/journeys/j-1/input", content=body, headers=HEADERS)
    assert response.status_code == 422 and response.json()["error"] == "invalid"


def test_an_unauthenticated_caller_gets_401_before_the_body_is_judged(http: TestClient) -> None:
    response = http.post("/api/journeys/j-1/interventions", content=nested(500), headers={"content-type": "x/json"})
    assert response.status_code == 401


def test_the_openapi_document_declares_413_on_every_route_with_a_body(http: TestClient) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    with_body = [op for ops in paths.values() for op in ops.values() if "requestBody" in op]
    assert len(with_body) == 5 and all("413" in op["responses"] for op in with_body)  # start included


# ------------------------------------------------------------------ on the emulator: nothing stored, nothing sent


@pytest.fixture(scope="module")
def stack(emulator: Emulator) -> Iterator[tuple[LocalStack, TestClient, str]]:
    emulator.reset()
    stack = LocalStack(emulator).start()
    try:
        engine = JourneysClient(stack.runtimes["StartFunction"])
        person = {"customer_id": CUSTOMER_ID, "full_name": "Ida Idle", "email": "ida@example.com"}
        journey = engine.start("kyc-uplift", person, actor="crm")
        settled(engine, journey, lambda j: j.status is JourneyStatus.RUNNING and bool(j.open))
        stack.wait_quiet()
        runtime = stack.runtimes["ApiFunction"]
        yield stack, TestClient(create_app(lambda: runtime, ISSUER)), journey
    finally:
        stack.stop()


def dead_letters(stack: LocalStack) -> int:
    sqs = stack.client("sqs")
    urls = [u for u in sqs.list_queues().get("QueueUrls", []) if "dlq" in u.lower()]
    assert urls, "the stack has dead-letter queues to watch"
    return sum(
        int(
            sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
                "ApproximateNumberOfMessages"
            ]
        )
        for u in urls
    )


@pytest.mark.parametrize(
    ("route", "body", "status"),
    [
        ("input", '{"data": {"full_name": NaN}}', 422),
        ("input", '{"data": {"full_name": "x", "amount": 1e400}}', 422),
        ("interventions", '{"command": "patch", "reason": "fix", "patch": {"amount": Infinity}}', 422),
        ("interventions", nested(500), 422),
        ("interventions", json.dumps({"command": "patch", "reason": "big", "patch": {"n": "x" * 420_000}}), 413),
    ],
    ids=["nan-input", "1e400-input", "infinity-patch", "500-deep-patch", "420KB-patch"],
)
def test_bad_input_leaves_the_journey_unchanged_and_nothing_dead_lettered(
    stack: tuple[LocalStack, TestClient, str], route: str, body: str, status: int
) -> None:
    """What the issue saw: NaN accepted then dead-lettered, 1e400 stored as null, a 420 KB patch and 500-deep
    nesting answered 500. Each is now refused at the edge and the journey and queues are as they were."""
    local, http, journey_id = stack
    engine = JourneysClient(local.runtimes["ApiFunction"])
    before = engine.get(journey_id)
    path = f"/api/customer/journeys/{journey_id}/input" if route == "input" else f"/api/journeys/{journey_id}/{route}"
    response = http.post(path, content=body, headers=HEADERS)
    assert response.status_code == status
    local.wait_quiet()
    after = engine.get(journey_id)
    assert after is not None and before is not None
    assert (after.version, after.state) == (before.version, before.state)
    assert dead_letters(local) == 0
    assert SECRET_AMOUNT not in response.text


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
def test_a_non_finite_number_in_the_query_is_422(stack: tuple[LocalStack, TestClient, str], value: str) -> None:
    response = stack[1].get("/api/journeys", params={"created_from": value}, headers=HEADERS)
    assert response.status_code == 422 and "created_from" in response.json()["detail"][0]


def test_an_unknown_query_parameter_is_422_not_ignored(stack: tuple[LocalStack, TestClient, str]) -> None:
    """A misspelt filter would otherwise list every journey as if it had matched."""
    response = stack[1].get("/api/journeys", params={"stauts": "STUCK"}, headers=HEADERS)
    assert response.status_code == 422 and "'stauts'" in response.json()["detail"][0]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/journeys/{}"),
        ("POST", "/api/journeys/{}/interventions"),
        ("POST", "/api/approvals/{}/approve"),
        ("GET", "/api/customer/journeys/{}/progress"),
    ],
)
@pytest.mark.parametrize("bad_id", ["x" * 3000, "j%00"], ids=["3000-chars", "nul"])
def test_an_id_no_journey_or_ticket_could_have_is_404_before_any_read(
    http: TestClient, method: str, path: str, bad_id: str
) -> None:
    """On AWS a key past DynamoDB's 2 KB limit is a ValidationException (a 500); it never reaches the table."""
    body = {"command": "cancel", "reason": "because"} if "interventions" in path else {}
    response = http.request(method, path.format(bad_id), json=body if method == "POST" else None, headers=HEADERS)
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_on_lambda_the_same_edge_holds_behind_api_gateway() -> None:
    """Through Mangum, as on AWS: a NaN from an operator with verified claims is a 422 naming its path, and a body
    over the limit a 413, before the engine is built (no AWS configuration exists here to build it)."""
    import api.lambda_handler
    from reliability.instruments import gateway_event

    claims = {"sub": "olga", "cognito:groups": "[viewer operator]"}
    patch = {"command": "patch", "reason": "fix", "patch": {"n": float("nan")}}
    refused = api.lambda_handler.handler(gateway_event("POST", "/api/journeys/j-1/interventions", claims, patch), None)
    assert refused["statusCode"] == 422
    assert json.loads(refused["body"])["detail"] == ["body.patch.n: must be a finite number"]
    big = {"command": "patch", "reason": "fix", "patch": {"n": "x" * MAX_BODY_BYTES}}
    too_large = api.lambda_handler.handler(gateway_event("POST", "/api/journeys/j-1/interventions", claims, big), None)
    assert too_large["statusCode"] == 413 and json.loads(too_large["body"])["error"] == "too_large"
