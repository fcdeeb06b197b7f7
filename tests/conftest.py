"""Shared fixtures: one emulator server per test session, a fresh local stack per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from devstack.emulator import Emulator
from router.core import gates

# `make mutation` runs the pure tests once per mutant (--hypothesis-profile=mutation): fewer examples, and the same
# ones every run, so a mutant is killed or survives the same way each time. Every other run keeps the defaults.
settings.register_profile("mutation", max_examples=30, derandomize=True, database=None)


@pytest.fixture(autouse=True)
def _no_remembered_dominators() -> None:
    """Every test computes the gates of its definitions afresh: with the memo shared across tests, only the first
    test to meet a definition runs router/core/gates.py's dataflow, and mutmut (which runs a mutant under the tests
    it saw reach the mutated function) would test that code under that one test alone."""
    gates._DOMINATORS.clear()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the emulator, so `-m "not emulator"` selects the pure, in-memory tests."""
    for item in items:
        if "emulator" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.emulator)


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
