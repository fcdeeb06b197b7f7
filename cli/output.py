"""How the command line shows things: aligned tables with headers, JSON for scripts, times people can read.

Tables are for people: relative times ("in 3 h", "5 min ago") and a line saying so when there is nothing.
`--json` is for scripts: the same rows as JSON, times as ISO 8601 with their zone, never relative.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

_UNITS = ((86_400, "d"), (3_600, "h"), (60, "min"), (1, "s"))


def iso(at: float | None) -> str | None:
    """Epoch seconds as ISO 8601 in UTC with its zone (2026-12-05T14:03:07Z): unambiguous in any country."""
    if at is None:
        return None
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def relative(at: float | None, now: float) -> str:
    """ "in 3 h", "12 min ago", "now": the largest whole unit, as a person would say it."""
    if at is None:
        return ""
    delta = at - now
    seconds = abs(delta)
    if seconds < 1:
        return "now"
    size, unit = next((s, u) for s, u in _UNITS if seconds >= s)
    amount = f"{int(seconds // size)} {unit}"
    return f"in {amount}" if delta > 0 else f"{amount} ago"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns padded to their widest cell, headers in capitals, the last column never padded."""
    cells = [[str(h).upper() for h in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def emit_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def nothing(what: str) -> None:
    """An empty result says so, on stderr (kubectl's way): a pipeline reading stdout sees no rows."""
    print(what, file=sys.stderr)
