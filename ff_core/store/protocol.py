"""What every store offers. One shared contract test suite holds each implementation to it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from ff_core.models import (
    Action,
    Actor,
    ApiKey,
    ChangeEntry,
    EntityKind,
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

Entity = Project | Flag | Segment | Tenant
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Write:
    """One audited mutation of one entity, committed atomically with its history and change log.

    ``expected_version`` None means the entity must not exist yet; ``new`` None deletes it.
    ``new.version`` must be ``expected_version + 1`` (or 1 on create).
    """

    project: str
    entity: EntityKind
    key: str
    action: Action
    actor: Actor
    at: datetime
    new: Entity | None
    old: Entity | None
    expected_version: int | None
    idempotency_key: str
    # What makes two writes under one idempotency key the same request (the service decides).
    fingerprint: str
    environments: tuple[str, ...] = ()
    environment: str | None = None
    # Environments the change was limited to (history); empty: the whole entity.
    scoped_to: tuple[str, ...] = ()
    note: str = ""
    rolled_back_to: str | None = None


@dataclass(frozen=True, slots=True)
class Committed:
    seq: int
    version: int
    history_id: str
    # True when the idempotency key had already been applied and nothing new was written.
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class ProjectState:
    """A whole project as one Query reads it."""

    project: Project
    flags: dict[str, Flag] = field(default_factory=dict)
    segments: dict[str, Segment] = field(default_factory=dict)
    seq: int = 0
    tenants: dict[str, Tenant] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    # Pass back as ``before`` for the next page; None on the last page.
    next_cursor: str | None


class Store(Protocol):
    async def ensure_table(self) -> None: ...

    async def commit(self, write: Write) -> Committed: ...

    async def replay(
        self, project: str, idempotency_key: str, fingerprint: str
    ) -> Committed | None: ...

    async def list_projects(self) -> list[Project]: ...

    async def get_project(self, project: str) -> Project: ...

    async def load_project(self, project: str) -> ProjectState: ...

    async def get_flag(self, project: str, key: str) -> Flag: ...

    async def get_segment(self, project: str, key: str) -> Segment: ...

    async def get_tenant(self, project: str, key: str) -> Tenant: ...

    async def get_seq(self, project: str) -> int: ...

    async def list_history(
        self, project: str, entity: EntityKind, key: str, limit: int = 50, before: str | None = None
    ) -> Page[HistoryEntry]: ...

    async def get_history_entry(
        self, project: str, entity: EntityKind, key: str, history_id: str
    ) -> HistoryEntry: ...

    async def read_changes(
        self, project: str, after_seq: int, limit: int = 1000
    ) -> list[ChangeEntry]: ...

    async def save_api_key(self, key: ApiKey, *, create: bool) -> None: ...

    async def get_api_key(self, key_hash: str) -> ApiKey | None: ...

    async def list_api_keys(self, project: str) -> list[ApiKey]: ...

    async def save_member(self, member: Member) -> None: ...

    async def delete_member(self, project: str, email: str) -> None: ...

    async def list_members(self, project: str) -> list[Member]: ...

    async def list_memberships(self, email: str) -> list[Member]: ...

    # -- invitations: by token hash and by project; they expire (TTL) a while after use ------

    async def save_invitation(self, invitation: Invitation, *, create: bool) -> None:
        """Store ``invitation``; AlreadyExists on create of a stored token hash, NotFound on
        update of one not stored."""
        ...

    async def get_invitation_by_hash(self, token_hash: str) -> Invitation | None: ...

    async def list_invitations(self, project: str) -> list[Invitation]:
        """Every stored invitation of ``project`` (any status), by id."""
        ...

    # -- sessions: a sign-out ends every dashboard session of the user issued before it -------

    async def end_sessions(self, email: str, before: datetime) -> None:
        """Sessions of ``email`` issued at or before ``before`` are no longer valid. The time
        only ever moves forward: an earlier one than stored changes nothing."""
        ...

    async def sessions_ended(self, email: str) -> datetime | None:
        """When ``email`` last ended their sessions (UTC, microseconds), or None if never."""
        ...

    # -- usage: evaluation counts, one update per flag per flush ------------------------------

    async def record_usage(self, project: str, flag: str, deltas: Mapping[str, UsageDelta]) -> None:
        """Add ``deltas`` (environment -> counts) to the flag's usage in one atomic update;
        each environment's last-evaluated time only ever moves forward."""
        ...

    async def get_usage(self, project: str, *, now: datetime) -> list[FlagUsage]:
        """Every flag of ``project`` with recorded usage, by key, as of ``now``."""
        ...

    async def get_flag_usage(self, project: str, flag: str, *, now: datetime) -> FlagUsage:
        """One flag's usage; empty (never evaluated) when nothing was recorded."""
        ...
