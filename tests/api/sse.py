"""A minimal server-sent-events reader over httpx, for tests."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Event:
    event: str
    id: str | None
    data: Any
    comment: bool = False


class Stream:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self, wait_s: float = 10, *, comments: bool = False) -> Event:
        return await asyncio.wait_for(self._next(comments), wait_s)

    async def _next(self, comments: bool) -> Event:
        event, ident, data = "message", None, []
        async for line in self._lines:
            if line == "":
                if data:
                    return Event(event, ident, json.loads("\n".join(data)))
                continue
            if line.startswith(":"):
                if comments:
                    return Event("", None, line[1:].strip(), comment=True)
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "id":
                ident = value
            elif name == "data":
                data.append(value)
        raise EOFError("stream ended")


@asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> AsyncIterator[Stream]:
    async with client.stream(
        "GET", url, headers=headers, timeout=httpx.Timeout(10, read=None)
    ) as r:
        yield Stream(r)


class RawConnection(asyncio.Protocol):
    """A test's own protocol on a raw loopback connection (``connect_raw``)."""

    transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport


async def connect_raw(
    protocol: RawConnection, host: str, port: int, receive_buffer: int | None = None
) -> asyncio.Transport:
    """Connect ``protocol`` to ``host:port``; ``receive_buffer`` shrinks the socket's
    receive buffer, so that a client that stops reading fills the server's buffers soon."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await loop.sock_connect(sock, (host, port))
    await loop.create_connection(lambda: protocol, sock=sock)
    assert protocol.transport is not None
    return protocol.transport
