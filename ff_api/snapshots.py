"""Per-project, per-environment compiled snapshots, kept current by following the change log.

DynamoDB is the distributed engine (DESIGN 5): every replica reads the change log
(``seq > cursor``) every poll interval, and a local write asks for an immediate read,
so replicas converge on the same table without holding state of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ff_core.errors import NotFound, StoreError
from ff_core.evaluation import CompiledEnvironment
from ff_core.models import ChangeEntry, ChangeKind, EntityKind, Flag, Tenant
from ff_core.store import ProjectState, Store
from ff_core.tenancy import served_flags, with_tenant_state

log = logging.getLogger("ff.snapshots")
Listener = Callable[[str, "ProjectSnapshot", list[ChangeEntry]], Awaitable[None]]


@dataclass
class ProjectSnapshot:
    state: ProjectState
    seq: int
    environments: dict[str, CompiledEnvironment] = field(default_factory=dict)
    # The flags as evaluation sees them (``ff_core.tenancy``): stored definitions with the
    # tenants' explicit state as targets. What SDKs receive; ``state.flags`` stays as stored.
    served: dict[str, Flag] = field(default_factory=dict)
    # Tenant changes applied to make this snapshot: seq -> the flags whose served definition
    # each changed (streams send just those; a seq missing here is sent as a snapshot).
    retargeted: dict[int, frozenset[str]] = field(default_factory=dict)
    # Stream events of this snapshot's changes, encoded once for every subscriber.
    encoded_events: dict[tuple[int, str], bytes] = field(default_factory=dict)
    # Its SDK stream ``snapshot`` event per environment, encoded once for every connect.
    encoded_snapshots: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def build(cls, state: ProjectState) -> ProjectSnapshot:
        served = served_flags(state)
        envs = {
            env: CompiledEnvironment(env, served.values(), state.segments.values())
            for env in state.project.environment_keys()
        }
        return cls(state=state, seq=state.seq, environments=envs, served=served)

    def environment(self, key: str) -> CompiledEnvironment:
        env = self.environments.get(key)
        if env is None:
            raise NotFound(
                f"environment {key!r} not found in project {self.state.project.key!r}",
                entity="environment",
                key=key,
            )
        return env


class Snapshots:
    def __init__(self, store: Store, poll_interval_s: float) -> None:
        self._store = store
        self._poll_interval_s = poll_interval_s
        self._projects: dict[str, ProjectSnapshot] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._listeners: list[Listener] = []
        self._wake = asyncio.Event()
        self._failing: set[str] = set()  # projects whose change log could not be read
        # When the last round that read every loaded project's change log began, and how long
        # the last round took.
        self._followed_at = time.monotonic()
        self.round_s = 0.0

    @property
    def lag_s(self) -> float:
        """How far behind the table this replica may be: seconds since the start of the last
        round that read every loaded project's change log (healthy: below the poll interval
        plus a round); it grows while the store cannot be read."""
        return time.monotonic() - self._followed_at

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def get(self, project: str) -> ProjectSnapshot:
        snapshot = self._projects.get(project)
        if snapshot is not None:
            return snapshot
        async with self._locks.setdefault(project, asyncio.Lock()):
            snapshot = self._projects.get(project)
            if snapshot is None:
                snapshot = ProjectSnapshot.build(await self._store.load_project(project))
                self._projects[project] = snapshot
            return snapshot

    def loaded_snapshot(self, project: str) -> ProjectSnapshot | None:
        """The project's snapshot if it is loaded, without waiting (None: ask ``get``)."""
        return self._projects.get(project)

    def loaded(self) -> list[str]:
        return list(self._projects)

    def poke(self) -> None:
        """A local write happened: read the change log now rather than at the next tick."""
        self._wake.set()

    async def refresh(self, project: str) -> list[ChangeEntry]:
        """Apply what the change log holds beyond this snapshot; returns those changes."""
        async with self._locks.setdefault(project, asyncio.Lock()):
            current = self._projects.get(project)
            if current is None:
                return []
            changes = await self._store.read_changes(project, current.seq)
            if not changes:
                return []
            if changes[0].seq != current.seq + 1:
                # The log no longer reaches back to our cursor: reload the whole project.
                updated = ProjectSnapshot.build(await self._store.load_project(project))
            else:
                updated = await self._apply(current, changes)
            self._projects[project] = updated
        for listener in self._listeners:
            await listener(project, updated, changes)
        return changes

    async def _apply(self, current: ProjectSnapshot, changes: list[ChangeEntry]) -> ProjectSnapshot:
        if any(c.entity is EntityKind.PROJECT for c in changes):
            return ProjectSnapshot.build(await self._store.load_project(current.state.project.key))
        project = current.state.project.key
        flags, segments = dict(current.state.flags), dict(current.state.segments)
        tenants = dict(current.state.tenants)
        envs, served = dict(current.environments), dict(current.served)
        touched: set[str] = set()  # flags whose served definition may differ
        retargeted: dict[int, frozenset[str]] = {}
        for change in changes:
            if change.entity is EntityKind.FLAG:
                touched.add(change.key)
                flags.pop(change.key, None)
                if change.change is ChangeKind.UPSERT:
                    with contextlib.suppress(NotFound):  # else deleted by a later change
                        flags[change.key] = await self._store.get_flag(project, change.key)
            elif change.entity is EntityKind.SEGMENT:
                segment = None
                if change.change is ChangeKind.UPSERT:
                    with contextlib.suppress(NotFound):
                        segment = await self._store.get_segment(project, change.key)
                if segment is None:
                    segments.pop(change.key, None)
                else:
                    segments[segment.key] = segment
                envs = {k: e.with_segment(segment, change.key) for k, e in envs.items()}
            elif change.entity is EntityKind.TENANT:
                old = tenants.pop(change.key, None)
                if change.change is ChangeKind.UPSERT:
                    with contextlib.suppress(NotFound):
                        tenants[change.key] = await self._store.get_tenant(project, change.key)
                differing = _differing(old, tenants.get(change.key))
                retargeted[change.seq] = frozenset(differing)
                touched |= differing
        if touched:
            # A flag's tenant targets come from every tenant's state for it: derived again
            # for the touched flags only (no compiling), then just those are recompiled.
            relevant = {
                key: tenant.model_copy(
                    update={"state": {f: tenant.state[f] for f in touched if f in tenant.state}}
                )
                for key, tenant in tenants.items()
                if not touched.isdisjoint(tenant.state)
            }
            attribute = current.state.project.tenant_attribute
            everything = with_tenant_state(project, flags, relevant, attribute)
            for key in touched:
                flag = everything.get(key)
                if flag is None:
                    served.pop(key, None)
                    envs = {k: e.without_flag(key) for k, e in envs.items()}
                else:
                    served[key] = flag
                    envs = {k: e.with_flag(flag) for k, e in envs.items()}
        seq = changes[-1].seq
        state = ProjectState(current.state.project, flags, segments, seq, tenants)
        return ProjectSnapshot(
            state=state, seq=seq, environments=envs, served=served, retargeted=retargeted
        )

    async def follow_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)
            self._wake.clear()
            started = time.monotonic()
            followed = True
            for project in self.loaded():
                try:
                    await self.refresh(project)
                except StoreError as exc:  # keep serving the last snapshot; try again next tick
                    followed = False
                    # Once per outage, not a traceback every tick while the store is down.
                    if project not in self._failing:
                        self._failing.add(project)
                        log.warning(
                            "cannot read the change log of %s (%s); serving its last snapshot",
                            project,
                            exc,
                        )
                    continue
                except Exception:  # a defect: say so every time, and keep serving
                    followed = False
                    log.exception("could not follow the change log of %s", project)
                    continue
                if project in self._failing:
                    self._failing.discard(project)
                    log.warning("reading the change log of %s again", project)
            self.round_s = time.monotonic() - started
            if followed:
                self._followed_at = started


def _differing(old: Tenant | None, new: Tenant | None) -> set[str]:
    """The flags whose value for this tenant differs between ``old`` and ``new``."""
    before = old.state if old is not None else {}
    after = new.state if new is not None else {}
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
