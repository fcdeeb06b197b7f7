"""The suite's report: each scenario, pass or fail, its checks and its figures, and the machine it ran on."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from reliability.scenarios import Result


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores, {memory:.1f} GiB memory, Python {platform.python_version()}, "
        f"{platform.platform()}; load average at the end {load} (the cores are shared)"
    )


def render(results: Sequence[Result], title: str, seconds: float, command: str) -> str:
    passed = sum(r.passed for r in results)
    lines = [
        f"# {title}",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine()}",
        f"- Command: `{command}`; {seconds:.0f} s in all",
        f"- Result: {passed} of {len(results)} scenarios passed",
        "",
        "| scenario | conditions | result | time (s) |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r.name} | {r.conditions} | {_mark(r.passed)} | {r.seconds:.1f} |" for r in results]
    for result in results:
        lines += ["", f"## {result.name}: {_mark(result.passed)}", "", f"Conditions: {result.conditions}.", ""]
        lines += [f"- {_mark(c.ok)} {c.name}" + (f": {c.detail}" if c.detail else "") for c in result.checks]
        if result.figures:
            lines += ["", "| figure | value |", "|---|---|"]
            lines += [f"| {name} | {_value(value)} |" for name, value in result.figures.items()]
    return "\n".join(lines) + "\n"


def _mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text.replace("|", "\\|")


def command_line() -> str:
    return " ".join(["python -m reliability.run", *sys.argv[1:]])
