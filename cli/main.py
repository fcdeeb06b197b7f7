"""The `journeys` command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cli import lifecycle
from cli.operations import add_commands as add_interventions
from cli.operations import intervene
from router.loader import DefinitionError, load_all
from router.model import Command
from router.reasons import why

EXIT_USAGE, EXIT_INVALID = 2, 1


def _json_arg(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="journeys", description="Durable journey orchestration on AWS serverless.")
    top.add_argument("--stack", help="a deployed stack's name (default: the running local stack)")
    top.add_argument("--region", default="eu-west-1", help="the deployed stack's region")
    commands = top.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="validate definition files, reporting every problem")
    validate.add_argument("paths", nargs="*", type=Path)
    graph = commands.add_parser("graph", help="draw a definition as a Mermaid flowchart")
    graph.add_argument("definition_id")
    asl = commands.add_parser("asl", help="compile a definition to a Step Functions machine, every step a state")
    asl.add_argument("definition_id")

    up = commands.add_parser("up", help="run the local stack (emulator, resources from the template, consumers)")
    up.add_argument("--port", type=int, default=4599)
    up.add_argument("--demo", action="store_true", help="run the sample journeys and show their progress")
    up.add_argument("--once", action="store_true", help="exit when the sample journeys have ended")
    up.add_argument("--api-port", type=int, default=0, help="the HTTP API's port (default: a free one)")

    token = commands.add_parser("token", help="a bearer token for the local stack's HTTP API (development only)")
    who = token.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="a member of staff's id (the audited actor)")
    who.add_argument("--customer", help="a customer id: a token that sees only that customer's journeys")
    token.add_argument("--roles", default="viewer", help="staff roles, comma-separated: viewer, operator, approvers'")
    token.add_argument("--ttl", type=int, default=8 * 3600, help="seconds the token is valid")

    start = commands.add_parser("start", help="start a journey (checked as POST /api/journeys checks it)")
    start.add_argument("definition_id")
    start.add_argument("--input", type=_json_arg, default={})
    start.add_argument("--business-key", help="the id the calling domain knows the journey by")
    start.add_argument("--idempotency-key", help="a repeat with the same key names the same journey")
    start.add_argument("--as", dest="actor", default="cli", help="who starts it (the journey's initiator)")
    start.add_argument("--wait", action="store_true", help="wait for the end, or a step that needs a person")
    start.add_argument("--timeout", type=float, default=120, help="seconds --wait waits")
    show = commands.add_parser("show", help="a journey's state, current step and timeline")
    show.add_argument("journey_id")
    listing = commands.add_parser("list", help="list journeys")
    listing.add_argument("--status", choices=["RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "STUCK"])
    submit = commands.add_parser("submit", help="send customer data for a journey's INPUT step")
    submit.add_argument("journey_id")
    submit.add_argument("--input", type=_json_arg, required=True)

    commands.add_parser("approvals", help="open approval tickets, soonest deadline first")
    for verdict in ("approve", "reject"):
        decide = commands.add_parser(verdict, help=f"{verdict} one level of an approval, as yourself")
        decide.add_argument("ticket_id")
        decide.add_argument("--as", dest="approver", required=True, help="who decides (your staff id)")
        decide.add_argument("--roles", required=True, help="the roles you hold, comma-separated")
        decide.add_argument("--reason", required=verdict == "reject", help="why (required to reject)")
    add_interventions(commands, _json_arg)
    lifecycle.add_commands(commands)
    costs = commands.add_parser("costs", help="what journeys cost (AWS list prices), by definition and step")
    costs.add_argument("--definition", help="only this definition's journeys")
    commands.add_parser("stats", help="the local stack's metrics: throughput, latency by step, failures")
    commands.add_parser("circuits", help="each worker's circuit breaker: open ones hold their new work back")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except DefinitionError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    except (LookupError, ValueError, RuntimeError) as exc:
        print(f"journeys: {exc}", file=sys.stderr)
        return EXIT_INVALID


def _validate(args: argparse.Namespace) -> int:
    from workers.samples import SAMPLES

    definitions = load_all(lifecycle.files(args.paths), SAMPLES.names())
    for definition in definitions:
        print(f"ok  {definition.id} {definition.version} ({len(definition.steps)} steps)")
    return 0


def _graph(args: argparse.Namespace) -> int:
    from router.graph import mermaid
    from router.registry import Registry

    print(mermaid(Registry.from_directory().get(args.definition_id)))
    return 0


def _asl(args: argparse.Namespace) -> int:
    from router.asl import compile_definition
    from router.registry import Registry

    print(json.dumps(compile_definition(Registry.from_directory().get(args.definition_id)), indent=2))
    return 0


def _up(args: argparse.Namespace) -> int:
    import os

    # Consumers log JSON per message; the demo shows progress instead unless asked (before they are imported).
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    from devstack.run import serve

    return serve(port=args.port, demo=args.demo, once=args.once, api_port=args.api_port)


def _token(args: argparse.Namespace) -> int:
    from api.auth import CUSTOMER, DevIssuer
    from cli.connect import local_value

    issuer = DevIssuer(local_value("TOKEN_SECRET"))
    if args.customer:
        print(issuer.issue(f"customer:{args.customer}", [CUSTOMER], customer_id=args.customer, ttl=args.ttl))
    else:
        roles = [r.strip() for r in args.roles.split(",") if r.strip()]
        print(issuer.issue(args.user, roles, ttl=args.ttl))
    return 0


def _client(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from cli.client import JourneysClient
    from cli.connect import aws_runtime, local_runtime

    return JourneysClient(aws_runtime(args.stack, args.region) if args.stack else local_runtime())


def _start(args: argparse.Namespace) -> int:
    from api.start import InputRefused, StartRequest, start_journey
    from cli.waiting import outcome, settled, wait_for
    from router.subscriptions import SubscriptionBusy

    client = _client(args)
    request = StartRequest(definition_id=args.definition_id, input=args.input, business_key=args.business_key)
    try:
        started = start_journey(client, request, args.actor, args.idempotency_key)
    except InputRefused as exc:
        print(f"journeys: refused, nothing started: {args.definition_id}", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_INVALID
    except SubscriptionBusy as exc:
        print(f"journeys: refused, nothing started: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(started.journey_id if started.created else f"{started.journey_id} (already started: {started.status})")
    if not args.wait:
        return 0
    journey = wait_for(client, started.journey_id, args.timeout)
    print(outcome(journey))
    ended_well = settled(journey) and journey is not None and journey.status.value not in ("FAILED", "CANCELLED")
    return 0 if ended_well else EXIT_INVALID


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S")


def _show(args: argparse.Namespace) -> int:
    client = _client(args)
    journey = client.get(args.journey_id)
    if journey is None:
        print(f"journeys: no journey {args.journey_id}", file=sys.stderr)
        return EXIT_INVALID
    print(f"journey     {journey.id}\ndefinition  {journey.definition_id} {journey.definition_version}")
    print(f"status      {journey.status.value}\nstep        {journey.step}\nversion     {journey.version}")
    for activation in journey.open.values():
        waiting = activation.worker or activation.kind.value.lower()
        print(f"waiting on  {activation.id} ({activation.step}: {waiting}, due {_when(activation.deadline)})")
    print(f"why         {why(journey, time.time())}")
    print(f"cost        ${journey.cost_usd:.8f} (AWS list prices, {journey.version} transitions)")
    if journey.error:
        print(f"error       {journey.error}")
    print("state       " + json.dumps(journey.state, indent=2).replace("\n", "\n            "))
    print("\ntimeline")
    for record in client.timeline(journey.id):
        entered = f" -> {' -> '.join(record.entered)}" if record.entered else ""
        print(
            f"  {record.seq:>3} {_when(record.at)} {record.step_name}: {record.step_result} by {record.actor}{entered}"
            f"  ${record.cost_usd:.8f}"
        )
    return 0


def _list(args: argparse.Namespace) -> int:
    from router.model import JourneyStatus

    status = JourneyStatus(args.status) if args.status else None
    for journey in _client(args).list(status):
        print(f"{journey.id}  {journey.definition_id:<20} {journey.status.value:<10} {journey.step or ''}")
    return 0


def _submit(args: argparse.Namespace) -> int:
    activation = _client(args).submit(args.journey_id, args.input)
    print(f"submitted for {activation}")
    return 0


def _money(value: float) -> str:
    return f"{value:,.2f}".removesuffix(".00")


def _approvals(args: argparse.Namespace) -> int:
    tickets = _client(args).approvals()
    for t in tickets:
        limit = f" up to {_money(t.limit)}" if t.limit is not None else ""
        amount = f" amount {_money(t.amount)}" if t.amount is not None else ""
        earlier = f", approved by {', '.join(t.approvers)}" if t.approvers else ""
        print(
            f"{t.ticket_id}  {t.definition_id:<18} level {t.level}/{t.levels or '?'} {t.role}{limit}{amount}  "
            f"maker {t.initiator}{earlier}  due {_when(t.deadline)}"
        )
    if not tickets:
        print("no open approval tickets")
    return 0


def _decide(args: argparse.Namespace) -> int:
    from router.approvals import Refused

    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    try:
        recorded = _client(args).decide(args.ticket_id, args.command, args.approver, roles, args.reason)
    except Refused as exc:
        print(f"journeys: refused (audited on the ticket): {exc}", file=sys.stderr)
        return EXIT_INVALID
    ticket = recorded.ticket
    said = "already recorded" if recorded.repeat else "recorded"
    print(
        f"{args.command} by {args.approver} {said} on {ticket.ticket_id} (level {ticket.level} of {ticket.journey_id})"
    )
    return 0


def _costs(args: argparse.Namespace) -> int:
    from cli.observe import costs_by_step, render_costs

    client = _client(args)
    journeys = [j for j in client.list() if args.definition in (None, j.definition_id)]
    print(render_costs(journeys, costs_by_step(client.timeline(j.id) for j in journeys)))
    return 0


def _stats(args: argparse.Namespace) -> int:
    from cli.connect import LOCAL_FILE
    from cli.observe import read_documents, render_stats

    print(render_stats(read_documents(LOCAL_FILE.with_name("metrics.jsonl"))))
    return 0


def _circuits(args: argparse.Namespace) -> int:
    from cli.circuits import render_circuits

    print(render_circuits(_client(args)))
    return 0


def _intervene(args: argparse.Namespace) -> int:
    print(intervene(_client(args).runtime, args))
    return 0


def _lifecycle(args: argparse.Namespace) -> int:
    if args.command == "definitions":
        print(lifecycle.definitions(args))
    elif args.command == "triggers":
        print(lifecycle.triggers_command(args))
    else:
        run = lifecycle.publish_command if args.command == "publish" else lifecycle.migrate_command
        print(run(_client(args).runtime, args))
    return 0


COMMANDS = {
    **{command.value: _intervene for command in Command},
    "validate": _validate,
    "graph": _graph,
    "asl": _asl,
    "up": _up,
    "token": _token,
    "start": _start,
    "show": _show,
    "list": _list,
    "submit": _submit,
    "approvals": _approvals,
    "approve": _decide,
    "reject": _decide,
    "definitions": _lifecycle,
    "publish": _lifecycle,
    "migrate": _lifecycle,
    "triggers": _lifecycle,
    "costs": _costs,
    "stats": _stats,
    "circuits": _circuits,
}

if __name__ == "__main__":
    sys.exit(main())
