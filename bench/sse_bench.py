"""SSE propagation: 1,000 subscribers of /api/v1/sdk/stream, then writes through the API.

The API runs as its own process (``python -m uvicorn --factory ff_api.app:create_app``,
one worker, the same flags as ofrep_bench.py) on moto's DynamoDB server (started here,
holding the 50-flag project of bench/stack.py). Subscribers are raw asyncio HTTP/1.1
connections with a server key, split over ``--clients`` processes so that reading them is
not the bottleneck; each timestamps an event when the read that carried it returns.
Then ``--writes`` writes go through the API's management route
(``POST /api/v1/projects/demo/flags/bench-01/set-enabled-in``, flipping one flag in
production), one at a time: the next starts ``--gap`` seconds after every subscriber has
the previous one.

Pinning (``--pin``, the default on two or more CPUs): the API alone on CPU 1; the
subscriber processes, the writer and moto on CPU 0.

Clocks: every process reads ``time.monotonic()`` (Linux CLOCK_MONOTONIC, one clock for
all processes on the machine). The commit is the instant moto, in this process, finished
applying the write's TransactWriteItems (timed around moto's own method): the headline
"from commit". "From response" starts when the writer has the API's answer (about 2 ms
later; a subscriber may even be first). The first subscriber's receipt splits the
latency into reaching the API's subscriber hub (change-log read and flag read on moto)
and the fan-out to every stream. CPU per write of the API and of the subscriber
processes shows which side is the bottleneck.

    .venv/bin/python bench/sse_bench.py                  # 1,000 subscribers, 100 writes
    .venv/bin/python bench/sse_bench.py --writes 30 --verbose    # each write on stderr
    .venv/bin/python bench/sse_bench.py --profile /tmp/sse.txt   # py-spy on the API

Prints, in ms as JSON: the latency to the last subscriber per write (p50/p99 across
writes; the target), to the first, and of every receipt (across all subscribers and
writes). Every subscriber must receive every write exactly once (``duplicates``,
``missing``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import select
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import stack
from moto.dynamodb.models import DynamoDBBackend

STREAM = "/api/v1/sdk/stream"
FLAG = "bench-01"  # starts enabled in production; each write flips it
_ID = re.compile(rb"^id: *(\d+)", re.MULTILINE)


# -- the subscriber processes ---------------------------------------------------------------------


class Subscriber:
    """One SSE connection: dechunks HTTP/1.1 and timestamps each event id it sees."""

    def __init__(self, seen: Callable[[int], None]) -> None:
        self.receipts: dict[int, list[float]] = {}
        self.first = asyncio.get_running_loop().create_future()
        self.closed = False
        self._seen = seen
        self._raw = b""
        self._events = b""

    async def run(self, host: str, port: int, key: str) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        request = (
            f"GET {STREAM} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        )
        writer.write(request.encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200") or b"chunked" not in head.lower():
            raise RuntimeError(f"unexpected response: {head[:200]!r}")
        try:
            while data := await reader.read(65536):
                now = time.monotonic()
                for seq in self._feed(data):
                    self.receipts.setdefault(seq, []).append(now)
                    if not self.first.done():
                        self.first.set_result(seq)
                    else:
                        self._seen(seq)
        finally:
            self.closed = True
            writer.close()

    def _feed(self, data: bytes) -> list[int]:
        self._raw += data
        while True:  # chunked transfer coding: "<hex size>\r\n<bytes>\r\n"
            line_end = self._raw.find(b"\r\n")
            if line_end < 0:
                break
            size = int(self._raw[:line_end].split(b";")[0], 16)
            if len(self._raw) < line_end + 2 + size + 2:
                break
            self._events += self._raw[line_end + 2 : line_end + 2 + size]
            self._raw = self._raw[line_end + 2 + size + 2 :]
        events = self._events.replace(b"\r\n", b"\n").split(b"\n\n")
        self._events = events.pop()
        return [int(m.group(1)) for e in events if (m := _ID.search(e))]


async def subscribe(url: str, key: str, count: int) -> None:
    """Client mode: open ``count`` streams, say READY, then report each seq all of them have."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    seen: Counter[int] = Counter()

    def on_event(seq: int) -> None:
        seen[seq] += 1
        if seen[seq] == count:  # the last of this process's subscribers has it
            emit({"all": seq})

    subscribers = [Subscriber(on_event) for _ in range(count)]
    tasks = []
    for i, sub in enumerate(subscribers):
        task = asyncio.create_task(sub.run(host, port, key))
        task.add_done_callback(lambda t: t.cancelled() or emit({"closed": repr(t.exception())}))
        tasks.append(task)
        if i % 50 == 49:  # open in waves: the API builds a 50-flag snapshot per connection
            await asyncio.gather(*(s.first for s in subscribers[i - 49 : i + 1]))
    await asyncio.gather(*(s.first for s in subscribers))
    emit({"ready": count, "seq": max(s.first.result() for s in subscribers)})
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    await stdin.readline()  # "done"
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    emit({"receipts": [{str(k): v for k, v in s.receipts.items()} for s in subscribers]})


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


# -- the driver ---------------------------------------------------------------------------------


class Client:
    """A subscriber process, driven over its stdin and stdout (one JSON message a line)."""

    def __init__(self, url: str, key: str, count: int, cpu: int | None) -> None:
        command = [sys.executable, __file__, "--client", url, key, str(count)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        if cpu is not None:
            stack.pin(self.process.pid, cpu)
        self.count = count
        self.have = 0
        self._buffer = b""

    def read(self, timeout_s: float = 120) -> dict[str, Any]:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError(f"no word from a subscriber process in {timeout_s} s")
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise RuntimeError(f"subscriber process ended ({self.process.wait()})")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        message: dict[str, Any] = json.loads(line)
        if "closed" in message:
            raise RuntimeError(f"a subscriber's stream ended: {message['closed']}")
        if "all" in message:
            self.have = max(self.have, message["all"])
        return message

    def wait_for(self, seq: int, timeout_s: float = 30) -> None:
        while self.have < seq:
            self.read(timeout_s)

    def finish(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(b"done\n")
        self.process.stdin.flush()
        while "receipts" not in (message := self.read()):
            pass
        self.process.wait(timeout=30)
        return message


def cpu_now(api_pid: int, clients: list[Client]) -> tuple[float, float]:
    """CPU seconds so far of the API process and of all subscriber processes."""
    return stack.cpu_seconds(api_pid), sum(stack.cpu_seconds(c.process.pid) for c in clients)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary_ms(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 50) * 1000, 1),
        "p99": round(percentile(values, 99) * 1000, 1),
        "max": round(max(values) * 1000, 1),
    }


def raise_open_files(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        if wanted < needed:
            raise SystemExit(f"error: need {needed} open files, the hard limit is {hard}")


def record_commits() -> list[float]:
    """When moto (in this process) applies each TransactWriteItems: the commit instants."""
    commits: list[float] = []
    apply = DynamoDBBackend.transact_write_items

    def timed(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        apply(self, transact_items)
        commits.append(time.monotonic())

    DynamoDBBackend.transact_write_items = timed  # type: ignore[method-assign]
    return commits


def commit_of(commits: list[float], write: dict[str, float]) -> float:
    """The write's commit: the one transaction moto applied while its request was open."""
    inside = [t for t in commits if write["sent"] <= t <= write["answered"]]
    if len(inside) != 1:
        raise RuntimeError(f"expected one commit during write {write['seq']}, saw {len(inside)}")
    return inside[0]


def profile(api: stack.Served, seconds: float, output: str) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(stack.REPO / ".venv/bin/py-spy")
    command = [spy, "record", "--pid", str(api.pid), "--duration", str(int(seconds))]
    return subprocess.Popen([*command, "--rate", "250", "--format", "raw", "--output", output])


def run(args: argparse.Namespace) -> dict[str, Any]:
    raise_open_files(2 * args.subscribers + 512)  # inherited by the API and the clients
    commits = record_commits()
    if args.pin:
        stack.pin(os.getpid(), 0)  # this process runs moto's server and the writer
    moto, endpoint = stack.start_moto()
    clients: list[Client] = []
    try:
        settings, keys = stack.seeded_table(endpoint)
        env = stack.api_env(settings)
        with (
            stack.uvicorn_process(
                ["--factory", "ff_api.app:create_app"], env, cpu=1 if args.pin else None
            ) as api,
            httpx.Client(base_url=api.url, timeout=30) as http,
        ):
            opened = time.monotonic()
            share = [args.subscribers // args.clients] * args.clients
            share[0] += args.subscribers - sum(share)
            clients = [Client(api.url, keys.server, n, 0 if args.pin else None) for n in share]
            starts = [c.read() for c in clients]
            connect_s = time.monotonic() - opened
            seq = max(s["seq"] for s in starts)
            writes: list[dict[str, float]] = []
            enabled = True
            headers = {"Authorization": f"Bearer {keys.admin}"}
            path = f"/api/v1/projects/demo/flags/{FLAG}/set-enabled-in"
            sampler = None
            for n in range(args.warmup + args.writes):
                if n == args.warmup:
                    cpu_before = cpu_now(api.pid, clients)
                if args.profile and n == args.warmup:
                    sampler = profile(api, args.writes * (args.gap + 0.25), args.profile)
                enabled = not enabled
                sent = time.monotonic()
                response = http.post(
                    path, json={"environments": ["production"], "enabled": enabled}, headers=headers
                )
                answered = time.monotonic()
                response.raise_for_status()
                seq += 1
                for client in clients:
                    client.wait_for(seq)
                writes.append({"seq": seq, "sent": sent, "answered": answered})
                time.sleep(args.gap)
            cpu_used = [b - a for a, b in zip(cpu_before, cpu_now(api.pid, clients), strict=True)]
            results = [c.finish() for c in clients]
            if sampler is not None:
                sampler.wait()
    finally:
        for client in clients:
            if client.process.poll() is None:
                client.process.kill()
                client.process.wait()
        moto.stop()

    measured = writes[args.warmup :]
    receipts: list[dict[str, list[float]]] = [r for res in results for r in res["receipts"]]
    last_from_commit, last_from_response, every_from_commit, every_from_response = [], [], [], []
    first_from_commit: list[float] = []
    duplicates = missing = 0
    for write in measured:
        commit = commit_of(commits, write)
        times = []
        for sub in receipts:
            got = sub.get(str(write["seq"]), [])
            duplicates += max(0, len(got) - 1)
            missing += not got
            times.extend(got[:1])
        last = max(times)
        last_from_commit.append(last - commit)
        first_from_commit.append(min(times) - commit)
        if args.verbose:
            print(
                f"write {write['seq']}: first subscriber {1000 * (min(times) - commit):.1f} ms,"
                f" last {1000 * (last - commit):.1f} ms after its commit (at {commit:.3f})",
                file=sys.stderr,
            )
        last_from_response.append(last - write["answered"])
        every_from_commit.extend(t - commit for t in times)
        every_from_response.extend(t - write["answered"] for t in times)
    return {
        "machine": stack.machine(),
        "subscribers": args.subscribers,
        "subscriber_processes": args.clients,
        "pinned": args.pin,
        "writes": len(measured),
        "warmup_writes": args.warmup,
        "connect_all_s": round(connect_s, 2),
        "write_request_to_response_ms": summary_ms([w["answered"] - w["sent"] for w in measured]),
        "write_commit_to_response_ms": summary_ms(
            [w["answered"] - commit_of(commits, w) for w in measured]
        ),
        "last_subscriber_from_commit_ms": summary_ms(last_from_commit),
        "last_subscriber_from_response_ms": summary_ms(last_from_response),
        # The first receipt: when the change left the follower, before the fan-out to all.
        "first_subscriber_from_commit_ms": summary_ms(first_from_commit),
        "every_receipt_from_commit_ms": summary_ms(every_from_commit),
        "every_receipt_from_response_ms": summary_ms(every_from_response),
        # CPU per measured write (fan-out included): the subscribers must not be the bottleneck.
        "cpu_ms_per_write": {
            "api": round(1000 * cpu_used[0] / len(measured), 1),
            "subscriber_processes": round(1000 * cpu_used[1] / len(measured), 1),
        },
        "duplicates": duplicates,
        "missing": missing,
        "target": "last subscriber p99 <= 250 ms",
    }


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--client":
        asyncio.run(subscribe(sys.argv[2], sys.argv[3], int(sys.argv[4])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=2, help="subscriber processes")
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=3, help="writes not counted")
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between writes")
    parser.add_argument("--verbose", action="store_true", help="each write's figure on stderr")
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the API alone on CPU 1; subscribers, writer and moto on CPU 0 (default: on)",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="also sample the API process with py-spy during the measured writes into FILE "
        "(collapsed stacks; needs `.venv/bin/pip install py-spy`)",
    )
    args = parser.parse_args()
    print(json.dumps(run(args), indent=2))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
