"""Where a stream's share of one fan-out goes, without a server or sockets, in process.

N streams wait on one ``ff_api.hub.Hub``; one publish wakes them all and each hands the
event to an ASGI ``send`` that only counts it. The CPU time from the publish until the
last one has sent, per stream (median of ``--writes`` publishes), for:

- ``task``: a plain asyncio task per stream awaiting ``Subscriber.get`` and calling
  ``send`` (what any task-per-connection design pays at least);
- ``task + generator``: the same through an async generator, as the routes' event
  generators are;
- ``ff stream``: ff's stream response (``ff_api.event_stream.event_stream``: the hub,
  its live loop) called as an ASGI app: the way its live events take under any server
  but uvicorn, where they do not go straight to the connection (``Stream.live``).

With a server, add uvicorn's ``send`` (h11 framing, flow control), the middleware's send
wrappers and the socket write (bench/fanout_floor.py): bench/sse_bench.py's figure.

    .venv/bin/python bench/stream_path_bench.py --streams 10000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import stack
from starlette.types import Message

from ff_api.event_stream import Stream, event_stream
from ff_api.hub import Hub, Ping

SCOPE = {"type": "http", "method": "GET", "path": "/stream", "headers": []}


class Counter:
    """An ASGI ``send`` that counts event bodies and says when all streams have one."""

    def __init__(self, streams: int) -> None:
        self.streams, self.count = streams, 0
        self.all: asyncio.Future[None] | None = None

    async def send(self, message: Message) -> None:
        if message.get("body", b"").startswith(b"event"):
            self.count += 1
            if self.count == self.streams and self.all is not None:
                self.all.set_result(None)


async def measure(
    name: str, streams: int, writes: int, start: Callable[[Hub, Counter], Coroutine[Any, Any, None]]
) -> dict[str, float]:
    hub, counter = Hub(256, ping_s=15.0), Counter(streams)
    tasks = [asyncio.create_task(start(hub, counter)) for _ in range(streams)]
    await asyncio.sleep(0.5)
    assert hub.count() == streams, f"{name}: {hub.count()} of {streams} subscribed"
    gc.collect()
    gc.freeze()  # as `ff api` does: the streams stay out of the collections measured
    spent = []
    for n in range(writes):
        counter.count, counter.all = 0, asyncio.get_running_loop().create_future()
        cpu = time.process_time()
        await hub.publish("p", None, b"event %d" % n)  # type: ignore[arg-type]
        await counter.all
        spent.append(time.process_time() - cpu)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    gc.unfreeze()
    median = statistics.median(spent)
    return {
        "ms_per_publish": round(median * 1e3, 1),
        "us_per_stream": round(median / streams * 1e6, 2),
    }


async def plain_task(hub: Hub, counter: Counter) -> None:
    subscriber = hub.subscribe("p")
    while True:
        batch = await subscriber.get()
        if batch is not None and not isinstance(batch, Ping):
            await counter.send({"type": "http.response.body", "body": batch[1], "more_body": True})


async def generator_task(hub: Hub, counter: Counter) -> None:
    async def events() -> AsyncIterator[Any]:
        subscriber = hub.subscribe("p")
        while True:
            batch = await subscriber.get()
            if batch is not None and not isinstance(batch, Ping):
                yield batch[1]

    async for data in events():
        await counter.send({"type": "http.response.body", "body": data, "more_body": True})


async def ff_stream(hub: Hub, counter: Counter) -> None:
    async def events(stream: Stream) -> AsyncIterator[Any]:
        stream.subscribe(hub, "p")
        yield b": hello\r\n\r\n"
        stream.live(lambda batch: [batch[1]])

    never = asyncio.Event()

    async def receive() -> Message:
        await never.wait()
        return {"type": "http.disconnect"}

    await event_stream(events)(dict(SCOPE), receive, counter.send)


async def run(streams: int, writes: int) -> dict[str, Any]:
    return {
        "machine": stack.machine(),
        "streams": streams,
        "writes": writes,
        "task": await measure("task", streams, writes, plain_task),
        "task + generator": await measure("task + generator", streams, writes, generator_task),
        "ff stream": await measure("ff stream", streams, writes, ff_stream),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=20)
    parser.add_argument("--json", metavar="PATH", help="also write the figures to PATH")
    args = parser.parse_args()
    figures = asyncio.run(run(args.streams, args.writes))
    stack.report(figures, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
