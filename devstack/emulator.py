"""The embedded AWS emulator: moto's server in a thread, one request at a time (see ../shared/MOTO.md).

moto's own server (werkzeug's) closes the connection after every response, so each AWS call paid for a new
TCP connection and a new thread. Waitress keeps connections open (HTTP/1.1 keep-alive) on a fixed pool of
threads: about a third less of the emulator's CPU per call, and less of the caller's.

`Emulator(own_process=True)` runs the same server in a child process instead (`python -m devstack.emulator`),
so it does not share a GIL with the pollers and consumers: bench/throughput.py uses it to load two cores.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any, TypedDict

import boto3
import botocore.session
from botocore.loaders import Loader
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from waitress import wasyncore
from waitress.server import TcpWSGIServer, create_server

from devstack import moto_dispatch, sqs_scans

REGION = "eu-west-1"


class Credentials(TypedDict):
    """boto3.Session's keyword arguments for the emulator, typed so `Session(**CREDENTIALS)` type-checks."""

    aws_access_key_id: str
    aws_secret_access_key: str
    region_name: str


CREDENTIALS: Credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local", "region_name": REGION}


class _SearchPaths(list[str]):
    """boto3 appends its data folder to the loader's search paths in every Session it builds: kept once here."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


# One botocore loader for every session this process builds on the emulator. The loader keeps what it has read
# (service models, the endpoints file); a fresh session reads them all again: about 50 ms for its first client.
_LOADER = Loader(extra_search_paths=_SearchPaths())
_LOADER.search_paths.append(os.path.join(os.path.dirname(boto3.__file__), "data"))  # as boto3 adds it: now it is there


def session(region: str = REGION) -> boto3.Session:
    """A boto3 session on the emulator's credentials: its own event hooks, this process's shared loader."""
    core = botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    key, secret = CREDENTIALS["aws_access_key_id"], CREDENTIALS["aws_secret_access_key"]
    return boto3.Session(key, secret, region_name=region, botocore_session=core)


def freeze_loaded_heap() -> None:
    """For a long-lived process (the emulator's child, a test worker) once it has loaded what it keeps until it
    ends (every module, botocore's and moto's service models): frozen, the garbage collector stops walking it, and
    it runs a tenth as often. With the defaults a test process spent about a quarter of its CPU in full collections
    of that heap (the emulator tests of test_engine.py and test_approvals_emulator.py: 14.8 -> 12.6 s of CPU,
    4.1 -> 1.2 s in the collector)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 50)


# Requests queue for the lock by design: waitress's "task queue depth" warning would say so on every burst.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)


class SerialApp:
    """Serialises requests: moto loses acknowledged writes under concurrent requests."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app, self.lock = app, threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        # moto reads the undecoded path from RAW_URI (werkzeug's name); waitress calls it REQUEST_URI
        environ.setdefault("RAW_URI", environ.get("REQUEST_URI", ""))
        with self.lock:
            return list(self.app(environ, start_response))


class Emulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, own_process: bool = False) -> None:
        self.host, self.port, self.own_process = host, port, own_process
        sqs_scans.apply()  # queue operations that cost the same at any depth, as on AWS
        moto_dispatch.apply()  # what moto works out afresh per request (service, actions, request id): once
        self.app = SerialApp(DomainDispatcherApplication(create_backend_app))
        self._server: TcpWSGIServer | None = None
        self._channels: dict[int, Any] = {}  # the server's sockets: closing them all ends its loop
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[str] | None = None

    @property
    def running(self) -> bool:
        return self._server is not None or self._process is not None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Emulator:
        if self.own_process:  # the child serves until its stdin closes: it cannot outlive this process
            command = [sys.executable, "-m", "devstack.emulator", self.host, str(self.port)]
            self._process = subprocess.Popen(  # noqa: S603 - this interpreter running our own module
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            assert self._process.stdout is not None
            self.port = int(self._process.stdout.readline())
            return self
        # Threads wait on the lock, not on each other: enough for the Step Functions interpreter's callbacks
        # besides the callers. Every poller and client keeps its connections: allow many, poll(2) for them.
        server = create_server(
            self.app,
            self._channels,
            host=self.host,
            port=self.port,
            threads=16,
            connection_limit=2000,
            asyncore_use_poll=True,
        )
        assert isinstance(server, TcpWSGIServer)  # one address: one listener
        self._server, self.port = server, int(server.getsockname()[1])  # numeric, as the stub says
        # The Step Functions interpreter calls back into moto on this port.
        os.environ["MOTO_PORT"] = str(self.port)
        self._thread = threading.Thread(target=self._server.run, name="emulator", daemon=True)
        self._thread.start()
        self.reset()  # moto keeps its state per process: a new emulator starts empty, like a restarted one
        return self

    def configure(self, config: dict[str, Any]) -> None:
        self._post("/moto-api/config", config)

    def reset(self) -> None:
        self._post("/moto-api/reset", {})
        self.configure({"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})

    def stop(self) -> None:
        if self._process:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None
        if self._server:  # the listener, every connection and the wake-up pipe closed: the loop ends, map empty
            wasyncore.close_all(self._channels)
            self._server.task_dispatcher.shutdown()
            self._server = None
        if self._thread:
            self._thread.join(timeout=5)

    def _post(self, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(  # noqa: S310 - a fixed http URL to our own emulator
            self.url + path, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()


if __name__ == "__main__":  # the child of Emulator(own_process=True): print the port, serve until stdin closes
    child = Emulator(sys.argv[1], int(sys.argv[2])).start()
    freeze_loaded_heap()
    print(child.port, flush=True)
    sys.stdin.read()
