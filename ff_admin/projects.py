"""The flags of the projects open pages show, kept current from the change log.

Reading a project whole means every flag read and validated: at 10,000 flags 13 Query
pages and about 2 s of the dashboard's CPU (bench/README.md). Open flags pages reload
after every change made anywhere, so each process keeps each project's flags once and
applies the change log to them: a reload costs one change-log read and one GetItem per
flag that changed. The log is gapless; when it no longer reaches back to what is kept
(entries expire), the project is read whole again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ff_core.errors import NotFound
from ff_core.models import EntityKind, Flag
from ff_core.store import Store

# Projects kept per process; the least recently asked for goes first.
MAX_PROJECTS = 32
_PAGE = 1000  # change-log entries per read


@dataclass(frozen=True, slots=True)
class _Kept:
    seq: int
    flags: dict[str, Flag]  # never changed in place: a change makes a new dict


class ProjectFlags:
    def __init__(self, store: Store, max_projects: int = MAX_PROJECTS) -> None:
        self._store = store
        self._max = max_projects
        self._kept: dict[str, _Kept] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def flags(self, project: str) -> list[Flag]:
        """Every flag of ``project`` (archived ones too), by key, as of now."""
        async with self._locks.setdefault(project, asyncio.Lock()):
            kept = self._kept.pop(project, None)  # re-inserted last: most recently used
            kept = await (self._load(project) if kept is None else self._follow(project, kept))
            self._kept[project] = kept
            while len(self._kept) > self._max:
                oldest = next(iter(self._kept))
                del self._kept[oldest]
                self._locks.pop(oldest, None)
        return [kept.flags[key] for key in sorted(kept.flags)]

    async def _load(self, project: str) -> _Kept:
        state = await self._store.load_project(project)
        return _Kept(state.seq, dict(state.flags))

    async def _follow(self, project: str, kept: _Kept) -> _Kept:
        seq, flags = kept.seq, None
        while True:
            changes = await self._store.read_changes(project, seq, limit=_PAGE)
            if not changes:
                break
            if changes[0].seq != seq + 1:
                return await self._load(project)  # the log no longer reaches back
            if flags is None:
                flags = dict(kept.flags)
            for key in {c.key for c in changes if c.entity is EntityKind.FLAG}:
                try:
                    flags[key] = await self._store.get_flag(project, key)
                except NotFound:  # deleted
                    flags.pop(key, None)
            seq = changes[-1].seq
            if len(changes) < _PAGE:
                break
        return kept if flags is None else _Kept(seq, flags)
