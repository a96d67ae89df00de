"""The hub's delivery rules (ff_api/hub.py): a stream's direct writer gets a batch only
while the stream waits with nothing queued, so nothing written directly can overtake a
batch its task has still to send; a declined batch (or ping) is queued instead.

Pure asyncio: the writer here records what it is given and accepts or declines on
demand; the same rules with uvicorn's connection behind the writer:
tests/api/test_event_stream.py."""

from __future__ import annotations

import asyncio
from typing import Any

from ff_api.hub import PING, Hub, Ping, Subscriber

PROJECT = "p"


class Writer:
    """A direct writer: records every batch it is offered; accepts while ``accept``."""

    def __init__(self) -> None:
        self.accept = True
        self.written: list[Any] = []
        self.declined: list[Any] = []

    def __call__(self, batch: Any) -> bool:
        (self.written if self.accept else self.declined).append(batch)
        return self.accept


def batch(n: int) -> Any:
    return (n, [])


async def waiting(hub: Hub, ping_s: float | None = None) -> tuple[Subscriber, Writer, Any]:
    """A subscriber with a writer, and its stream's task waiting in ``get``."""
    subscriber = hub.subscribe(PROJECT)
    writer = Writer()
    subscriber.direct = writer
    task = asyncio.create_task(subscriber.get())
    await asyncio.sleep(0)  # the task now waits
    return subscriber, writer, task


async def test_hub__stream_waits__the_writer_delivers_and_the_task_sleeps_on() -> None:
    hub = Hub()
    _, writer, task = await waiting(hub)

    await hub.publish(PROJECT, *batch(1))
    await hub.publish(PROJECT, *batch(2))
    await asyncio.sleep(0)

    assert writer.written == [batch(1), batch(2)]
    assert not task.done()
    assert (hub.delivered_direct, hub.delivered_queued) == (2, 0)
    task.cancel()


async def test_hub__writer_declines__the_batch_is_queued_for_the_task() -> None:
    hub = Hub()
    _, writer, task = await waiting(hub)
    writer.accept = False

    await hub.publish(PROJECT, *batch(1))

    assert await asyncio.wait_for(task, 1) == batch(1)
    assert (hub.delivered_direct, hub.delivered_queued) == (0, 1)


async def test_hub__a_batch_is_queued__later_ones_queue_behind_it_even_if_writable() -> None:
    hub = Hub()
    subscriber, writer, task = await waiting(hub)
    writer.accept = False
    await hub.publish(PROJECT, *batch(1))  # declined: queued, the task woken
    writer.accept = True  # e.g. the client read again before the task ran

    await hub.publish(PROJECT, *batch(2))  # in the same turn: the task has not run yet

    assert writer.written == []  # 2 was not written ahead of 1
    assert await asyncio.wait_for(task, 1) == batch(1)
    assert await asyncio.wait_for(subscriber.get(), 1) == batch(2)
    assert (hub.delivered_direct, hub.delivered_queued) == (0, 2)

    task = asyncio.create_task(subscriber.get())  # waiting again, with nothing queued
    await asyncio.sleep(0)
    await hub.publish(PROJECT, *batch(3))
    assert writer.written == [batch(3)]
    task.cancel()


async def test_hub__no_writer__every_batch_is_queued() -> None:
    hub = Hub()
    subscriber = hub.subscribe(PROJECT)
    task = asyncio.create_task(subscriber.get())
    await asyncio.sleep(0)

    await hub.publish(PROJECT, *batch(1))

    assert await asyncio.wait_for(task, 1) == batch(1)
    assert (hub.delivered_direct, hub.delivered_queued) == (0, 1)


async def test_hub__ping_due_while_waiting__written_or_else_returned() -> None:
    hub = Hub(ping_s=0.01)
    subscriber, writer, task = await waiting(hub)

    await asyncio.sleep(0.05)
    assert writer.written[:2] == [PING, PING]  # written: the task slept on
    assert not task.done()

    writer.accept = False
    assert isinstance(await asyncio.wait_for(task, 1), Ping)  # declined: the task sends it
    hub.unsubscribe(subscriber)


async def test_hub__stream_not_reading__queue_full__the_stream_is_dropped() -> None:
    hub = Hub(queue_size=2)
    dropped: list[bool] = []
    subscriber = hub.subscribe(PROJECT, on_drop=lambda: dropped.append(True))
    writer = Writer()
    writer.accept = False
    subscriber.direct = writer

    for n in (1, 2, 3):  # its task is not waiting: 1 and 2 queue, 3 finds the queue full
        await hub.publish(PROJECT, *batch(n))

    assert dropped == [True]
    assert hub.count() == 0
    assert await asyncio.wait_for(subscriber.get(), 1) is None  # its stream ends
