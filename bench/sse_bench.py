"""SSE propagation: N subscribers of /api/v1/sdk/stream, then writes through the API.

The API runs as its own process (``python -m uvicorn --factory ff_api.app:serving_app``,
one worker, the same flags as ofrep_bench.py; ``--replicas 2`` runs two on the same table)
on moto's DynamoDB server (started here, holding the 50-flag project of bench/stack.py).
Subscribers are raw asyncio HTTP/1.1 connections with a server key (an ``asyncio.Protocol``
each, on uvloop when installed), split over ``--clients`` processes so that reading them
is not the bottleneck; each timestamps an event when the read that carried it returns.
Then ``--writes`` writes go through the API's management route
(``POST /api/v1/projects/demo/flags/bench-01/set-enabled-in``, flipping one flag in
production), one at a time: the next starts ``--gap`` seconds after every subscriber has
the previous one. With two replicas, writes go to the first; the second learns of them by
reading the change log every poll interval (``--poll``), as replicas behind a load
balancer do, and half the subscribers are on each.

Memory: the API's resident set (``VmRSS``) before the subscribers connect and once they
all are connected and idle; the difference per subscriber is the cost of an idle stream.

Frozen subscribers (``--frozen K``, issue 9.4): K more connections that read their first
event and then stop reading (a small receive buffer, reading paused), so the API's socket
buffers fill. The others' figures show whether they delay anyone; at the end the frozen
ones read again and must find their stream closed by the API.

Pinning (``--pin``, the default on two or more CPUs): the API alone on CPU 1; the
subscriber processes, the writer and moto on CPU 0.

Clocks: every process reads ``time.monotonic()`` (Linux CLOCK_MONOTONIC, one clock for
all processes on the machine). The commit is the instant moto, in this process, finished
applying the write's TransactWriteItems (timed around moto's own method): the headline
"from commit". The first subscriber's receipt splits the latency into reaching the API's
subscriber hub (change-log read and flag read on moto) and the fan-out to every stream.
CPU per write of the API and of the subscriber processes shows which side is the
bottleneck.

    .venv/bin/python bench/sse_bench.py                          # 1,000 subscribers
    .venv/bin/python bench/sse_bench.py --subscribers 10000 --clients 4
    .venv/bin/python bench/sse_bench.py --replicas 2             # cross-replica
    .venv/bin/python bench/sse_bench.py --frozen 1 --writes 300  # issue 9.4
    .venv/bin/python bench/sse_bench.py --quick --json out.json  # for bench/run_all.py
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
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import stack
from moto.dynamodb.models import DynamoDBBackend

STREAM = "/api/v1/sdk/stream"
FLAG = "bench-01"  # starts enabled in production; each write flips it
_ID = re.compile(rb"\nid: *(\d+)\r?\n")
FROZEN_RCVBUF = 4096  # the kernel's minimum is about this; it doubles it for bookkeeping


# -- the subscriber processes ---------------------------------------------------------------------


class Subscriber(asyncio.Protocol):
    """One SSE connection: timestamps each event id as the read that carried it returns.

    Event ids are found in the raw bytes (``\\nid: <n>\\r\\n``; the API sends each event,
    or a batch's events, as one chunk, so a chunk-size line never splits one); only
    complete events count.
    """

    def __init__(self, seen: Callable[[int], None], frozen: bool = False) -> None:
        self.receipts: dict[int, float] = {}
        self.duplicates = 0
        self.first: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.frozen = frozen
        self.bytes_after_thaw = 0
        self.transport: asyncio.Transport | None = None
        self._seen = seen
        self._tail = b""
        self._head = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transport is no asyncio.Transport subclass, but has the same methods.
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if self.first.done() and self.frozen:
            self.bytes_after_thaw += len(data)
            return
        data = self._tail + data
        if self._head:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self._tail = data
                return
            head = data[:end]
            if not head.startswith(b"HTTP/1.1 200") or b"chunked" not in head.lower():
                raise RuntimeError(f"unexpected response: {head[:200]!r}")
            self._head = False
            data = data[end + 2 :]
        complete = data.rfind(b"\r\n\r\n")
        if complete < 0:
            self._tail = data
            return
        # The tail keeps the blank line's last CRLF: the next event's id line starts a line.
        self._tail = data[complete + 2 :]
        for match in _ID.finditer(data, 0, complete + 2):
            seq = int(match.group(1))
            if seq in self.receipts:
                self.duplicates += 1
                continue
            self.receipts[seq] = now
            if not self.first.done():
                self.first.set_result(seq)
                if self.frozen and self.transport is not None:
                    self.transport.pause_reading()  # from now on the API's buffers fill
            else:
                self._seen(seq)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def subscribe(url: str, key: str, count: int, frozen: bool) -> None:
    """Client mode: open ``count`` streams, say READY, then report each seq all of them have."""
    raise_open_files(count + 256)
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    seen: dict[int, int] = {}
    loop = asyncio.get_running_loop()

    def on_event(seq: int) -> None:
        seen[seq] = seen.get(seq, 0) + 1
        if seen[seq] == count:  # the last of this process's subscribers has it
            emit({"all": seq})

    request = (
        f"GET {STREAM} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    ).encode()
    subscribers = [Subscriber(on_event, frozen) for _ in range(count)]
    for i, sub in enumerate(subscribers):
        sock = socket.socket()
        if frozen:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, FROZEN_RCVBUF)
        sock.setblocking(False)
        await loop.sock_connect(sock, (host, port))
        await loop.create_connection(lambda s=sub: s, sock=sock)  # type: ignore[misc]
        assert sub.transport is not None
        sub.transport.write(request)
        if i % 50 == 49:  # open in waves: the API builds a 50-flag snapshot per connection
            await asyncio.gather(*(s.first for s in subscribers[i - 49 : i + 1]))
    await asyncio.gather(*(s.first for s in subscribers))
    emit({"ready": count, "seq": max(s.first.result() for s in subscribers)})
    for sub in subscribers:
        sub.closed.add_done_callback(lambda _: emit({"closed": "a stream ended"}))
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    await stdin.readline()  # "done"
    report: dict[str, Any] = {}
    if frozen:
        # Read again: what the API had buffered, then the end of a stream it closed.
        for sub in subscribers:
            sub.closed = loop.create_future()  # no more "closed" messages
            assert sub.transport is not None
            sub.transport.resume_reading()
        await asyncio.wait([s.closed for s in subscribers], timeout=15)
        report["frozen_closed_by_api"] = sum(s.closed.done() for s in subscribers)
        report["frozen_bytes_after_thaw"] = [s.bytes_after_thaw for s in subscribers]
    for sub in subscribers:
        if sub.transport is not None:
            sub.transport.abort()
    # Receipts per seq, in µs of CLOCK_MONOTONIC, for the driver's percentiles.
    by_seq: dict[int, list[int]] = {}
    for sub in subscribers:
        for seq, at in sub.receipts.items():
            by_seq.setdefault(seq, []).append(round(at * 1e6))
    report["receipts"] = {str(k): v for k, v in by_seq.items()}
    report["duplicates"] = sum(s.duplicates for s in subscribers)
    emit(report)


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def client_main(url: str, key: str, count: int, frozen: bool) -> None:
    try:
        import uvloop  # type: ignore[import-not-found]  # optional: reads sockets for less

        uvloop.run(subscribe(url, key, count, frozen))
    except ImportError:
        asyncio.run(subscribe(url, key, count, frozen))


# -- the driver ---------------------------------------------------------------------------------


class Client:
    """A subscriber process, driven over its stdin and stdout (one JSON message a line)."""

    def __init__(
        self, url: str, key: str, count: int, cpu: int | None, *, frozen: bool = False
    ) -> None:
        command = [sys.executable, __file__, "--client", url, key, str(count)]
        command += ["frozen"] if frozen else []
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        if cpu is not None:
            stack.pin(self.process.pid, cpu)
        self.url = url
        self.count = count
        self.frozen = frozen
        self.have = 0
        self._buffer = b""

    def read(self, timeout_s: float = 300) -> dict[str, Any]:
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
        if "closed" in message and not self.frozen:
            raise RuntimeError(f"a subscriber's stream ended: {message['closed']}")
        if "all" in message:
            self.have = max(self.have, message["all"])
        return message

    def wait_for(self, seq: int, timeout_s: float = 60) -> None:
        while self.have < seq:
            self.read(timeout_s)

    def finish(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(b"done\n")
        self.process.stdin.flush()
        while "receipts" not in (message := self.read()):
            pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # it said all it had to; closing sockets is slow
            self.process.kill()
            self.process.wait()
        return message


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


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


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


def profile(pid: int, seconds: float, output: str) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(stack.REPO / ".venv/bin/py-spy")
    command = [spy, "record", "--pid", str(pid), "--duration", str(int(seconds))]
    return subprocess.Popen([*command, "--rate", "250", "--format", "raw", "--output", output])


SERVERS = {
    "auto": [],  # what uvicorn picks, as `ff api` runs: uvloop and httptools when installed
    "asyncio-h11": ["--loop", "asyncio", "--http", "h11"],
    "asyncio-httptools": ["--loop", "asyncio", "--http", "httptools"],
    "uvloop-httptools": ["--loop", "uvloop", "--http", "httptools"],
}


def run(args: argparse.Namespace) -> dict[str, Any]:
    # Inherited by the API processes: each holds its share of the sockets.
    raise_open_files(args.subscribers // args.replicas + args.frozen + 1024)
    commits = record_commits()
    if args.pin:
        stack.pin(os.getpid(), 0)  # this process runs moto's server and the writer
    moto, endpoint = stack.start_moto()
    clients: list[Client] = []
    try:
        settings, keys = stack.seeded_table(endpoint)
        extra = {
            "poll_interval_s": str(args.poll),
            "rate_limit_per_key_rps": "0",  # every subscriber shares one key
            "usage_flush_s": "0",  # no other writes on moto than the measured ones
            **({"subscriber_queue_size": str(args.queue)} if args.queue else {}),
        }
        env = stack.api_env(settings, **extra)
        target = [*SERVERS[args.server], "--factory", "ff_api.app:serving_app"]
        with contextlib.ExitStack() as running:
            apis = [
                running.enter_context(
                    stack.uvicorn_process(target, env, cpu=1 if args.pin else None)
                )
                for _ in range(args.replicas)
            ]
            http = running.enter_context(httpx.Client(base_url=apis[0].url, timeout=30))
            for api in apis:  # load the project, as the first subscriber would
                stream_once(api.url, keys.server)
            rss_before = [rss_kb(api.pid) for api in apis]
            opened = time.monotonic()
            processes = max(args.clients, args.replicas)
            share = [args.subscribers // processes] * processes
            share[0] += args.subscribers - sum(share)
            cpu = 0 if args.pin else None
            clients = [
                Client(apis[i % args.replicas].url, keys.server, n, cpu)
                for i, n in enumerate(share)
            ]
            if args.frozen:
                clients.append(Client(apis[0].url, keys.server, args.frozen, cpu, frozen=True))
            starts = [c.read() for c in clients]
            connect_s = time.monotonic() - opened
            time.sleep(1)  # idle
            rss_idle = [rss_kb(api.pid) for api in apis]
            seq = max(s["seq"] for s in starts)
            live = [c for c in clients if not c.frozen]
            writes: list[dict[str, float]] = []
            enabled = True
            headers = {"Authorization": f"Bearer {keys.admin}"}
            path = f"/api/v1/projects/demo/flags/{FLAG}/set-enabled-in"
            sampler = None
            for n in range(args.warmup + args.writes):
                if n == args.warmup:
                    cpu_before = cpu_now(apis, live)
                if args.profile and n == args.warmup:
                    seconds = args.writes * (args.gap + 0.3 + args.subscribers / 20_000)
                    sampler = profile(apis[0].pid, seconds, args.profile)
                enabled = not enabled
                sent = time.monotonic()
                response = http.post(
                    path, json={"environments": ["production"], "enabled": enabled}, headers=headers
                )
                answered = time.monotonic()
                response.raise_for_status()
                seq += 1
                for client in live:
                    client.wait_for(seq)
                writes.append({"seq": seq, "sent": sent, "answered": answered})
                time.sleep(args.gap)
            cpu_used = [b - a for a, b in zip(cpu_before, cpu_now(apis, live), strict=True)]
            rss_after = [rss_kb(api.pid) for api in apis]
            streams_open = [open_streams(api.url) for api in apis]
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
    report: dict[str, Any] = {
        "machine": stack.machine(),
        "server": args.server,
        "subscribers": args.subscribers,
        "replicas": args.replicas,
        "poll_interval_s": args.poll,
        "subscriber_processes": len(live),
        "pinned": args.pin,
        "writes": len(measured),
        "warmup_writes": args.warmup,
        "connect_all_s": round(connect_s, 2),
        "write_request_to_response_ms": summary_ms([w["answered"] - w["sent"] for w in measured]),
    }
    for replica in range(args.replicas):
        mine = [(c, r) for c, r in zip(clients, results, strict=True) if not c.frozen]
        mine = [(c, r) for i, (c, r) in enumerate(mine) if i % args.replicas == replica]
        name = "" if args.replicas == 1 else ("writing_replica_" if replica == 0 else "other_")
        count = sum(c.count for c, _ in mine)
        report.update(latencies(commits, measured, [r for _, r in mine], count, name, args.verbose))
    report["idle_memory"] = {
        "api_rss_mb_before": [round(r / 1024, 1) for r in rss_before],
        "api_rss_mb_idle": [round(r / 1024, 1) for r in rss_idle],
        "api_rss_mb_after_writes": [round(r / 1024, 1) for r in rss_after],
        "kb_per_idle_subscriber": round(
            sum(i - b for i, b in zip(rss_idle, rss_before, strict=True))
            / (args.subscribers + args.frozen),
            1,
        ),
    }
    # CPU per measured write (fan-out included): the subscribers must not be the bottleneck.
    report["cpu_ms_per_write"] = {
        "api": round(1000 * sum(cpu_used[: len(apis)]) / len(measured), 1),
        "subscriber_processes": round(1000 * sum(cpu_used[len(apis) :]) / len(measured), 1),
    }
    report["duplicates"] = sum(r["duplicates"] for r in results)
    if args.frozen:
        frozen = next(r for c, r in zip(clients, results, strict=True) if c.frozen)
        report["frozen"] = {
            "subscribers": args.frozen,
            "closed_by_api": frozen["frozen_closed_by_api"],
            "max_bytes_buffered_for_one": max(frozen["frozen_bytes_after_thaw"]),
            "streams_open_at_end": streams_open,
        }
    report["target"] = (
        "last subscriber p99 <= 250 ms at 10,000; <= 20 KB per idle subscriber"
        if args.replicas == 1
        else f"other replica's last subscriber p99 <= poll interval + 250 ms = "
        f"{1000 * args.poll + 250:.0f} ms"
    )
    return report


def latencies(
    commits: list[float],
    measured: list[dict[str, float]],
    results: list[dict[str, Any]],
    subscribers: int,
    name: str,
    verbose: bool,
) -> dict[str, Any]:
    """Per write: when its last and first subscriber had it, and every receipt."""
    receipts: dict[str, list[int]] = {}
    for result in results:
        for seq, times in result["receipts"].items():
            receipts.setdefault(seq, []).extend(times)
    last: list[float] = []
    first: list[float] = []
    every: list[float] = []
    missing = 0
    for write in measured:
        commit = commit_of(commits, write)
        times = [t / 1e6 for t in receipts.get(str(write["seq"]), [])]
        missing += max(0, subscribers - len(times))
        last.append(max(times) - commit)
        first.append(min(times) - commit)
        every.extend(t - commit for t in times)
        if verbose:
            print(
                f"write {write['seq']}: {name}first subscriber {1000 * first[-1]:.1f} ms,"
                f" last {1000 * last[-1]:.1f} ms after its commit",
                file=sys.stderr,
            )
    return {
        f"{name}last_subscriber_from_commit_ms": summary_ms(last),
        # The first receipt: when the change left the follower, before the fan-out to all.
        f"{name}first_subscriber_from_commit_ms": summary_ms(first),
        f"{name}every_receipt_from_commit_ms": summary_ms(every),
        f"{name}missing": missing,
    }


def cpu_now(apis: list[stack.Served], clients: list[Client]) -> list[float]:
    """CPU seconds so far of each API process, then of each subscriber process."""
    return [stack.cpu_seconds(a.pid) for a in apis] + [
        stack.cpu_seconds(c.process.pid) for c in clients
    ]


def stream_once(url: str, key: str) -> None:
    """Open a stream, read its snapshot, close: the API loads the project."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.stream("GET", url + STREAM, headers=headers, timeout=30) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("data:"):
                return


def open_streams(url: str) -> float:
    """The API's own count of open streams (``ff_sse_subscribers`` on /metrics)."""
    for line in httpx.get(url + "/metrics", timeout=30).text.splitlines():
        if line.startswith("ff_sse_subscribers "):
            return float(line.split()[1])
    raise RuntimeError("no ff_sse_subscribers on /metrics")


def main() -> int:
    if len(sys.argv) in (5, 6) and sys.argv[1] == "--client":
        client_main(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:] == ["frozen"])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument(
        "--clients", type=int, help="subscriber processes (default: one per 2,500, at least 2)"
    )
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=3, help="writes not counted")
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between writes")
    parser.add_argument("--replicas", type=int, choices=(1, 2), default=1)
    parser.add_argument(
        "--poll", type=float, default=1.0, help="each replica's change-log poll interval (s)"
    )
    parser.add_argument(
        "--server",
        choices=sorted(SERVERS),
        default="auto",
        help="uvicorn's loop and HTTP implementation (default: what it picks, as `ff api`)",
    )
    parser.add_argument("--frozen", type=int, default=0, help="subscribers that stop reading")
    parser.add_argument("--queue", type=int, help="FF_SUBSCRIBER_QUEUE_SIZE of the API")
    parser.add_argument("--quick", action="store_true", help="20 writes (for bench/run_all.py)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to PATH")
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
        help="also sample the (first) API process with py-spy during the measured writes into "
        "FILE (collapsed stacks; needs `.venv/bin/pip install py-spy`)",
    )
    args = parser.parse_args()
    if args.quick:
        args.writes, args.warmup = min(args.writes, 20), min(args.warmup, 2)
    if args.clients is None:
        args.clients = max(2, -(-args.subscribers // 2500))
    report = run(args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as out:
            out.write(text + "\n")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
