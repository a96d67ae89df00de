"""SDK fixtures: snapshot files, a fake source, the real API on a port that survives restarts."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import uvicorn

from ff_api import ApiSettings, create_app
from ff_core import demo
from ff_core.client import Backoff, Feed
from ff_core.client.snapshot import Snapshot
from ff_core.models import Segment
from tests.api.conftest import Seeded, extra_flags, seeded

__all__ = ["ApiServer", "FakeSource", "Seeded", "seeded"]

# Functional upper bounds: generous for a loaded CI machine, far below "never".
SEEN_WITHIN_S = 5.0


def demo_snapshot(seq: int = 7) -> Snapshot:
    """The demo project's production environment, as the API would send it."""
    segment = Segment(key="beta", name="Beta testers", included=("alice", "carol"))
    return Snapshot.build(
        "demo", "production", seq, [*demo.demo_flags(), *extra_flags()], [segment]
    )


@pytest.fixture
def bootstrap_file(tmp_path: Path) -> Path:
    path = tmp_path / "flags.json"
    path.write_bytes(demo_snapshot().dump())
    return path


def fast_backoff() -> Backoff:
    return Backoff(initial_s=0.05, max_s=0.3)


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool], within_s: float = SEEN_WITHIN_S
) -> float:
    """Seconds until ``check()`` held; fails the test after ``within_s``."""
    started = time.monotonic()
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > within_s:
            raise AssertionError(f"not within {within_s} s")
        await asyncio.sleep(0.02)


class FakeSource:
    """A source the test drives: it hands the client whatever the test feeds through it."""

    name = "fake"

    def __init__(self) -> None:
        self.feed: Feed | None = None
        self.running = asyncio.Event()
        self.reports: list[dict[str, int]] = []
        self.failing_reports = False
        # When set, a report waits for this event (a slow origin); ``reporting`` says one began.
        self.hold_reports: asyncio.Event | None = None
        self.reporting = asyncio.Event()
        self.closed = False

    async def run(self, feed: Feed) -> None:
        self.feed = feed
        self.running.set()
        await asyncio.Event().wait()

    async def report_usage(
        self, counts: Mapping[str, int], window_start: datetime, window_end: datetime
    ) -> None:
        self.reporting.set()
        if self.hold_reports is not None:
            await self.hold_reports.wait()
        if self.failing_reports:
            raise ConnectionError("the fake origin is down")
        assert window_start <= window_end
        self.reports.append(dict(counts))

    async def aclose(self) -> None:
        self.closed = True


class ApiServer:
    """The API under uvicorn in a thread; ``stop()`` then ``start()`` reuses the same port,
    and open streams are cut after a short grace period (as on a real restart)."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        config = uvicorn.Config(
            create_app(self.settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the API did not start")
            time.sleep(0.02)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        self._server, self._thread = server, thread
        return self.url

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=20)
            assert not self._thread.is_alive(), "the API did not stop"
        self._server = self._thread = None


@pytest.fixture
def api_server(seeded: Seeded) -> Iterator[ApiServer]:
    server = ApiServer(seeded.settings)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def admin(api_server: ApiServer, seeded: Seeded) -> AsyncIterator[httpx.AsyncClient]:
    """The management API with an admin key."""
    headers = {"Authorization": f"Bearer {seeded.admin_key}"}
    async with httpx.AsyncClient(base_url=api_server.url, headers=headers, timeout=10) as client:
        yield client


async def set_enabled(admin: httpx.AsyncClient, key: str, enabled: bool) -> None:
    response = await admin.post(
        f"/api/v1/projects/demo/flags/{key}/set-enabled-in",
        json={"environments": ["production"], "enabled": enabled},
    )
    assert response.status_code == 200, response.text


class CountingTransport(httpx.AsyncBaseTransport):
    """The real network, with every request recorded (method, path, headers)."""

    def __init__(self, refuse_paths: tuple[str, ...] = ()) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._refuse = refuse_paths
        self.requests: list[httpx.Request] = []
        self.statuses: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path in self._refuse:  # as a proxy that will not stream would
            self.statuses.append(404)
            return httpx.Response(404, text="no streams here")
        response = await self._inner.handle_async_request(request)
        self.statuses.append(response.status_code)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]
