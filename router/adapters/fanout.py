"""Independent DynamoDB Queries sent at once: the fan-out reads over the write-sharded indexes.

Every listing index is spread over SHARDS partitions (router/core/shards.py), so a reader sends SHARDS Queries per
status: one after another, that is SHARDS network round trips; sent at once, about one. `at_once` sends them through
aiobotocore; `in_turn` (boto3, one after another) and `threaded` (boto3 on a thread pool) are what bench/fanout.py
measures it against. `read` is the shipped choice.

aiobotocore's clients belong to the event loop that made them. So the process keeps one loop, on a daemon thread of
its own (on Lambda: one per container, reused by every invocation), and one client on it per endpoint, region and
credentials. A caller hands its reads to that loop and waits: it works from any thread, whether or not a loop runs
there (FastAPI runs the API's synchronous routes on a thread pool). That client mirrors the boto3 client the caller
holds (its endpoint, region, credentials, retry policy and timeouts), so the fan-out goes where the caller's other
calls go, with the credentials the Runtime's session gave it.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar, cast

from botocore.client import BaseClient
from botocore.hooks import first_non_none_response

if TYPE_CHECKING:
    from aiobotocore.session import AioSession
    from types_aiobotocore_dynamodb import DynamoDBClient

Item = dict[str, Any]
Outcome = list[Item] | Exception  # one read's items, or why it failed: one failed read never hides the others'
FanOut = Callable[[Any, Sequence["Read"]], list[Outcome]]
CONNECTIONS = 100  # a merged page of every finished status reads 3 x 32 shards in one round
RETIRED_FOR = 300.0  # seconds a client replaced for new credentials stays open for the reads still on it
_T = TypeVar("_T")


@dataclass(frozen=True)
class Read:
    """One Query, page after page of `page_size`, until `enough` items were kept (or the partition ends).

    The pages are read lazily: a shard that gave `enough` on its first page costs one request. Every kept item of
    the pages read is returned, in the order DynamoDB gave them; the caller cuts the list to what it needs."""

    request: Mapping[str, Any]
    enough: int
    page_size: int
    keep: Callable[[Item], bool] | None = None


def _took_enough(read: Read, kept: list[Item], page: Mapping[str, Any]) -> bool:
    """Keep what a page holds for the read; whether the read needs no further page."""
    kept += [item for item in page["Items"] if read.keep is None or read.keep(item)]
    return len(kept) >= read.enough


def _one(client: Any, read: Read) -> Outcome:
    kept: list[Item] = []
    try:
        pages = client.get_paginator("query").paginate(**read.request, PaginationConfig={"PageSize": read.page_size})
        for page in pages:
            if _took_enough(read, kept, page):
                break
    except Exception as exc:  # the read's own failure, handed to its caller: the other reads go on
        return exc
    return kept


def in_turn(client: Any, reads: Sequence[Read]) -> list[Outcome]:
    """Each read after the one before, through the caller's own (boto3) client."""
    return [_one(client, read) for read in reads]


_POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="fanout")  # threads start on first use


def threaded(client: Any, reads: Sequence[Read]) -> list[Outcome]:
    """The reads at once on a thread pool, through the caller's own (boto3, thread-safe) client."""
    return list(_POOL.map(lambda read: _one(client, read), reads))


def at_once(client: Any, reads: Sequence[Read]) -> list[Outcome]:
    """The reads at once, on the process's event loop, through an aiobotocore mirror of `client`."""
    if not reads:
        return []
    mirror, loop = _Mirror.of(client), _loop()
    return loop.run(_at_once(loop, mirror, [_announced(client, read) for read in reads]))


def _announced(client: Any, read: Read) -> Read:
    """The read's request passed through `client`'s own parameter hooks, on the caller's thread, as boto3 passes a
    call's before sending it: whatever watches that client's calls sees this one too, as the caller's (the
    least-privilege record of tests/test_policies.py does). Once a read: its later pages go out from the loop."""
    model = client.meta.service_model.operation_model("Query")
    name, context = f"{client.meta.service_model.service_id.hyphenize()}.Query", dict[str, Any]()
    params = dict(read.request)
    replies = client.meta.events.emit(f"provide-client-params.{name}", params=params, model=model, context=context)
    params = first_non_none_response(replies, default=params)
    client.meta.events.emit(f"before-parameter-build.{name}", params=params, model=model, context=context)
    return replace(read, request=params)


def read(client: Any, reads: Sequence[Read]) -> list[Outcome]:
    """The shipped fan-out: a botocore client's reads go out at once. Anything else that offers paginators (a
    wrapper, a test's spy) cannot be mirrored, and is read in turn through its own paginators."""
    return at_once(client, reads) if isinstance(client, BaseClient) else in_turn(client, reads)


def items(outcomes: Iterable[Outcome]) -> list[list[Item]]:
    """Every read's items; the first failure raised, for callers that need all of the reads."""
    found: list[list[Item]] = []
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome
        found.append(outcome)
    return found


# -- the aiobotocore side


@dataclass(frozen=True)
class _Mirror:
    """What makes an aiobotocore client equivalent to a boto3 one; also its key in the loop's client cache."""

    region: str
    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(repr=False)
    retries: tuple[tuple[str, Any], ...]
    connect_timeout: float
    read_timeout: float

    @classmethod
    def of(cls, client: Any) -> _Mirror:
        meta = client.meta
        if meta.service_model.service_name != "dynamodb":
            raise ValueError(f"the fan-out reads DynamoDB, not {meta.service_model.service_name}")
        # botocore has no public accessor for a client's credentials. aiobotocore pins botocore to a narrow range,
        # and the emulator tests read through this path, so a botocore that moves them is caught when the pin moves.
        credentials = client._request_signer._credentials.get_frozen_credentials()  # refreshed when due
        config = meta.config
        return cls(
            region=meta.region_name,
            endpoint=meta.endpoint_url,
            access_key=credentials.access_key,
            secret_key=credentials.secret_key,
            token=credentials.token,
            retries=tuple(sorted((config.retries or {}).items())),
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
        )

    @property
    def place(self) -> tuple[str, str]:
        return self.region, self.endpoint


class _Loop:
    """One event loop on a daemon thread, and the aiobotocore clients made on it."""

    def __init__(self) -> None:
        self.pid = os.getpid()  # a forked child gets a loop of its own: the parent's thread did not come along
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fanout-loop", daemon=True)
        self.session: AioSession | None = None
        self.clients: dict[tuple[str, str], tuple[_Mirror, DynamoDBClient, AsyncExitStack]] = {}
        self.making = asyncio.Lock()  # callers arriving together for a client not made yet get the same one
        self.retired: set[asyncio.Task[None]] = set()
        self.thread.start()

    def run(self, work: Coroutine[Any, Any, _T]) -> _T:
        if threading.current_thread() is self.thread:
            work.close()
            raise RuntimeError("the fan-out cannot wait for its own loop: call it from another thread")
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    async def client(self, mirror: _Mirror) -> DynamoDBClient:
        """The loop's client for `mirror`: made once, made again when the credentials change."""
        async with self.making:
            held = self.clients.get(mirror.place)
            if held is not None and held[0] == mirror:
                return held[1]
            if held is not None:  # new credentials: reads may still be on the old client, so it closes later
                closing = asyncio.create_task(self._close_later(held[2]))
                self.retired.add(closing)
                closing.add_done_callback(self.retired.discard)
            made, stack = await self._made(mirror)
            self.clients[mirror.place] = (mirror, made, stack)
            return made

    async def _close_later(self, stack: AsyncExitStack) -> None:
        await asyncio.sleep(RETIRED_FOR)
        await stack.aclose()

    async def _made(self, mirror: _Mirror) -> tuple[DynamoDBClient, AsyncExitStack]:
        # aiobotocore (and aiohttp) take about 0.2 s to import: only a process that fans out pays it, once
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        self.session = self.session or get_session()
        config = AioConfig(
            retries=dict(mirror.retries),  # the boto3 client's own policy
            connect_timeout=mirror.connect_timeout,
            read_timeout=mirror.read_timeout,
            max_pool_connections=CONNECTIONS,
        )
        stack = AsyncExitStack()
        made = await stack.enter_async_context(
            self.session.create_client(
                "dynamodb",
                region_name=mirror.region,
                endpoint_url=mirror.endpoint,
                aws_access_key_id=mirror.access_key,
                aws_secret_access_key=mirror.secret_key,
                aws_session_token=mirror.token,
                config=config,
            )
        )
        return made, stack

    async def close(self) -> None:
        for _, _, stack in self.clients.values():
            await stack.aclose()
        self.clients.clear()

    def stop(self) -> None:
        """At exit: close the connections properly rather than leave aiohttp to warn about them."""
        if self.thread.is_alive() and self.pid == os.getpid():
            try:
                asyncio.run_coroutine_threadsafe(self.close(), self.loop).result(timeout=5)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)


_lock = threading.Lock()
_current: list[_Loop] = []  # at most one: this process's loop


def _loop() -> _Loop:
    with _lock:
        if not _current or _current[0].pid != os.getpid():
            _current[:] = [_Loop()]
            atexit.register(_current[0].stop)
        return _current[0]


async def _at_once(loop: _Loop, mirror: _Mirror, reads: Sequence[Read]) -> list[Outcome]:
    client = await loop.client(mirror)
    return list(await asyncio.gather(*(_one_async(client, read) for read in reads)))


async def _one_async(client: DynamoDBClient, read: Read) -> Outcome:
    kept: list[Item] = []
    try:
        paginator = client.get_paginator("query")
        pages = paginator.paginate(**cast(Any, read.request), PaginationConfig={"PageSize": read.page_size})
        async for page in pages:  # lazy, as in turn: the next page is asked for only while too few were kept
            if _took_enough(read, kept, cast(Mapping[str, Any], page)):
                break
    except Exception as exc:  # the read's own failure, handed to its caller: the other reads go on
        return exc
    return kept
