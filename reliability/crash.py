"""Named crash points: places where a consumer may die at the worst moment.

In production nothing is armed and `crash_point` returns at once. A test arms a point; the next
time a matching thread passes it, `SimulatedCrash` is raised. It is a BaseException, so no
`except Exception` in the engine or in Powertools catches it: like a killed Lambda, the whole batch
fails and SQS delivers its messages again after their visibility timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

AFTER_COMMIT = "after_commit"  # the transition is committed; its actions are not performed yet
AFTER_ACT = "after_act"  # the actions are performed; the message is not acknowledged yet


class SimulatedCrash(BaseException):
    """The process died here. Deliberately not an Exception: nothing may handle it."""


@dataclass
class Armed:
    name: str
    times: int = 1
    when: Callable[[], bool] = lambda: True
    fired: list[float] = field(default_factory=list)  # time.monotonic() of each crash


_armed: dict[str, Armed] = {}
_lock = threading.Lock()


def crash_point(name: str) -> None:
    """Die here if a test armed this point for the current thread; otherwise do nothing."""
    if not _armed:
        return
    with _lock:
        armed = _armed.get(name)
        if armed is None or len(armed.fired) >= armed.times or not armed.when():
            return
        armed.fired.append(time.monotonic())
    raise SimulatedCrash(name)


def arm(name: str, times: int = 1, when: Callable[[], bool] = lambda: True) -> Armed:
    """Crash the next `times` passes of point `name` for which `when()` holds."""
    armed = Armed(name, times, when)
    with _lock:
        _armed[name] = armed
    return armed


def disarm() -> None:
    with _lock:
        _armed.clear()
