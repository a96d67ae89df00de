"""The invitation part of the Store contract, run against every implementation (STYLE 6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ff_core.errors import AlreadyExists, NotFound
from ff_core.models import Invitation, Role
from ff_core.store import DynamoStore, Store
from ff_core.store import items as it

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def invitation(inv_id: str, *, project: str = "demo", **changes: object) -> Invitation:
    return Invitation(
        id=inv_id,
        project=project,
        email=f"{inv_id}@example.com",
        role=Role.EDITOR,
        token_hash=f"{inv_id:0>64}",
        invited_by="alice",
        created_at=T0,
        expires_at=T0 + timedelta(days=7),
    ).replace(**changes)


async def test_invitations__create_find_list_update__by_hash_and_project(store: Store) -> None:
    await store.save_invitation(invitation("i2"), create=True)
    await store.save_invitation(invitation("i1"), create=True)
    await store.save_invitation(invitation("i3", project="other"), create=True)

    revoked = invitation("i1", revoked_at=T0 + timedelta(hours=1))
    await store.save_invitation(revoked, create=False)

    assert await store.get_invitation_by_hash(invitation("i1").token_hash) == revoked
    assert await store.get_invitation_by_hash("f" * 64) is None
    assert await store.list_invitations("demo") == [revoked, invitation("i2")]
    assert [i.id for i in await store.list_invitations("other")] == ["i3"]
    assert await store.list_invitations("nope") == []


async def test_save_invitation__create_existing_or_update_missing__refused(store: Store) -> None:
    await store.save_invitation(invitation("i1"), create=True)

    with pytest.raises(AlreadyExists, match="'i1'"):
        await store.save_invitation(invitation("i1"), create=True)
    with pytest.raises(NotFound, match="'i9'"):
        await store.save_invitation(invitation("i9"), create=False)
    assert [i.id for i in await store.list_invitations("demo")] == ["i1"]


async def test_save_invitation__dynamodb__both_items_carry_the_ttl(
    dynamo_store: DynamoStore,
) -> None:
    inv = invitation("i1")
    await dynamo_store.save_invitation(inv, create=True)

    items = [i for i in await dynamo_store.dump_items() if "INVITE" in i["pk"]["S"]]

    expected = int((inv.expires_at + timedelta(days=it.INVITATION_RETENTION_DAYS)).timestamp())
    assert sorted(i["pk"]["S"] for i in items) == [f"INVITE#{inv.token_hash}", "INVITES#demo"]
    assert {i["ttl"]["N"] for i in items} == {str(expected)}
