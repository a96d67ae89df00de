"""An in-memory store with the DynamoDB store's semantics, for fast tests and offline tools.

It passes the same contract suite as the DynamoDB store. Nothing persists.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from ff_core.errors import AlreadyExists, IdempotencyKeyReused, NotFound, VersionConflict
from ff_core.models import (
    ApiKey,
    ChangeEntry,
    EntityKind,
    EnvironmentUsage,
    Flag,
    FlagUsage,
    HistoryEntry,
    Invitation,
    Member,
    Project,
    Segment,
    Tenant,
    UsageDelta,
)
from ff_core.models.usage import window_start
from ff_core.store import items as it
from ff_core.store.protocol import Committed, Entity, Page, ProjectState, Write


@dataclass
class _Usage:
    total: int = 0
    last: datetime | None = None
    daily: dict[date, int] = field(default_factory=dict)


class MemoryStore:
    def __init__(self) -> None:
        self._entities: dict[tuple[str, EntityKind, str], Entity] = {}
        self._projects: list[str] = []
        self._seq: defaultdict[str, int] = defaultdict(int)
        self._history: defaultdict[tuple[str, EntityKind, str], dict[str, HistoryEntry]] = (
            defaultdict(dict)
        )
        self._changes: defaultdict[str, list[ChangeEntry]] = defaultdict(list)
        self._idempotency: dict[tuple[str, str], tuple[str, Committed]] = {}
        self._lock = asyncio.Lock()
        self._keys: dict[str, ApiKey] = {}
        self._members: dict[tuple[str, str], Member] = {}
        self._invitations: dict[str, Invitation] = {}
        self._usage: defaultdict[tuple[str, str], dict[str, _Usage]] = defaultdict(dict)
        self._sessions_ended: dict[str, datetime] = {}

    async def ensure_table(self) -> None:
        return None

    async def commit(self, write: Write) -> Committed:
        async with self._lock:
            done = await self.replay(write.project, write.idempotency_key, write.fingerprint)
            if done is not None:
                return done
            ident = (write.project, write.entity, write.key)
            current = self._entities.get(ident)
            current_version = None if current is None else current.version
            if current_version != write.expected_version:
                raise VersionConflict(
                    f"{write.entity.value} {write.key!r} changed meanwhile: expected version "
                    f"{write.expected_version}, current version {current_version}",
                    expected=write.expected_version or 0,
                    current=current_version,
                )
            if write.new is not None:
                it.encode_entity(write.project, write.entity, write.new)  # the same size limits
            seq = self._seq[write.project] + 1
            history = it.history_entry(write, seq)
            # All checks passed: apply every part, as the transaction would.
            if write.new is None:
                del self._entities[ident]
            else:
                self._entities[ident] = write.new
            if write.entity is EntityKind.PROJECT and current is None:
                self._projects.append(write.key)
            self._seq[write.project] = seq
            self._history[ident][history.id] = history
            self._changes[write.project].append(it.change_entry(write, seq, history.version))
            committed = Committed(seq=seq, version=history.version, history_id=history.id)
            self._idempotency[(write.project, write.idempotency_key)] = (
                write.fingerprint,
                committed,
            )
            return committed

    async def replay(
        self, project: str, idempotency_key: str, fingerprint: str
    ) -> Committed | None:
        done = self._idempotency.get((project, idempotency_key))
        if done is None:
            return None
        if done[0] != fingerprint:
            raise IdempotencyKeyReused(
                f"idempotency key {idempotency_key!r} was already used for a different request"
            )
        return Committed(done[1].seq, done[1].version, done[1].history_id, replayed=True)

    def _find(self, project: str, entity: EntityKind, key: str) -> Entity:
        found = self._entities.get((project, entity, key))
        if found is None:
            where = "" if entity is EntityKind.PROJECT else f" in project {project!r}"
            raise NotFound(f"{entity.value} {key!r} not found{where}", entity=entity.value, key=key)
        return found

    async def list_projects(self) -> list[Project]:
        return [await self.get_project(p) for p in sorted(self._projects)]

    async def get_project(self, project: str) -> Project:
        found = self._find(project, EntityKind.PROJECT, project)
        assert isinstance(found, Project)
        return found

    async def load_project(self, project: str) -> ProjectState:
        meta = await self.get_project(project)
        flags: dict[str, Flag] = {}
        segments: dict[str, Segment] = {}
        tenants: dict[str, Tenant] = {}
        for (p, _kind, key), entity in self._entities.items():
            if p != project:
                continue
            if isinstance(entity, Flag):
                flags[key] = entity
            elif isinstance(entity, Segment):
                segments[key] = entity
            elif isinstance(entity, Tenant):
                tenants[key] = entity
        return ProjectState(
            project=meta,
            flags=dict(sorted(flags.items())),
            segments=dict(sorted(segments.items())),
            seq=self._seq[project],
            tenants=dict(sorted(tenants.items())),
        )

    async def get_flag(self, project: str, key: str) -> Flag:
        found = self._find(project, EntityKind.FLAG, key)
        assert isinstance(found, Flag)
        return found

    async def get_segment(self, project: str, key: str) -> Segment:
        found = self._find(project, EntityKind.SEGMENT, key)
        assert isinstance(found, Segment)
        return found

    async def get_tenant(self, project: str, key: str) -> Tenant:
        found = self._find(project, EntityKind.TENANT, key)
        assert isinstance(found, Tenant)
        return found

    async def get_seq(self, project: str) -> int:
        return self._seq[project]

    async def list_history(
        self, project: str, entity: EntityKind, key: str, limit: int = 50, before: str | None = None
    ) -> Page[HistoryEntry]:
        entries = sorted(self._history[(project, entity, key)].values(), key=lambda e: e.id)
        entries.reverse()
        if before is not None:
            entries = [e for e in entries if e.id < before]
        return it.history_page(entries[: limit + 1], limit)

    async def get_history_entry(
        self, project: str, entity: EntityKind, key: str, history_id: str
    ) -> HistoryEntry:
        entry = self._history[(project, entity, key)].get(history_id)
        if entry is None:
            raise NotFound(
                f"history entry {history_id!r} of {entity.value} {key!r} not found",
                entity="history",
                key=history_id,
            )
        return entry

    async def read_changes(
        self, project: str, after_seq: int, limit: int = 1000
    ) -> list[ChangeEntry]:
        return [c for c in self._changes[project] if c.seq > after_seq][:limit]

    async def save_api_key(self, key: ApiKey, *, create: bool) -> None:
        exists = key.hash in self._keys
        if create and exists:
            raise AlreadyExists(f"API key {key.id!r} exists already")
        if not create and not exists:
            raise NotFound(f"API key {key.id!r} not found", entity="api_key", key=key.id)
        self._keys[key.hash] = key

    async def get_api_key(self, key_hash: str) -> ApiKey | None:
        return self._keys.get(key_hash)

    async def list_api_keys(self, project: str) -> list[ApiKey]:
        return sorted((k for k in self._keys.values() if k.project == project), key=lambda k: k.id)

    async def save_member(self, member: Member) -> None:
        self._members[(member.project, member.email)] = member

    async def delete_member(self, project: str, email: str) -> None:
        self._members.pop((project, email), None)

    async def list_members(self, project: str) -> list[Member]:
        return sorted(
            (m for (p, _), m in self._members.items() if p == project), key=lambda m: m.email
        )

    async def list_memberships(self, email: str) -> list[Member]:
        return sorted(
            (m for (_, e), m in self._members.items() if e == email), key=lambda m: m.project
        )

    # DynamoDB's TTL removes invitations some time after expiry; nothing here depends on that.
    async def save_invitation(self, invitation: Invitation, *, create: bool) -> None:
        exists = invitation.token_hash in self._invitations
        if create and exists:
            raise AlreadyExists(f"invitation {invitation.id!r} exists already")
        if not create and not exists:
            raise NotFound(
                f"invitation {invitation.id!r} not found", entity="invitation", key=invitation.id
            )
        self._invitations[invitation.token_hash] = invitation

    async def get_invitation_by_hash(self, token_hash: str) -> Invitation | None:
        return self._invitations.get(token_hash)

    async def list_invitations(self, project: str) -> list[Invitation]:
        return sorted(
            (i for i in self._invitations.values() if i.project == project), key=lambda i: i.id
        )

    async def end_sessions(self, email: str, before: datetime) -> None:
        stored = self._sessions_ended.get(email)
        if stored is None or stored < before:
            self._sessions_ended[email] = before

    async def sessions_ended(self, email: str) -> datetime | None:
        return self._sessions_ended.get(email)

    async def record_usage(self, project: str, flag: str, deltas: Mapping[str, UsageDelta]) -> None:
        if not deltas:
            return
        first = window_start(max(d.last for d in deltas.values()))
        usage = self._usage[(project, flag)]
        for env, delta in deltas.items():
            kept = usage.setdefault(env, _Usage())
            last = delta.last.astimezone(UTC)
            day = last.date()
            kept.total += delta.count
            kept.daily[day] = kept.daily.get(day, 0) + delta.count
            kept.daily = {d: n for d, n in kept.daily.items() if d >= first}
            if kept.last is None or kept.last < last:
                kept.last = last

    async def get_usage(self, project: str, *, now: datetime) -> list[FlagUsage]:
        flags = sorted(f for p, f in self._usage if p == project)
        return [await self.get_flag_usage(project, f, now=now) for f in flags]

    async def get_flag_usage(self, project: str, flag: str, *, now: datetime) -> FlagUsage:
        environments = {
            env: EnvironmentUsage.build(u.total, u.last, u.daily, now)
            for env, u in self._usage.get((project, flag), {}).items()
        }
        return FlagUsage.build(project, flag, environments)
