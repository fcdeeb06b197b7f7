"""Operator interventions from the command line: straight through the router, so a refusal is immediate."""

from __future__ import annotations

import argparse
from typing import Any

from cli.output import emit_json, table
from cli.preflight import check_move
from consumers.runtime import Runtime
from router.core.decide import Commit, Rejected
from router.core.identity import canonical
from router.core.interventions import intervene as dry_run
from router.core.model import Command, Intervention, Journey
from router.core.reasons import why
from router.language.definition import Definition


def add_commands(commands: Any, json_arg: Any) -> None:
    for command in Command:
        sub = commands.add_parser(command.value, help=f"operator: {command.value} a journey (audited)")
        sub.add_argument("journey_id")
        sub.add_argument("--as", dest="actor", required=True, help="who is intervening")
        sub.add_argument("--reason", type=_reason, required=True, help="why; recorded in the journey's audit trail")
        sub.add_argument("--version", type=int, help="the version you looked at (default: the current one)")
        sub.add_argument("--json", action="store_true", help="print the result as JSON")
        if command is Command.SKIP:
            sub.add_argument(
                "--output",
                type=json_arg,
                required=True,
                help="what the skipped step would have produced, as JSON (checked against the step's schema, "
                "and against what the next step needs)",
            )
        if command is Command.GOTO:
            sub.add_argument("--step", required=True, help="the step to go to; its inputs must be in the state")
        if command is Command.PATCH:
            sub.add_argument("--patch", type=json_arg, required=True, help="JSON merged into the state")


def _reason(text: str) -> str:
    """Checked as the command is read, so a too-short reason is refused before anything is looked up."""
    if len(text.strip()) < 3:
        raise argparse.ArgumentTypeError("say why in a few words (3 characters at least); it goes in the audit trail")
    return text.strip()


def intervene(runtime: Runtime, args: argparse.Namespace) -> str:
    journey = runtime.router.store.load(args.journey_id)
    if journey is None:
        raise Rejected(f"there is no journey {args.journey_id}: `journeys list` shows the journeys there are")
    definition = runtime.registry.get(journey.definition_id, journey.definition_version)
    fields: dict[str, Any] = {
        "output": getattr(args, "output", None),
        "step": getattr(args, "step", None),
        "patch": getattr(args, "patch", None),
    }
    command = Intervention(
        journey_id=journey.id,
        command=Command(args.command),
        expected_version=args.version if args.version is not None else journey.version,
        actor=canonical(args.actor),
        reason=args.reason,
        **{k: v for k, v in fields.items() if v is not None},
    )
    dry_run(definition, journey, command, runtime.clock())  # the maker-checker rules' refusal comes first (pure)
    _preflight(definition, journey, args, runtime)
    outcome = runtime.router.handle(command)
    assert isinstance(outcome, Commit)  # interventions either commit or are refused
    after = outcome.journey
    result = {
        "journey": after.id,
        "command": args.command,
        "version": after.version,
        "status": after.status.value,
        "step": after.step,
        "why": why(after, runtime.clock()),
    }
    if getattr(args, "json", False):
        emit_json(result)
        return ""
    return table(["journey", "command", "version", "status", "step"], [list(result.values())[:5]]) + (
        f"\n{result['why']}"
    )


def _preflight(definition: Definition, journey: Journey, args: argparse.Namespace, runtime: Runtime) -> None:
    """Refuse now, with what is missing, a skip or goto that would land the journey on a step lacking inputs."""
    step, output = getattr(args, "step", None), getattr(args, "output", None)
    check_move(definition, journey, Command(args.command), step, output, runtime.workers)
