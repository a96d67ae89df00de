"""Fan-out of applied changes to stream subscribers.

Each subscriber has a bounded queue. One that cannot keep up is dropped, its queue
emptied, so it never slows the others and never holds more than ``queue_size`` batches.
A dropped stream ends: its ``on_drop`` cancels the response, which may be stuck sending
to a client that stopped reading (its socket buffers full), so that it cannot wait for
the next batch and return by itself.

Each subscriber also keeps its stream alive: a timer (no task) that, every ``ping_s``,
has its next ``get`` return ``PING``, which the stream sends as a comment line.

Direct delivery: a stream whose connection the process can write to itself (uvicorn's,
``ff_api.event_stream``) gives its subscriber a ``direct`` writer. While the stream waits
for its next batch with none queued, the hub hands a batch (or a ping) to that writer, which
renders and writes it to the socket in the same turn; no task wakes. The writer declines
(returns False) when it cannot write now: the client is not reading (the connection's
buffer is over its high-water mark), the connection is closing, or the batch ends the
stream. The batch is then queued as without a writer, and the stream's task sends it, and
everything queued after it, in order through ASGI, waiting for the client as a send does.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable

from ff_api.snapshots import ProjectSnapshot
from ff_core.models import ChangeEntry

Batch = tuple[ProjectSnapshot, list[ChangeEntry]]


class Ping:
    """What ``Subscriber.get`` returns when the stream is due a keep-alive comment."""

    __slots__ = ()


PING = Ping()

Direct = Callable[[Batch | Ping], bool]
"""A stream's direct writer (module docstring): True once the batch is delivered."""


class Subscriber:
    """One stream's pending batches: a bounded FIFO with at most one waiting reader.

    Not an ``asyncio.Queue``: that holds four deques and an ``Event`` (~2.5 KB), and a
    process may hold 10,000 idle streams; this is a list and a future while one waits,
    and a timer for its pings."""

    __slots__ = (
        "_bound",
        "_ping_due",
        "_ping_s",
        "_timer",
        "_waiter",
        "batches",
        "direct",
        "dropped",
        "on_drop",
        "project",
    )

    def __init__(
        self,
        project: str,
        queue_size: int,
        on_drop: Callable[[], object] | None = None,
        ping_s: float | None = None,
    ) -> None:
        self.project = project
        self.on_drop = on_drop
        self.batches: list[Batch] = []  # rarely more than one: a list beats a deque here
        self.dropped = False
        self.direct: Direct | None = None
        self._bound = queue_size
        self._waiter: asyncio.Future[None] | None = None
        self._ping_s = ping_s
        self._ping_due = False
        self._timer: asyncio.TimerHandle | None = None
        if ping_s is not None:
            self._timer = asyncio.get_running_loop().call_later(ping_s, self._ping)

    def deliver(self, batch: Batch | Ping) -> bool:
        """Hand ``batch`` to the direct writer while the stream waits with nothing queued
        (so nothing it sends can overtake a queued batch); False: queue it instead."""
        return self._waiter is not None and self.direct is not None and self.direct(batch)

    def offer(self, batch: Batch) -> bool:
        """Queue a batch; False when ``queue_size`` batches are already waiting."""
        if len(self.batches) >= self._bound:
            return False
        self.batches.append(batch)
        self._wake()
        return True

    def drop(self) -> None:
        """Empty the queue and end the stream: its next ``get`` returns None."""
        self.dropped = True
        self.batches.clear()
        self._wake()
        if self.on_drop is not None:
            self.on_drop()

    def close(self) -> None:
        """No more pings (the stream ended)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def get(self) -> Batch | Ping | None:
        """The next batch, waiting for one; ``PING`` when a keep-alive is due (batches
        first); None once dropped (the stream then ends)."""
        while not self.batches:
            if self.dropped:
                return None
            if self._ping_due:
                self._ping_due = False
                return PING
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return None if self.dropped else self.batches.pop(0)

    def _wake(self) -> None:
        # No longer waiting from here: what comes before the task runs is queued behind.
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _ping(self) -> None:
        assert self._ping_s is not None
        self._timer = asyncio.get_running_loop().call_later(self._ping_s, self._ping)
        if not self.deliver(PING):
            self._ping_due = True
            self._wake()


class Hub:
    """Subscribers by project. ``ping_s``: each subscriber's keep-alive interval (None:
    no pings)."""

    def __init__(self, queue_size: int = 256, ping_s: float | None = None) -> None:
        self._queue_size = queue_size
        self._ping_s = ping_s
        self._subscribers: defaultdict[str, set[Subscriber]] = defaultdict(set)
        self.delivered_direct = 0  # batches written by streams' direct writers
        self.delivered_queued = 0  # batches queued for streams' tasks

    def subscribe(self, project: str, on_drop: Callable[[], object] | None = None) -> Subscriber:
        subscriber = Subscriber(project, self._queue_size, on_drop, self._ping_s)
        self._subscribers[project].add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers[subscriber.project].discard(subscriber)
        subscriber.close()

    def close(self) -> None:
        """End every stream (the server is shutting down)."""
        for subscribers in list(self._subscribers.values()):
            for subscriber in list(subscribers):
                self._drop(subscriber)

    def count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    async def publish(
        self, project: str, snapshot: ProjectSnapshot, changes: list[ChangeEntry]
    ) -> None:
        batch = (snapshot, changes)
        direct = queued = 0
        for subscriber in list(self._subscribers[project]):
            if subscriber.deliver(batch):
                direct += 1
            elif subscriber.offer(batch):
                queued += 1
            else:
                self._drop(subscriber)
        self.delivered_direct += direct
        self.delivered_queued += queued

    def _drop(self, subscriber: Subscriber) -> None:
        self.unsubscribe(subscriber)
        subscriber.drop()  # wakes the stream, which then ends
