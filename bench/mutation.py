"""The mutation score of `make mutation`, per module, from what mutmut left in mutants/ (its .meta files).

Score: mutants the pure tests detected (killed, or timed out: a mutant that loops is caught) over all mutants.
`--survivors` lists each surviving mutant by name (`mutmut show NAME` prints its diff).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

DETECTED = ("killed", "timeout")


def statuses(meta: Path) -> dict[str, str]:
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    return {name: status_by_exit_code[code] for name, code in codes.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--survivors", action="store_true", help="list every surviving mutant")
    args = parser.parse_args()
    metas = sorted(args.mutants.glob("router/**/*.py.meta"))
    if not metas:
        print(f"no mutmut results under {args.mutants}/: run `make mutation` first", file=sys.stderr)
        return 1
    total: Counter[str] = Counter()
    print(f"{'module':<34}{'mutants':>8}{'killed':>8}{'timeout':>8}{'survived':>9}{'other':>7}{'score':>8}")
    for meta in metas:
        found = statuses(meta)
        counts = Counter(found.values())
        total.update(counts)
        print(_row(str(meta.relative_to(args.mutants)).removesuffix(".meta"), counts))
        if args.survivors:
            for name in sorted(n for n, s in found.items() if s == "survived"):
                print(f"    {name}")
    print(_row("total", total))
    return 0


def _row(label: str, counts: Counter[str]) -> str:
    n = sum(counts.values())
    other = n - sum(counts[s] for s in (*DETECTED, "survived"))
    score = sum(counts[s] for s in DETECTED) / n if n else 0.0
    return f"{label:<34}{n:>8}{counts['killed']:>8}{counts['timeout']:>8}{counts['survived']:>9}{other:>7}{score:>8.1%}"


if __name__ == "__main__":
    sys.exit(main())
