"""A fault-injecting HTTP proxy between botocore and moto's DynamoDB server.

The real DynamoStore talks HTTP to the proxy, which forwards to moto unless its policy
says otherwise: close the connection before forwarding (the request never reached the
store), forward and then close (the store committed, the response was lost), forward and
then answer 500 (an error after the commit), answer ThrottlingException without
forwarding, or hold the request until the client times out. ``down()`` stops listening
(connection refused) until ``up()``. It runs on its own thread and event loop, so that the
API's loop, the test's loop and moto's threads all reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from enum import StrEnum
from typing import Any, TypeVar

import httpx
import orjson

T = TypeVar("T")
_HOP_HEADERS = frozenset(
    {"host", "content-length", "connection", "transfer-encoding", "keep-alive", "content-encoding"}
)


class Fault(StrEnum):
    NONE = "none"
    REFUSE = "refuse"  # connection closed before the request reached the store
    LOSE = "lose"  # forwarded (committed), then the connection closed without a response
    ERROR_AFTER = "error_after"  # forwarded (committed), then 500 InternalServerError
    THROTTLE = "throttle"  # ThrottlingException, not forwarded
    HANG = "hang"  # no answer until the client gives up; not forwarded


Policy = Callable[[str], Fault]


def passthrough(target: str) -> Fault:
    return Fault.NONE


def always(fault: Fault) -> Policy:
    return lambda target: fault


def _error(status: int, code: str, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    body = orjson.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message})
    return status, [("Content-Type", "application/x-amz-json-1.0")], body


class FaultProxy:
    def __init__(
        self,
        upstream: str,
        policy: Policy = passthrough,
        hang_s: float = 30.0,
        *,
        serialize: bool = False,
    ) -> None:
        self.upstream = upstream
        self.policy = policy
        self.hang_s = hang_s
        # One request at a time to moto, whose transactions are not isolated from each other
        # (a cancelled one rolls back by restoring a copy of the tables taken before it ran,
        # undoing whatever committed meanwhile); DynamoDB isolates them.
        self._serial = asyncio.Lock() if serialize else None
        # Requests seen by fault, and by (operation, fault); read them after the traffic.
        self.counts: Counter[Fault] = Counter()
        self.by_operation: Counter[tuple[str, Fault]] = Counter()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._http: httpx.AsyncClient | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        self._thread.start()
        self._run(self._listen())
        return self.url

    def stop(self) -> None:
        self._run(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def down(self) -> None:
        """Refuse connections (and cut open ones) until ``up()``."""
        self._run(self._unlisten())

    def up(self) -> None:
        self._run(self._listen())

    def _run(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=30)

    async def _listen(self) -> None:
        if self._http is None:
            self._http = httpx.AsyncClient(base_url=self.upstream, timeout=60)
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _unlisten(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()

    async def _close(self) -> None:
        await self._unlisten()
        if self._http is not None:
            await self._http.aclose()
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:  # connections still held (HANG)
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while await self._one(reader, writer):
                pass
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        except asyncio.CancelledError:
            pass  # the proxy is stopping: a held request ends with it
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Handle one request; False closes the connection."""
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
        method, path, _ = request_line.split(" ", 2)
        headers = [tuple(line.split(":", 1)) for line in lines if ":" in line]
        pairs = [(k.strip(), v.strip()) for k, v in headers]
        named = {k.lower(): v for k, v in pairs}
        body = await reader.readexactly(int(named.get("content-length", "0")))
        operation = named.get("x-amz-target", "").rpartition(".")[2]
        fault = self.policy(operation)
        self.counts[fault] += 1
        self.by_operation[(operation, fault)] += 1
        if fault is Fault.REFUSE:
            return False
        if fault is Fault.HANG:
            await asyncio.sleep(self.hang_s)
            return False
        if fault is Fault.THROTTLE:
            await _respond(writer, *_error(400, "ThrottlingException", "Rate of requests exceeds"))
            return True
        assert self._http is not None
        forwarded = [(k, v) for k, v in pairs if k.lower() not in _HOP_HEADERS]
        if self._serial is None:
            response = await self._http.request(method, path, headers=forwarded, content=body)
        else:
            async with self._serial:
                response = await self._http.request(method, path, headers=forwarded, content=body)
        if fault is Fault.LOSE:
            return False
        if fault is Fault.ERROR_AFTER:
            await _respond(writer, *_error(500, "InternalServerError", "Internal server error"))
            return True
        kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _HOP_HEADERS]
        await _respond(writer, response.status_code, kept, response.content)
        return True


async def _respond(
    writer: asyncio.StreamWriter, status: int, headers: list[tuple[str, str]], body: bytes
) -> None:
    lines = [f"HTTP/1.1 {status} {'OK' if status < 400 else 'Error'}"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append(f"Content-Length: {len(body)}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    with contextlib.suppress(ConnectionError):
        await writer.drain()
