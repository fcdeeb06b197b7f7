"""The console by role, in headless chromium: what each role sees and may do, money in its own currency, a
customer's page in French, and every sample's graph drawn without an overlapping or cut-off label."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from devstack.run import EUR_PAYMENT
from reliability.instruments import waited
from router.core.model import FINISHED, ActivationKind
from router.language.registry import Registry
from tests.browser.console_helpers import Console, Users, screenshot

pytestmark = pytest.mark.browser

APPLICANT = {"date_of_birth": "1988-04-12", "country": "GB"}
KIM = {"customer_id": "CUST-000042", "full_name": "Kim Keeper", "email": "kim@example.com"}


def _awaiting_approval(console: Console, *journeys: str) -> None:
    for journey_id in journeys:
        console.wait_for(journey_id, lambda j: any(a.kind is ActivationKind.APPROVAL for a in j.open.values()))
    waited(lambda: {t.journey_id for t in console.client.approvals()} >= set(journeys) or None, 60, 0.2, "tickets")


def _open(browser: Browser, console: Console, path: str, token: str, locale: str = "en-GB") -> Page:
    """A page in a browser context of its own, in `locale` (its Accept-Language and Intl's default)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale=locale)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{console.url}/console/{path}#token={token}")
    return page


def test_the_approver_sees_a_eur_payment_in_eur_with_beneficiary_and_reference_and_only_what_they_may_decide(
    console: Console, browser: Browser
):
    """EUR 48,000 shows as euros in the viewer's locale, never pounds; a payment over the officer's limit and
    one the officer made themselves are not in their inbox."""
    eur = console.client.start("payment-approval", EUR_PAYMENT | {"payment_id": "PAY-UI-EUR"})
    over = console.client.start("payment-approval", EUR_PAYMENT | {"payment_id": "PAY-UI-BIG", "amount": 60000})
    own = console.client.start("payment-approval", EUR_PAYMENT | {"payment_id": "PAY-UI-OWN", "initiated_by": "olivia"})
    _awaiting_approval(console, eur, over, own)
    token = console.token("olivia", "payments-officer")

    page = _open(browser, console, "approvals.html", token, "en-GB")
    row = page.locator(f'tr[data-journey="{eur}"]')
    expect(row.locator("td.amount")).to_contain_text("€48,000.00")
    expect(row.locator("td.beneficiary")).to_have_text("Rheinmetall Zulieferer GmbH, DE89370400440532013000")
    expect(row.locator("td.reference")).to_have_text("PO 2024-117, tooling")
    expect(page.locator(f'tr[data-journey="{over}"]')).to_have_count(0)  # 60,000 is over the officer's 50,000
    expect(page.locator(f'tr[data-journey="{own}"]')).to_have_count(0)  # maker-checker: never your own
    assert "£" not in page.locator("#rows").inner_text()
    screenshot(page, "roles-approver-inbox-eur")

    german = _open(browser, console, "approvals.html", token, "de-DE")
    expect(german.locator(f'tr[data-journey="{eur}"] td.amount')).to_contain_text("48.000,00\u00a0€")
    screenshot(german, "roles-approver-inbox-eur-de")

    # the approver's menu has only the inbox; the journeys list sends them there
    expect(page.locator("header nav a")).to_have_text(["Approvals"])
    page.goto(f"{console.url}/console/index.html")
    expect(page).to_have_url(f"{console.url}/console/approvals.html")
    for opened in (page, german):
        opened.context.close()


def test_a_viewer_sees_no_intervention_button_and_an_operator_none_on_a_finished_journey(
    console: Console, users: Users
):
    waiting = console.client.start("kyc-uplift", KIM)
    console.wait_for(waiting, lambda j: j.step == "request-details")
    done = console.client.start("account-opening", {"full_name": "Clara Clear", "email": "c@example.com", **APPLICANT})
    console.wait_for(done, lambda j: j.status in FINISHED)

    viewer = users.open("viewer", f"journey.html?id={waiting}", console.token("vera", "viewer"))
    expect(viewer.locator("#status")).to_contain_text("RUNNING")
    expect(viewer.locator("#no-intervention")).to_have_text("Interventions need the operator role.")
    expect(viewer.locator("button[data-command]")).to_have_count(0)
    expect(viewer.locator("header nav a")).to_have_text(["Journeys", "Stuck"])  # no approvals menu for a viewer
    screenshot(viewer, "roles-viewer-journey")

    operator = users.open("operator", f"journey.html?id={waiting}", console.token("ops-olga", "operator"))
    expect(operator.get_by_role("button", name="Retry step")).to_be_visible()
    operator.goto(f"{console.url}/console/journey.html?id={done}")
    expect(operator.locator("#status")).to_contain_text("SUCCEEDED")
    expect(operator.locator("button[data-command]")).to_have_count(0)

    refused = users.open("viewer-inbox", "approvals.html", console.token("vera", "viewer"))
    expect(refused.locator("#message")).to_contain_text("Not allowed")
    expect(refused.locator("#count")).to_have_text("Could not load the tickets.")  # never an endless "Loading…"


def test_a_french_customer_reads_french_labels_and_a_french_required_field_message(console: Console, users: Users):
    kim = console.client.start("kyc-uplift", KIM)
    console.wait_for(kim, lambda j: j.step == "request-details")
    token = console.token("customer:CUST-000042", "customer", customer_id="CUST-000042")

    page = users.open("customer-fr", f"progress.html?journey={kim}&locale=fr", token)
    expect(page.locator("#title")).to_have_text("Mise à jour de vos coordonnées")
    expect(page.locator("#step-label")).to_have_text(
        "Veuillez confirmer vos coordonnées et téléverser une pièce d'identité avec photo"
    )
    expect(page.locator("#needed-label")).to_have_text("Ce dont nous avons besoin")
    form = page.locator("#input-form")
    expect(form.locator("fieldset legend")).to_have_text(["Votre adresse", "Votre pièce d'identité"])
    expect(form.get_by_label("Numéro et rue")).to_be_visible()  # not "Line1"
    form.get_by_label("Nom complet").fill("Kim Keeper")
    form.get_by_role("button", name="Envoyer").click()
    expect(page.locator('[data-field="date_of_birth"] .field-error')).to_have_text("Ce champ est obligatoire")
    expect(page.locator("#message")).to_have_text("Veuillez vérifier les réponses signalées ci-dessous.")
    assert page.evaluate("document.documentElement.lang") == "fr"
    screenshot(page, "roles-customer-french-required")
    assert console.client.get(kim).step == "request-details"  # nothing was sent on


def test_the_browsers_language_chooses_the_customers_labels(console: Console, browser: Browser):
    """No ?locale=: Accept-Language (the browser's language) decides."""
    kim = console.client.start("kyc-uplift", KIM)
    console.wait_for(kim, lambda j: j.step == "request-details")
    token = console.token("customer:CUST-000042", "customer", customer_id="CUST-000042")
    page = _open(browser, console, f"progress.html?journey={kim}", token, locale="fr-BE")
    expect(page.locator("#step-label")).to_have_text(
        "Veuillez confirmer vos coordonnées et téléverser une pièce d'identité avec photo"
    )
    expect(page.get_by_role("button", name="Envoyer")).to_be_visible()
    page.context.close()


SAMPLE_INPUT: dict[str, dict[str, Any]] = {
    "account-opening": {"full_name": "Gina Graph", "email": "gina@example.com", **APPLICANT},
    "credit-application": {
        "full_name": "Anna Approve",
        "email": "anna@example.com",
        "annual_income": 90000,
        "requested_amount": 12000,
        "date_of_birth": "1979-09-30",
        "term_months": 36,
    },
    "dispute": {
        "full_name": "Dan Dispute",
        "card_last4": "4242",
        "transaction_id": "TX-G1",
        "merchant": "Acme Online",
        "amount": 20,
        "reason": "changed_mind",
        "days_since_transaction": 3,
    },
    "kyc-uplift": KIM,
    "payment-approval": EUR_PAYMENT | {"payment_id": "PAY-UI-GRAPH"},
    "subscription-reconciliation": {},
    "letter-of-credit": {
        "applicant": "Babbage Instruments Ltd",
        "beneficiary": {"name": "Lyon Precision SA", "country": "FR"},
        "amount": 120000,
        "currency": "EUR",
        "goods": "calibrated lathes",
        "documents": ["commercial_invoice", "bill_of_lading", "insurance_certificate"],
        "requested_by": "rm-rachel",
    },
}

# Every label's box and the drawing's, as the browser lays them out.
MEASURE = """svg => {
  const frame = svg.getBoundingClientRect();
  const boxes = [...svg.querySelectorAll("text")].map(t => {
    const r = t.getBoundingClientRect();
    return {text: t.textContent, left: r.left, top: r.top, right: r.right, bottom: r.bottom};
  });
  return {frame: {left: frame.left, top: frame.top, right: frame.right, bottom: frame.bottom}, boxes};
}"""


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


@pytest.mark.parametrize("definition_id", sorted(SAMPLE_INPUT))
def test_every_samples_graph_has_no_overlapping_or_cut_off_label(console: Console, users: Users, definition_id: str):
    """Bounding boxes of every text in the drawing: none intersects another, all lie inside the SVG; a
    PARALLEL step's branches are drawn side by side."""
    assert {d.id for d in Registry.from_directory()} == set(SAMPLE_INPUT)  # every sample is drawn here
    journey = console.client.start(definition_id, SAMPLE_INPUT[definition_id])
    console.wait_for(journey, lambda j: j.version >= 1)
    page = users.open("graph", f"journey.html?id={journey}", console.token("vera", "viewer"))
    svg = page.locator("svg.graph")
    expect(svg).to_be_visible()
    measured = svg.evaluate(MEASURE)
    frame, boxes = measured["frame"], measured["boxes"]
    assert len(boxes) >= 2 * len(Registry.from_directory().get(definition_id).steps)
    outside = [
        b["text"]
        for b in boxes
        if not (
            b["left"] >= frame["left"] - 0.5
            and b["right"] <= frame["right"] + 0.5
            and b["top"] >= frame["top"] - 0.5
            and b["bottom"] <= frame["bottom"] + 0.5
        )
    ]
    assert outside == []
    overlapping = [(a["text"], b["text"]) for a, b in combinations(boxes, 2) if _overlap(a, b)]
    assert overlapping == []
    branches = svg.locator("g.node.branch")
    if definition_id in ("account-opening", "credit-application"):
        expect(branches).to_have_count(2)
        tops = [branches.nth(i).bounding_box()["y"] for i in range(2)]
        assert abs(tops[0] - tops[1]) < 2  # side by side (to a pixel's rounding): at once, not one after the other
    screenshot(page, f"graph-{definition_id}")
