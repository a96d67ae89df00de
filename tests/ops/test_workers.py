"""`ff api` with several worker processes, and the TCP_NODELAY fix it needs (ff_api/serve.py).

uvicorn's multi-process mode binds a socket whose ``proto`` is 0; asyncio then leaves Nagle's
algorithm on for every connection, and each keep-alive request waits for the client's delayed
ACK (~40 ms). Whether a connection has TCP_NODELAY is read from the accepted socket itself.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import httpx
import uvicorn.config

from ff_api import serve
from tests.ops.conftest import ApiProcess, Seeded


async def _nodelay_of_accepted(sock: socket.socket) -> int:
    """TCP_NODELAY of a connection accepted by an asyncio server listening on ``sock``."""
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            conn = transport.get_extra_info("socket")
            accepted.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
    async with server:
        port = sock.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        value = await asyncio.wait_for(accepted, 5)
        writer.close()
    return value


def _bound(config: uvicorn.config.Config) -> socket.socket:
    sock = config.bind_socket()
    sock.listen()
    return sock


async def test_uvicorn_bound_socket__unfixed__connections_keep_nagle() -> None:
    # The defect the fix exists for; when uvicorn fixes it, this fails: drop ff_api/serve.py.
    config = uvicorn.config.Config("x:app", host="127.0.0.1", port=0)
    unfixed = uvicorn.config.Config.bind_socket
    if getattr(unfixed, "_ff_tcp", False):
        unfixed = unfixed.__wrapped__  # type: ignore[attr-defined]
    sock = unfixed(config)
    sock.listen()

    assert sock.proto == 0
    assert await _nodelay_of_accepted(sock) == 0


async def test_fix_bound_sockets__bound_socket__connections_get_nodelay() -> None:
    serve.fix_bound_sockets()
    serve.fix_bound_sockets()  # idempotent: wrapping once
    sock = _bound(uvicorn.config.Config("x:app", host="127.0.0.1", port=0))

    assert sock.proto == socket.IPPROTO_TCP
    assert sock.get_inheritable()
    assert await _nodelay_of_accepted(sock) == 1


def test_tcp_socket__unix_socket__unchanged(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        assert serve.tcp_socket(sock) is sock


def test_ff_api__two_workers__both_serve_evaluations(
    api_env: dict[str, str], seeded: Seeded, tmp_path: Path
) -> None:
    process = ApiProcess({**api_env, "FF_API_WORKERS": "2"}, tmp_path / "api.log")
    url = process.start()
    try:
        deadline = time.monotonic() + 60
        while process.output().count("Application startup complete") < 2:
            assert time.monotonic() < deadline, process.output()
            time.sleep(0.2)
        headers = {"Authorization": f"Bearer {seeded.server_key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
            for _ in range(20):  # new connections, spread over both workers by the kernel
                answer = httpx.post(
                    f"{url}/ofrep/v1/evaluate/flags",
                    json={"context": {"targeting_key": "u-1"}},
                    headers=headers,
                    timeout=10,
                )
                assert answer.status_code == 200, answer.text
                assert answer.json()["flags"]
            assert http.get("/healthz").status_code == 200
    finally:
        output = process.stop()
    assert "Traceback" not in output
    assert "died" not in output  # no worker was killed and restarted
