"""sse-starlette's response, with a way for the hub to end it: streams it dropped.

A client that stops reading (its socket buffers full) leaves the response waiting in
``send``: uvicorn waits for the buffers to drain. Its event generator is suspended there,
so it cannot see that the hub dropped it; cancelling the whole response is the way out.
uvicorn then closes the connection (logging that the response did not complete) and the
client, if it ever reads again, reconnects with ``Last-Event-ID``.

One cancel scope per stream, not a per-send timeout (sse-starlette's ``send_timeout``):
that arms a timer around every send, which at 10,000 subscribers doubles the cost of
each event's fan-out. Without a timeout, sse-starlette still enters a cancel scope around
each send (~20 % of the API's CPU in the fan-out); the subclass skips it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from sse_starlette import EventSourceResponse
from starlette.types import Message, Receive, Scope, Send

Events = Callable[[Callable[[], None]], AsyncIterator[Any]]


def event_stream(events: Events, ping_s: float) -> EventSourceResponse:
    """A response streaming ``events(stop)``; calling ``stop()`` ends it, sending or not."""
    stop = anyio.CancelScope()
    return _Stoppable(events(stop.cancel), stop, ping=ping_s)


class _Stoppable(EventSourceResponse):
    def __init__(self, content: AsyncIterator[Any], stop: anyio.CancelScope, ping: float) -> None:
        super().__init__(content, ping=ping)
        self._stop = stop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with self._stop:
            await super().__call__(scope, receive, send)

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        # sse-starlette 3.7 sends every event and ping through this method; with no
        # ``send_timeout`` its ``move_on_after(None)`` scope is pure cost.
        await send(message)
