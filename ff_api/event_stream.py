"""sse-starlette's response served by one task a stream, with a way for the hub to end it.

sse-starlette runs every response as an anyio task group with four tasks: the events,
pings, a server-shutdown listener and a client-disconnect listener. With 10,000 streams
open that is 50,000 tasks, ~15 KB and ~100 objects for the garbage collector a stream
(bench/README.md). Here the request's own task sends the events (sse-starlette's
``_stream_response``: its encoding, headers and end of stream), and one small task
awaits the client's disconnect. The other two are shared by all streams:

- keep-alive pings come from the stream's hub subscriber (one timer each, no task:
  ``ff_api.hub``): its ``get`` returns ``PING`` and the generator yields ``PING_EVENT``;
- server shutdown is one watcher for the process (``watch_shutdown``, started by the
  lifespan), which waits on sse-starlette's own shutdown signal (uvicorn's exit flag,
  ``AppStatus.should_exit``) and ends every stream through the hub.

Ending a stream is cancelling its task (``stop``): a client that stops reading (its socket
buffers full) leaves the response waiting in ``send``, where its generator cannot see
that the hub dropped it. uvicorn then closes the connection (logging that the response
did not complete) and the client, if it ever reads again, reconnects with
``Last-Event-ID``.

One cancellation a stream, not a per-send timeout (sse-starlette's ``send_timeout``):
that arms a timer around every send, which at 10,000 subscribers doubles the cost of
each event's fan-out. Without a timeout sse-starlette still enters a cancel scope around
each send (~20 % of the API's CPU in the fan-out); the subclass skips it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from ff_api.hub import Hub

Events = Callable[[Callable[[], None]], AsyncIterator[Any]]

# A comment line: EventSource ignores it, proxies see traffic. Encoded once.
PING_EVENT = ServerSentEvent(comment="ping").encode()


def event_stream(events: Events) -> EventSourceResponse:
    """A response streaming ``events(stop)``; calling ``stop()`` ends it, sending or not."""
    return _OneTask(events)


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


class _OneTask(EventSourceResponse):
    def __init__(self, events: Events) -> None:
        super().__init__(events(self.stop), ping=0)  # pings: the hub's (module docstring)
        # One task sends everything: sse-starlette's send lock (an anyio ``Lock`` and its
        # deque a stream) guards nothing here.
        self._send_lock = contextlib.nullcontext()  # type: ignore[assignment]
        self._task: asyncio.Task[Any] | None = None
        self._stopped = False

    def stop(self) -> None:
        """End the stream: cancel the request's task where it waits, once."""
        if self._task is not None and not self._stopped:
            self._stopped = True
            self._task.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD":
            await super().__call__(scope, receive, send)  # headers only, no stream
            return
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
        if self.background is not None:
            await self.background()

    async def _until_disconnect(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.stop()

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        # sse-starlette 3.7 sends every event through this method; with no
        # ``send_timeout`` its ``move_on_after(None)`` scope is pure cost. The start
        # line went out before the first event: its headers (~0.6 KB) need not stay.
        self.raw_headers = _SENT
        await send(message)


_SENT: list[tuple[bytes, bytes]] = []
