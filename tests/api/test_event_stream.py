"""The one-task stream response (ff_api/event_stream.py) as an ASGI app: how it ends.

Driven with plain ASGI callables instead of a server, to reach the orders of events a
server makes rare (a cancellation from outside while the hub also stops the stream). The
same response under uvicorn: tests/api/test_sdk_sync.py, test_browser_stream.py,
tests/reliability/test_sse_frozen.py, tests/ops/test_sse_shutdown.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from starlette.types import Message

from ff_api.event_stream import event_stream

SCOPE = {"type": "http", "method": "GET", "path": "/stream", "headers": []}


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
    """One event, then waits for ever; remembers the ``stop`` it was given and its end."""

    def __init__(self) -> None:
        self.stop: Callable[[], None] | None = None
        self.closed = False

    async def __call__(self, stop: Callable[[], None]) -> AsyncIterator[Any]:
        self.stop = stop
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
    assert events.stop is not None

    events.stop()  # what the hub does to a dropped subscriber, and at shutdown
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
    assert events.stop is not None

    task.cancel()  # e.g. the server giving up on its requests
    events.stop()  # and the hub dropping the stream in the same turn
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
    assert events.stop is None  # the generator never ran
