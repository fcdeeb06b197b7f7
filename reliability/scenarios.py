"""The reliability scenarios: each runs on a fresh emulator and returns its checks and figures."""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devstack.emulator import Emulator
from reliability import crash
from reliability.faults import FaultRates
from reliability.harness import Check, Harness
from reliability.instruments import consumer_name


@dataclass
class Result:
    name: str
    conditions: str
    checks: list[Check]
    figures: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)


def _common(h: Harness) -> dict[str, Any]:
    counts = h.router_counts()
    absorbed = {k.removeprefix("absorbed: "): n for k, n in counts.items() if k.startswith("absorbed")}
    return {
        "journeys": len(h.started),
        "transitions committed": counts["committed"],
        "duplicates and stale answers absorbed": dict(sorted(absorbed.items())),
        "version conflicts (lost races, re-decided)": counts["conflicts"],
        "messages redelivered after a failed attempt": h.redeliveries.by_queue.total(),
    }


def load(emulator: Emulator, journeys: int = 200, seed: int = 7) -> Result:
    """N journeys with 5% of sent messages duplicated (some late: reordered) and 5% of AWS calls throttled."""
    emulator.reset()
    rates = FaultRates(throttle=0.05, duplicate=0.05)
    with Harness(emulator, rates, seed, flaky=0.03) as h:
        wall = h.drive(journeys)
        checks = h.check() + h.privacy()
        figures = {
            **_common(h),
            "wall time to the last journey's end (s)": round(wall, 1),
            "journeys per second": round(journeys / wall, 1),
            "consumer AWS calls": h.faults.calls,
            "throttled calls injected": h.faults.total("throttle"),
            "duplicate messages injected": h.faults.total("duplicate"),
            "duplicates by kind": {k.split(" ", 1)[1]: n for k, n in h.faults.injected.items() if "duplicate" in k},
            "retry chains started (3% of first kyc attempts fail)": h.calls.by_consumer[
                "AdvanceFunction", "sfn.StartExecution"
            ],
            "task tokens answered": len(h.outbound.tokens),
            "log lines checked": len(h.logs.lines),
            "CloudEvents checked": len(h.calls.published),
        }
    return Result("load run", f"{journeys} journeys, 5% duplicated, 5% throttled, seed {seed}", checks, figures)


def lost_responses(emulator: Emulator, journeys: int = 20, seed: int = 11) -> Result:
    """Writes that succeed while their response is lost (5%), and server errors (2%)."""
    emulator.reset()
    with Harness(emulator, FaultRates(server_error=0.02, lost_response=0.05), seed) as h:
        wall = h.drive(journeys)
        checks = h.check()
        figures = {
            **_common(h),
            "wall time (s)": round(wall, 1),
            "responses lost after a successful write": h.faults.total("lost_response"),
            "server errors injected": h.faults.total("server_error"),
            "faults by call": dict(sorted(h.faults.injected.items())),
        }
    return Result(
        "lost responses and server errors",
        f"{journeys} journeys, 5% of writes lose their response, 2% of calls fail with HTTP 500",
        checks,
        figures,
    )


def crashes(emulator: Emulator, journeys: int = 20, times: int = 4) -> Result:
    """Consumers killed between commit and act, and between act and acknowledgement."""
    emulator.reset()
    in_consumer: Callable[[], bool] = lambda: consumer_name() != "MainThread"  # noqa: E731
    try:
        points = {name: crash.arm(name, times, in_consumer) for name in (crash.AFTER_COMMIT, crash.AFTER_ACT)}
        with Harness(emulator) as h:
            wall = h.drive(journeys)
            checks = h.check()
            recoveries = _recoveries([t for p in points.values() for t in p.fired], h.redeliveries.times)
            figures = {
                **_common(h),
                "crashes between commit and act": len(points[crash.AFTER_COMMIT].fired),
                "crashes between act and acknowledgement": len(points[crash.AFTER_ACT].fired),
                "recovery time after a crash, mean / max (s)": _mean_max(recoveries),
                "wall time (s)": round(wall, 1),
            }
    finally:
        crash.disarm()
    fired = sum(len(p.fired) for p in points.values())
    checks.append(Check("every armed crash fired and was recovered from", fired == 2 * times == len(recoveries)))
    conditions = f"{times} crashes at each point, in any consumer; locally a failed batch returns after 1 s"
    return Result("crash points", conditions, checks, figures)


def _recoveries(crashed: list[float], redelivered: list[tuple[float, str]]) -> list[float]:
    """For each crash, the time until its batch was handled again (the first redelivery after it)."""
    times = sorted(t for t, _queue in redelivered)
    return [next(t - at for t in times if t >= at) for at in sorted(crashed) if any(t >= at for t in times)]


def _mean_max(values: list[float]) -> str:
    return f"{statistics.fmean(values):.2f} / {max(values):.2f}" if values else "n/a"


def paused(emulator: Emulator, journeys: int = 30, seconds: float = 3.0) -> Result:
    """The emulator stops answering for a few seconds mid-run, then resumes."""
    emulator.reset()
    with Harness(emulator) as h:
        h.start(range(journeys))
        time.sleep(0.5)
        with emulator.app.lock:  # every request, from every consumer, now waits
            time.sleep(seconds)
        resumed = time.monotonic()
        drained = h.wait_ended()
        h.stack.wait_quiet(timeout=60, settle=0.2)
        quiet = time.monotonic() - resumed
        checks = h.check()
        figures = {
            **_common(h),
            "paused for (s)": seconds,
            "unfinished when it resumed": len([t for t in h.ended.values() if t > resumed]),
            "time to the last journey's end after resuming (s)": round(drained, 2),
            "time to drain every queue after resuming (s)": round(quiet, 2),
        }
    return Result(
        "emulator paused and resumed", f"{journeys} journeys, every AWS call held {seconds} s", checks, figures
    )


def skewed_clocks(emulator: Emulator, journeys: int = 30, skew: float = 3.0) -> Result:
    """Consumers whose clocks disagree: start ahead, advance behind, the watchdog ahead."""
    emulator.reset()
    offsets = {"StartFunction": skew, "AdvanceFunction": -skew, "WatchdogFunction": skew}
    with Harness(emulator, clocks=offsets) as h:
        wall = h.drive(journeys)
        checks = h.check()
        logs = h.logs_by_journey()
        backwards = sum(1 for records in logs.values() for a, b in itertools.pairwise(records) if b.at < a.at)
        figures = {
            **_common(h),
            "clock offsets (s)": offsets,
            "transitions stamped earlier than the one before": backwards,
            "wall time (s)": round(wall, 1),
        }
    return Result("skewed clocks", f"consumers' clocks ±{skew} s apart", checks, figures)
