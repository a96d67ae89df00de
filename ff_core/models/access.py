from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field, model_validator

from ff_core.models._base import Model


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Member(Model):
    project: str
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    role: Role
    added_by: str
    added_at: datetime


class KeyKind(StrEnum):
    SERVER = "server"
    CLIENT = "client"
    ADMIN = "admin"


class ApiKey(Model):
    """A key record. The raw key is shown once and never stored: only its HMAC and a prefix."""

    id: str
    project: str
    kind: KeyKind
    name: str = Field(min_length=1, max_length=200)
    prefix: str = Field(min_length=4, max_length=32)
    hash: str = Field(min_length=64, max_length=64)
    environment: str | None = None
    role: Role | None = None
    created_by: str
    created_at: datetime
    revoked_at: datetime | None = None

    @model_validator(mode="after")
    def _scope(self) -> ApiKey:
        if self.kind is KeyKind.ADMIN:
            if self.role is None or self.environment is not None:
                raise ValueError("an admin key has a role and no environment")
        elif self.environment is None or self.role is not None:
            raise ValueError(f"a {self.kind.value} key has one environment and no role")
        return self
