"""The console in a real browser: Debian's chromium driven by Playwright, against a local stack serving the API.

One local stack (its own emulator) and one browser serve every test here; each test starts its own journeys
and opens its own browser contexts (one per user, so tokens never mix). Every page a test opened is
screenshotted into test-output/browser/ when the test ends, passed or failed.
"""

from __future__ import annotations

import functools
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from api.auth import DevIssuer
from cli.client import JourneysClient
from devstack.stack import LocalStack
from router.model import Journey
from tests.engine_helpers import rewrapped
from workers.samples import SAMPLES
from workers.step import RetryableError

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
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "browser"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the web console in headless chromium (make test runs them)")


class IdentityOutage:
    """The identity provider is down for the applicants named in `down` until `end` brings it back."""

    def __init__(self) -> None:
        self.down: set[str] = set()

    def begin(self, applicant: str) -> None:
        self.down.add(applicant)

    def end(self, applicant: str) -> None:
        self.down.discard(applicant)

    def __call__(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if name != "kyc":
            return fn

        @functools.wraps(fn)
        def kyc(full_name: str, **kwargs: Any) -> Any:
            if full_name in self.down:
                raise RetryableError("the identity provider is unavailable")
            return fn(full_name=full_name, **kwargs)

        return kyc


@dataclass
class Console:
    url: str
    issuer: DevIssuer
    client: JourneysClient
    outage: IdentityOutage
    stack: LocalStack

    def token(self, user: str, *roles: str, customer_id: str | None = None) -> str:
        return self.issuer.issue(user, list(roles), customer_id=customer_id)

    def wait_for(self, journey_id: str, check: Callable[[Journey], bool], timeout: float = 90) -> Journey:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            journey = self.client.get(journey_id)
            if journey is not None and check(journey):
                return journey
            time.sleep(0.2)
        raise TimeoutError(f"journey {journey_id} did not get there in {timeout} s: {self.client.get(journey_id)}")


@pytest.fixture(scope="session")
def console() -> Iterator[Console]:
    outage = IdentityOutage()
    with LocalStack(workers=rewrapped(SAMPLES, outage)) as stack:
        issuer = DevIssuer(secrets.token_hex(16))
        url = stack.serve_api(issuer)
        yield Console(url, issuer, JourneysClient(next(iter(stack.runtimes.values()))), outage, stack)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Users:
    """Opens console pages as a given user, each in a browser context of its own (its own sessionStorage)."""

    browser: Browser
    console: Console
    pages: list[tuple[str, Page]] = field(default_factory=list)

    def open(self, label: str, path: str, token: str) -> Page:
        context = self.browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto(f"{self.console.url}/console/{path}#token={token}")
        self.pages.append((label, page))
        return page


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def users(browser: Browser, console: Console, request: pytest.FixtureRequest) -> Iterator[Users]:
    opened = Users(browser, console)
    yield opened
    for label, page in opened.pages:
        if not page.is_closed():
            screenshot(page, f"{request.node.name}-{label}-end")
            page.context.close()
