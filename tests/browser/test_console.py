"""What people do in the console, in headless chromium: operators list and fix journeys, two staff approve
a payment, a customer follows (and resumes) their journey."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from reliability.instruments import waited
from router.core.model import FINISHED, ActivationKind, JourneyStatus
from tests.browser.console_helpers import Console, Users, screenshot

pytestmark = pytest.mark.browser

APPLICANT = {"date_of_birth": "1988-04-12", "country": "GB"}
BORROWER = {"date_of_birth": "1979-09-30", "term_months": 36}


def _finished(console: Console, *ids: str) -> None:
    for journey_id in ids:
        console.wait_for(journey_id, lambda j: j.status in FINISHED)


def test_the_journey_list_loads_filters_and_opens_a_journey_with_its_graph(console: Console, users: Users):
    clara = console.client.start(
        "account-opening", {"full_name": "Clara Clear", "email": "clara@example.com", **APPLICANT}
    )
    anna = console.client.start(
        "credit-application",
        {
            "full_name": "Anna Approve",
            "email": "anna@example.com",
            "annual_income": 90000,
            "requested_amount": 12000,
            **BORROWER,
        },
    )
    _finished(console, clara, anna)

    page = users.open("viewer", "index.html", None)
    expect(page.locator("#message")).to_contain_text("Not signed in")
    page.get_by_placeholder("paste a bearer token").fill(console.token("vera", "viewer"))
    page.get_by_role("button", name="Use token").click()
    expect(page.locator(f'tr[data-journey="{clara}"]')).to_be_visible()
    expect(page.locator(f'tr[data-journey="{anna}"]')).to_contain_text("SUCCEEDED")
    expect(page.locator("#who")).to_contain_text("vera (viewer)")
    screenshot(page, "list")

    page.get_by_label("Definition").fill("credit-application")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(f'tr[data-journey="{clara}"]')).to_have_count(0)
    expect(page.locator(f'tr[data-journey="{anna}"]')).to_be_visible()
    assert "definition=credit-application" in page.url

    page.get_by_role("link", name=anna).click()
    expect(page.locator("#status")).to_contain_text("SUCCEEDED")
    graph = page.locator("svg.graph")
    expect(graph.locator('g.node.current[data-step="loan-approved"], g.node.current')).to_have_count(1)
    assert graph.locator("g.node.visited").count() >= 3
    assert graph.locator("g.edge.taken").count() >= 2
    expect(page.locator("#timeline tr").first).to_be_visible()
    screenshot(page, "journey-detail")


def test_a_stuck_journey_is_opened_from_the_queue_retried_with_a_reason_and_completes(console: Console, users: Users):
    applicant = "Otto Offline"  # not the samples' "Outage" marker, whose provider never comes back
    console.outage.begin(applicant)
    otto = console.client.start("account-opening", {"full_name": applicant, "email": "otto@example.com", **APPLICANT})
    console.wait_for(otto, lambda j: j.status is JourneyStatus.STUCK)
    console.outage.end(applicant)  # the provider is back; nothing retries by itself any more

    page = users.open("operator", "stuck.html", console.token("ops-olga", "operator"))
    row = page.locator(f'tr[data-journey="{otto}"]')
    expect(row).to_contain_text("STUCK")
    expect(row).to_contain_text("escalated")
    screenshot(page, "stuck-queue")
    row.get_by_role("link").click()

    expect(page.locator("#status")).to_contain_text("STUCK")
    expect(page.locator("#why")).to_contain_text("escalated")
    expect(page.locator('svg.graph g.node.current[data-step="verify-identity"]')).to_have_count(1)
    page.get_by_role("button", name="Retry step").click()
    expect(page.locator("#message")).to_contain_text("Write a reason first")  # nothing sent without a reason
    page.get_by_label("Reason").fill("identity provider restored (INC-4711)")
    screenshot(page, "stuck-journey-before-retry")
    page.get_by_role("button", name="Retry step").click()
    expect(page.locator("#message")).to_contain_text("retry accepted")

    expect(page.locator("#status")).to_contain_text("SUCCEEDED", timeout=60_000)
    expect(page.locator("#timeline")).to_contain_text("identity provider restored (INC-4711)")
    expect(page.locator("#timeline")).to_contain_text("ops-olga")
    expect(page.locator('svg.graph g.node.current[data-step="account-opened"]')).to_have_count(1)
    screenshot(page, "stuck-journey-completed")
    assert console.client.get(otto).status is JourneyStatus.SUCCEEDED

    # a finished journey offers nothing to intervene in: the buttons are gone, not just disabled
    expect(page.get_by_role("button", name="Retry step")).to_have_count(0)
    expect(page.locator("#no-intervention")).to_contain_text("there is nothing to intervene in")


def _ticket_row(page, journey_id: str, level: int):
    return page.locator(f'tr[data-journey="{journey_id}"][data-level="{level}"]')


def test_a_payment_is_approved_by_one_user_and_its_second_level_by_another(console: Console, users: Users):
    payment = console.client.start(
        "payment-approval",
        {
            "payment_id": "PAY-UI-1",
            "amount": 25000,
            "currency": "GBP",
            "reference": "Invoice 1843",
            "beneficiary": {"name": "Difference Engines plc", "iban": "GB82WEST12345698765432"},
            "initiated_by": "maker-mo",
        },
    )
    console.wait_for(payment, lambda j: any(a.kind is ActivationKind.APPROVAL for a in j.open.values()))
    # the ticket is opened by the approvals consumer a moment after the step: the page must find it on load
    waited(lambda: any(t.journey_id == payment for t in console.client.approvals()), 60, 0.2, "level 1 ticket")

    # olivia holds both roles, so after approving level 1 she sees level 2 too, and is refused there
    olivia = users.open("officer", "approvals.html", console.token("olivia", "payments-officer", "payments-manager"))
    first = _ticket_row(olivia, payment, 1)
    expect(first).to_contain_text("payments-officer")
    expect(first).to_contain_text("25,000")
    first.get_by_role("textbox").fill("invoice matches the purchase order")
    first.get_by_role("button", name="Approve").click()
    expect(olivia.locator("#message")).to_contain_text("approve recorded")
    screenshot(olivia, "approval-level-1")

    # level 2 opens once the approval machine has moved on; olivia approved level 1, so it is not hers to decide
    waited(
        lambda: any(t.journey_id == payment and t.level == 2 for t in console.client.approvals()), 60, 0.2, "level 2"
    )
    olivia.get_by_role("button", name="Refresh").click()
    expect(_ticket_row(olivia, payment, 1)).to_have_count(0)
    expect(_ticket_row(olivia, payment, 2)).to_have_count(0)
    screenshot(olivia, "approval-level-2-not-offered-to-the-same-person")

    max_ = users.open("manager", "approvals.html", console.token("max", "payments-manager"))
    row = _ticket_row(max_, payment, 2)
    expect(row).to_contain_text("payments-manager")
    expect(_ticket_row(max_, payment, 1)).to_have_count(0)
    row.get_by_role("textbox").fill("second pair of eyes: beneficiary checked")
    row.get_by_role("button", name="Approve").click()
    expect(max_.locator("#message")).to_contain_text("approve recorded")
    screenshot(max_, "approval-level-2")

    done = console.wait_for(payment, lambda j: j.status in FINISHED)
    assert done.status is JourneyStatus.SUCCEEDED and done.step == "released"
    max_.goto(f"{console.url}/console/journey.html?id={payment}")
    expect(max_.locator("#message")).to_contain_text("Not allowed")  # an approver is not a viewer


def test_a_customer_sees_the_step_waiting_on_them_and_resumes_the_journey(console: Console, users: Users):
    rita = console.client.start(
        "account-opening",
        {"full_name": "Rita Refer", "email": "rita@example.com", "customer_id": "CUST-7001", **APPLICANT},
    )
    console.wait_for(rita, lambda j: any(a.kind is ActivationKind.INPUT for a in j.open.values()))

    stranger = users.open(
        "stranger", f"progress.html?journey={rita}", console.token("c2", "customer", customer_id="CUST-9")
    )
    expect(stranger.locator("#message")).to_contain_text("cannot find this journey")

    page = users.open(
        "customer", f"progress.html?journey={rita}", console.token("rita", "customer", customer_id="CUST-7001")
    )
    expect(page.locator("#title")).to_have_text("Opening your account")  # the customer's title, not the staff one
    expect(page.locator("#step-label")).to_have_text("Please upload a photo ID and a proof of address")
    expect(page.locator("#percent")).to_contain_text(re.compile(r"\d+% done"))
    form = page.locator("#input-form")
    form.get_by_label("Type of document").select_option("passport")
    form.get_by_label("Document number").fill("bad number!")
    form.get_by_label("Proof of address").select_option("utility_bill")
    form.get_by_role("button", name="Send").click()
    expect(page.locator("#message")).to_contain_text("Please check the answers marked below")
    expect(page.locator('[data-field="document_number"] .field-error')).to_have_text(
        "6 to 12 capital letters and digits, as printed on the document"
    )
    screenshot(page, "customer-progress-input-refused")

    form.get_by_label("Document number").fill("P1234567")
    form.get_by_role("button", name="Send").click()
    expect(page.locator("#message")).to_contain_text("Thank you")
    expect(page.locator("#step-label")).to_have_text("Your account is open", timeout=60_000)
    expect(page.locator("#percent")).to_contain_text("100% done")
    screenshot(page, "customer-progress-finished")
    assert console.client.get(rita).status is JourneyStatus.SUCCEEDED
