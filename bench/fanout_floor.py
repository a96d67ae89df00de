"""The floor under SSE fan-out on this machine: one process writing one event to N open
loopback connections, and nothing else.

bench/sse_bench.py measures ff's API; this measures what no server written on asyncio can
go below here. A minimal asyncio server (no HTTP parsing, no ASGI, no framework: it
answers each connection with a chunked 200 and a first event) runs pinned alone to CPU 1,
like the API in sse_bench.py; the same subscriber processes as sse_bench.py (its
``--client`` mode, pinned to CPU 0) open N streams to it. Then, ``--writes`` times, the
server writes one pre-framed event of ``--event-bytes`` (an SSE chunk with ``id: <n>``)
to every connection in one loop of ``transport.write`` calls, and the subscribers
timestamp each receipt.

Prints, as JSON: the server's CPU per write (the loop of writes: the socket send system
calls, which on loopback also run the receiver's TCP path), from the loop's start to the
last subscriber's receipt (p50/p99), and the subscriber processes' CPU per write.

    .venv/bin/python bench/fanout_floor.py --subscribers 10000 --clients 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time

import sse_bench
import stack

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def chunk(seq: int, size: int) -> bytes:
    """One SSE event of about ``size`` bytes as one HTTP/1.1 chunk, as uvicorn frames it."""
    head = f"event: upsert\r\nid: {seq}\r\ndata: ".encode()
    event = head + b"x" * max(0, size - len(head) - 4) + b"\r\n\r\n"
    return b"%x\r\n%s\r\n" % (len(event), event)


class Stream(asyncio.Protocol):
    def __init__(self, streams: list[asyncio.Transport], size: int) -> None:
        self._streams, self._size = streams, size

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._streams.append(transport)
        transport.write(HEAD + chunk(0, self._size))


async def serve(port_out: int, size: int, subscribers: int) -> None:
    """Server mode: listen, say the port, then on each stdin line ``<seq>`` write it to all."""
    sse_bench.raise_open_files(subscribers + 256)
    streams: list[asyncio.Transport] = []
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Stream(streams, size), "127.0.0.1", port_out, backlog=4096
    )
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    while line := await stdin.readline():
        data = chunk(int(line), size)
        started, cpu = time.monotonic(), time.process_time()
        for transport in streams:
            transport.write(data)
        spent = time.process_time() - cpu
        print(json.dumps({"started": started, "cpu_s": spent, "streams": len(streams)}), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4, help="subscriber processes")
    parser.add_argument("--writes", type=int, default=30)
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between writes")
    parser.add_argument("--event-bytes", type=int, default=1_500)
    parser.add_argument("--json", metavar="PATH", help="also write the figures to PATH")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # server mode
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(serve(args.serve, args.event_bytes, args.subscribers))
        return 0

    command = [sys.executable, __file__, "--serve", "0", "--event-bytes", str(args.event_bytes)]
    command += ["--subscribers", str(args.subscribers)]
    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    stack.pin(server.pid, 1)
    assert server.stdout is not None
    assert server.stdin is not None
    url = f"http://127.0.0.1:{json.loads(server.stdout.readline())['port']}"
    share = args.subscribers // args.clients
    clients = [
        sse_bench.Client(url, "-", share + (i < args.subscribers % args.clients), 0)
        for i in range(args.clients)
    ]
    try:
        for client in clients:
            client.read()  # ready
        client_cpu = sum(stack.cpu_seconds(c.process.pid) for c in clients)
        writes = []
        for seq in range(1, args.writes + 1):
            server.stdin.write(f"{seq}\n")
            server.stdin.flush()
            writes.append(json.loads(server.stdout.readline()))
            for client in clients:
                client.wait_for(seq)
            time.sleep(args.gap)
        client_cpu = sum(stack.cpu_seconds(c.process.pid) for c in clients) - client_cpu
        reports = [client.finish() for client in clients]
    finally:
        server.stdin.close()
        server.wait(30)
    last = []
    for seq, write in enumerate(writes, start=1):
        receipts = [t for r in reports for t in r["receipts"].get(str(seq), [])]
        if len(receipts) != args.subscribers:
            raise RuntimeError(f"write {seq}: {len(receipts)} of {args.subscribers} received")
        last.append(max(receipts) / 1e6 - write["started"])
    cpu = statistics.median(w["cpu_s"] for w in writes)  # the server's, per write
    figures = {
        "machine": stack.machine(),
        "subscribers": args.subscribers,
        "subscriber_processes": args.clients,
        "writes": args.writes,
        "event_bytes": len(chunk(1, args.event_bytes)),
        "server_cpu_ms_per_write": round(1000 * cpu, 1),
        "server_cpu_us_per_stream": round(1e6 * cpu / args.subscribers, 1),
        "last_subscriber_from_first_write_ms": sse_bench.summary_ms(last),
        "subscriber_processes_cpu_ms_per_write": round(1000 * client_cpu / args.writes, 1),
    }
    stack.report(figures, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
