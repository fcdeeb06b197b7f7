"""The local stack: emulator, resources from infra/template.yaml, and every consumer fed by its pollers."""

from __future__ import annotations

import importlib
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, cast

from api.auth import DevIssuer
from consumers.runtime import Runtime, Settings
from devstack import persist
from devstack.api_server import ApiServer
from devstack.emulator import REGION, Emulator
from devstack.emulator import session as emulator_session
from devstack.intrinsics import Stamp, stamp
from devstack.nudges import Nudges
from devstack.pollers import Poller, RuleSchedulePoller, SchedulePoller, SqsPoller, StreamPoller
from devstack.provision import DEFAULT_TEMPLATE, LocalFunction, QueueSource, Stack, StreamSource, provision
from router.adapters.definitions import DynamoDefinitionStore
from router.adapters.tickets import DynamoTicketStore
from router.language.definition import Definition
from router.language.files import definition_files, load_all
from router.language.registry import DEFINITIONS_DIR, Registry
from router.language.versions import PublishedRegistry
from workers.samples import SAMPLES
from workers.step import Workers

Hook = tuple[str, Callable[..., Any]]

# definitions/ as read by this process, with what every file under it held when read: each local stack starts there
_DEPLOYED: dict[tuple[Path, frozenset[str]], tuple[tuple[Stamp, ...], tuple[Definition, ...]]] = {}


def deployed_definitions(known_workers: set[str], directory: Path = DEFINITIONS_DIR) -> list[Definition]:
    """The definitions Lambda would deploy (definitions/), read again only when a file under it (an included
    fragment too) changes, comes or goes: a test session starts many local stacks, and each read all of them (a
    fifth of a second under coverage)."""
    key = directory, frozenset(known_workers)
    stamps = tuple(stamp(f) for f in sorted([*directory.rglob("*.yaml"), *directory.rglob("*.py")]))
    remembered = _DEPLOYED.get(key)
    if remembered is None or remembered[0] != stamps:
        remembered = _DEPLOYED[key] = stamps, tuple(load_all(definition_files(directory), known_workers))
    return list(remembered[1])


@dataclass
class LambdaContext:
    """What Lambda passes a handler, enough for Powertools: name, request id, a 30 s budget."""

    function_name: str
    timeout_ms: int = 30_000
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.timeout_ms - int((time.monotonic() - self.started) * 1000))


class LocalStack:
    def __init__(
        self,
        emulator: Emulator | None = None,
        template: Path = DEFAULT_TEMPLATE,
        workers: Workers = SAMPLES,
        registry: Registry | None = None,
        hooks: Iterable[Hook] = (),
        clock: Callable[[], float] = time.time,
        consumers_per_queue: int = 1,
        deliveries: Callable[[dict[str, Any]], int] = lambda _event: 1,
        metrics_file: Path | None = None,
        state_file: Path | None = None,
    ) -> None:
        self.emulator = emulator or Emulator()
        self.template, self.workers, self.clock = template, workers, clock
        self.registry = registry  # by default, as on Lambda: definitions/ then the published copies in the table
        self.session = emulator_session()
        for name, hook in hooks:
            self.session.events.register(name, hook)
        self.pollers: list[Poller] = []
        self.nudges = Nudges(self.pollers)  # calls after which some poller has work wake it
        self.nudges.register(self.session.events)
        self.consumers_per_queue = consumers_per_queue
        self.deliveries = deliveries  # how many times each batch reaches its consumer: >1 simulates redelivery
        self.runtimes: dict[str, Runtime] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.stack: Stack | None = None
        self._owns_emulator = False
        # The consumers' EMF documents, kept (the latest 10,000) rather than printed; `journeys stats` reads the file.
        self.emitted: deque[str] = deque(maxlen=10_000)
        self.metrics_file = metrics_file
        self._emit_lock = threading.Lock()
        self.api: ApiServer | None = None
        # What the template keeps in Secrets Manager and the user pool on AWS, made per stack here: the router's
        # proof key (router/core/proofs.py) and the development issuer that signs people's tokens, approvers' included.
        self.proof_key = secrets.token_urlsafe(32)
        self.issuer = DevIssuer(secrets.token_urlsafe(32))
        self.state_file = state_file  # the tables, saved on stop and restored on start (devstack/persist.py)
        self.restored: dict[str, int] = {}
        self.orphaned_approvals: list[str] = []  # journeys whose approval chains a restart did not keep

    # -- lifecycle

    def start(self, pollers: bool = True) -> LocalStack:
        """Provision and, unless `pollers` is False (resources and runtimes only), start feeding consumers."""
        if not self.emulator.running:
            self.emulator.start()
            self._owns_emulator = True
        self.stack = provision(self.emulator.url, REGION, self.template)
        self.nudges.routes = self.stack.event_routes
        if self.state_file is not None:  # before the registry, which reads the published definitions
            self.restored = persist.restore(self.client("dynamodb"), self.stack.resources, self.state_file)
            tickets = self.stack.resources.get("ApprovalTicketsTable")
            if self.restored and tickets:
                store = DynamoTicketStore(self.client("dynamodb"), tickets)
                self.orphaned_approvals = persist.close_orphaned_tickets(store, self.clock())
        if self.registry is None:
            published = DynamoDefinitionStore(self.client("dynamodb"), self.stack.resources["JourneysTable"])
            self.registry = PublishedRegistry(deployed_definitions(self.workers.names()), published)
        for function in self.stack.functions:
            self.runtimes[function.logical_id] = self._runtime(function)
            if pollers:
                self.pollers += self._pollers(function)
        if pollers:
            self.pollers += [RuleSchedulePoller(self.client("events"), s) for s in self.stack.schedules]
        if self.restored:  # before any poller runs, so nothing written from here on is skipped
            for poller in self.pollers:
                if isinstance(poller, StreamPoller):
                    poller.from_latest()
        for poller in self.pollers:
            thread = threading.Thread(target=poller.run, args=(self._stop,), name=poller.name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def serve_api(self, auth: Any, port: int = 0) -> str:
        """Serve the HTTP API (api/) with the ApiFunction's settings, as Lambda would run it; its URL."""
        from api.app import create_app

        runtime = self.runtimes.get("ApiFunction") or next(iter(self.runtimes.values()))
        self.api = ApiServer(create_app(lambda: runtime, auth), port=port).start()
        return self.api.url

    def stop(self) -> None:
        if self.api is not None:
            self.api.stop()
        self._stop.set()
        self._nudge()
        for thread in self._threads:
            thread.join(timeout=5)
        self.save()
        if self._owns_emulator:
            self.emulator.stop()

    def save(self) -> None:
        """Snapshot the tables to the state file, if this stack keeps one (on stop, and now and then)."""
        if self.state_file is not None and self.stack is not None:
            persist.save(self.client("dynamodb"), self.stack.resources, self.state_file)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- wiring

    def client(self, service: str) -> Any:
        # boto3-stubs type client() per literal service name; this serves any name, as Any
        make = cast(Callable[..., Any], self.session.client)
        return make(service, endpoint_url=self.emulator.url, region_name=REGION)

    def settings(self) -> Settings:
        """Settings as the consumers see them; any function's environment names the shared resources."""
        assert self.stack is not None
        return next(iter(self.runtimes.values())).settings

    def _runtime(self, function: LocalFunction) -> Runtime:
        environment = {
            **function.environment,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.emulator.url,
            "PROOF_KEY": self.proof_key,
            "APPROVER_TOKEN_SECRET": self.issuer.secret,
        }
        assert self.registry is not None
        runtime = Runtime(Settings.from_env(environment), self.session, self.registry, self.workers, self.clock)
        runtime.emit = self._emit
        return runtime

    def _emit(self, document: str) -> None:
        with self._emit_lock:
            self.emitted.append(document)
            if self.metrics_file:
                with self.metrics_file.open("a", encoding="utf-8") as out:
                    out.write(document + "\n")

    def _pollers(self, function: LocalFunction) -> list[Poller]:
        module = importlib.import_module(function.handler.rsplit(".", 1)[0])
        runtime = self.runtimes[function.logical_id]

        def invoke(event: dict[str, Any]) -> Any:
            results = []
            for _ in range(max(1, self.deliveries(event))):
                results.append(module.consume(runtime, event, LambdaContext(function.logical_id)))
            return results[-1]

        pollers: list[Poller] = []
        for source in function.sources:
            name = f"{function.logical_id}"
            if isinstance(source, QueueSource):
                pollers += [
                    SqsPoller(f"{name}-{i}", invoke, self.client("sqs"), source, REGION)
                    for i in range(min(self.consumers_per_queue, source.max_concurrency or self.consumers_per_queue))
                ]
            elif isinstance(source, StreamSource):
                pollers.append(StreamPoller(name, invoke, self.client("dynamodbstreams"), source, REGION))
            else:
                pollers.append(SchedulePoller(name, invoke, source))
        return pollers

    def fire_schedule(self, logical_id: str, at: datetime | None = None) -> None:
        """Fire a schedule rule's tick now (or as of `at`), rather than wait for its rate."""
        (poller,) = [p for p in self.pollers if isinstance(p, RuleSchedulePoller) and p.name == logical_id]
        poller.fire(at)

    def _nudge(self, **_: Any) -> None:
        for poller in self.pollers:
            poller.wake.set()

    # -- waiting

    def queues(self) -> list[str]:
        return [
            s.queue_url
            for f in (self.stack.functions if self.stack else ())
            for s in f.sources
            if isinstance(s, QueueSource)
        ]

    def quiet(self) -> bool:
        """True when no message waits, is in flight or delayed, and the journal has caught up."""
        if any(p.busy for p in self.pollers):
            return False
        if any(isinstance(p, StreamPoller) and p.pending for p in self.pollers):
            return False
        sqs = self._counts_client
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        for queue in self.queues():
            attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=names)["Attributes"]
            if any(int(attributes.get(n, 0)) for n in names):
                return False
        return True

    @cached_property
    def _counts_client(self) -> Any:
        """The client `quiet` asks the queues' counts with: made once, as it is asked ten times a second."""
        return self.client("sqs")

    def wait_quiet(self, timeout: float = 60, settle: float = 0.6) -> None:
        """Block until the stack has been quiet for `settle` seconds."""
        deadline, quiet_since = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            if self.quiet():
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle:
                    return
            else:
                quiet_since = None
            time.sleep(0.1)  # each look asks every queue for its counts: look often enough, not more
        raise TimeoutError(f"the local stack did not go quiet within {timeout} s")
