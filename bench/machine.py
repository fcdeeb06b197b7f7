"""When and where a benchmark ran: every results file starts with this."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    return {
        "cpu_model": _cpuinfo("model name") or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "moto": version("moto"),
        "boto3": version("boto3"),
    }


def stamp() -> dict[str, Any]:
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}


def _cpuinfo(key: str) -> str | None:
    path = Path("/proc/cpuinfo")
    lines = path.read_text().splitlines() if path.exists() else []
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(key)), None)


def _memory_gb() -> float | None:
    path = Path("/proc/meminfo")
    if not path.exists():
        return None
    total = next(line for line in path.read_text().splitlines() if line.startswith("MemTotal:"))
    return round(int(total.split()[1]) / 1024**2, 1)
