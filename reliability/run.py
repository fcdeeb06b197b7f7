"""Run the reliability suite and write its Markdown report.

    python -m reliability.run [--journeys 200] [--out PATH] [--seed 7]

The report goes to bench/results/reliability-<date>.md unless --out says otherwise. Exit status 1
if any scenario failed.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from devstack.emulator import Emulator
from reliability import bad_input, scenarios
from reliability.harness import Check
from reliability.report import command_line, render
from reliability.scenarios import Result

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results"


def suite(journeys: int, seed: int) -> list[tuple[str, Callable[[Emulator], Result]]]:
    return [
        ("load", lambda e: scenarios.load(e, journeys, seed)),
        ("crashes", scenarios.crashes),
        ("lost responses", scenarios.lost_responses),
        ("pause", scenarios.paused),
        ("skewed clocks", scenarios.skewed_clocks),
        ("bad input", bad_input.scenario),
    ]


def run(journeys: int, seed: int, out: Callable[[str], None] = print) -> list[Result]:
    results = []
    with_emulator = Emulator().start()
    try:
        for name, scenario in suite(journeys, seed):
            began = time.monotonic()
            out(f"{name}...")
            try:
                result = scenario(with_emulator)
            except Exception as exc:  # a scenario that cannot finish is a failure to report, not a lost run
                result = Result(name, "did not finish", [Check("the scenario ran to its end", False, repr(exc))])
            result.seconds = time.monotonic() - began
            out(f"{name}: {'PASS' if result.passed else 'FAIL'} in {result.seconds:.1f} s")
            results.append(result)
    finally:
        with_emulator.stop()
    return results


def quiet_consumer_logs() -> None:
    """The consumers log a line per message to stdout; the suite reads them through its own capture."""
    for name in [n for n in logging.root.manager.loggerDict if n.startswith("journeys-")]:
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability.run", description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=200, help="journeys in the load run (default 200)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the injected faults")
    parser.add_argument("--out", type=Path, help="report path (default bench/results/reliability-<date>.md)")
    args = parser.parse_args(argv)
    for name in ("start", "advance", "journal", "worker", "retry", "approvals", "watchdog"):
        importlib.import_module(f"consumers.{name}")  # creates their loggers, to quieten
    quiet_consumer_logs()
    began = time.monotonic()
    results = run(args.journeys, args.seed)
    path = args.out or RESULTS / f"reliability-{datetime.now(UTC):%Y-%m-%d}.md"
    title = f"Reliability suite: {args.journeys} journeys under faults"
    path.write_text(render(results, title, time.monotonic() - began, command_line()))
    print(f"report: {path}")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
