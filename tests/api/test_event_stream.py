"""The one-task stream response (ff_api/event_stream.py): how it ends, and how its live
events reach the client.

How it ends is driven with plain ASGI callables instead of a server, to reach the orders
of events a server makes rare (a cancellation from outside while the hub also stops the
stream); so is the ASGI way of live events (any server but uvicorn). The direct way
(the hub writes to uvicorn's connection) runs under a real uvicorn on a loopback port,
on each of its two HTTP/1.1 implementations (httptools, which ``ff api`` serves with, and
h11), read by raw sockets and parsed by h11 as a client, so that the chunk framing is
checked too. The same response in the whole API: tests/api/test_sdk_sync.py,
test_browser_stream.py, tests/reliability/test_sse_frozen.py, tests/ops/test_sse_shutdown.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import h11
import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message

from ff_api.event_stream import App, Stream, StreamRoute, _chunked_cycle, event_stream
from ff_api.hub import Batch, Hub
from tests.api.sse import RawConnection, connect_raw
from tests.client.conftest import eventually

SCOPE = {"type": "http", "method": "GET", "path": "/stream", "headers": []}
PROJECT = "p"
_ID = re.compile(rb"id: (\d+)\r\ndata: x*$")


class Client:
    """The server's side of one connection: what was sent, and a disconnect on demand."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.first_event = asyncio.Event()
        self._gone = asyncio.Event()

    async def receive(self) -> Message:
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        if message.get("body"):
            self.first_event.set()

    def disconnect(self) -> None:
        self._gone.set()


class Events:
    """One event, then waits for ever; remembers the stream it was given and its end."""

    def __init__(self) -> None:
        self.stream: Stream | None = None
        self.closed = False

    async def __call__(self, stream: Stream) -> AsyncIterator[Any]:
        self.stream = stream
        try:
            yield b"data: 1\r\n\r\n"
            await asyncio.Event().wait()
        finally:
            self.closed = True


async def _started(events: Events, client: Client) -> asyncio.Task[None]:
    response = event_stream(events)
    task = asyncio.create_task(response(dict(SCOPE), client.receive, client.send))
    await asyncio.wait_for(client.first_event.wait(), 5)
    return task


async def test_stream__stopped__returns_and_closes_its_events() -> None:
    events, client = Events(), Client()
    task = await _started(events, client)
    assert events.stream is not None

    events.stream.stop()  # what the hub does to a dropped subscriber, and at shutdown
    await asyncio.wait_for(task, 5)  # returns: the stop is the stream's own

    assert not task.cancelled()
    assert events.closed
    assert client.sent[0]["type"] == "http.response.start"
    assert client.sent[1]["body"] == b"data: 1\r\n\r\n"


async def test_stream__client_disconnects__ends_and_closes_its_events() -> None:
    events, client = Events(), Client()
    task = await _started(events, client)

    client.disconnect()
    await asyncio.wait_for(task, 5)

    assert not task.cancelled()
    assert events.closed


async def test_stream__cancelled_from_outside__the_cancellation_goes_on_up() -> None:
    events, client = Events(), Client()
    task = await _started(events, client)
    assert events.stream is not None

    task.cancel()  # e.g. the server giving up on its requests
    events.stream.stop()  # and the hub dropping the stream in the same turn
    with pytest.raises(asyncio.CancelledError):
        await task

    assert events.closed


async def test_stream__head__headers_only_and_no_events() -> None:
    events, client = Events(), Client()
    response = event_stream(events)

    await asyncio.wait_for(response({**SCOPE, "method": "HEAD"}, client.receive, client.send), 5)

    assert [m["type"] for m in client.sent] == ["http.response.start", "http.response.body"]
    assert client.sent[1]["body"] == b""
    assert client.sent[0]["status"] == 200
    assert events.stream is None  # the generator never ran


# -- live events -------------------------------------------------------------------------------


def numbered(
    end_at: int | None = None, size: int = 0, fail_at: int | None = None
) -> Callable[[Stream, Hub], Any]:
    """Live events whose batches are ``(n, [])``: each renders as the event ``id: n`` with
    ``size`` bytes of data; batch ``end_at`` ends the stream, batch ``fail_at`` raises the
    first time (as a render whose state moved before it failed would not fail again)."""
    failed: list[int] = []

    def render(batch: Batch) -> Sequence[bytes] | None:
        n: Any = batch[0]
        if n == end_at:
            return None
        if n == fail_at and not failed:
            failed.append(n)
            raise RuntimeError(f"cannot render batch {n}")
        return [b"id: %d\r\ndata: %s\r\n\r\n" % (n, b"x" * size)]

    async def events(stream: Stream, hub: Hub) -> AsyncIterator[bytes]:
        stream.subscribe(hub, PROJECT)
        yield b": hello\r\n\r\n"
        stream.live(render)

    return events


async def publish(hub: Hub, n: int) -> None:
    await hub.publish(PROJECT, n, [])  # type: ignore[arg-type]


async def test_live__not_under_uvicorn__events_go_through_asgi_send() -> None:
    hub, client = Hub(), Client()
    response = event_stream(lambda stream: numbered()(stream, hub))
    task = asyncio.create_task(response(dict(SCOPE), client.receive, client.send))
    await asyncio.wait_for(client.first_event.wait(), 5)
    await eventually(lambda: hub.count() == 1)  # subscribed

    for n in (1, 2):
        await publish(hub, n)
        await asyncio.sleep(0.01)

    bodies = [m["body"] for m in client.sent[1:]]
    assert bodies == [b": hello\r\n\r\n", b"id: 1\r\ndata: \r\n\r\n", b"id: 2\r\ndata: \r\n\r\n"]
    assert (hub.delivered_direct, hub.delivered_queued) == (0, 2)
    client.disconnect()
    await asyncio.wait_for(task, 5)


# uvicorn's two HTTP/1.1 cycles the direct writer knows: httptools' (``ff api``'s) and h11's.
PARSERS = ["httptools", "h11"]


class Served:
    """A stream route on uvicorn (``http``: its HTTP/1.1 implementation) in this event
    loop."""

    def __init__(
        self,
        events: Callable[[Stream, Hub], Any],
        ping_s: float | None = None,
        http: str = "httptools",
    ):
        self.hub = Hub(queue_size=1_000, ping_s=ping_s)

        async def stream(request: Request) -> Response:
            return event_stream(lambda s: events(s, self.hub))

        app = App(routes=[Route("/stream", StreamRoute(stream), methods=["GET"])])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, lifespan="off", log_level="error", http=http
        )
        self.server = uvicorn.Server(config)
        self.port = 0

    async def __aenter__(self) -> Served:
        self._task = asyncio.create_task(self.server.serve())
        await eventually(lambda: self.server.started)  # uvicorn started
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.hub.close()
        await asyncio.wait_for(self._task, 10)


class Reader(RawConnection):
    """A raw HTTP client of one stream; ``h11`` parses what it reads (status, chunks)."""

    def __init__(self) -> None:
        self.h11 = h11.Connection(our_role=h11.CLIENT)
        self.ids: list[int] = []
        self.pings = 0
        self.hello = False
        self.ended = False  # the response ended (its last chunk)
        self.closed = False  # the connection closed
        self._tail = b""

    def data_received(self, data: bytes) -> None:
        self.h11.receive_data(data)
        while (event := self.h11.next_event()) is not h11.NEED_DATA:
            if isinstance(event, h11.Response):
                assert event.status_code == 200
            elif isinstance(event, h11.Data):
                self._events(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                self.ended = True
                return

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def _events(self, data: bytes) -> None:
        *complete, self._tail = (self._tail + data).split(b"\r\n\r\n")
        for event in complete:
            if event == b": hello":
                self.hello = True
            elif event == b": ping":
                self.pings += 1
            else:
                match = _ID.match(event)
                assert match is not None, event[:100]
                self.ids.append(int(match.group(1)))


async def read_stream(served: Served, receive_buffer: int | None = None) -> Reader:
    reader = Reader()
    transport = await connect_raw(reader, "127.0.0.1", served.port, receive_buffer)
    request = h11.Request(method="GET", target="/stream", headers=[("Host", "test")])
    transport.write(reader.h11.send(request) or b"")
    await eventually(lambda: reader.hello and served.hub.count() == 1)  # the stream opened
    return reader


@pytest.mark.parametrize("http", PARSERS)
async def test_live__under_uvicorn__the_hub_writes_each_batch_as_a_chunk(http: str) -> None:
    async with Served(numbered(), http=http) as served:
        reader = await read_stream(served)

        for n in range(1, 6):
            await publish(served.hub, n)
        await eventually(lambda: reader.ids == [1, 2, 3, 4, 5])  # five events

        # Written by the hub in publish's own turn: the stream's task never woke.
        assert (served.hub.delivered_direct, served.hub.delivered_queued) == (5, 0)


@pytest.mark.parametrize("http", PARSERS)
async def test_live__client_stops_reading__batches_queue_and_all_arrive_in_order(http: str) -> None:
    async with Served(numbered(size=32_768), http=http) as served:
        reader = await read_stream(served, receive_buffer=4096)
        assert reader.transport is not None
        reader.transport.pause_reading()  # the API's socket buffer, then uvicorn's, fill

        n = 0
        while served.hub.delivered_queued < 5:  # until the writer declined five batches
            n += 1
            await publish(served.hub, n)
            await asyncio.sleep(0)
            assert n < 2_000, "the direct writer never declined a batch"
        direct = served.hub.delivered_direct
        reader.transport.resume_reading()
        for _ in range(30):  # more while the task sends the queue, and once it caught up
            n += 1
            await publish(served.hub, n)
            await asyncio.sleep(0.001)

        await eventually(lambda: len(reader.ids) == n, 30)  # every event
        assert reader.ids == list(range(1, n + 1))  # once each, in order
        assert direct > 0
        assert served.hub.delivered_direct > direct  # caught up, the hub writes again
        assert served.hub.count() == 1  # slow, not dropped (its queue was never full)


@pytest.mark.parametrize("http", PARSERS)
async def test_live__a_render_ends_the_stream__the_response_completes(http: str) -> None:
    async with Served(numbered(end_at=3), http=http) as served:
        reader = await read_stream(served)

        for n in (1, 2, 3, 4):
            await publish(served.hub, n)
        await eventually(lambda: reader.ended)  # the end of the response

        assert reader.ids == [1, 2]
        assert served.hub.count() == 0
        assert served.hub.delivered_direct == 2  # 3 was declined: the task ended the stream


@pytest.mark.parametrize("http", PARSERS)
async def test_live__a_render_fails__the_stream_ends_and_nothing_is_skipped_silently(
    http: str,
) -> None:
    async with Served(numbered(fail_at=3), http=http) as served:
        reader = await read_stream(served)

        for n in (1, 2, 3, 4):
            await publish(served.hub, n)
        # uvicorn logs the error and closes the connection: the client reconnects with
        # its last id (2) and is sent what it missed.
        await eventually(lambda: reader.closed)  # the connection closed

        assert not reader.ended  # cut, not completed: the client knows to reconnect
        assert reader.ids == [1, 2]
        assert served.hub.count() == 0


@pytest.mark.parametrize("http", PARSERS)
async def test_live__pings_go_straight_to_the_socket(http: str) -> None:
    async with Served(numbered(), ping_s=0.05, http=http) as served:
        reader = await read_stream(served)

        await eventually(lambda: reader.pings >= 2)  # two pings
        await publish(served.hub, 1)
        await eventually(lambda: reader.ids == [1])  # the event


async def read_as_http_1_0(served: Served) -> tuple[bytes, asyncio.StreamWriter]:
    """What an HTTP/1.0 client of the stream reads until event 1, published once it
    subscribed; and its connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(b"GET /stream HTTP/1.0\r\nHost: test\r\n\r\n")
    received = b""
    while b"hello" not in received:
        received += await asyncio.wait_for(reader.read(65_536), 5)
    await eventually(lambda: served.hub.count() == 1)  # subscribed
    await publish(served.hub, 1)
    while b"id: 1" not in received:
        received += await asyncio.wait_for(reader.read(65_536), 5)
    return received, writer


async def test_live__http_1_0_client_on_h11__no_chunks_so_events_go_through_asgi() -> None:
    async with Served(numbered(), http="h11") as served:
        received, writer = await read_as_http_1_0(served)

        assert b"transfer-encoding" not in received.lower()  # the body is not chunked
        assert received.endswith(b"id: 1\r\ndata: \r\n\r\n")
        assert (served.hub.delivered_direct, served.hub.delivered_queued) == (0, 1)
        writer.close()


async def test_live__http_1_0_client_on_httptools__chunked_by_uvicorn_so_by_the_hub_too() -> None:
    # uvicorn's httptools cycle frames a body without a length in chunks whatever the
    # client's version: the hub's chunks then follow the same framing.
    async with Served(numbered(), http="httptools") as served:
        received, writer = await read_as_http_1_0(served)

        assert b"transfer-encoding: chunked" in received.lower()
        assert received.endswith(b"11\r\nid: 1\r\ndata: \r\n\r\n\r\n")  # one chunk
        assert (served.hub.delivered_direct, served.hub.delivered_queued) == (1, 0)
        writer.close()


def test_live__a_uvicorn_cycle_without_what_the_writer_reads__takes_the_asgi_way() -> None:
    # Another uvicorn version's cycle (same module, other attributes): no direct writes,
    # and no error either (the stream then sends through ASGI).
    async def send(self: Any, message: Message) -> None: ...

    for parser in ("h11_impl", "httptools_impl"):
        module = f"uvicorn.protocols.http.{parser}"
        cycle = type("RequestResponseCycle", (), {"__module__": module, "send": send})
        assert _chunked_cycle(cycle().send) is None  # type: ignore[attr-defined]
    assert _chunked_cycle(Client().send) is None  # not uvicorn's at all
