"""Shared fixtures: one emulator server per test session, a fresh local stack per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.emulator import Emulator


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    server = Emulator().start()
    yield server
    server.stop()


@pytest.fixture
def fresh_emulator(emulator: Emulator) -> Emulator:
    """The session's emulator, emptied: every test provisions its own resources."""
    emulator.reset()
    return emulator
