"""Refuse and record every outbound connection while a benchmark runs.

``socket.socket.connect``/``connect_ex`` and ``socket.getaddrinfo`` are replaced, so an
SDK that tries the network (HTTP through urllib3/requests/httpx, DNS, a thread of its
own) fails at once and the attempt is recorded even if the SDK swallows the error.
``socket.socketpair`` (asyncio's self-pipe) connects nothing and stays allowed.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Any


class NetworkGuard:
    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._saved: tuple[Any, Any, Any] | None = None

    def _refuse(self, what: str) -> OSError:
        self.attempts.append(f"{what} (thread {threading.current_thread().name})")
        return ConnectionRefusedError(f"benchmark runs offline: refused {what}")

    def __enter__(self) -> NetworkGuard:
        self._saved = (socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo)
        guard = self

        def connect(sock: socket.socket, address: Any) -> None:
            raise guard._refuse(f"connect to {address!r}")

        def connect_ex(sock: socket.socket, address: Any) -> int:
            raise guard._refuse(f"connect_ex to {address!r}")

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            raise guard._refuse(f"getaddrinfo {host!r}:{port!r}")

        socket.socket.connect = connect  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
        socket.getaddrinfo = getaddrinfo
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._saved is not None
        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = self._saved  # type: ignore[method-assign]
