"""uvicorn worker processes that keep TCP_NODELAY.

With ``--workers N`` uvicorn binds the listening socket itself (``Config.bind_socket``)
and leaves its ``proto`` at 0; accepted sockets inherit it, and asyncio only turns on
TCP_NODELAY for sockets that say ``IPPROTO_TCP``. Nagle's algorithm then meets the
client's delayed ACK and every keep-alive request after the first waits ~40 ms on Linux
(uvicorn issue #3149, open as of uvicorn 0.54). Measured here: a trivial endpoint served
8,282 req/s with 1 worker and 360 req/s with 2, each request 44 ms.

``fix_bound_sockets`` re-wraps the bound descriptor with ``IPPROTO_TCP`` (same socket, same
address; only Python's metadata changes) so asyncio sets TCP_NODELAY on every connection.
``ff api`` applies it when ``FF_API_WORKERS`` > 1, and ``python -m ff_api.serve`` is
uvicorn's own command line with the fix (the benchmarks use it for every server they start).
"""

from __future__ import annotations

import functools
import socket
from collections.abc import Callable

import uvicorn.config

_TCP_FAMILIES = (socket.AF_INET, socket.AF_INET6)


def tcp_socket(sock: socket.socket) -> socket.socket:
    """``sock`` declared as TCP, so that asyncio sets TCP_NODELAY on what it accepts."""
    if sock.family not in _TCP_FAMILIES or sock.proto == socket.IPPROTO_TCP:
        return sock
    fixed = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    fixed.set_inheritable(True)
    return fixed


def fix_bound_sockets() -> None:
    """Make every socket uvicorn binds itself a TCP one (idempotent)."""
    bind: Callable[[uvicorn.config.Config], socket.socket] = uvicorn.config.Config.bind_socket
    if getattr(bind, "_ff_tcp", False):
        return

    @functools.wraps(bind)
    def bind_socket(self: uvicorn.config.Config) -> socket.socket:
        return tcp_socket(bind(self))

    bind_socket._ff_tcp = True  # type: ignore[attr-defined]
    uvicorn.config.Config.bind_socket = bind_socket  # type: ignore[method-assign]


def main() -> None:
    from uvicorn.main import main as uvicorn_main

    fix_bound_sockets()
    uvicorn_main()


if __name__ == "__main__":
    main()
