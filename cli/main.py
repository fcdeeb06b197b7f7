"""The `journeys` command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli import backfill, lifecycle
from cli.errors import run_safely
from cli.operations import add_commands as add_interventions
from cli.operations import intervene
from cli.output import emit_json, iso, nothing, relative, table
from router.core.model import Command
from router.core.reasons import why
from router.language.files import load_all

if TYPE_CHECKING:  # imported when a command needs it: `journeys validate` never loads boto3
    from cli.client import JourneysClient

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
    top.add_argument("--debug", action="store_true", help="show the traceback of an error, not just its message")
    commands = top.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="validate definition files, reporting every problem")
    validate.add_argument("paths", nargs="*", type=Path)
    _json_flag(validate)
    graph = commands.add_parser("graph", help="draw a definition as a Mermaid flowchart")
    graph.add_argument("definition_id")
    asl = commands.add_parser("asl", help="compile a definition to a Step Functions machine, every step a state")
    asl.add_argument("definition_id")

    up = commands.add_parser("up", help="run the local stack (emulator, resources from the template, consumers)")
    up.add_argument("--port", type=int, default=4599)
    up.add_argument("--demo", action="store_true", help="run the sample journeys and show their progress")
    up.add_argument("--once", action="store_true", help="exit when the sample journeys have ended")
    up.add_argument("--api-port", type=int, default=0, help="the HTTP API's port (default: a free one)")
    up.add_argument("--fresh", action="store_true", help="start empty: forget the journeys kept from the last run")

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
    _json_flag(show)
    listing = commands.add_parser("list", help="list journeys")
    listing.add_argument("--status", choices=["RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "STUCK"])
    _json_flag(listing)
    submit = commands.add_parser("submit", help="send customer data for a journey's INPUT step")
    submit.add_argument("journey_id")
    submit.add_argument("--input", type=_json_arg, required=True)

    inbox = commands.add_parser("approvals", help="open approval tickets, soonest deadline first")
    inbox.add_argument("--as", dest="approver", help="only the tickets this person may decide (with --roles)")
    inbox.add_argument("--roles", help="the roles you hold, comma-separated (with --as)")
    _json_flag(inbox)
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
    _json_flag(costs)
    stats = commands.add_parser("stats", help="the local stack's metrics: throughput, latency by step, failures")
    _json_flag(stats)
    commands.add_parser("circuits", help="each worker's circuit breaker: open ones hold their new work back")
    backfill.add_command(commands)
    return top


def _json_flag(command: argparse.ArgumentParser) -> None:
    command.add_argument("--json", action="store_true", help="print JSON (times as ISO 8601) instead of a table")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Every failure is one line on stderr saying what went wrong and what to do, with a
    non-zero exit code; --debug shows the traceback as well."""
    args = parser().parse_args(argv)
    return run_safely(lambda: COMMANDS[args.command](args), debug=args.debug, stack=args.stack)


def _validate(args: argparse.Namespace) -> int:
    from workers.samples import SAMPLES

    definitions = load_all(lifecycle.files(args.paths), SAMPLES.names())
    if args.json:
        emit_json([{"id": d.id, "version": d.version, "steps": len(d.steps), "valid": True} for d in definitions])
        return 0
    rows = [(d.id, d.version, len(d.steps), "ok") for d in definitions]
    print(table(["definition", "version", "steps", "result"], rows))
    return 0


def _graph(args: argparse.Namespace) -> int:
    from router.language.graph import mermaid
    from router.language.registry import Registry

    print(mermaid(Registry.from_directory().get(args.definition_id)))
    return 0


def _asl(args: argparse.Namespace) -> int:
    from router.language.asl import compile_definition
    from router.language.registry import Registry

    print(json.dumps(compile_definition(Registry.from_directory().get(args.definition_id)), indent=2))
    return 0


def _up(args: argparse.Namespace) -> int:
    import os

    # Consumers log JSON per message; the demo shows progress instead unless asked (before they are imported).
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    from devstack.run import serve

    return serve(port=args.port, demo=args.demo, once=args.once, api_port=args.api_port, fresh=args.fresh)


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


def _client(args: argparse.Namespace) -> JourneysClient:
    from cli import connect
    from cli.client import JourneysClient

    return JourneysClient(
        connect.aws_runtime(args.stack, args.region) if args.stack else connect.local_runtime(connect.LOCAL_FILE)
    )


def _start(args: argparse.Namespace) -> int:
    from api.start import InputRefused, StartRequest, start_journey
    from cli.waiting import outcome, settled, wait_for
    from router.core.subscriptions import SubscriptionBusy

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


def _show(args: argparse.Namespace) -> int:
    client = _client(args)
    journey = client.get(args.journey_id)
    if journey is None:
        raise LookupError(f"there is no journey {args.journey_id}: `journeys list` shows the journeys there are")
    now = time.time()
    timeline = client.timeline(journey.id)
    if args.json:
        document = journey.model_dump(mode="json") | {"why": why(journey, now)}
        document |= {"created_at": iso(journey.created_at), "updated_at": iso(journey.updated_at)}
        document["timeline"] = [r.model_dump(mode="json") | {"at": iso(r.at)} for r in timeline]
        emit_json(document)
        return 0
    print(f"journey     {journey.id}\ndefinition  {journey.definition_id} {journey.definition_version}")
    print(f"status      {journey.status.value}\nstep        {journey.step}\nversion     {journey.version}")
    print(f"created     {iso(journey.created_at)}\nupdated     {iso(journey.updated_at)}")
    for activation in journey.open.values():
        waiting = activation.worker or activation.kind.value.lower()
        due = f"{iso(activation.deadline)}, {relative(activation.deadline, now)}"
        print(f"waiting on  {activation.id} ({activation.step}: {waiting}, due {due})")
    print(f"why         {why(journey, now)}")
    print(f"cost        ${journey.cost_usd:.8f} (AWS list prices, {journey.version} transitions)")
    if journey.error:
        print(f"error       {journey.error}")
    print("state       " + json.dumps(journey.state, indent=2).replace("\n", "\n            "))
    print("\ntimeline")
    rows = [
        (r.seq, iso(r.at), r.step_name, r.step_result, r.actor, " -> ".join(r.entered), f"${r.cost_usd:.8f}")
        for r in timeline
    ]
    print(table(["#", "at", "step", "result", "by", "entered", "cost"], rows) if rows else "  (nothing logged yet)")
    return 0


def _list(args: argparse.Namespace) -> int:
    from router.core.model import JourneyStatus

    status = JourneyStatus(args.status) if args.status else None
    journeys = _client(args).list(status)
    if args.json:
        emit_json([_summary(j) for j in journeys])
        return 0
    if not journeys:
        nothing(f"no {status.value} journeys" if status else "no journeys yet: start one with `journeys start`")
        return 0
    now = time.time()
    rows = [
        (j.id, j.definition_id, j.definition_version, j.status.value, j.step or "", relative(j.updated_at, now))
        for j in journeys
    ]
    print(table(["id", "definition", "version", "status", "step", "updated"], rows))
    return 0


def _summary(journey: Any) -> dict[str, Any]:
    return {
        "id": journey.id,
        "definition_id": journey.definition_id,
        "definition_version": journey.definition_version,
        "status": journey.status.value,
        "step": journey.step,
        "business_key": journey.business_key,
        "version": journey.version,
        "created_at": iso(journey.created_at),
        "updated_at": iso(journey.updated_at),
    }


def _submit(args: argparse.Namespace) -> int:
    activation = _client(args).submit(args.journey_id, args.input)
    print(f"submitted for {activation}")
    return 0


def _money(value: float | None, currency: str | None) -> str:
    """48,000.00 EUR: the amount in its own currency (ISO 4217 code after the figure, as banks write it)."""
    if value is None:
        return ""
    return f"{value:,.2f} {currency or '(currency unknown)'}"


def _approvals(args: argparse.Namespace) -> int:
    from api import views

    client = _client(args)
    if bool(args.approver) != bool(args.roles):
        raise ValueError("--as and --roles go together: who you are and the roles you hold")
    if args.approver:
        roles = frozenset(r.strip() for r in args.roles.split(",") if r.strip())
        tickets = views.inbox(client, args.approver, roles)
    else:
        tickets = views.tickets(client)
    if args.json:
        emit_json([t | {"opened_at": iso(t["opened_at"]), "expires_at": iso(t["expires_at"])} for t in tickets])
        return 0
    if not tickets:
        nothing("no open approval tickets" + (f" that {args.approver} may decide" if args.approver else ""))
        return 0
    now = time.time()
    rows = [
        (
            t["ticket_id"],
            t["definition_id"],
            f"{t['level']}/{t['levels'] or '?'}",
            t["role"],
            _money(t["amount"], t["currency"]),
            _money(t["limit"], t["currency"]) if t["limit"] is not None else "",
            t["beneficiary"] or "",
            t["reference"] or "",
            t["initiator"],
            relative(t["expires_at"], now),
        )
        for t in tickets
    ]
    headers = ["ticket", "definition", "level", "role", "amount", "limit", "beneficiary", "reference", "maker", "due"]
    print(table(headers, rows))
    return 0


def _decide(args: argparse.Namespace) -> int:
    from router.core.approvals import Refused

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
    lines = costs_by_step(client.timeline(j.id) for j in journeys)
    if args.json:
        emit_json(
            [
                {"definition": d, "step": s, "transitions": line.transitions, "cost_usd": line.cost_usd}
                | {"calls": dict(line.calls)}
                for (d, s), line in sorted(lines.items())
            ]
        )
        return 0
    if not journeys:
        nothing("no journeys" + (f" of {args.definition}" if args.definition else "") + ": nothing has cost anything")
        return 0
    print(render_costs(journeys, lines))
    return 0


def _stats(args: argparse.Namespace) -> int:
    from cli import connect
    from cli.observe import read_documents, render_stats

    documents = read_documents(connect.LOCAL_FILE.with_name("metrics.jsonl"))
    if args.json:
        emit_json(documents)
        return 0
    print(render_stats(documents))
    return 0


def _circuits(args: argparse.Namespace) -> int:
    from cli.circuits import render_circuits

    print(render_circuits(_client(args)))
    return 0


def _backfill(args: argparse.Namespace) -> int:
    return backfill.backfill_command(_client(args).runtime, args)


def _intervene(args: argparse.Namespace) -> int:
    shown = intervene(_client(args).runtime, args)
    if shown:
        print(shown)
    return 0


def _lifecycle(args: argparse.Namespace) -> int:
    if args.command == "definitions":
        if args.json:
            emit_json(lifecycle.definition_rows(args))
        else:
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
    "backfill": _backfill,
}

if __name__ == "__main__":
    sys.exit(main())
