"""The console in a real browser: Debian's chromium driven by Playwright, against a local stack serving the API.

One local stack and one browser serve every test here; each test starts its own journeys
and opens its own browser contexts (one per user, so tokens never mix). Every page a test opened is
screenshotted into test-output/browser/ when the test ends, passed or failed.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from api.auth import DevIssuer
from cli.client import JourneysClient
from devstack.emulator import Emulator
from devstack.stack import LocalStack
from reliability.instruments import rewrapped
from tests.browser.console_helpers import Console, IdentityOutage, Users, screenshot
from workers.samples import SAMPLES

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the web console in headless chromium (make test runs them)")
    # An assertion on the page waits as long as an action does (the contexts' 15 s), not Playwright's 5 s: on a
    # loaded two-core machine a form's answer took longer than 5 s to show (a fresh-clone run, 2026-12-07).
    expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def console(emulator: Emulator) -> Iterator[Console]:
    """The session's emulator, emptied (moto keeps one state per process), with a stack that stops after the
    module, so its pollers never take other tests' messages."""
    emulator.reset()
    outage = IdentityOutage()
    with LocalStack(emulator, workers=rewrapped(SAMPLES, outage)) as stack:
        issuer = DevIssuer(secrets.token_hex(16))
        url = stack.serve_api(issuer)
        yield Console(url, issuer, JourneysClient(next(iter(stack.runtimes.values()))), outage, stack)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, never a browser Playwright downloads; each launch has a fresh temporary profile."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def users(browser: Browser, console: Console, request: pytest.FixtureRequest) -> Iterator[Users]:
    opened = Users(browser, console)
    yield opened
    for label, page in opened.pages:
        if not page.is_closed():
            screenshot(page, f"{request.node.name}-{label}-end")
            page.context.close()
