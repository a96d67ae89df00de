"""Rows and form choices of the API keys and Members pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ff_admin.logic.access import (
    KeyRequest,
    grantable_roles,
    invitation_link,
    invitation_rows,
    key_rows,
    member_rows,
    parse_key_form,
    when,
)
from ff_core.errors import InvalidDefinition
from ff_core.models import ApiKey, Invitation, KeyKind, Member, Role

NOW = datetime(2030, 6, 1, 12, tzinfo=UTC)
ENVS = ["development", "staging", "production"]


def key(id_: str, *, minutes: int = 0, revoked: bool = False, **fields: object) -> ApiKey:
    data: dict[str, object] = {
        "id": id_,
        "project": "demo",
        "kind": KeyKind.SERVER,
        "name": f"key {id_}",
        "prefix": f"ffs_{id_:0<8}",
        "hash": "a" * 64,
        "environment": "production",
        "created_by": "dev@localhost",
        "created_at": NOW + timedelta(minutes=minutes),
        "revoked_at": NOW + timedelta(hours=1) if revoked else None,
    }
    return ApiKey.model_validate(data | fields)


def member(email: str, role: Role) -> Member:
    return Member(project="demo", email=email, role=role, added_by="seed", added_at=NOW)


def invitation(id_: str, role: Role = Role.EDITOR, **fields: object) -> Invitation:
    data: dict[str, object] = {
        "id": id_,
        "project": "demo",
        "email": f"{id_}@example.com",
        "role": role,
        "token_hash": "b" * 64,
        "invited_by": "dev@localhost",
        "created_at": NOW - timedelta(days=1),
        "expires_at": NOW + timedelta(days=6),
    }
    return Invitation.model_validate(data | fields)


def test_when__other_timezone__shown_in_utc() -> None:
    at = datetime(2030, 6, 1, 14, 5, tzinfo=timezone(timedelta(hours=2)))
    assert when(at) == "2030-06-01 12:05 UTC"
    assert when(None) == ""


@pytest.mark.parametrize(
    ("caller", "roles"),
    [
        (Role.OWNER, ["owner", "admin", "editor", "viewer"]),
        (Role.ADMIN, ["admin", "editor", "viewer"]),
        (Role.EDITOR, []),
        (Role.VIEWER, []),
        (None, []),
    ],
)
def test_grantable_roles__caller__never_above_their_own(
    caller: Role | None, roles: list[str]
) -> None:
    assert grantable_roles(caller) == roles


def test_key_rows__mixed__active_newest_first_then_revoked() -> None:
    rows = key_rows(
        [key("old", minutes=1), key("gone", minutes=5, revoked=True), key("new", minutes=9)]
    )
    assert [r.id for r in rows] == ["new", "old", "gone"]
    assert [r.active for r in rows] == [True, True, False]
    assert rows[2].revoked_at == "2030-06-01 13:00 UTC"
    assert rows[0].created_at == "2030-06-01 12:09 UTC"


def test_key_rows__any__prefix_only_never_the_hash() -> None:
    (row,) = key_rows([key("k1")])
    assert row.prefix == "ffs_k1000000"
    assert "a" * 64 not in repr(row)


def test_key_rows__admin_key__scope_is_its_role() -> None:
    admin = key("ci", kind=KeyKind.ADMIN, environment=None, role=Role.EDITOR, prefix="ffa_ci000000")
    client = key("web", kind=KeyKind.CLIENT, environment="staging")
    assert [r.scope for r in key_rows([admin, client])] == ["editor", "staging"]


def test_parse_key_form__server__environment_no_role() -> None:
    got = parse_key_form("  checkout ", "server", "staging", "viewer", ENVS)
    assert got == KeyRequest("checkout", KeyKind.SERVER, "staging", None)


def test_parse_key_form__admin__role_no_environment() -> None:
    got = parse_key_form("ci", "admin", "staging", "editor", ENVS)
    assert got == KeyRequest("ci", KeyKind.ADMIN, None, Role.EDITOR)


@pytest.mark.parametrize(
    ("name", "kind", "environment", "role", "field"),
    [
        ("   ", "server", "staging", "viewer", "name"),
        ("x", "root", "staging", "viewer", "kind"),
        ("x", "client", "qa", "viewer", "environment"),
        ("x", "admin", "staging", "god", "role"),
    ],
)
def test_parse_key_form__invalid__names_the_field(
    name: str, kind: str, environment: str, role: str, field: str
) -> None:
    with pytest.raises(InvalidDefinition) as caught:
        parse_key_form(name, kind, environment, role, ENVS)
    assert caught.value.details["field"] == field


def test_member_rows__owner_caller__everyone_editable_owners_first() -> None:
    rows = member_rows(
        [
            member("b@x.io", Role.VIEWER),
            member("a@x.io", Role.EDITOR),
            member("o@x.io", Role.OWNER),
        ],
        Role.OWNER,
        "o@x.io",
    )
    assert [(r.email, r.role, r.editable, r.is_you) for r in rows] == [
        ("o@x.io", "owner", True, True),
        ("a@x.io", "editor", True, False),
        ("b@x.io", "viewer", True, False),
    ]


def test_member_rows__admin_caller__owners_read_only() -> None:
    rows = member_rows(
        [member("o@x.io", Role.OWNER), member("d@x.io", Role.ADMIN)], Role.ADMIN, "d@x.io"
    )
    assert [(r.email, r.editable) for r in rows] == [("o@x.io", False), ("d@x.io", True)]


def test_member_rows__editor_caller__nothing_editable() -> None:
    rows = member_rows([member("v@x.io", Role.VIEWER)], Role.EDITOR, "e@x.io")
    assert [r.editable for r in rows] == [False]


def test_invitation_rows__statuses__only_pending_revocable() -> None:
    rows = invitation_rows(
        [
            invitation("pending"),
            invitation("accepted", accepted_at=NOW, accepted_by="accepted@example.com"),
            invitation("revoked", revoked_at=NOW),
            invitation("expired", expires_at=NOW - timedelta(seconds=1)),
        ],
        Role.OWNER,
        NOW,
    )
    assert [(r.id, r.status, r.revocable) for r in rows] == [
        ("pending", "pending", True),
        ("accepted", "accepted", False),
        ("revoked", "revoked", False),
        ("expired", "expired", False),
    ]
    assert rows[0].expires_at == "2030-06-07 12:00 UTC"


def test_invitation_rows__admin_caller__owner_invitation_not_revocable() -> None:
    rows = invitation_rows([invitation("boss", Role.OWNER), invitation("dev")], Role.ADMIN, NOW)
    assert [r.revocable for r in rows] == [False, True]


def test_invitation_link__trailing_slash__one_slash() -> None:
    assert (
        invitation_link("https://flags.example.com/", "ffi_abc")
        == "https://flags.example.com/auth/invite/ffi_abc"
    )
