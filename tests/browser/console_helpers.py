"""What the browser tests share: the stack they drive, the users who open pages, screenshots, a provider outage."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page

from api.auth import DevIssuer
from cli.client import JourneysClient
from devstack.stack import LocalStack
from reliability.instruments import settled
from router.core.model import Journey
from workers.step import RetryableError

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "browser"


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

        @functools.wraps(fn)  # keeps the signature the worker's argument model is built from
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
        return settled(self.client, journey_id, check, timeout)


@dataclass
class Users:
    """Opens console pages as a given user, each in a browser context of its own (its own sessionStorage)."""

    browser: Browser
    console: Console
    pages: list[tuple[str, Page]] = field(default_factory=list)

    def open(self, label: str, path: str, token: str | None) -> Page:
        context = self.browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto(f"{self.console.url}/console/{path}" + (f"#token={token}" if token else ""))
        self.pages.append((label, page))
        return page


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
