"""Issue 9.4: a frozen subscriber among many delays no one and is dropped, its queue bounded.

The real API (uvicorn on a loopback port, over its own moto server) streams to 100 SDK
subscribers that read everything and one that reads its first event and then stops (a
small receive buffer, reading paused), so the API's socket buffers for it fill. Each
update carries a ~110 KB flag definition so that they fill within a few dozen updates.

Then every reading subscriber has every update, once and in order; the frozen one is out
of the API's hub, its queue never held more than ``subscriber_queue_size`` batches, and
when it reads again it finds its stream closed by the API. The delay figure (p99 <= 1 s
for the others, 1,000 subscribers) comes from ``bench/sse_bench.py --frozen 1``, not from
this test (docs/RELIABILITY.md).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from starlette.applications import Starlette

from ff_api import ApiSettings
from ff_api.hub import Batch, Hub, Subscriber
from ff_core import demo
from ff_core.models import EnvironmentConfig, Flag, KeyKind, Serve, Target, boolean_variants
from ff_core.services import Services
from ff_core.store import DynamoStore
from tests.api.conftest import ADMIN, SECRET, ServerThread
from tests.api.sse import RawConnection, connect_raw

READERS = 100
# The kernel lets a loopback socket buffer ~4 MB for a reader that reads nothing, and
# uvicorn 64 KB more, before a send waits: ~40 updates of ~110 KB overflow that, and then
# QUEUE more batches fill its queue. Updates go on until then, up to MAX_UPDATES.
MAX_UPDATES = 120
QUEUE = 4
BIG = "big-targets"
_ID = re.compile(rb"\nid: *(\d+)\r?\n")


def big_flag() -> Flag:
    """A flag whose definition is ~110 KB: 9,000 targeted users."""
    targets = (Target(variant="on", values=tuple(f"user-{n:05d}" for n in range(9_000))),)
    config = EnvironmentConfig(
        enabled=True, off_variant="off", targets=targets, fallthrough=Serve(variant="off")
    )
    return Flag(key=BIG, name=BIG, variants=boolean_variants(), environments={"production": config})


@dataclass
class Stack:
    host: str
    port: int
    services: Services
    server_key: str
    hub: Hub
    most_queued: list[int]  # a subscriber's queue length after each batch offered to it


@pytest.fixture
async def stack(own_moto: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stack]:
    settings = ApiSettings(
        dynamodb_endpoint=own_moto,
        table="ff-sse-frozen",
        key_secret=SECRET,
        poll_interval_s=0.2,
        subscriber_queue_size=QUEUE,
    )
    async with DynamoStore.open(settings) as store:
        await store.ensure_table()
        services = Services(store, key_secret=SECRET.encode())
        await demo.seed(services)
        await services.flags.create_flag(ADMIN, "demo", big_flag())
        _, server_key = await services.access.create_key(
            ADMIN, "demo", KeyKind.SERVER, "backend", environment="production"
        )
        server = ServerThread(settings)
        url = server.start()
        app = server.server.config.app
        assert isinstance(app, Starlette)
        hub: Hub = app.state.ff.hub
        most_queued: list[int] = []
        offer = Subscriber.offer

        def watched(subscriber: Subscriber, batch: Batch) -> bool:
            accepted = offer(subscriber, batch)
            most_queued.append(len(subscriber.batches))
            return accepted

        monkeypatch.setattr(Subscriber, "offer", watched)
        host, port = url.removeprefix("http://").split(":")
        try:
            yield Stack(host, int(port), services, server_key, hub, most_queued)
        finally:
            server.stop()


class Reader(RawConnection):
    """One raw SSE connection that records the ids of the complete events it reads."""

    def __init__(self, frozen: bool = False) -> None:
        loop = asyncio.get_running_loop()
        self.ids: list[int] = []
        self.first: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.frozen = frozen
        self._tail = b""

    def data_received(self, data: bytes) -> None:
        data = self._tail + data
        end = data.rfind(b"\r\n\r\n")
        # The tail keeps the blank line's last CRLF: the next event's id line starts a line
        # (several events may share one HTTP chunk).
        self._tail = data[end + 2 :] if end >= 0 else data
        if end < 0:
            return
        self.ids.extend(int(m.group(1)) for m in _ID.finditer(data, 0, end + 2))
        if self.ids and not self.first.done():
            self.first.set_result(None)
            if self.frozen and self.transport is not None:
                self.transport.pause_reading()  # from now on the API's buffers fill

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def connect(stack: Stack, frozen: bool = False) -> Reader:
    reader = Reader(frozen)
    transport = await connect_raw(reader, stack.host, stack.port, 4096 if frozen else None)
    transport.write(
        f"GET /api/v1/sdk/stream HTTP/1.1\r\nHost: {stack.host}\r\n"
        f"Authorization: Bearer {stack.server_key}\r\n\r\n".encode()
    )
    await asyncio.wait_for(reader.first, 30)
    return reader


async def eventually(condition: Callable[[], bool], what: str, within_s: float = 60) -> None:
    for _ in range(int(within_s / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {within_s} s: {what}")


async def test_sse__frozen_subscriber_among_100__others_get_everything_and_it_is_dropped(
    stack: Stack,
) -> None:
    frozen = await connect(stack, frozen=True)
    readers = [await connect(stack) for _ in range(READERS)]
    try:
        await updates_reach_all_but_frozen(stack, frozen, readers)
    finally:
        for reader in [frozen, *readers]:
            assert reader.transport is not None
            reader.transport.close()


async def updates_reach_all_but_frozen(stack: Stack, frozen: Reader, readers: list[Reader]) -> None:
    assert stack.hub.count() == READERS + 1
    start = (await stack.services.store.load_project("demo")).seq

    enabled, done = True, 0
    while done < MAX_UPDATES and stack.hub.count() > READERS:  # until the frozen one is out
        enabled = not enabled
        await stack.services.flags.set_enabled(ADMIN, "demo", BIG, "production", enabled)
        done += 1
    final = start + done
    print(f"the frozen subscriber was dropped after {done} updates")
    await eventually(lambda: all(r.ids[-1] == final for r in readers), "every update read")
    await eventually(lambda: stack.hub.count() == READERS, "the frozen subscriber dropped")

    for reader in readers:  # every update, once, in order (after the connect's snapshot)
        assert reader.ids[1:] == list(range(reader.ids[0] + 1, final + 1))
    assert not frozen.closed.done()  # not read yet: it cannot have seen the close
    assert stack.most_queued
    assert max(stack.most_queued) <= QUEUE
    assert frozen.transport is not None
    frozen.transport.resume_reading()  # what the API buffered, then the end of the stream
    await asyncio.wait_for(frozen.closed, 30)
    assert frozen.ids[-1] < final, "the frozen subscriber was sent every update"
