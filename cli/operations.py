"""Operator interventions from the command line: straight through the router, so a refusal is immediate."""

from __future__ import annotations

import argparse
import json
from typing import Any

from consumers.runtime import Runtime
from router.decide import Commit, Rejected
from router.model import Command, Intervention
from router.reasons import why


def add_commands(commands: Any, json_arg: Any) -> None:
    for command in Command:
        sub = commands.add_parser(command.value, help=f"operator: {command.value} a journey (audited)")
        sub.add_argument("journey_id")
        sub.add_argument("--as", dest="actor", required=True, help="who is intervening")
        sub.add_argument("--reason", required=True, help="why; recorded in the journey's audit trail")
        sub.add_argument("--version", type=int, help="the version you looked at (default: the current one)")
        if command is Command.SKIP:
            sub.add_argument("--output", type=json_arg, default={}, help="the step's output, as JSON")
        if command is Command.GOTO:
            sub.add_argument("--step", required=True)
        if command is Command.PATCH:
            sub.add_argument("--patch", type=json_arg, required=True, help="JSON merged into the state")


def intervene(runtime: Runtime, args: argparse.Namespace) -> str:
    journey = runtime.router.store.load(args.journey_id)
    if journey is None:
        raise Rejected(f"journey {args.journey_id} does not exist")
    fields: dict[str, Any] = {
        "output": getattr(args, "output", None),
        "step": getattr(args, "step", None),
        "patch": getattr(args, "patch", None),
    }
    command = Intervention(
        journey_id=journey.id,
        command=Command(args.command),
        expected_version=args.version if args.version is not None else journey.version,
        actor=args.actor,
        reason=args.reason,
        **{k: v for k, v in fields.items() if v is not None},
    )
    outcome = runtime.router.handle(command)
    assert isinstance(outcome, Commit)  # interventions either commit or are refused
    after = outcome.journey
    return json.dumps(
        {
            "journey": after.id,
            "version": after.version,
            "status": after.status.value,
            "step": after.step,
            "why": why(after, runtime.clock()),
        },
        indent=2,
    )
