from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from ff_core import limits
from ff_core.models._base import Model


class ActorKind(StrEnum):
    USER = "user"
    API_KEY = "api_key"
    LIBRARY = "library"
    SYSTEM = "system"


class Actor(Model):
    """Who made a change: always taken from a verified session or key, never a request body."""

    kind: ActorKind
    subject: str = Field(min_length=1, max_length=320)
    email: str | None = Field(default=None, max_length=320)
    name: str | None = Field(default=None, max_length=limits.MAX_NAME_LENGTH)


class EntityKind(StrEnum):
    PROJECT = "project"
    FLAG = "flag"
    SEGMENT = "segment"
    TENANT = "tenant"


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    ENVIRONMENT_UPDATED = "environment_updated"
    ENABLED_SET = "enabled_set"
    DELETED = "deleted"
    ROLLED_BACK = "rolled_back"
    ONBOARDED = "onboarded"
    OVERRIDE_SET = "override_set"
    OVERRIDE_CLEARED = "override_cleared"
    CLEANED_UP = "cleaned_up"


class HistoryEntry(Model):
    """One audited change: written in the same transaction as the change itself."""

    id: str
    project: str
    entity: EntityKind
    key: str
    action: Action
    actor: Actor
    at: datetime
    environment: str | None = None
    # The environments the change was limited to; empty means the whole flag changed.
    environments: tuple[str, ...] = ()
    note: str = Field(default="", max_length=limits.MAX_NOTE_LENGTH)
    old: dict[str, Any] | None = None
    new: dict[str, Any] | None = None
    version: int
    seq: int
    rolled_back_to: str | None = None


class ChangeKind(StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"


class ChangeEntry(Model):
    """An entry of a project's gapless change log; ``seq`` is the SSE event id."""

    seq: int = Field(ge=1)
    project: str
    entity: EntityKind
    key: str
    change: ChangeKind
    environments: tuple[str, ...] = ()
    version: int
    at: datetime
