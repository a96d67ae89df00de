from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

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


EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"


class Member(Model):
    project: str
    email: str = Field(min_length=3, max_length=320, pattern=EMAIL_PATTERN)
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


INVITATION_LIFETIME = timedelta(days=7)


class InvitationStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    EXPIRED = "expired"
    REVOKED = "revoked"


class Invitation(Model):
    """An invitation to join a project with a role, accepted on sign-in with ``email``.

    Like an API key, the raw token is shown once and never stored: only its HMAC.
    """

    id: str
    project: str
    email: str = Field(min_length=3, max_length=320, pattern=EMAIL_PATTERN)
    role: Role
    token_hash: str = Field(min_length=64, max_length=64)
    invited_by: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None
    # The signed-in email that accepted it.
    accepted_by: str | None = None
    revoked_at: datetime | None = None

    @field_validator("email", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        # Sign-in emails are compared case-insensitively; one spelling is stored.
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> Invitation:
        if self.expires_at <= self.created_at:
            raise ValueError("an invitation expires after it is created")
        if (self.accepted_at is None) != (self.accepted_by is None):
            raise ValueError("accepted_at and accepted_by are set together")
        return self

    def status(self, now: datetime) -> InvitationStatus:
        if self.accepted_at is not None:
            return InvitationStatus.ACCEPTED
        if self.revoked_at is not None:
            return InvitationStatus.REVOKED
        if now >= self.expires_at:
            return InvitationStatus.EXPIRED
        return InvitationStatus.PENDING
