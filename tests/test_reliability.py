"""The reliability suite at its small size (`make reliability` runs the same scenarios, its load run larger: 200
journeys by default, 2,000 with N=2000; see bench/results/reliability-*.md)."""

from __future__ import annotations

import pytest

from devstack.emulator import Emulator
from reliability import bad_input, crash, scenarios
from reliability.scenarios import Result


def assert_passed(result: Result) -> None:
    failed = [f"{c.name}: {c.detail}" for c in result.checks if not c.ok]
    print(f"\n{result.name}: {result.figures}")
    assert not failed, failed


def test_a_crash_point_does_nothing_until_armed_then_kills_only_as_often_as_armed() -> None:
    """Unarmed points return; an armed one raises a BaseException, for matching threads, `times` times."""
    crash.crash_point(crash.AFTER_COMMIT)
    try:
        armed = crash.arm(crash.AFTER_COMMIT, times=2)
        crash.crash_point(crash.AFTER_ACT)  # another point: untouched
        for _ in range(2):
            with pytest.raises(crash.SimulatedCrash):
                crash.crash_point(crash.AFTER_COMMIT)
        crash.crash_point(crash.AFTER_COMMIT)
        assert len(armed.fired) == 2 and not issubclass(crash.SimulatedCrash, Exception)
        crash.arm(crash.AFTER_ACT, when=lambda: False)
        crash.crash_point(crash.AFTER_ACT)
    finally:
        crash.disarm()


@pytest.mark.timeout(600)  # about half a minute on an idle 2-core machine; a few when its cores are shared
@pytest.mark.no_cover  # a load run: the paths of one journey, 80 times over; the tracer doubles each AWS call's cost
def test_80_journeys_with_duplicates_and_throttling_keep_every_invariant_and_leak_nothing(emulator: Emulator) -> None:
    """5% of messages duplicated (some late), 5% of calls throttled: all terminal, logs whole, effects once."""
    result = scenarios.load(emulator, journeys=80)
    assert_passed(result)
    figures = result.figures
    assert figures["duplicate messages injected"] > 0 and figures["throttled calls injected"] > 0
    assert figures["duplicates and stale answers absorbed"].get("duplicate", 0) > 0
    assert figures["task tokens answered"] > 0 and figures["log lines checked"] > 0


def test_consumers_killed_between_commit_and_act_and_before_acknowledging_recover(emulator: Emulator) -> None:
    """Each crash's batch comes back and is finished; nothing is lost or done twice."""
    assert_passed(scenarios.crashes(emulator, journeys=12))


def test_lost_responses_and_server_errors_neither_lose_nor_repeat_a_transition(emulator: Emulator) -> None:
    """Writes whose answers never arrive, and HTTP 500s, end in the same journeys as a clean run."""
    result = scenarios.lost_responses(emulator, journeys=10)
    assert_passed(result)
    assert result.figures["responses lost after a successful write"] > 0


def test_a_paused_emulator_delays_the_journeys_and_they_drain_once_it_resumes(inprocess_emulator: Emulator) -> None:
    assert_passed(scenarios.paused(inprocess_emulator, journeys=20))  # holds the in-process server's lock


def test_consumers_with_skewed_clocks_still_finish_every_journey_exactly_once(emulator: Emulator) -> None:
    assert_passed(scenarios.skewed_clocks(emulator, journeys=15))


def test_bad_input_gets_a_clear_error_is_counted_and_changes_no_journey(emulator: Emulator) -> None:
    """Malformed, forged, replayed, late and oversized input: refused or parked, journeys untouched."""
    result = bad_input.scenario(emulator)
    assert_passed(result)
    assert len(result.figures) >= 20
