"""Rate limiting per key: what the limiter costs a request, and whether one noisy key raises
the other keys' p99 (issue 9, point 12: by no more than 20 %).

1. Overhead (in process, no server): the middleware's work per request (find the
   credential among an OFREP request's headers, hash it, take a token) timed in batches,
   a whole ASGI call through ``RateLimitMiddleware`` against the same call without it, and
   what a refused request costs through the whole app.
2. Noise (the real app on loopback, one uvicorn worker over moto's server): quiet keys
   send paced OFREP bulk requests and their latencies are recorded, while one noisy key
   (a separate process) hammers at ``--noise-rps`` every other turn of ``--period`` s.
   The figure is p99(quiet, noisy turns) / p99(quiet, calm turns). A second API with the
   limit off (``--no-compare`` leaves it out) takes its turns in the same run, to show
   what the noise costs the others when nothing stops it: the four conditions recur every
   few seconds, so load from elsewhere on the machine falls on all of them alike.

    .venv/bin/python bench/ratelimit_bench.py [--json PATH]

Bounded: the defaults take about three minutes. The load generators are raw asyncio sockets
(a request is a pre-built byte string), so that the client's cost stays small next to
the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import stack
from starlette.types import Message

from ff_api import ApiSettings, create_app
from ff_api.ratelimit import RateLimiter, RateLimitMiddleware, credentials

OFREP_PATH = "/ofrep/v1/evaluate/flags"
_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")


# -- 1. overhead --------------------------------------------------------------------------


def _scope(key: str) -> dict[str, Any]:
    headers = [
        (b"host", b"127.0.0.1:8080"),
        (b"user-agent", b"python-httpx/0.28"),
        (b"accept", b"*/*"),
        (b"accept-encoding", b"gzip, deflate"),
        (b"connection", b"keep-alive"),
        (b"content-type", b"application/json"),
        (b"content-length", b"64"),
        (b"authorization", f"Bearer {key}".encode()),
    ]
    return {"type": "http", "method": "POST", "path": OFREP_PATH, "headers": headers}


def _per_call_ns(fn: Callable[[], object], batches: int, size: int) -> dict[str, float]:
    samples = []
    for _ in range(batches):
        started = time.perf_counter_ns()
        for _ in range(size):
            fn()
        samples.append((time.perf_counter_ns() - started) / size)
    samples.sort()
    return {
        "median_ns": round(statistics.median(samples)),
        "p10_ns": round(samples[len(samples) // 10]),
        "p90_ns": round(samples[len(samples) * 9 // 10]),
    }


def refusal_us(calls: int = 2_000, repeats: int = 5) -> float:
    """A 429 through the whole app (every middleware: access log, metrics, CORS, limit):
    what each request of a refused noisy key still costs the replica. Best of ``repeats``."""
    app = create_app(ApiSettings(rate_limit_per_key_rps=0.001, rate_limit_burst=1))

    def scope(path: str) -> dict[str, Any]:
        return {
            **_scope("ffs_noisy_" + "n" * 40),
            "path": path,
            "raw_path": path.encode(),
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "scheme": "http",
            "query_string": b"",
            "root_path": "",
            "server": ("127.0.0.1", 8080),
            "client": ("127.0.0.1", 50000),
        }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    statuses: list[int] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def calls_s() -> float:
        started = time.perf_counter()
        for _ in range(calls):
            await app(scope(OFREP_PATH), receive, send)
        return (time.perf_counter() - started) / calls

    loop = asyncio.new_event_loop()
    try:
        # /healthz needs no store: it spends the key's one token, so every call after is a 429.
        loop.run_until_complete(app(scope("/healthz"), receive, send))
        best = min(loop.run_until_complete(calls_s()) for _ in range(repeats))
    finally:
        loop.close()
    assert set(statuses[1:]) == {429}, set(statuses)
    return round(best * 1e6, 1)


def overhead(batches: int = 50, size: int = 10_000) -> dict[str, Any]:
    keys = [f"ffs_{i:04d}_" + "x" * 40 for i in range(1_000)]  # 1,000 keys in rotation
    scopes = [_scope(k) for k in keys]
    limiter = RateLimiter(1e9, 10**9)
    turn = iter(range(10**12))

    def limit_only() -> object:
        return max(limiter.acquire(hash(raw)) for raw in credentials(scopes[next(turn) % 1_000]))

    async def endpoint(scope: Any, receive: Any, send: Any) -> None:
        return None

    wrapped = RateLimitMiddleware(endpoint, limiter)
    loop = asyncio.new_event_loop()

    def asgi(app: Any) -> Callable[[], object]:
        async def batch() -> None:
            for i in range(size):
                await app(scopes[i % 1_000], None, None)

        return lambda: loop.run_until_complete(batch())

    try:
        bare = _per_call_ns(asgi(endpoint), batches, 1)
        through = _per_call_ns(asgi(wrapped), batches, 1)
    finally:
        loop.close()
    return {
        "refusal_through_the_app_us": refusal_us(),
        "credentials_hash_acquire": _per_call_ns(limit_only, batches, size),
        "asgi_call_without_ns": round(bare["median_ns"] / size),
        "asgi_call_with_ns": round(through["median_ns"] / size),
        "added_ns": round((through["median_ns"] - bare["median_ns"]) / size),
    }


# -- 2. noise ------------------------------------------------------------------------------


def _request(url: str, key: str, body: bytes) -> bytes:
    host = urlsplit(url).netloc
    head = (
        f"POST {OFREP_PATH} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes, batch: int
) -> list[int]:
    """Send ``request`` ``batch`` times in one write (HTTP/1.1 pipelining, which uvicorn
    answers in order) and read every answer; their statuses."""
    writer.write(request * batch)
    await writer.drain()
    statuses = []
    for _ in range(batch):
        head = await reader.readuntil(b"\r\n\r\n")
        length = _LENGTH.search(head)
        await reader.readexactly(int(length.group(1)) if length else 0)
        statuses.append(int(head[9:12]))
    return statuses


class Schedule:
    """Turns of ``period`` s from ``t0`` (``time.monotonic``: one clock for every process
    on the machine), cycling over the servers: server i is measured calm in turns 2i and
    with the noise on it in turns 2i + 1 (mod 2 x servers). Every condition recurs every
    few seconds, so load from elsewhere that comes and goes falls on all of them alike."""

    def __init__(self, t0: float, period: float, cycles: int, servers: int) -> None:
        self.t0, self.period, self.cycles, self.servers = t0, period, cycles, servers
        self.length = 2 * servers
        self.end = t0 + self.length * period * cycles

    def turn(self, t: float) -> int:
        return int((t - self.t0) // self.period)

    def waiter(self, turns: set[int]) -> Callable[[float], float]:
        """For a sender active in ``turns`` (mod the cycle): 0 when ``t`` is in one of
        them, else the seconds until the next one starts."""

        def wait(t: float) -> float:
            turn = self.turn(t)
            if t >= self.t0 and turn % self.length in turns:
                return 0.0
            ahead = next(d for d in range(1, self.length + 1) if (turn + d) % self.length in turns)
            return self.t0 + (turn + ahead) * self.period - t

        return wait


async def _paced(
    url: str,
    request: bytes,
    rps: float,
    until: float,
    samples: list[tuple[float, float]] | None,
    batch: int = 1,
    wait: Callable[[float], float] | None = None,
) -> dict[int, int]:
    """One connection sending ``request`` at ``rps`` until ``until``, ``batch`` at a time
    (closed loop when the server is slower), only while ``wait`` says 0; each (send time,
    latency) appended to ``samples``."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    statuses: dict[int, int] = {}
    interval = batch / rps
    next_at = time.monotonic()
    try:
        while next_at < until:
            paused = wait(next_at) if wait is not None else 0.0
            if paused:
                next_at += paused
                continue
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            started = time.monotonic()
            answered = await _exchange(reader, writer, request, batch)
            if samples is not None:
                samples.append((started, time.monotonic() - started))
            for status in answered:
                statuses[status] = statuses.get(status, 0) + 1
            next_at = max(next_at + interval, time.monotonic() - interval)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return statuses


def _merge(counts: list[dict[int, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for count in counts:
        for status, n in count.items():
            merged[str(status)] = merged.get(str(status), 0) + n
    return merged


async def _noise(
    urls: list[str], key: str, rps: float, connections: int, batch: int, schedule: Schedule
) -> None:
    """The noisy key, on each server in its noisy turns; the statuses by server."""
    request = [_request(url, key, b'{"context":{"targetingKey":"noisy"}}') for url in urls]
    counts = await asyncio.gather(
        *(
            _paced(
                url,
                request[i],
                rps / connections,
                schedule.end,
                None,
                batch,
                schedule.waiter({2 * i + 1}),
            )
            for i, url in enumerate(urls)
            for _ in range(connections)
        )
    )
    by_server = [
        _merge(list(counts[i * connections : (i + 1) * connections])) for i in range(len(urls))
    ]
    print(json.dumps(by_server), flush=True)


async def _quiet(
    urls: list[str], keys: list[str], rps: float, schedule: Schedule
) -> list[dict[str, Any]]:
    """The quiet keys, on each server in both of its turns: samples and statuses by server."""
    bodies = [f'{{"context":{{"targetingKey":"user-{i}"}}}}'.encode() for i in range(len(keys))]
    samples: list[list[tuple[float, float]]] = [[] for _ in urls]
    counts = await asyncio.gather(
        *(
            _paced(
                url,
                _request(url, key, body),
                rps,
                schedule.end,
                samples[i],
                wait=schedule.waiter({2 * i, 2 * i + 1}),
            )
            for i, url in enumerate(urls)
            for key, body in zip(keys, bodies, strict=True)
        )
    )
    n = len(keys)
    return [
        {"samples": samples[i], "statuses": _merge(list(counts[i * n : (i + 1) * n]))}
        for i in range(len(urls))
    ]


def _add(into: dict[str, int], more: dict[str, int]) -> None:
    for status, n in more.items():
        into[status] = into.get(status, 0) + n


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1_000, 3)


def _create_keys(url: str, admin: str, count: int) -> list[str]:
    raws = []
    for i in range(count):
        response = httpx.post(
            f"{url}/api/v1/projects/demo/keys",
            json={"kind": "server", "name": f"bench-{i}", "environment": "production"},
            headers={"Authorization": f"Bearer {admin}"},
            timeout=10,
        )
        response.raise_for_status()
        raws.append(response.json()["raw_key"])
    return raws


def measure(
    urls: list[str], quiet: list[str], noisy: str, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """One run over every server; a result per server."""
    warm = Schedule(time.monotonic(), 0.5, 1, len(urls))
    asyncio.run(_quiet(urls, quiet, args.quiet_rps, warm))  # caches and connections
    schedule = Schedule(time.monotonic() + 1.0, args.period, args.cycles, len(urls))
    command = [sys.executable, __file__, "--noise-worker", ",".join(urls), noisy]
    command += [str(args.noise_rps), str(args.noise_connections), str(args.noise_batch)]
    command += [str(schedule.t0), str(schedule.period), str(schedule.cycles)]
    noise = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        if args.pin:  # both load generators on CPU 0, the servers on CPU 1
            stack.pin(noise.pid, 0)
            stack.pin(os.getpid(), 0)
        done = asyncio.run(_quiet(urls, quiet, args.quiet_rps, schedule))
        out, _ = noise.communicate(timeout=60)
    finally:
        if noise.poll() is None:
            noise.kill()
            noise.wait()
    sent = json.loads(out.strip().splitlines()[-1])
    return [_summary(i, done[i], sent[i], schedule, args) for i in range(len(urls))]


def _summary(
    server: int,
    done: dict[str, Any],
    sent: dict[str, int],
    schedule: Schedule,
    args: argparse.Namespace,
) -> dict[str, Any]:
    # A sample counts when it was sent at least ``guard`` s into its turn and answered
    # before the turn ended: calm (turn 2i) or noisy (turn 2i + 1).
    by_cycle: dict[int, tuple[list[float], list[float]]] = {}
    for sent_at, latency in done["samples"]:
        turn = schedule.turn(sent_at)
        into = sent_at - schedule.t0 - turn * schedule.period
        if turn < 0 or not args.guard <= into < schedule.period - latency:
            continue
        calm, loud = by_cycle.setdefault(turn // schedule.length, ([], []))
        (loud if turn % 2 else calm).append(latency)
    calm_all = [x for c, _ in by_cycle.values() for x in c]
    loud_all = [x for _, lo in by_cycle.values() for x in lo]
    thirds: list[float | None] = []
    for part in range(3 if schedule.cycles >= 3 else 0):
        cycles = [c for c in by_cycle if c * 3 // schedule.cycles == part]
        calm = [x for c in cycles for x in by_cycle[c][0]]
        loud = [x for c in cycles for x in by_cycle[c][1]]
        # A third can come out empty when the machine stalls the clients for whole turns.
        thirds.append(round(_p(loud, 0.99) / _p(calm, 0.99), 3) if calm and loud else None)
    return {
        "quiet_requests": {"without_noise": len(calm_all), "with_noise": len(loud_all)},
        "p50_ms": {"without_noise": _p(calm_all, 0.5), "with_noise": _p(loud_all, 0.5)},
        "p99_ms": {"without_noise": _p(calm_all, 0.99), "with_noise": _p(loud_all, 0.99)},
        "p99_ratio": round(_p(loud_all, 0.99) / _p(calm_all, 0.99), 3),
        "p99_ratio_by_third_of_the_run": thirds,
        "quiet_statuses": done["statuses"],
        "noise_statuses": sent,
        "noise_rps_while_on": round(sum(sent.values()) / (schedule.cycles * schedule.period)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cycles", type=int, default=15, help="rounds of (calm, noisy) turns on each server"
    )
    parser.add_argument("--period", type=float, default=1.0, help="seconds per turn")
    parser.add_argument(
        "--guard", type=float, default=0.1, help="seconds of each turn left out (switching)"
    )
    parser.add_argument("--quiet-keys", type=int, default=4)
    parser.add_argument("--quiet-rps", type=float, default=20.0, help="per quiet key")
    # Enough to saturate the API without the limit (1,000 a second did not on this machine).
    parser.add_argument("--noise-rps", type=float, default=4_000.0)
    parser.add_argument("--noise-connections", type=int, default=8)
    parser.add_argument("--limit-rps", type=float, default=100.0, help="the per-key limit")
    parser.add_argument("--limit-burst", type=int, default=100)
    parser.add_argument("--no-compare", dest="compare", action="store_false")
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    parser.add_argument("--json", metavar="PATH", help="also write the summary here")
    parser.add_argument(
        "--noise-batch", type=int, default=1, help="pipelined requests per write (burstier noise)"
    )
    parser.add_argument("--noise-worker", nargs=8, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.noise_worker:
        urls, key, rps, connections, batch, t0, period, cycles = args.noise_worker
        targets = urls.split(",")
        schedule = Schedule(float(t0), float(period), int(cycles), len(targets))
        asyncio.run(_noise(targets, key, float(rps), int(connections), int(batch), schedule))
        return 0

    summary: dict[str, Any] = {"machine": stack.machine(), "overhead": overhead()}
    print(json.dumps({"overhead": summary["overhead"]}), flush=True)
    moto, endpoint = stack.start_moto()
    try:
        settings, keys = stack.seeded_table(endpoint)
        configs = {"limit_on": (args.limit_rps, args.limit_burst)}
        if args.compare:
            configs["limit_off"] = (0.0, 1)
        target = ["--factory", "ff_api.app:serving_app"]
        with contextlib.ExitStack() as servers:
            urls = []
            for rps, burst in configs.values():
                env = stack.api_env(
                    settings, rate_limit_per_key_rps=str(rps), rate_limit_burst=str(burst)
                )
                served = stack.uvicorn_process(target, env, cpu=1 if args.pin else None)
                urls.append(servers.enter_context(served).url)
            created = _create_keys(urls[0], keys.admin, args.quiet_keys)
            results = measure(urls, created, keys.server, args)
        for name, result in zip(configs, results, strict=True):
            summary[name] = result
            print(json.dumps({name: result}), flush=True)
    finally:
        moto.stop()
    summary["parameters"] = {
        k: v for k, v in vars(args).items() if k not in ("json", "noise_worker")
    }
    summary["target"] = "p99_ratio <= 1.2 with the limit on"
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
