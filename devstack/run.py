"""`journeys up`: start the local stack, optionally play the sample journeys, then serve until Ctrl-C."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence

from cli.client import JourneysClient
from cli.connect import write_local
from consumers.start import journey_id_for
from devstack.emulator import Emulator
from devstack.samples import SAMPLES, Sample
from devstack.stack import LocalStack
from router.model import FINISHED, ActivationKind, Journey

Print = Callable[[str], None]


def serve(port: int, demo: bool, once: bool, out: Print = print) -> int:
    began = time.monotonic()
    stack = LocalStack(Emulator(port=port)).start()
    write_local(stack.settings())
    out(f"local stack ready in {time.monotonic() - began:.1f} s: emulator at {stack.emulator.url}")
    functions = len(stack.stack.functions) if stack.stack else 0
    out(f"  {functions} functions and {len(stack.pollers)} pollers, from infra/template.yaml")
    ok = True
    try:
        if demo:
            journeys = play(stack, SAMPLES, out)
            ok = all(j.status.value == s.expect for s, j in zip(SAMPLES, journeys, strict=True))
        if not once:
            out("serving; try `journeys list` or `journeys show ID` in another terminal. Ctrl-C stops.")
            stopped = threading.Event()
            signal.signal(signal.SIGINT, lambda *_: stopped.set())
            signal.signal(signal.SIGTERM, lambda *_: stopped.set())
            stopped.wait()
    finally:
        stack.stop()
    return 0 if ok else 1


def play(stack: LocalStack, samples: Sequence[Sample], out: Print = print, timeout: float = 120) -> list[Journey]:
    """Start every sample, answer its INPUT steps as the customer would, and report until all end."""
    client = JourneysClient(next(iter(stack.runtimes.values())))
    ids = [_start(stack, client, sample) for sample in samples]
    began, seen, answered = time.monotonic(), dict[str, tuple[str, str | None]](), set[str]()
    out(f"started {len(ids)} sample journeys")
    while time.monotonic() - began < timeout:
        journeys = [client.get(i) for i in ids]
        for sample, journey in zip(samples, journeys, strict=True):
            if journey is None:
                continue
            _report(out, began, sample, journey, seen)
            for activation in journey.open.values():
                if activation.kind is ActivationKind.INPUT and activation.id not in answered:
                    client.submit(journey.id, sample.answers[activation.step], actor="demo-customer")
                    answered.add(activation.id)
                    out(f"          customer answers {activation.step!r} for {sample.title!r}")
        if all(j is not None and j.status in FINISHED for j in journeys):
            break
        time.sleep(0.2)
    finished = [j for j in (client.get(i) for i in ids) if j is not None]
    stack.wait_quiet()
    out(_summary(samples, finished, client))
    return finished


def _start(stack: LocalStack, client: JourneysClient, sample: Sample) -> str:
    if sample.trigger is None:
        return client.start(sample.definition_id, sample.input, actor="demo")
    domain, source, detail_type = sample.trigger
    event_id = str(uuid.uuid4())
    detail = {"specversion": "1.0", "id": event_id, "source": source, "type": detail_type, "data": sample.input}
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
