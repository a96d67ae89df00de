"""Fan-out of applied changes to stream subscribers.

Each subscriber has a bounded queue. One that cannot keep up is dropped, its queue
emptied, so it never slows the others and never holds more than ``queue_size`` batches.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from ff_api.snapshots import ProjectSnapshot
from ff_core.models import ChangeEntry

Batch = tuple[ProjectSnapshot, list[ChangeEntry]]


class Subscriber:
    __slots__ = ("dropped", "project", "queue")

    def __init__(self, project: str, queue_size: int) -> None:
        self.project = project
        self.queue: asyncio.Queue[Batch | None] = asyncio.Queue(maxsize=queue_size)
        self.dropped = False


class Hub:
    def __init__(self, queue_size: int = 256) -> None:
        self._queue_size = queue_size
        self._subscribers: defaultdict[str, set[Subscriber]] = defaultdict(set)

    def subscribe(self, project: str) -> Subscriber:
        subscriber = Subscriber(project, self._queue_size)
        self._subscribers[project].add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers[subscriber.project].discard(subscriber)

    def count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    async def publish(
        self, project: str, snapshot: ProjectSnapshot, changes: list[ChangeEntry]
    ) -> None:
        for subscriber in list(self._subscribers[project]):
            try:
                subscriber.queue.put_nowait((snapshot, changes))
            except asyncio.QueueFull:
                self._drop(subscriber)

    def _drop(self, subscriber: Subscriber) -> None:
        self.unsubscribe(subscriber)
        subscriber.dropped = True
        while not subscriber.queue.empty():
            subscriber.queue.get_nowait()
        subscriber.queue.put_nowait(None)  # wakes the stream, which then ends
