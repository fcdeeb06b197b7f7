"""Shared fixtures: one emulator server per test session, a fresh local stack per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from devstack.emulator import Emulator, freeze_loaded_heap
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


def pytest_collection_finish(session: pytest.Session) -> None:
    """Everything the tests import is loaded by now and stays until the process ends."""
    freeze_loaded_heap()


# Files whose tests reach no code under router/ or consumers/ (measured with --cov-context=test, 2026-12-07): their
# subjects are the template, the local stack's queues and files, the step workers, the import graph read with ast
# and tests/golden.py. Under the coverage tracer they would only run slower (cfn-lint about six times), with nothing
# to measure.
NOTHING_MEASURED = {
    "test_template.py",
    "test_devstack_load.py",
    "test_local_secrets.py",
    "test_workers.py",
    "test_import_contract.py",
    "test_golden.py",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the emulator, so `-m "not emulator"` selects the pure, in-memory tests.

    A test on the in-process emulator runs moto in this process: under the coverage tracer moto's work takes
    twice as long, so such a test is left out of the coverage measure (pytest-cov's `no_cover`). What it reaches
    in router/ and consumers/ is measured by the tests on the child-process emulator. The tests of the files in
    NOTHING_MEASURED are left out too."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if {"emulator", "inprocess_emulator"} & fixtures:
            item.add_marker(pytest.mark.emulator)
        if "inprocess_emulator" in fixtures or item.path.name in NOTHING_MEASURED:
            item.add_marker(pytest.mark.no_cover)


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """moto's server in a child process: its work runs on the other core, outside the coverage tracer, as AWS
    runs outside the Lambda functions. Tests reach it over HTTP only, as the engine does."""
    server = Emulator(own_process=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def inprocess_emulator() -> Iterator[Emulator]:
    """moto's server in a thread of this process, for the few tests that hold its lock or edit its state."""
    server = Emulator().start()
    yield server
    server.stop()


@pytest.fixture
def fresh_emulator(emulator: Emulator) -> Emulator:
    """The session's emulator, emptied: every test provisions its own resources."""
    emulator.reset()
    return emulator


@pytest.fixture
def fresh_inprocess_emulator(inprocess_emulator: Emulator) -> Emulator:
    """The in-process emulator, emptied."""
    inprocess_emulator.reset()
    return inprocess_emulator
