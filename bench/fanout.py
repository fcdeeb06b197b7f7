"""The fan-out reads, one Query after another (boto3) against all at once (aiobotocore), behind a network latency.

    python -m bench.fanout [--latency-ms 0,5,10] [--repeats 15] [--journeys 320]

Two reads that fan out over the write-sharded indexes (router/core/shards.py):
- a merged listing page of unfinished journeys (api/listing.py: status_page over STUCK, RUNNING, STUCK: three
  rounds of 32 shards, 96 Queries);
- the watchdog's reads (consumers/watchdog.py: the 32 deadline shards, then the 32 open-ticket shards).
Each is timed with three fan-outs (router/adapters/fanout.py): `in_turn`, boto3 one Query after another, as the
code was; `threaded`, boto3 on a thread pool of 32; `at_once`, aiobotocore on one event loop (what ships).

The latency model: on AWS a call costs a round trip of a few milliseconds, however little DynamoDB does for it. An
HTTP proxy in its own process stands between the clients and the emulator: it holds each request for half the
round trip (`--latency-ms`) and its answer for the other half, and keeps the clients' connections open (the
emulator closes its own after every answer; AWS's endpoints keep them). Every implementation's every request pays
the same. Two ways to answer behind it:
- replayed (the AWS model): a request seen before is answered as the emulator answered it, without asking it
  again, so answers come back in parallel, as DynamoDB's partitions give them;
- live: every request goes to the emulator, which answers one at a time and takes a few milliseconds a Query
  (../shared/MOTO.md): the concurrent figures then carry that serial work, which AWS does not have.
The three fan-outs must return the same answer before they are timed. Medians over `--repeats`, the fan-outs
taking turns within each, after a warm-up of each; client CPU is this process's (every thread's). Writes
results/fanout.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from bench.machine import stamp
from devstack.emulator import CREDENTIALS, REGION, Emulator
from devstack.intrinsics import translate
from devstack.provision import DEFAULT_TEMPLATE
from router.adapters import fanout
from router.adapters.dynamodb import DEADLINE_SHARDS, UNFINISHED, overdue_journeys, status_page
from router.adapters.fanout import FanOut
from router.adapters.tickets import DynamoTicketStore
from router.core.shards import due_key, open_ticket_key, status_key

RESULTS = Path(__file__).parent / "results"
JOURNEYS, TICKETS = "journeys", "tickets"
FANOUTS: dict[str, FanOut] = {"in_turn": fanout.in_turn, "threaded": fanout.threaded, "at_once": fanout.at_once}
PAGE = 50  # journeys on a listing page
NOW = 2_000_000_000.0


# -- the latency proxy (a child process: `python -m bench.fanout --proxy HOST PORT RTT_MS`)


async def _message(reader: asyncio.StreamReader) -> tuple[list[bytes], bytes]:
    """One HTTP/1.1 message: its head's lines and its body (by Content-Length; else up to the end, as a response
    that closes its connection may send it)."""
    lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")[:-2]
    lengths = [int(line.split(b":", 1)[1]) for line in lines if line.lower().startswith(b"content-length:")]
    body = await reader.readexactly(lengths[0]) if lengths else await reader.read()
    return lines, body


def _framed(lines: list[bytes], body: bytes) -> bytes:
    """The message with its length stated and its connection kept open, as AWS's endpoints keep them."""
    kept = [line for line in lines if not line.lower().startswith((b"content-length:", b"connection:"))]
    return b"\r\n".join([*kept, b"Content-Length: %d" % len(body), b"Connection: keep-alive", b"", b""]) + body


async def _proxy(host: str, port: int, rtt_ms: float, replay: bool) -> None:
    """Each request held half the round trip on its way in, its answer the other half on its way out; the
    clients' connections stay open (the emulator closes its own after every answer). With `replay`, a request
    seen before is answered as the emulator answered it then, without asking it again."""
    one_way, answers = rtt_ms / 2000, dict[bytes, tuple[list[bytes], bytes]]()

    async def answer(lines: list[bytes], body: bytes) -> tuple[list[bytes], bytes]:
        target = [line for line in lines if line.lower().startswith(b"x-amz-target:")]
        key = b"".join(target) + body
        if replay and key in answers:
            return answers[key]
        upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        upstream_writer.write(_framed(lines, body))
        answers[key] = await _message(upstream_reader)
        upstream_writer.close()
        return answers[key]

    async def serve(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _message(client_reader)
                await asyncio.sleep(one_way)
                response = await answer(*request)
                await asyncio.sleep(one_way)
                client_writer.write(_framed(*response))
                await client_writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            client_writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=512)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin


class LatencyProxy:
    def __init__(self, target: Emulator, rtt_ms: float, replay: bool) -> None:
        command = [sys.executable, "-m", "bench.fanout", "--proxy", target.host, str(target.port), str(rtt_ms)]
        command += ["--replay"] if replay else []
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter running this module
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# -- the data


def create_tables(client: Any) -> None:
    resources = translate(DEFAULT_TEMPLATE, REGION)["Resources"]
    for logical, name in (("JourneysTable", JOURNEYS), ("ApprovalTicketsTable", TICKETS)):
        properties = resources[logical]["Properties"]
        keys = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")
        client.create_table(TableName=name, **{k: properties[k] for k in keys if k in properties})


def fill(client: Any, journeys: int) -> None:
    """`journeys` index entries spread over the shards (a quarter STUCK, every tenth overdue), and one open
    ticket per ten journeys (every other one lapsed): what the two reads find."""
    journey_items = []
    for n in range(journeys):
        journey_id = f"j-{n:05d}"
        status = "STUCK" if n % 4 == 0 else "RUNNING"
        item = {
            "journey_id": {"S": journey_id},
            "status_shard": {"S": status_key(status, journey_id)},
            "created_at": {"N": str(1_700_000_000 + n)},
            "definition_id": {"S": "kyc-uplift"},
        }
        if n % 10 == 0:
            item["due_shard"], item["due"] = {"S": due_key(journey_id)}, {"N": str(NOW - 60 + n % 7)}
        journey_items.append(item)
    ticket_items = [
        {
            "ticket_id": {"S": f"t-{n:05d}"},
            "status": {"S": "OPEN"},
            "open_shard": {"S": open_ticket_key(f"t-{n:05d}")},
            "deadline": {"N": str(NOW + (-30 if n % 2 else 30) + n)},
        }
        for n in range(journeys // 10)
    ]
    for table, items in ((JOURNEYS, journey_items), (TICKETS, ticket_items)):
        for at in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": item}} for item in items[at : at + 25]]
            client.batch_write_item(RequestItems={table: batch})


# -- the two reads


def listing_page(client: Any, reader: FanOut) -> Any:
    page = status_page(client, JOURNEYS, UNFINISHED, PAGE, reader=reader)
    return page.positions, page.more


def watchdog_reads(client: Any, reader: FanOut) -> Any:
    overdue = overdue_journeys(client, JOURNEYS, NOW, 15, DEADLINE_SHARDS, reader=reader)
    lapsed = DynamoTicketStore(client, TICKETS, reader=reader).lapsed(NOW, 500)
    return [sorted(o) if isinstance(o, list) else repr(o) for o in overdue], lapsed


READS: dict[str, Callable[[Any, FanOut], Any]] = {"listing page": listing_page, "watchdog sweep": watchdog_reads}


def timed(read: Callable[[Any, FanOut], Any], client: Any, repeats: int) -> dict[str, dict[str, float]]:
    """Median (and fastest) wall and median CPU milliseconds of a read by each fan-out (CPU: this process's, every
    thread's: the clients' own work). The fan-outs take turns in each repetition: a busy moment hits them alike."""
    for reader in FANOUTS.values():
        read(client, reader)  # warm-up: connections opened, the event loop and its client made, answers recorded
    wall: dict[str, list[float]] = {label: [] for label in FANOUTS}
    cpu: dict[str, list[float]] = {label: [] for label in FANOUTS}
    for _ in range(repeats):
        for label, reader in FANOUTS.items():
            began, began_cpu = time.perf_counter(), time.process_time()
            read(client, reader)
            wall[label].append((time.perf_counter() - began) * 1000)
            cpu[label].append((time.process_time() - began_cpu) * 1000)
    return {
        label: {
            "wall_ms": round(statistics.median(wall[label]), 1),
            "fastest_ms": round(min(wall[label]), 1),  # the least disturbed by the machine's other work
            "cpu_ms": round(statistics.median(cpu[label]), 1),
        }
        for label in FANOUTS
    }


def measure(emulator: Emulator, rtt_ms: float, replay: bool, repeats: int) -> dict[str, Any]:
    proxy = LatencyProxy(emulator, rtt_ms, replay)
    try:
        config = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=fanout.CONNECTIONS)
        client = boto3.Session(**CREDENTIALS).client("dynamodb", endpoint_url=proxy.url, config=config)
        figures: dict[str, Any] = {}
        for name, read in READS.items():
            answers = {label: json.dumps(read(client, reader)) for label, reader in FANOUTS.items()}
            assert len(set(answers.values())) == 1, f"{name}: the fan-outs disagree"
            medians = timed(read, client, repeats)
            wall = {label: m["wall_ms"] for label, m in medians.items()}
            figures[name] = {
                "median": medians,
                "in_turn_over_at_once": round(wall["in_turn"] / wall["at_once"], 2),
                "threaded_over_at_once": round(wall["threaded"] / wall["at_once"], 2),
            }
        return figures
    finally:
        proxy.stop()


def emulator_query_ms(client: Any) -> float:
    """What one shard's Query costs the emulator, asked directly: the serial floor of the live figures."""
    began = time.perf_counter()
    for _ in range(20):
        client.query(
            TableName=JOURNEYS,
            IndexName="by-status-shard",
            KeyConditionExpression="status_shard = :k",
            ExpressionAttributeValues={":k": {"S": "RUNNING#00"}},
            Limit=PAGE,
        )
    return round((time.perf_counter() - began) / 20 * 1000, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", default="0,5,10", help="round trips to model, comma-separated")
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--journeys", type=int, default=320)
    args = parser.parse_args(argv)
    latencies = [float(x) for x in args.latency_ms.split(",")]
    emulator = Emulator(own_process=True).start()
    try:
        setup = boto3.Session(**CREDENTIALS).client("dynamodb", endpoint_url=emulator.url)
        create_tables(setup)
        fill(setup, args.journeys)
        per_query = emulator_query_ms(setup)
        runs = {
            f"{mode}, {rtt:g} ms": measure(emulator, rtt, mode == "replayed", args.repeats)
            for mode in ("replayed", "live")
            for rtt in latencies
        }
    finally:
        emulator.stop()
    report = {
        **stamp(),
        "latency_model": (
            "an HTTP proxy holds each request half the round trip and its answer the other half, connections kept "
            "alive; replayed: answers recorded from the emulator, served in parallel as DynamoDB's partitions do; "
            "live: every request answered by the emulator, one at a time"
        ),
        "journeys": args.journeys,
        "page": PAGE,
        "queries": {"listing page": 3 * 32, "watchdog sweep": 2 * 32},
        "emulator_query_ms": per_query,
        "repeats": args.repeats,
        "load_average": round(os.getloadavg()[0], 1),
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fanout.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"fan-out reads, {args.repeats} times each: median wall ms [fastest] (median client CPU ms)")
    print(f"an emulator Query takes {per_query} ms; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for run, figures in runs.items():
        for name, f in figures.items():
            m = {
                label: f"{x['wall_ms']:6.1f} [{x['fastest_ms']:6.1f}] ({x['cpu_ms']:5.1f})"
                for label, x in f["median"].items()
            }
            print(
                f"  {run:<16} {name:<15} in turn {m['in_turn']}  thread pool {m['threaded']}"
                f"  aiobotocore {m['at_once']}  in turn / aiobotocore {f['in_turn_over_at_once']:.1f}x"
            )
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--proxy"]:
        asyncio.run(_proxy(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), "--replay" in sys.argv))
    else:
        sys.exit(main())
