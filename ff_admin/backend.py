"""What the dashboard's State handlers reach: the store, the services and the live feed.

Reflex builds State objects itself, so they cannot be handed dependencies: the lifespan
task opens one ``Backend`` per process and handlers ask for it with ``current()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from ff_admin.projects import ProjectFlags
from ff_admin.settings import AdminSettings, check_dev_bind
from ff_core import keys
from ff_core.errors import FFError, StoreUnavailable
from ff_core.runtime import open_store
from ff_core.services import Services
from ff_core.store import Store

log = logging.getLogger("ff_admin")

# Projects' change counters are read this often: a change made anywhere (another
# dashboard, the API, the CLI) reaches open dashboards within about this plus a reload.
POLL_INTERVAL_S = 0.25


@dataclass
class _Watched:
    seq: int
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    waiters: int = 0


class ChangeWatch:
    """Follows the change counter of every project an open page looks at."""

    def __init__(self, store: Store, interval_s: float = POLL_INTERVAL_S) -> None:
        self._store = store
        self._interval_s = interval_s
        self._projects: dict[str, _Watched] = {}

    async def wait(self, project: str, seen: int, timeout_s: float) -> int:
        """The project's seq once it is past ``seen``, or the current one after ``timeout_s``."""
        watched = self._projects.get(project)
        if watched is None:
            watched = self._projects[project] = _Watched(await self._store.get_seq(project))
        if watched.seq > seen:
            return watched.seq
        watched.waiters += 1
        try:
            async with watched.changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        watched.changed.wait_for(lambda: watched.seq > seen), timeout_s
                    )
        finally:
            watched.waiters -= 1
        return watched.seq

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            for project, watched in list(self._projects.items()):
                if watched.waiters == 0:
                    del self._projects[project]
                    continue
                try:
                    seq = await self._store.get_seq(project)
                except FFError as exc:
                    log.warning("live updates: reading %s's change counter: %s", project, exc)
                    continue
                if seq > watched.seq:
                    async with watched.changed:
                        watched.seq = seq
                        watched.changed.notify_all()


@dataclass(frozen=True)
class Backend:
    settings: AdminSettings
    store: Store
    services: Services
    secret: bytes
    watch: ChangeWatch
    projects: ProjectFlags
    # Whether a browser tab (by Reflex client token) still has its socket open.
    connected: Callable[[str], bool]


_current: Backend | None = None


def current() -> Backend:
    if _current is None:
        raise StoreUnavailable("the dashboard is starting; try again in a moment")
    return _current


def lifespan_for(settings: AdminSettings) -> Callable[..., Any]:
    """A Reflex lifespan task that opens the store for this dashboard process."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with _open(settings, app):
            yield

    return lifespan


def _connected(app: Any) -> Callable[[str], bool]:
    def connected(token: str) -> bool:
        namespace = app.event_namespace
        return namespace is None or token in namespace.token_to_sid

    return connected


@contextlib.asynccontextmanager
async def _open(settings: AdminSettings, app: Any) -> AsyncIterator[None]:
    global _current
    check_dev_bind(settings)
    secret = keys.load_secret(settings)
    async with open_store(settings) as store:
        watch = ChangeWatch(store, settings.live_poll_s)
        services = Services(store, key_secret=secret)
        projects = ProjectFlags(store)
        _current = Backend(settings, store, services, secret, watch, projects, _connected(app))
        follower = asyncio.create_task(watch.run(), name="ff-admin-change-watch")
        try:
            yield
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            _current = None
