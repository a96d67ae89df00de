"""The flags and tenants of the projects open pages show, kept current from the change log.

Reading a project whole means every flag read and validated: at 10,000 flags 13 Query
pages and about 2 s of the dashboard's CPU (bench/README.md). Open flags pages reload
after every change made anywhere, so each process keeps each project's flags (and tenant
state, which the change log names the same way) once and applies the change log to them:
a reload costs one change-log read and one GetItem per flag or tenant that changed. The
log is gapless; when it no longer reaches back to what is kept (entries expire), the
project is read whole again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from ff_core.errors import NotFound
from ff_core.models import EntityKind, Flag, Tenant
from ff_core.store import Store

# Projects kept per process; the least recently asked for goes first.
MAX_PROJECTS = 32
_PAGE = 1000  # change-log entries per read


@dataclass(frozen=True, slots=True)
class Kept:
    """A project's flags and tenants as of change ``seq``; never changed in place (a change
    makes new mappings), so a caller may hold on to it."""

    seq: int
    flags: Mapping[str, Flag]
    tenants: Mapping[str, Tenant]


class ProjectFlags:
    def __init__(self, store: Store, max_projects: int = MAX_PROJECTS) -> None:
        self._store = store
        self._max = max_projects
        self._kept: dict[str, Kept] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def flags(self, project: str) -> list[Flag]:
        """Every flag of ``project`` (archived ones too), by key, as of now."""
        kept = await self.current(project)
        return [kept.flags[key] for key in sorted(kept.flags)]

    async def current(self, project: str) -> Kept:
        """``project``'s flags and tenants as of now (one consistent change-log position)."""
        async with self._locks.setdefault(project, asyncio.Lock()):
            kept = self._kept.pop(project, None)  # re-inserted last: most recently used
            kept = await (self._load(project) if kept is None else self._follow(project, kept))
            self._kept[project] = kept
            while len(self._kept) > self._max:
                oldest = next(iter(self._kept))
                del self._kept[oldest]
                self._locks.pop(oldest, None)
        return kept

    async def _load(self, project: str) -> Kept:
        state = await self._store.load_project(project)
        return Kept(state.seq, dict(state.flags), dict(state.tenants))

    async def _follow(self, project: str, kept: Kept) -> Kept:
        seq, flags, tenants = kept.seq, None, None
        while True:
            changes = await self._store.read_changes(project, seq, limit=_PAGE)
            if not changes:
                break
            if changes[0].seq != seq + 1:
                return await self._load(project)  # the log no longer reaches back
            changed_flags = {c.key for c in changes if c.entity is EntityKind.FLAG}
            changed_tenants = {c.key for c in changes if c.entity is EntityKind.TENANT}
            if changed_flags and flags is None:
                flags = dict(kept.flags)
            if changed_tenants and tenants is None:
                tenants = dict(kept.tenants)
            for key in changed_flags:
                assert flags is not None
                try:
                    flags[key] = await self._store.get_flag(project, key)
                except NotFound:  # deleted
                    flags.pop(key, None)
            for key in changed_tenants:
                assert tenants is not None
                try:
                    tenants[key] = await self._store.get_tenant(project, key)
                except NotFound:  # offboarded
                    tenants.pop(key, None)
            seq = changes[-1].seq
            if len(changes) < _PAGE:
                break
        if seq == kept.seq:
            return kept
        return Kept(
            seq,
            kept.flags if flags is None else flags,
            kept.tenants if tenants is None else tenants,
        )
