"""`journeys up`: start the local stack, optionally play the sample journeys, then serve until Ctrl-C."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence

from api.auth import CUSTOMER, OPERATOR, VIEWER, DevIssuer
from cli.client import JourneysClient
from cli.connect import LOCAL_FILE, write_local, write_private
from consumers.start import journey_id_for
from devstack.emulator import Emulator
from devstack.samples import FAILURE_SAMPLES, PAYMENT_SAMPLES, SAMPLES, TRADE_SAMPLES, Sample
from devstack.stack import LocalStack
from router.core.approvals import NotRecorded, Ticket
from router.core.model import FINISHED, ActivationKind, Intervention, Journey, JourneyStatus
from router.core.reasons import why

Print = Callable[[str], None]


STATE_FILE = LOCAL_FILE.with_name("state.json")  # the tables of the last run (devstack/persist.py)
DEMO_CUSTOMER = "CUST-000042"
SAVE_EVERY = 60.0  # seconds between snapshots while serving; stopping saves too


def serve(port: int, demo: bool, once: bool, out: Print = print, api_port: int = 0, fresh: bool = False) -> int:
    began = time.monotonic()
    metrics = LOCAL_FILE.with_name("metrics.jsonl")  # what `journeys stats` summarises; names journeys
    write_private(metrics, "")
    if fresh:
        STATE_FILE.unlink(missing_ok=True)
    stack = LocalStack(Emulator(port=port), metrics_file=metrics, state_file=STATE_FILE).start()
    issuer = stack.issuer  # a new secret per run: yesterday's tokens stop working
    api = stack.serve_api(issuer, api_port)
    write_local(stack.settings(), API_URL=api, TOKEN_SECRET=issuer.secret)
    out(f"local stack ready in {time.monotonic() - began:.1f} s: emulator at {stack.emulator.url}")
    functions = len(stack.stack.functions) if stack.stack else 0
    out(f"  {functions} functions and {len(stack.pollers)} pollers, from infra/template.yaml")
    if stack.restored:
        kept = sum(stack.restored.values())
        out(f"  kept the previous run's journeys, timelines and tickets ({kept} items) from {STATE_FILE};")
        out("  `journeys up --fresh` (make run ARGS=--fresh) starts empty")
        for journey_id in stack.orphaned_approvals:
            out(
                f"  {journey_id} waited on an approval chain a restart does not keep: its open tickets expired; "
                f"`journeys retry {journey_id} --as YOU --reason ...` reopens it"
            )
    token = issuer.issue("operator", [VIEWER, OPERATOR])
    out(f"  API {api}/docs; operator token (viewer, operator; 8 h): {token}")
    out("  other tokens: `journeys token --user alice --roles viewer` or `journeys token --customer CUST-000007`")
    ok = True
    try:
        if demo:
            approvals = bool(stack.settings().approval_state_machine_arn and stack.settings().tickets_table)
            if not approvals:
                out("  the template declares no approval state machine or tickets table: payment approval skipped")
            samples = [*SAMPLES, *FAILURE_SAMPLES, *([*PAYMENT_SAMPLES, *TRADE_SAMPLES] if approvals else [])]
            journeys = play(stack, samples, out)
            ok = all(j.status.value == s.expect for s, j in zip(samples, journeys, strict=True))
        if not once:
            out("serving; the console, one page per role (each link signs you in as that person for 8 h):")
            for line in role_links(stack, issuer, api):
                out(line)
            out("  or try `journeys list` or `journeys show ID` in another terminal. Ctrl-C stops (the data is kept).")
            stopped = threading.Event()
            for stop_signal in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal closed
                signal.signal(stop_signal, lambda *_: stopped.set())
            while not stopped.wait(SAVE_EVERY):
                stack.save()  # a kill -9 loses at most the last minute
    finally:
        stack.stop()
    return 0 if ok else 1


def role_links(stack: LocalStack, issuer: DevIssuer, api: str) -> list[str]:
    """One console URL per demo role, each opening on something to do: a payment waiting for the approver's
    decision (EUR 48,000 with its beneficiary and reference) and a customer's form waiting for them."""
    client = JourneysClient(next(iter(stack.runtimes.values())))
    # The customer's journey has a fixed id: a later run (the data is kept) does not start it again, the start
    # consumer absorbing the repeat. The payment is new each run: an approval chain does not survive a restart.
    payment = client.start("payment-approval", EUR_PAYMENT, actor="demo")
    kim = {"customer_id": DEMO_CUSTOMER, "full_name": "Kim Keeper", "email": "kim@example.com"}
    customer = client.start("kyc-uplift", kim, actor="demo", journey_id="demo-kyc-refresh")
    operator = issuer.issue("ops-olga", [VIEWER, OPERATOR])
    approver = issuer.issue("officer-olivia", ["payments-officer"])
    signed = issuer.issue(f"customer:{DEMO_CUSTOMER}", [CUSTOMER], customer_id=DEMO_CUSTOMER)
    links = [
        ("operator", "ops-olga: viewer, operator", f"index.html#token={operator}"),
        ("approver", "officer-olivia: payments-officer", f"approvals.html#token={approver}"),
        ("customer", f"{DEMO_CUSTOMER}, in French", f"progress.html?journey={customer}&locale=fr#token={signed}"),
    ]
    return [f"  {role:<9} {who:<34} {api}/console/{page}" for role, who, page in links] + [
        f"  (waiting for them: payment {payment} for approval, KYC refresh {customer} for the customer's details)"
    ]


EUR_PAYMENT = {
    "payment_id": "PAY-2024-0048",
    "amount": 48000,
    "currency": "EUR",
    "beneficiary": {"name": "Rheinmetall Zulieferer GmbH", "iban": "DE89370400440532013000"},
    "reference": "PO 2024-117, tooling",
    "initiated_by": "maker-mo",
}


def play(stack: LocalStack, samples: Sequence[Sample], out: Print = print, timeout: float = 120) -> list[Journey]:
    """Start every sample, answer its INPUT steps as the customer would and its approvals as staff would,
    and report until all end."""
    client = JourneysClient(next(iter(stack.runtimes.values())))
    ids = [_start(stack, client, sample) for sample in samples]
    began, seen, answered, fixed = time.monotonic(), dict[str, tuple[str, str | None]](), set[str](), set[str]()
    desk = StaffDesk(client, out)
    out(f"started {len(ids)} sample journeys")
    while time.monotonic() - began < timeout:
        journeys = [client.get(i) for i in ids]
        for sample, journey in zip(samples, journeys, strict=True):
            if journey is None:
                continue
            _report(out, began, sample, journey, seen)
            if journey.status is JourneyStatus.STUCK and sample.operator_fix and journey.id not in fixed:
                _operate(client, sample, journey, out)
                fixed.add(journey.id)
            for activation in journey.open.values():
                if activation.kind is ActivationKind.INPUT and activation.id not in answered:
                    client.submit(journey.id, sample.answers[activation.step], actor="demo-customer")
                    answered.add(activation.id)
                    out(f"          customer answers {activation.step!r} for {sample.title!r}")
        desk.work([(s, j) for s, j in zip(samples, journeys, strict=True) if j and _awaits_approval(j)])
        if all(j is not None and j.status in FINISHED for j in journeys):
            break
        time.sleep(0.2)
    finished = [j for j in (client.get(i) for i in ids) if j is not None]
    stack.wait_quiet()
    out(_summary(samples, finished, client))
    return finished


def _operate(client: JourneysClient, sample: Sample, journey: Journey, out: Print) -> None:
    """An operator reads why the journey is stuck and intervenes, with a reason, at the version they saw."""
    fix = dict(sample.operator_fix or {})
    out(f"          operator sees {sample.title!r}: {why(journey, time.time())}")
    command = Intervention(journey_id=journey.id, expected_version=journey.version, **fix)
    client.runtime.router.handle(command)
    out(f"          {command.actor} runs `journeys {command.command.value}` on it: {command.reason}")


def _awaits_approval(journey: Journey) -> bool:
    return any(a.kind is ActivationKind.APPROVAL for a in journey.open.values())


class StaffDesk:
    """Bank staff working the approval queue: the maker tries first (and is refused), then each level's
    approver decides after a short, visible pause."""

    PAUSE = 1.0

    def __init__(self, client: JourneysClient, out: Print) -> None:
        self.client, self.out = client, out
        self.first_seen: dict[str, float] = {}
        self.decided: set[str] = set()

    def work(self, waiting: Sequence[tuple[Sample, Journey]]) -> None:
        if not waiting:
            return
        samples = {journey.id: sample for sample, journey in waiting}
        for ticket in self.client.approvals():
            sample = samples.get(ticket.journey_id)
            if sample is None or len(sample.approvers) < ticket.level:
                continue
            if ticket.ticket_id not in self.first_seen:
                self.first_seen[ticket.ticket_id] = time.monotonic()
                self.out(
                    f"          {sample.title!r} pauses for approval level {ticket.level} of {ticket.levels}: "
                    f"a {ticket.role} must decide ticket {ticket.ticket_id}"
                )
                if ticket.level == 1:
                    self._try(ticket, ticket.initiator, [ticket.role])
            elif (
                ticket.ticket_id not in self.decided
                and time.monotonic() - self.first_seen[ticket.ticket_id] >= self.PAUSE
            ):
                self.decided.add(ticket.ticket_id)
                who, role = sample.approvers[ticket.level - 1]
                self._try(ticket, who, [role])

    def _try(self, ticket: Ticket, who: str, roles: list[str]) -> None:
        try:
            self.client.decide(ticket.ticket_id, "approve", who, roles)
        except NotRecorded as refused:
            self.out(f"          {who} tries to approve level {ticket.level}: refused ({refused})")
            return
        self.out(f"          {who} ({roles[0]}) approves level {ticket.level} of {ticket.levels}: recorded")


def _start(stack: LocalStack, client: JourneysClient, sample: Sample) -> str:
    if sample.trigger is None:
        return client.start(sample.definition_id, sample.input, actor="demo")
    domain, source, detail_type = sample.trigger
    event_id = str(uuid.uuid4())
    detail = {"specversion": "1.0", "id": event_id, "source": source, "type": detail_type, "data": sample.input}
    if sample.business_key:
        detail["subject"] = sample.business_key
    bus = client.settings.domain_buses[domain]
    entry = {"EventBusName": bus, "Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}
    response = stack.client("events").put_events(Entries=[entry])
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"EventBridge refused the trigger for {sample.title}: {response}")
    return journey_id_for(sample.definition_id, f"{source}/{event_id}")


def _report(
    out: Print, began: float, sample: Sample, journey: Journey, seen: dict[str, tuple[str, str | None]]
) -> None:
    key = (journey.status.value, journey.step)
    if seen.get(journey.id) == key:
        return
    seen[journey.id] = key
    waiting = sorted({a.worker or a.kind.value.lower() for a in journey.open.values()})
    on = f" (waiting on {', '.join(waiting)})" if waiting else ""
    out(f"[{time.monotonic() - began:5.1f}s] {sample.title:<48} {journey.status.value:<9} {journey.step}{on}")


def _summary(samples: Sequence[Sample], journeys: Sequence[Journey], client: JourneysClient) -> str:
    lines = ["", "final states:"]
    for sample, journey in zip(samples, journeys, strict=True):
        mark = "ok " if journey.status.value == sample.expect else "!! "
        logged = len(client.timeline(journey.id))
        lines.append(
            f"  {mark}{sample.title:<48} {journey.status.value:<9} at {journey.step:<22} "
            f"{journey.version} transitions, {logged} logged  ({journey.id})"
        )
    kinds = {step for j in journeys for step in j.path}
    lines.append(f"  steps entered: {len(kinds)} distinct; see one with `journeys show ID`")
    return "\n".join(lines)
