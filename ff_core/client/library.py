"""Library mode: the client reads DynamoDB directly and follows the project's change log.

    from ff_core import client as ff
    ff.configure(table="ff-flags", default_project="shop", environment="production")
    flags = await ff.FlagClient.connect()

Settings come from ``configure(...)`` or ``FF_*`` variables (``FF_TABLE``,
``FF_DEFAULT_PROJECT``, ``FF_ENVIRONMENT`` (default ``development``),
``FF_DYNAMODB_ENDPOINT``, ``FF_REGION``), as in the library of earlier in-house versions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ff_core.client.backoff import Backoff
from ff_core.client.snapshot import Change, Snapshot
from ff_core.client.sources import Feed
from ff_core.errors import NotFound, StoreUnavailable
from ff_core.models import ChangeKind, EntityKind, Flag, Segment, Tenant, UsageDelta
from ff_core.settings import Settings

if TYPE_CHECKING:
    from ff_core.store import Store

log = logging.getLogger("ff.client")

# The legacy surface is configured once per process, so it keeps its settings here.
_configured: dict[str, Any] = {}


def configure(**settings: Any) -> Settings:
    """Set (and validate) settings for library-mode clients: ``table``, ``default_project``,
    ``environment``, ``dynamodb_endpoint``, ``region``, ...; the rest from ``FF_*``."""
    resolved = Settings(**settings)
    _configured.clear()
    _configured.update(settings)
    return resolved


def configured() -> Settings:
    return Settings(**_configured)


class StoreSource:
    name = "library"

    def __init__(
        self,
        settings: Settings,
        project: str,
        environment: str,
        *,
        poll_interval_s: float = 1.0,
        backoff: Backoff | None = None,
    ) -> None:
        self._settings = settings
        self.project = project
        self.environment = environment
        self._poll_interval_s = poll_interval_s
        self._backoff = backoff or Backoff(max_s=30.0)
        self._store: Store | None = None
        # The tenants and tenant attribute of the last load: a changed flag is served with
        # their state, as the API serves it (``ff_core.tenancy``).
        self._tenants: dict[str, Tenant] = {}
        self._tenant_attribute = "tenant"

    async def run(self, feed: Feed) -> None:
        # Imported here: the store pulls in aioboto3 (and the embedded one moto), a third of
        # a second that clients of the API or of a file should not pay.
        from ff_core.runtime import open_store

        while True:
            try:
                async with open_store(self._settings) as store:
                    self._store = store
                    await self._follow(store, feed)
            except Exception as exc:  # cannot open the store: keep serving, try again later
                feed.unreachable(f"cannot open the store: {exc}")
            finally:
                self._store = None
            await asyncio.sleep(self._backoff.next())

    async def _follow(self, store: Store, feed: Feed) -> None:
        seq: int | None = None
        while True:
            try:
                seq = (
                    await self._load(store, feed)
                    if seq is None
                    else await self._catch_up(store, feed, seq)
                )
            except Exception as exc:  # a failed read; the snapshot we hold keeps serving
                feed.unreachable(str(exc) or type(exc).__name__)
                await asyncio.sleep(self._backoff.next())
                continue
            feed.connected()
            self._backoff.reset()
            await asyncio.sleep(self._poll_interval_s)

    async def _load(self, store: Store, feed: Feed) -> int:
        from ff_core.tenancy import served_flags  # imports the store too (see ``run``)

        state = await store.load_project(self.project)
        if self.environment not in state.project.environment_keys():
            raise NotFound(
                f"environment {self.environment!r} not found in project {self.project!r}",
                entity="environment",
                key=self.environment,
            )
        self._tenants, self._tenant_attribute = state.tenants, state.project.tenant_attribute
        snapshot = await asyncio.to_thread(
            Snapshot.build,
            self.project,
            self.environment,
            state.seq,
            served_flags(state).values(),
            state.segments.values(),
        )
        await feed.replace(snapshot)
        return state.seq

    async def _catch_up(self, store: Store, feed: Feed, seq: int) -> int:
        while True:
            entries = await store.read_changes(self.project, seq)
            if not entries:
                return seq
            reload = (EntityKind.PROJECT, EntityKind.TENANT)
            if entries[0].seq != seq + 1 or any(e.entity in reload for e in entries):
                # The log no longer reaches back to our cursor, or the project itself changed,
                # or a tenant's state did: it may touch any registry flag without changing
                # their versions, which ``Snapshot.apply`` would ignore.
                return await self._load(store, feed)
            changes: list[Change] = []
            for entry in entries:
                definition: Flag | Segment | None = None
                if entry.change is ChangeKind.UPSERT:
                    try:
                        if entry.entity is EntityKind.FLAG:
                            definition = self._served(await store.get_flag(self.project, entry.key))
                        else:
                            definition = await store.get_segment(self.project, entry.key)
                    except NotFound:  # deleted again by a later entry
                        definition = None
                version = entry.version if definition is None else definition.version
                changes.append(Change(entry.entity, entry.key, entry.seq, version, definition))
            await feed.apply(changes)
            seq = entries[-1].seq

    def _served(self, flag: Flag) -> Flag:
        if not self._tenants or flag.registry is None:
            return flag
        from ff_core.tenancy import with_tenant_state

        # Only this flag's state: the others' is not orphaned for not being passed in.
        tenants = {
            key: tenant.model_copy(update={"state": {flag.key: tenant.state[flag.key]}})
            for key, tenant in self._tenants.items()
            if flag.key in tenant.state
        }
        served = with_tenant_state(self.project, {flag.key: flag}, tenants, self._tenant_attribute)
        return served[flag.key]

    async def report_usage(
        self, counts: Mapping[str, int], window_start: datetime, window_end: datetime
    ) -> None:
        store = self._store
        if store is None:
            raise StoreUnavailable("the store is not open")
        for flag, count in counts.items():
            if count > 0:
                delta = UsageDelta(count=count, last=window_end)
                await store.record_usage(self.project, flag, {self.environment: delta})

    async def aclose(self) -> None:
        return None
