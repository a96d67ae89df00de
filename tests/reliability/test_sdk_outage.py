"""Issue 9.5: the SDK with its API down, or refusing its key.

- The API goes down under a connected client: ``FF_SDK_CALLS`` (default 1,000,000)
  ``is_enabled`` calls raise 0 exceptions and answer the last-known values.
- A cold start with the API down (refusing connections, or accepting them and never
  answering) returns within 5 s (its 4 s start timeout), with the bootstrap file's values or the
  caller's defaults; a hang guard of 10 s fails the test if it does not.
- A server answering 401 or 403 to everything sees one request, never a retry loop.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ff_core.client import FlagClient, Status
from tests.api.conftest import AppThread
from tests.client.conftest import (
    ApiServer,
    Seeded,
    api_server,
    bootstrap_file,
    eventually,
    fast_backoff,
    seeded,
)

__all__ = ["api_server", "bootstrap_file", "seeded"]

CALLS = int(os.environ.get("FF_SDK_CALLS", "1000000"))
# (flag, context): a rule match, a fallthrough, a disabled flag, a flag that does not exist.
ASKED = [
    ("new-checkout", {"targeting_key": "u1", "country": "US", "plan": "pro"}),
    ("new-checkout", {"targeting_key": "u2", "country": "FR", "plan": "free"}),
    ("legacy-mode", {"targeting_key": "alice"}),
    ("no-such-flag", {"targeting_key": "alice"}),
]
HANG_GUARD_S = 10.0


async def test_api_down__a_million_is_enabled_calls__no_exception_last_known_values(
    api_server: ApiServer, seeded: Seeded
) -> None:
    flags = await FlagClient.connect(
        url=api_server.url, server_key=seeded.server_key, backoff=fast_backoff()
    )
    known = [await flags.is_enabled(key, ctx, default=True) for key, ctx in ASKED]
    api_server.stop()
    await eventually(lambda: flags.status is Status.STALE)

    exceptions: Counter[str] = Counter()
    wrong = 0
    n = len(ASKED)
    started = time.monotonic()
    for i in range(CALLS):
        key, ctx = ASKED[i % n]
        try:
            if await flags.is_enabled(key, ctx, default=True) is not known[i % n]:
                wrong += 1
        except Exception as exc:  # counted: the figure is 0
            exceptions[type(exc).__name__] += 1
    took = time.monotonic() - started
    status = flags.status
    await flags.close()

    print(f"\n{CALLS} is_enabled calls with the API down in {took:.2f} s")
    assert known == [True, False, False, True]  # the last is the caller's default
    assert (sum(exceptions.values()), wrong) == (0, 0), exceptions
    assert status is Status.STALE


@pytest.fixture
def refusing_port() -> int:
    """A loopback port with nothing listening: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel does) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


@pytest.mark.parametrize("down", ["refusing", "silent"])
@pytest.mark.parametrize("fallback", ["bootstrap", "defaults"])
async def test_cold_start__api_down__returns_within_start_timeout_with_fallback(
    request: pytest.FixtureRequest, bootstrap_file: Path, down: str, fallback: str
) -> None:
    port = request.getfixturevalue(f"{down}_port")
    url, key = f"http://127.0.0.1:{port}", "ffs_" + "k" * 40
    started = time.monotonic()
    if fallback == "bootstrap":
        connecting = FlagClient.connect(url=url, server_key=key, bootstrap=bootstrap_file)
    else:
        connecting = FlagClient.connect(url=url, server_key=key)
    flags = await asyncio.wait_for(connecting, HANG_GUARD_S)
    took = time.monotonic() - started
    answers = [await flags.is_enabled(key, ctx, default=True) for key, ctx in ASKED]
    status = flags.status
    await flags.close()

    print(f"\ncold start, API {down}, {fallback}: returned in {took:.2f} s")
    if fallback == "bootstrap":
        assert (answers, status) == ([True, False, False, True], Status.STALE)
    else:
        assert (answers, status) == ([True, True, True, True], Status.ERROR)


class RefusingServer(AppThread):
    """A real HTTP server on loopback that answers every request with ``status``."""

    def __init__(self, status: int) -> None:
        self.requests: list[str] = []

        async def refuse(request: Request) -> Response:
            self.requests.append(request.url.path)
            return JSONResponse({"message": "no"}, status_code=status)

        super().__init__(Starlette(routes=[Route("/{path:path}", refuse, methods=["GET", "POST"])]))


@pytest.mark.parametrize("status", [401, 403])
async def test_key_refused__401_or_403__one_request_never_a_retry_loop(status: int) -> None:
    server = RefusingServer(status)
    url = server.start()
    try:
        flags = await asyncio.wait_for(
            FlagClient.connect(
                url=url,
                server_key="ffs_" + "k" * 40,
                backoff=fast_backoff(),
                poll_interval_s=0.1,
                usage_interval_s=0.1,
            ),
            HANG_GUARD_S,
        )
        # At this back-off (50-300 ms) a retry loop would send ~20 requests in this time.
        await asyncio.sleep(3.0)
        answer = await flags.details("new-checkout", ASKED[0][1], default=True)
        await flags.close()
    finally:
        server.stop()

    assert server.requests == ["/api/v1/sdk/stream"]
    assert (answer.value, flags.status) == (True, Status.ERROR)
