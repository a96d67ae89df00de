"""Request and response bodies of the management API that are not domain models themselves.

Domain models (Flag, EnvironmentConfig, Segment, Project, ...) are the bodies where they
fit; these cover the rest. They are also what ``/openapi.json`` is generated from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ff_core.limits import MAX_NOTE_LENGTH
from ff_core.models import (
    ApiKey,
    Environment,
    Flag,
    FlagKind,
    HistoryEntry,
    KeyKind,
    Member,
    Project,
    Role,
    Tenant,
)
from ff_core.models.flag import Description, EnvironmentKey, Name
from ff_core.models.project import ProjectKey
from ff_core.models.tenant import TenantKey


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectCreate(Body):
    key: ProjectKey
    name: Name
    description: Description = ""
    environments: tuple[Environment, ...] | None = None


class SetEnabledIn(Body):
    """Without ``enabled``: on in exactly ``environments``, off elsewhere (one write).
    With it: each listed environment switched to ``enabled``, the others untouched."""

    environments: list[EnvironmentKey] = Field(max_length=64)
    enabled: bool | None = None
    note: str = Field(default="", max_length=MAX_NOTE_LENGTH)


class Rollback(Body):
    history_id: str = Field(min_length=1, max_length=200)
    note: str = Field(default="", max_length=MAX_NOTE_LENGTH)


class KeyCreate(Body):
    kind: KeyKind
    name: str = Field(min_length=1, max_length=200)
    environment: EnvironmentKey | None = None
    role: Role | None = None


class MemberSet(Body):
    role: Role


class KeyView(Body):
    """An API key as listed: the prefix identifies it; the hash never leaves the store."""

    id: str
    project: str
    kind: KeyKind
    name: str
    prefix: str
    environment: str | None
    role: Role | None
    created_by: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyView:
        return cls.model_validate(key.model_dump(exclude={"hash"}))


class KeyCreated(Body):
    key: KeyView
    raw_key: str = Field(description="Shown once: only its HMAC is stored.")


class FlagEnvironmentSummary(Body):
    enabled: bool
    version: int
    # Registry flags only (absent otherwise): True while it serves the registry default.
    is_default: bool | None = Field(default=None, exclude_if=lambda v: v is None)


class FlagSummary(Body):
    key: str
    name: str
    tags: tuple[str, ...]
    kind: FlagKind
    client_visible: bool
    archived: bool
    version: int
    updated_at: datetime | None
    environments: dict[str, FlagEnvironmentSummary]
    # True while the flag is in its project's registry.
    registry: bool = False


class FlagPage(Body):
    items: list[FlagSummary]
    next_cursor: str | None


class HistoryPage(Body):
    items: list[HistoryEntry]
    next_cursor: str | None


class Me(Body):
    subject: str
    kind: str
    memberships: list[Member]


class ProjectList(Body):
    items: list[Project]


class Problem(Body):
    """Every error: ``application/problem+json``."""

    model_config = ConfigDict(extra="allow", frozen=True)
    status: int
    code: str
    message: str
    field: str | None = None
    errors: list[dict[str, Any]] | None = None


# -- evaluation and SDK bodies (documented in /openapi.json; handlers build them directly) ---


class EvaluationRequest(Body):
    context: dict[str, Any] | None = Field(
        default=None, description="Attributes; `targeting_key` (or OFREP's `targetingKey`)."
    )
    flags: list[str] | None = Field(default=None, description="Only these flags (default all).")


class OfrepRequest(Body):
    model_config = ConfigDict(extra="allow", frozen=True)
    context: dict[str, Any] | None = None


class NativeResult(Body):
    value: Any
    variant: str | None
    reason: str
    error_code: str | None
    error_message: str | None
    version: int | None


class NativeOne(NativeResult):
    key: str
    latency_ms: float


class NativeBulk(Body):
    environment: str
    flags: dict[str, NativeResult]
    latency_ms: float


class OfrepSuccess(Body):
    key: str
    value: Any
    reason: str
    variant: str | None
    metadata: dict[str, Any]


class OfrepFailure(Body):
    """Field names follow the OFREP spec's spelling."""

    key: str | None = None
    errorCode: str
    errorDetails: str


class OfrepEventStream(Body):
    type: str
    url: str
    inactivityDelaySec: int | None = None


class OfrepBulk(Body):
    flags: list[OfrepSuccess | OfrepFailure]
    metadata: dict[str, Any]
    eventStreams: list[OfrepEventStream] | None = None


class SdkDefinitions(Body):
    project: str
    environment: str
    seq: int
    flags: list[dict[str, Any]]
    segments: list[dict[str, Any]]


class Status(Body):
    model_config = ConfigDict(extra="allow", frozen=True)
    status: str


class FlagView(Flag):
    """A flag as management answers it: registry flags also say, per environment, whether
    it still serves the registry default (reads merge registry defaults and stored state)."""

    is_default: dict[str, bool] | None = Field(default=None, exclude_if=lambda v: v is None)


# -- tenants --------------------------------------------------------------------------------


class TenantCreate(Body):
    key: TenantKey = Field(description="The tenant id evaluation contexts carry.")
    name: Name | None = None


class TenantOnboarded(Body):
    tenant: Tenant
    created: bool = Field(description="False: it was onboarded before; nothing was written.")


class TenantPage(Body):
    items: list[Tenant]
    next_cursor: str | None


class TenantFlagValueView(Body):
    flag: str
    environment: str
    variant: str
    value: Any
    explicit: bool = Field(description="The tenant's own stored state (else the flag's default).")
    overridden: bool


class TenantViewBody(Body):
    tenant: Tenant
    values: list[TenantFlagValueView]
    orphaned: list[str] = Field(description="State for keys no longer in the registry: ignored.")


class FlagTenantValueView(Body):
    tenant: str
    name: str
    variant: str
    value: Any
    explicit: bool
    overridden: bool


class FlagTenantPage(Body):
    flag: str
    environment: str
    items: list[FlagTenantValueView]
    next_cursor: str | None


class TenantOverride(Body):
    variant: str


class TenantCleanup(Body):
    dry_run: bool
    removed: dict[str, list[str]] = Field(description="Tenant -> orphaned keys (to be) removed.")
