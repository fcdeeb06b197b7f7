"""Definition lifecycle commands: list definitions, publish versions, migrate journeys between versions."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from consumers.runtime import Runtime
from router.adapters.definitions import DynamoDefinitionStore
from router.adapters.dynamodb import UNFINISHED, journeys_by_status
from router.core.migration import MigrationPlan, plan
from router.core.model import Journey
from router.language.files import definition_files, load_all
from router.language.registry import DEFINITIONS_DIR
from router.language.versions import publish
from router.runtime.migrator import execute


def add_commands(commands: Any) -> None:
    listing = commands.add_parser("definitions", help="list definitions (YAML and Python) with version and hash")
    listing.add_argument("paths", nargs="*", type=Path)
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    pub = commands.add_parser("publish", help="store definitions as published versions (refuses changed content)")
    pub.add_argument("paths", nargs="*", type=Path)
    triggers = commands.add_parser("triggers", help="write the trigger and schedule rules into infra/template.yaml")
    triggers.add_argument("--check", action="store_true", help="fail if the template is out of step; write nothing")
    migrate = commands.add_parser("migrate", help="move in-flight journeys from one definition version to another")
    migrate.add_argument("definition_id")
    migrate.add_argument("--from", dest="from_version", required=True)
    migrate.add_argument("--to", dest="to_version", required=True)
    migrate.add_argument("--map", dest="mapping", action="append", default=[], help="old-step=new-step (repeat)")
    migrate.add_argument("--where", help="JMESPath over {id, step, status, business_key, state}")
    migrate.add_argument("--dry-run", action="store_true", help="show what would move; change nothing")
    migrate.add_argument("--as", dest="actor", help="who migrates (required unless --dry-run)")
    migrate.add_argument("--reason", help="why; recorded on each moved journey (required unless --dry-run)")


class NoSuchPath(FileNotFoundError):
    """A definition path that is not there: named, with what to do, before anything is read."""


def files(paths: list[Path]) -> list[Path]:
    chosen = paths or [DEFINITIONS_DIR]
    missing = [str(p) for p in chosen if not p.exists()]
    if missing:
        raise NoSuchPath(
            f"no such file or directory: {', '.join(missing)} (give definition files or a directory of them; "
            f"the default is {DEFINITIONS_DIR})"
        )
    return [f for p in chosen for f in (definition_files(p) if p.is_dir() else [p])]


def definition_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    from workers.samples import SAMPLES

    rows = []
    for path in files(args.paths):
        for definition in load_all([path], SAMPLES.names()):
            rows.append(
                {
                    "id": definition.id,
                    "version": definition.version,
                    "hash": definition.content_hash,
                    "schedule": definition.schedule,
                    "triggers": len(definition.triggers),
                    "file": path.name,
                }
            )
    return rows


def definitions(args: argparse.Namespace) -> str:
    from cli.output import table

    rows = [
        (
            r["id"],
            r["version"],
            r["hash"],
            f"schedule {r['schedule']}" if r["schedule"] else f"{r['triggers']} triggers",
            r["file"],
        )
        for r in definition_rows(args)
    ]
    return table(["definition", "version", "hash", "started by", "file"], rows) if rows else "no definitions found"


def triggers_command(args: argparse.Namespace) -> str:
    from cli.triggers import TEMPLATE, synced
    from router.language.registry import Registry

    current = TEMPLATE.read_text()
    wanted = synced(current, list(Registry.from_directory()))
    if wanted == current:
        return f"{TEMPLATE} is in step with definitions/"
    if args.check:
        raise ValueError(f"{TEMPLATE} is out of step with definitions/: run `journeys triggers`")
    TEMPLATE.write_text(wanted)
    return f"rewrote the trigger and schedule rules in {TEMPLATE}"


def publish_command(runtime: Runtime, args: argparse.Namespace) -> str:
    store = DynamoDefinitionStore(runtime.client("dynamodb"), runtime.settings.journeys_table)
    results = publish(store, load_all(files(args.paths)))
    return "\n".join(f"{outcome.value:<10} {d.id} {d.version} {d.content_hash}" for d, outcome in results)


def migrate_command(runtime: Runtime, args: argparse.Namespace) -> str:
    if not args.dry_run and not (args.actor and args.reason):
        raise ValueError("a migration moves journeys: say who you are (--as) and why (--reason), or use --dry-run")
    registry = runtime.registry  # the deployed definitions, then the published ones
    old, new = registry.get(args.definition_id, args.from_version), registry.get(args.definition_id, args.to_version)
    planned = plan(_unfinished(runtime), old, new, mapping(args.mapping), args.where)
    if args.dry_run:
        return render(planned, "would move")
    done = execute(runtime.router, planned, old, new, args.actor, args.reason)
    executed = planned.model_copy(update={"moves": done.moved})
    refused = [f"refused    {m.journey_id}  {m.from_step} -> {m.to_step}: {why}" for m, why in done.refused]
    return "\n".join([render(executed, "moved"), *refused])


def mapping(pairs: list[str]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not (sep and old and new):
            raise ValueError(f"--map {pair!r}: expected old-step=new-step")
        result[old] = new
    return result


def render(planned: MigrationPlan, verb: str) -> str:
    """The plan as text: the same lines for a dry run and for what a real run did, so the two compare."""
    lines = [f"{planned.definition_id} {planned.from_version} -> {planned.to_version}"]
    lines += [f"{verb:<10} {m.journey_id}  {m.from_step} -> {m.to_step}" for m in planned.moves]
    lines += [f"left       {x.journey_id}  at {x.step}: {x.reason}" for x in planned.left]
    lines.append(f"{len(planned.moves)} {verb}, {len(planned.left)} left where they are")
    return "\n".join(lines)


def _unfinished(runtime: Runtime) -> list[Journey]:
    """Running and stuck journeys, each once even if it escalated between the two partition reads."""
    return list(journeys_by_status(runtime.client("dynamodb"), runtime.settings.journeys_table, UNFINISHED))
