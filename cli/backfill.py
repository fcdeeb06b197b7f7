"""`journeys backfill`: once after upgrading, items written before the sharded indexes get their index attributes.

Progress goes to stderr as the walk goes (a line every PROGRESS_EVERY items a table), the summary to stdout: a
table, or JSON with --json. Exit code 0 when both tables were walked through; 1 when something is left for a rerun
(throttled items or segments) or a journey document could not be read, with one line saying which and what to do.
"""

from __future__ import annotations

import argparse
import functools
import sys
from typing import TYPE_CHECKING, Any

from cli.errors import EXIT_ERROR
from cli.output import emit_json, table
from router.language.registry import UnknownDefinition

if TYPE_CHECKING:  # imported when the command runs: building the parser loads no adapter
    from consumers.runtime import Runtime
    from router.adapters.backfill import Tally

PROGRESS_EVERY = 1000
MAX_SEGMENTS = 64  # threads, one a segment; beyond this the client's connection pool is the limit, not the table
COLUMNS = ["table", "scanned", "fixed", "current", "moved", "other", "unreadable", "unprocessed"]


def add_command(commands: Any) -> None:
    backfill = commands.add_parser(
        "backfill",
        help="after an upgrade: give journeys and tickets written by an earlier release this release's index keys",
    )
    backfill.add_argument(
        "--segments", type=_segments, default=4, help=f"parallel Scan segments, 1 to {MAX_SEGMENTS} (default 4)"
    )
    backfill.add_argument("--dry-run", action="store_true", help="count what would be fixed; write nothing")
    backfill.add_argument("--json", action="store_true", help="print the summary as JSON")


def _segments(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to {MAX_SEGMENTS}") from None
    if not 1 <= value <= MAX_SEGMENTS:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to {MAX_SEGMENTS}")
    return value


def backfill_command(runtime: Runtime, args: argparse.Namespace) -> int:
    from router.adapters.backfill import Backfill

    settings = runtime.settings
    # One quick read first, with the usual retries: a stack that is down, or a table that is missing, is said at
    # once, not after the walk's patient retries (ten attempts a segment) have run out.
    runtime.client("dynamodb").describe_table(TableName=settings.journeys_table)
    tallies = Backfill(
        _client(runtime, args.segments),
        settings.journeys_table,
        settings.tickets_table or None,
        _retention(runtime),
        runtime.clock(),
        segments=args.segments,
        dry_run=args.dry_run,
        progress=functools.partial(_progress, "to fix" if args.dry_run else "fixed"),
        every=PROGRESS_EVERY,
    ).run()
    if args.json:
        emit_json(
            {
                "dry_run": args.dry_run,
                "complete": all(t.complete for t in tallies),
                "tables": {t.table: t.counts() | {"unreadable_ids": t.unreadable_ids} for t in tallies},
            }
        )
    else:
        print(table(COLUMNS, [[t.table, *(t.counts()[c] for c in COLUMNS[1:])] for t in tallies]))
        for line in _notes(tallies, args.dry_run, bool(settings.tickets_table)):
            print(line)
    return _verdict(tallies)


def _client(runtime: Runtime, segments: int) -> Any:
    """A DynamoDB client of its own: adaptive retries (a long walk meets throttling), a connection a segment."""
    from botocore.config import Config

    config = Config(
        retries={"mode": "adaptive", "max_attempts": 10},
        max_pool_connections=max(10, segments),
        connect_timeout=5,
        read_timeout=30,
    )
    settings = runtime.settings
    return runtime.session.client(
        "dynamodb", region_name=settings.region, endpoint_url=settings.endpoint_url, config=config
    )


def _retention(runtime: Runtime) -> Any:
    """retention_days of a journey's own definition version: deployed files first, then the published copies."""

    @functools.cache
    def retention(definition_id: str, version: str) -> int | None:
        try:
            return runtime.registry.get(definition_id, version).retention_days
        except UnknownDefinition:
            return None

    return retention


def _progress(fixed: str, tally: Tally) -> None:
    print(
        f"{tally.table}: {tally.scanned:,} scanned, {tally.fixed:,} {fixed}, {tally.current:,} already current, "
        f"{tally.moved:,} moved",
        file=sys.stderr,
        flush=True,
    )


def _notes(tallies: list[Tally], dry_run: bool, tickets: bool) -> list[str]:
    lines = []
    if dry_run:
        lines.append("dry run: nothing was written; FIXED counts the items a run would fix")
    if not tickets:
        lines.append("tickets: not walked, this stack has no approval tickets table")
    for t in tallies:
        if t.past_retention:
            got = "would get" if dry_run else "got"
            lines.append(
                f"{t.table}: {_journeys(t.past_retention)} finished longer ago than their definition's "
                f"retention_days {got} an expires_at already past: DynamoDB's TTL deletes such items within days"
            )
        if t.no_retention:
            lines.append(
                f"{t.table}: {_journeys(t.no_retention)} finished with no expires_at: their definition version is "
                "neither deployed nor published, so their retention is unknown and TTL keeps them"
            )
    return lines


def _journeys(count: int) -> str:
    return f"{count:,} journey{'s' * (count != 1)}"


def _verdict(tallies: list[Tally]) -> int:
    """0 when everything was walked; else one line on stderr per table saying what is left and what to do."""
    code = 0
    for t in tallies:
        if not t.complete:
            code = EXIT_ERROR
            left = f"{t.unprocessed:,} items" + (
                f" and {t.unfinished_segments} scan segments" if t.unfinished_segments else ""
            )
            print(f"journeys: {t.table}: {left} were throttled: run `journeys backfill` again", file=sys.stderr)
        if t.unreadable:
            code = EXIT_ERROR
            shown = ", ".join(t.unreadable_ids) + (", ..." if t.unreadable > len(t.unreadable_ids) else "")
            print(
                f"journeys: {t.table}: {t.unreadable:,} journey documents could not be read ({shown}); the router "
                "cannot load them either: look at these items in the table",
                file=sys.stderr,
            )
    return code
