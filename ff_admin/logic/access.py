"""Rows for the API keys and Members pages, and what the caller may pick in their forms.

Decisions:
- A key row carries the display prefix only: the hash stays in the store, the raw key is
  never stored anywhere. Active keys come first, newest first, then revoked ones.
- Roles offered in a form are those the caller may hand out (``Role.allows``): an admin
  never sees "owner". The services check the same again; this only keeps the form honest.
- A member row is editable when the caller is an admin or owner and may grant the
  member's current role: an admin sees an owner's role, but cannot change or remove it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ff_core.errors import InvalidDefinition
from ff_core.models import ApiKey, Invitation, InvitationStatus, KeyKind, Member, Role

ROLES = (Role.OWNER, Role.ADMIN, Role.EDITOR, Role.VIEWER)
KINDS = tuple(kind.value for kind in KeyKind)


def when(at: datetime | None) -> str:
    return "" if at is None else f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def grantable_roles(caller: Role | None) -> list[str]:
    """The roles ``caller`` may give to members, invitations and admin keys (highest first)."""
    if caller is None or not caller.allows(Role.ADMIN):
        return []
    return [role.value for role in ROLES if caller.allows(role)]


@dataclass
class KeyRow:
    id: str
    name: str
    kind: str
    # The environment of a server or client key, the role of an admin key.
    scope: str
    prefix: str
    created_by: str
    created_at: str
    revoked_at: str
    active: bool


def key_rows(keys: Iterable[ApiKey]) -> list[KeyRow]:
    ordered = sorted(keys, key=lambda k: (k.revoked_at is None, k.created_at), reverse=True)
    return [
        KeyRow(
            id=k.id,
            name=k.name,
            kind=k.kind.value,
            scope=k.environment or (k.role.value if k.role else ""),
            prefix=k.prefix,
            created_by=k.created_by,
            created_at=when(k.created_at),
            revoked_at=when(k.revoked_at),
            active=k.revoked_at is None,
        )
        for k in ordered
    ]


@dataclass(frozen=True)
class KeyRequest:
    name: str
    kind: KeyKind
    environment: str | None
    role: Role | None


def parse_key_form(
    name: str, kind: str, environment: str, role: str, environments: Sequence[str]
) -> KeyRequest:
    """What to create from the form's fields; InvalidDefinition names the field at fault."""
    name = name.strip()
    if not name:
        raise InvalidDefinition(
            "give the key a name, e.g. the service that will use it", field="name"
        )
    if kind not in KINDS:
        raise InvalidDefinition(f"{kind!r} is not a key kind", field="kind")
    if kind == KeyKind.ADMIN:
        if role not in {r.value for r in ROLES}:
            raise InvalidDefinition("pick the role an admin key acts with", field="role")
        return KeyRequest(name, KeyKind.ADMIN, None, Role(role))
    if environment not in environments:
        raise InvalidDefinition("pick the environment the key reads", field="environment")
    return KeyRequest(name, KeyKind(kind), environment, None)


@dataclass
class MemberRow:
    email: str
    role: str
    added_by: str
    added_at: str
    # Whether the caller may change this member's role or remove them.
    editable: bool
    is_you: bool


def member_rows(members: Iterable[Member], caller: Role | None, you: str) -> list[MemberRow]:
    grantable = set(grantable_roles(caller))
    return [
        MemberRow(
            email=m.email,
            role=m.role.value,
            added_by=m.added_by,
            added_at=when(m.added_at),
            editable=m.role.value in grantable,
            is_you=m.email == you,
        )
        for m in sorted(members, key=lambda m: (-m.role.rank, m.email))
    ]


@dataclass
class InvitationRow:
    id: str
    email: str
    role: str
    status: str
    invited_by: str
    created_at: str
    expires_at: str
    revocable: bool


def invitation_rows(
    invitations: Iterable[Invitation], caller: Role | None, now: datetime
) -> list[InvitationRow]:
    grantable = set(grantable_roles(caller))
    rows = []
    for i in invitations:
        status = i.status(now)
        rows.append(
            InvitationRow(
                id=i.id,
                email=i.email,
                role=i.role.value,
                status=status.value,
                invited_by=i.invited_by,
                created_at=when(i.created_at),
                expires_at=when(i.expires_at),
                revocable=status is InvitationStatus.PENDING and i.role.value in grantable,
            )
        )
    return rows


def invitation_link(public_url: str, raw_token: str) -> str:
    return f"{public_url.rstrip('/')}/auth/invite/{raw_token}"
