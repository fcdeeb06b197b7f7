"""Router CPU per transition on the in-memory store, and each consumer's cold-start import time.

    python -m bench.cpu [--transitions 10000]

CPU is process time around Router.handle only (workers run outside the timed region). Import time
is `python -X importtime`'s cumulative figure for the consumer module, median of five fresh runs, with
the CPU time of the same imports (the load average is recorded: wall times on a busy machine wait for a core).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

from bench.machine import stamp
from router.core.model import ArmTimer, SendWork, StartJourney, StepSucceeded, TimerFired
from router.language.registry import Registry
from router.ports.memory import MemoryDispatcher, MemoryStore
from router.runtime.service import Router
from workers.samples import SAMPLES

CONSUMERS = ("start", "advance", "journal", "worker", "retry", "approvals", "watchdog")
RESULTS = Path(__file__).parent / "results"
DISPUTE = {
    "full_name": "Cee Pugh",
    "card_last4": "4242",
    "merchant": "Acme",
    "amount": 10,
    "reason": "not_recognised",
    "days_since_transaction": 1,
}


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def router_cpu(transitions: int) -> float:
    """Microseconds of CPU per committed transition, dispute journeys end to end."""
    clock, store, dispatcher = Clock(), MemoryStore(), MemoryDispatcher()
    router = Router(Registry.from_directory(known_workers=SAMPLES.names()), store, dispatcher, clock)
    spent, n = 0.0, 0
    while router.counts["committed"] < transitions:
        event = StartJourney(journey_id=f"j{n}", definition_id="dispute", input={**DISPUTE, "transaction_id": f"T{n}"})
        n += 1
        pending = deque([event])
        while pending:
            began = time.process_time()
            router.handle(pending.popleft())
            spent += time.process_time() - began
            for action in dispatcher.performed:
                if isinstance(action, SendWork):
                    output = SAMPLES.run(action.worker, action.state)
                    pending.append(
                        StepSucceeded(
                            journey_id=action.journey_id,
                            activation_id=action.activation_id,
                            output=output,
                            actor=action.worker,
                        )
                    )
                elif isinstance(action, ArmTimer):
                    clock.now += action.delay_seconds
                    pending.append(TimerFired(journey_id=action.journey_id, activation_id=action.activation_id))
            dispatcher.performed.clear()
    return spent / router.counts["committed"] * 1e6


def import_ms(module: str) -> tuple[float, float]:
    """Median wall time (`-X importtime`) and CPU time of importing `module`, over five fresh processes.

    The CPU figure is the one to trust on a busy machine: wall time there includes waiting for a core.
    """
    walls, cpus = [], []
    code = f"import time; began = time.process_time(); import {module}; print(time.process_time() - began)"
    for _ in range(5):
        result = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
        )
        line = next(row for row in reversed(result.stderr.splitlines()) if row.rstrip().endswith(f"| {module}"))
        walls.append(int(line.split("|")[1]) / 1000)
        cpus.append(float(result.stdout) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transitions", type=int, default=10_000)
    args = parser.parse_args()
    cpu = router_cpu(args.transitions)
    print(f"router CPU: {cpu:.0f} microseconds per transition over {args.transitions} transitions (target 100)")
    imports = {name: import_ms(f"consumers.{name}") for name in CONSUMERS}
    for name, (wall, cpu_ms) in imports.items():
        print(f"  import consumers.{name:<10} {wall:6.0f} ms wall, {cpu_ms:4.0f} ms CPU (target 300)")
    RESULTS.mkdir(exist_ok=True)
    result = {
        **stamp(),
        "router_cpu_us_per_transition": round(cpu, 1),
        "import_ms": {k: round(wall, 1) for k, (wall, _) in imports.items()},
        "import_cpu_ms": {k: round(cpu_ms, 1) for k, (_, cpu_ms) in imports.items()},
        "load_average_1m": round(os.getloadavg()[0], 1),
    }
    (RESULTS / "cpu.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
