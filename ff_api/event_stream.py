"""sse-starlette's response served by one task a stream, with a way for the hub to end it.

sse-starlette runs every response as an anyio task group with four tasks: the events,
pings, a server-shutdown listener and a client-disconnect listener. With 10,000 streams
open that is 50,000 tasks, ~15 KB and ~100 objects for the garbage collector a stream
(bench/README.md). Here the request's own task sends the events (sse-starlette's headers
and event encoding; its loop, start line to end of stream, redone in ``_stream_response``
to add the live events), and one small task awaits the client's disconnect. The other two
are shared by all streams:

- keep-alive pings come from the stream's hub subscriber (one timer each, no task:
  ``ff_api.hub``): written like the events below, or its ``get`` returns ``PING`` and the
  stream sends ``PING_EVENT``;
- server shutdown is one watcher for the process (``watch_shutdown``, started by the
  lifespan), which waits on sse-starlette's own shutdown signal (uvicorn's exit flag,
  ``AppStatus.should_exit``) and ends every stream through the hub.

Ending a stream is cancelling its task (``stop``): a client that stops reading (its socket
buffers full) leaves the response waiting in ``send``, where it cannot see that the hub
dropped it. uvicorn then closes the connection (logging that the response did not
complete) and the client, if it ever reads again, reconnects with ``Last-Event-ID``.

One cancellation a stream, not a per-send timeout (sse-starlette's ``send_timeout``):
that arms a timer around every send, which at 10,000 subscribers doubles the cost of
each event's fan-out; sse-starlette's cancel scope around each send (~20 % of the API's
CPU in the fan-out) is skipped too.

A route's generator yields a stream's first events (a snapshot, or the changes it missed)
and hands the stream its subscription (``subscribe``) and a ``render`` for what follows
(``live``); then it ends, so an idle stream holds no generator. The live events go
straight to the socket: the hub hands each batch to the stream's subscriber, whose
``direct`` writer (``write_live``) renders it and writes it, framed as one HTTP/1.1 chunk,
to the connection's transport in the same turn: no task wakes, no ASGI send (at 10,000
streams those took ~20 µs of the ~36 µs a stream spent on each event; bench/README.md).
That needs the server's connection, which ASGI does not expose: ``App`` keeps the
server's own ``send`` in the scope, and when it is bound to one of uvicorn's HTTP/1.1
request cycles (httptools', which ``ff api`` serves with, or h11's; the versions pinned)
whose body is chunked, the stream writes through that cycle's transport. The cycle's own
flow control decides when not to: when the client is not reading (uvicorn paused
writing), the connection is closing, or the batch ends the stream, the writer declines
and the batch is queued for the stream's task, which sends it through ASGI
(``ff_api.hub``: in order). Any other server, or an HTTP/1.0 client on h11, gets every
event through ASGI; tests/api/test_event_stream.py covers both ways on both cycles.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, NoReturn

import h11
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.event import ensure_bytes
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from ff_api.hub import Batch, Hub, Ping, Subscriber

# A comment line: EventSource ignores it, proxies see traffic. Encoded once.
PING_EVENT = ServerSentEvent(comment="ping").encode()

Render = Callable[[Batch], Sequence[bytes] | None]
"""A stream's live events for one published batch, encoded; None ends the stream there. A
render may be called twice for the same batch when the first call ends the stream, and
must then say so again; one that raises is not called again: the stream's task raises
that error (uvicorn logs it and closes the connection; the client resumes by its id)."""

SERVER_SEND = "ff.server_send"
"""The scope key under which ``App`` keeps the server's own ``send``."""


class App(Starlette):
    """Starlette that keeps the server's ``send``, before any middleware wraps it, in the
    scope: a stream's live events are written through its connection (module docstring)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[SERVER_SEND] = send
        await super().__call__(scope, receive, send)


def event_stream(events: Callable[[Stream], AsyncIterator[Any]]) -> EventSourceResponse:
    """A response streaming ``events(stream)``, then, if that called ``stream.live``,
    its live events; ``stream.stop()`` ends it, sending or not."""
    return Stream(events)


class StreamRoute:
    """A streaming route's endpoint as a plain ASGI app: Starlette wraps a request
    function in two more layers (``request_response`` and its exception handling), whose
    suspended frames and closures every open stream would hold. An error raised before
    the stream starts still reaches the app's handlers (its ``ExceptionMiddleware``)."""

    def __init__(self, handler: Callable[[Request], Awaitable[Response]]) -> None:
        self.__name__ = handler.__name__
        self.__doc__ = handler.__doc__
        self._handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._handler(Request(scope, receive, send))
        await response(scope, receive, send)


async def watch_shutdown(hub: Hub) -> None:
    """End every stream once the server begins to shut down (uvicorn's SIGTERM/SIGINT).

    sse-starlette's signal: its ``AppStatus`` flag, set by its patch of uvicorn's exit
    handler, or uvicorn's own ``should_exit`` (polled every 0.5 s by its watcher). One
    listener for the process instead of one task a stream; uvicorn then waits for the
    streams' requests to finish, which they do at once."""
    await EventSourceResponse._listen_for_exit_signal()
    hub.close()


class Stream(EventSourceResponse):
    """sse-starlette's response, served by the request's task (module docstring). Its
    events: those ``events(stream)`` yields, then, if the generator called ``live``,
    every batch its subscriber gets, until the hub or a render ends the stream."""

    def __init__(self, events: Callable[[Stream], AsyncIterator[Any]]) -> None:
        # Every attribute is set here, so that instances keep sharing their dict's keys.
        self._task: asyncio.Task[Any] | None = None
        self._stopped = False
        self._server_send: Any = None
        self._cycle: Any = None  # uvicorn's request cycle, once live events go direct
        self._hub: Hub | None = None
        self._subscriber: Subscriber | None = None
        self._render: Render | None = None
        super().__init__(events(self), ping=0)  # pings: the hub's (module docstring)
        # One task sends everything: sse-starlette's send lock (an anyio ``Lock`` and its
        # deque a stream) guards nothing here.
        self._send_lock = contextlib.nullcontext()  # type: ignore[assignment]

    def subscribe(self, hub: Hub, project: str) -> Subscriber:
        """The stream's subscription to ``project``'s batches: dropped by the hub, the
        stream ends; when the stream ends, it is unsubscribed."""
        self._hub = hub
        self._subscriber = hub.subscribe(project, on_drop=self.stop)
        return self._subscriber

    def live(self, render: Render) -> None:
        """Once the generator's events are sent, send ``render`` of each batch the
        subscription gets, and keep-alive pings. The generator then has nothing left to
        hold: the stream keeps the subscription and ``render`` (its state) only."""
        if self._subscriber is None:
            raise RuntimeError("a stream goes live on its subscription: subscribe first")
        self._render = render

    def stop(self) -> None:
        """End the stream: cancel the request's task where it waits, once."""
        if self._task is not None and not self._stopped:
            self._stopped = True
            self._task.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD":
            await super().__call__(scope, receive, send)  # headers only, no stream
            return
        self._server_send = scope.get(SERVER_SEND)
        self._task = task = asyncio.current_task()
        listener = asyncio.ensure_future(self._until_disconnect(receive))
        try:
            await self._stream_response(send)
        except asyncio.CancelledError:
            # Ours (``stop``): the stream ends here. Anyone else's goes on up.
            if not self._stopped or task is None or task.uncancel() > 0:
                raise
        finally:
            self._stopped = True  # a later ``stop`` must not cancel the task's next request
            listener.cancel()
            self._unsubscribe()
        if self.background is not None:
            await self.background()

    async def _stream_response(self, send: Send) -> None:
        # sse-starlette's (its start line, encoding and end of stream), then the live
        # events; it sends directly, without a per-send timeout scope (module docstring).
        # Suspended here for as long as a stream is idle: few locals, no generator.
        start = {"type": "http.response.start", "status": self.status_code}
        await send({**start, "headers": self.raw_headers})  # (no local keeps the headers)
        self.raw_headers = _SENT  # sent: its headers (~0.6 KB) need not stay
        await self._send_events(send)
        subscriber = self._subscriber
        if subscriber is not None and self._render is not None:
            self._cycle = _chunked_cycle(self._server_send)
            if self._cycle is not None:
                subscriber.direct = self.write_live
            while (batch := await subscriber.get()) is not None:  # None: dropped, too slow
                data = self._rendered(batch)
                if data is None:
                    break
                if data:
                    await send(_body(data))
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _send_events(self, send: Send) -> None:
        """The generator's events, then the generator is let go."""
        events, self.body_iterator = self.body_iterator, _NO_EVENTS
        try:
            async for data in events:
                await send(_body(ensure_bytes(data, self.sep)))
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()  # its cleanup runs now, also when a send failed

    def write_live(self, batch: Batch | Ping) -> bool:
        """The subscriber's direct writer: True once ``batch`` is rendered and written to
        the socket; False leaves it to the task (``ff_api.hub``)."""
        cycle = self._cycle
        transport = cycle.transport
        if cycle.flow.write_paused or cycle.disconnected or transport.is_closing():
            return False  # the client is not reading, or is gone: the task waits on it
        try:
            data = self._rendered(batch)
        except Exception as exc:
            # The task raises it where it would have rendered the batch itself (its state
            # may have moved: rendering again could skip the batch silently).
            self._render = _raising(exc)
            return False
        if data is None:
            return False  # the end: the task ends the response
        if data:
            transport.write(b"%x\r\n%s\r\n" % (len(data), data))  # one HTTP/1.1 chunk
        return True

    def _rendered(self, batch: Batch | Ping) -> bytes | None:
        """What the stream sends for ``batch``, as one body (empty: nothing); None: the
        stream ends here."""
        if isinstance(batch, Ping):
            return PING_EVENT
        assert self._render is not None
        chunks = self._render(batch)
        return None if chunks is None else b"".join(chunks)

    def _unsubscribe(self) -> None:
        if self._hub is not None and self._subscriber is not None:
            self._subscriber.direct = None
            self._hub.unsubscribe(self._subscriber)

    async def _until_disconnect(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.stop()


def _raising(exc: Exception) -> Render:
    def render(batch: Batch) -> NoReturn:
        raise exc

    return render


def _body(chunk: bytes) -> Message:
    return {"type": "http.response.body", "body": chunk, "more_body": True}


_SENT: list[tuple[bytes, bytes]] = []
_NO_EVENTS: Any = ()


_H11 = "uvicorn.protocols.http.h11_impl"
_HTTPTOOLS = "uvicorn.protocols.http.httptools_impl"


def _chunked_cycle(server_send: Any) -> Any:
    """uvicorn's request cycle behind ``server_send`` when it is sending a chunked body
    (the start line is out), else None: its transport may then take the body's chunks.

    Reads uvicorn's internals (the version pinned), for its two HTTP/1.1 cycles: httptools'
    (what ``ff api`` serves with) and h11's. A uvicorn whose cycle lacks what the writer
    reads gets the ASGI way, never a broken stream (and the tests that expect the direct
    way fail: tests/api/test_event_stream.py, test_metrics.py)."""
    cycle: Any = getattr(server_send, "__self__", None)
    module = type(cycle).__module__
    if module != _HTTPTOOLS and module != _H11:
        return None
    try:
        _ = cycle.flow.write_paused, cycle.transport.is_closing  # what the writer reads
        if module == _HTTPTOOLS:
            # It frames every body without a Content-Length in chunks (HTTP/1.0 too).
            chunked = cycle.chunked_encoding is True
        else:
            # h11 frames a body with no length in chunks for an HTTP/1.1 client only.
            conn = cycle.conn
            chunked = conn.our_state is h11.SEND_BODY and conn.their_http_version == b"1.1"
        ready = (
            chunked
            and cycle.response_started
            and not cycle.response_complete
            and not cycle.disconnected
        )
    except AttributeError:
        return None
    return cycle if ready else None
