"""Invitations on every store: invite by email with a role, accept on sign-in with that email."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ff_core import keys
from ff_core.errors import AlreadyExists, Forbidden, InvalidDefinition, NotFound
from ff_core.models import Actor, InvitationStatus, Member, Project, Role
from ff_core.services import AccessService, Services
from ff_core.store import DynamoStore, Store
from tests.core.services_support import PROJECT, FakeClock

SECRET = b"s" * 32
DAY = timedelta(days=1)


@pytest.fixture
async def access(store: Store, alice: Actor, clock: FakeClock) -> AccessService:
    services = Services(store, clock, key_secret=SECRET)
    await services.projects.create_project(alice, Project(key=PROJECT, name="Shop"))
    await services.access.set_member(
        alice, PROJECT, "alice@example.com", Role.OWNER, granted_by=Role.OWNER
    )
    return services.access


async def test_invite_then_accept__matching_email__member_with_role_added_by_inviter(
    access: AccessService, alice: Actor, clock: FakeClock
) -> None:
    invitation, raw = await access.invite(
        alice, PROJECT, "Carol@Example.com", Role.EDITOR, granted_by=Role.OWNER
    )

    member = await access.accept_invitation(raw, "carol@example.com", now=clock.now + DAY)

    assert raw.startswith("ffi_")
    assert invitation.email == "carol@example.com"
    assert invitation.expires_at == invitation.created_at + 7 * DAY
    assert member == Member(
        project=PROJECT,
        email="carol@example.com",
        role=Role.EDITOR,
        added_by="alice",
        added_at=clock.now + DAY,
    )
    assert await access.role_of(PROJECT, "carol@example.com") is Role.EDITOR
    [stored] = await access.list_invitations(PROJECT)
    assert stored.status(clock.now + DAY) is InvitationStatus.ACCEPTED
    assert (stored.accepted_at, stored.accepted_by) == (clock.now + DAY, "carol@example.com")


async def test_accept_invitation__signed_in_email_differs_in_case__accepted(
    access: AccessService, alice: Actor
) -> None:
    _, raw = await access.invite(
        alice, PROJECT, "carol@example.com", Role.VIEWER, granted_by=Role.OWNER
    )

    member = await access.accept_invitation(raw, " CAROL@example.COM ")

    assert (member.email, member.role) == ("carol@example.com", Role.VIEWER)


async def test_accept_invitation__other_email__forbidden_naming_both_and_nothing_written(
    access: AccessService, alice: Actor
) -> None:
    _, raw = await access.invite(
        alice, PROJECT, "carol@example.com", Role.EDITOR, granted_by=Role.OWNER
    )

    with pytest.raises(Forbidden) as caught:
        await access.accept_invitation(raw, "mallory@example.com")

    assert caught.value.message == (
        "this invitation is for carol@example.com; you signed in as mallory@example.com"
    )
    assert caught.value.details == {"field": "email", "reason": "wrong_email"}
    assert await access.role_of(PROJECT, "mallory@example.com") is None
    [stored] = await access.list_invitations(PROJECT)
    assert stored.accepted_at is None


async def test_accept_invitation__eight_days_later__forbidden_expired(
    access: AccessService, alice: Actor, clock: FakeClock
) -> None:
    invitation, raw = await access.invite(
        alice, PROJECT, "carol@example.com", Role.EDITOR, granted_by=Role.OWNER
    )
    later = invitation.created_at + 8 * DAY

    with pytest.raises(Forbidden, match="invitation expired on 2030-01-08") as caught:
        await access.accept_invitation(raw, "carol@example.com", now=later)

    assert caught.value.details["reason"] == "expired"
    assert await access.role_of(PROJECT, "carol@example.com") is None
    assert (await access.list_invitations(PROJECT))[0].status(later) is InvitationStatus.EXPIRED


async def test_accept_invitation__just_before_seven_days__accepted(
    access: AccessService, alice: Actor
) -> None:
    invitation, raw = await access.invite(
        alice, PROJECT, "carol@example.com", Role.EDITOR, granted_by=Role.OWNER
    )
    almost = invitation.expires_at - timedelta(seconds=1)

    member = await access.accept_invitation(raw, "carol@example.com", now=almost)

    assert member.role is Role.EDITOR


async def test_accept_invitation__revoked__forbidden_revoked(
    access: AccessService, alice: Actor
) -> None:
    invitation, raw = await access.invite(
        alice, PROJECT, "carol@example.com", Role.EDITOR, granted_by=Role.OWNER
    )
    revoked = await access.revoke_invitation(alice, PROJECT, invitation.id, granted_by=Role.ADMIN)

    with pytest.raises(Forbidden, match="invitation was revoked") as caught:
        await access.accept_invitation(raw, "carol@example.com")

    assert revoked.revoked_at is not None
    assert caught.value.details["reason"] == "revoked"
    assert await access.role_of(PROJECT, "carol@example.com") is None


async def test_accept_invitation__unknown_or_malformed_token__not_found(
    access: AccessService, alice: Actor
) -> None:
    await access.invite(alice, PROJECT, "carol@example.com", Role.EDITOR, granted_by=Role.OWNER)

    for raw in (keys.generate_invitation_token(), "", "ffs_" + "x" * 43, "ffi_" + "x" * 500):
        with pytest.raises(NotFound, match="invitation not found"):
            await access.accept_invitation(raw, "carol@example.com")


async def test_accept_invitation__twice_same_email__same_membership_and_no_duplicate(
    access: AccessService, alice: Actor, clock: FakeClock
) -> None:
    _, raw = await access.invite(
        alice, PROJECT, "carol@example.com", Role.EDITOR, granted_by=Role.OWNER
    )
    first = await access.accept_invitation(raw, "carol@example.com")
    accepted = await access.list_invitations(PROJECT)

    again = await access.accept_invitation(raw, "carol@example.com", now=clock.now + DAY)

    assert again == first
    assert [m.email for m in await access.list_members(PROJECT)] == [
        "alice@example.com",
        "carol@example.com",
    ]
    assert await access.list_invitations(PROJECT) == accepted


async def test_accept_invitation__again_after_member_was_removed__forbidden_accepted(
    access: AccessService, alice: Actor
) -> None:
    _, raw = await access.invite(
        alice, PROJECT, "carol@example.com", Role.EDITOR, granted_by=Role.OWNER
    )
    await access.accept_invitation(raw, "carol@example.com")
    await access.remove_member(alice, PROJECT, "carol@example.com", granted_by=Role.OWNER)

    with pytest.raises(Forbidden, match="accepted already") as caught:
        await access.accept_invitation(raw, "carol@example.com")

    assert caught.value.details["reason"] == "accepted"
    assert await access.role_of(PROJECT, "carol@example.com") is None


async def test_accept_invitation__member_meanwhile_with_higher_role__role_kept(
    access: AccessService, alice: Actor
) -> None:
    _, raw = await access.invite(
        alice, PROJECT, "carol@example.com", Role.VIEWER, granted_by=Role.OWNER
    )
    admin = await access.set_member(
        alice, PROJECT, "carol@example.com", Role.ADMIN, granted_by=Role.OWNER
    )

    member = await access.accept_invitation(raw, "carol@example.com")

    assert member == admin
    assert await access.role_of(PROJECT, "carol@example.com") is Role.ADMIN


async def test_invite__admin_invites_owner__forbidden_naming_role(
    access: AccessService, alice: Actor
) -> None:
    with pytest.raises(Forbidden, match="an admin cannot invite an owner") as caught:
        await access.invite(alice, PROJECT, "carol@example.com", Role.OWNER, granted_by=Role.ADMIN)

    assert caught.value.details["field"] == "role"
    assert await access.list_invitations(PROJECT) == []


async def test_invite__owner_invites_owner__accepted_as_owner(
    access: AccessService, alice: Actor
) -> None:
    _, raw = await access.invite(
        alice, PROJECT, "carol@example.com", Role.OWNER, granted_by=Role.OWNER
    )

    member = await access.accept_invitation(raw, "carol@example.com")

    assert member.role is Role.OWNER


@pytest.mark.parametrize("granted_by", [Role.EDITOR, Role.VIEWER])
async def test_invite__granter_below_admin__forbidden(
    access: AccessService, alice: Actor, granted_by: Role
) -> None:
    with pytest.raises(Forbidden, match="cannot invite members; owners and admins can"):
        await access.invite(alice, PROJECT, "carol@example.com", Role.VIEWER, granted_by=granted_by)


@pytest.mark.parametrize("email", ["carol", "carol@", "@example.com", "ca rol@example.com", ""])
async def test_invite__bad_email__invalid_definition_naming_email(
    access: AccessService, alice: Actor, email: str
) -> None:
    with pytest.raises(InvalidDefinition, match="is not an email address") as caught:
        await access.invite(alice, PROJECT, email, Role.VIEWER, granted_by=Role.OWNER)

    assert caught.value.details["field"] == "email"


async def test_invite__existing_member__already_exists_naming_email(
    access: AccessService, alice: Actor
) -> None:
    with pytest.raises(AlreadyExists, match=r"alice@example\.com is already a member") as caught:
        await access.invite(alice, PROJECT, "ALICE@example.com", Role.VIEWER, granted_by=Role.OWNER)

    assert caught.value.details["field"] == "email"


async def test_invite__unknown_project__not_found(access: AccessService, alice: Actor) -> None:
    with pytest.raises(NotFound, match="project 'nope' not found"):
        await access.invite(alice, "nope", "carol@example.com", Role.VIEWER, granted_by=Role.OWNER)


async def test_invite__same_email_again__earlier_pending_one_revoked(
    access: AccessService, alice: Actor
) -> None:
    first, first_raw = await access.invite(
        alice, PROJECT, "carol@example.com", Role.VIEWER, granted_by=Role.OWNER
    )
    second, second_raw = await access.invite(
        alice, PROJECT, "carol@example.com", Role.EDITOR, granted_by=Role.OWNER
    )

    with pytest.raises(Forbidden, match="revoked"):
        await access.accept_invitation(first_raw, "carol@example.com")
    member = await access.accept_invitation(second_raw, "carol@example.com")

    assert first.token_hash != second.token_hash
    assert member.role is Role.EDITOR


async def test_invite__raw_token__never_stored_only_its_hmac(
    access: AccessService, alice: Actor, store: Store
) -> None:
    invitation, raw = await access.invite(
        alice, PROJECT, "carol@example.com", Role.EDITOR, granted_by=Role.OWNER
    )

    assert invitation.token_hash == keys.digest(raw, SECRET)
    assert await store.get_invitation_by_hash(invitation.token_hash) == invitation
    assert raw not in invitation.model_dump_json()
    if isinstance(store, DynamoStore):
        assert raw not in str(await store.dump_items())
    else:
        assert raw not in str(vars(store))


async def test_list_invitations__each_status__newest_first_with_statuses(
    access: AccessService, alice: Actor, clock: FakeClock
) -> None:
    old, _ = await access.invite(
        alice, PROJECT, "old@example.com", Role.VIEWER, granted_by=Role.OWNER
    )
    start = clock.now + 3 * DAY
    taken, taken_raw = await access.invite(
        alice, PROJECT, "taken@example.com", Role.VIEWER, granted_by=Role.OWNER, now=start
    )
    gone, _ = await access.invite(
        alice, PROJECT, "gone@example.com", Role.VIEWER, granted_by=Role.OWNER, now=start + DAY
    )
    waiting, _ = await access.invite(
        alice,
        PROJECT,
        "waiting@example.com",
        Role.EDITOR,
        granted_by=Role.OWNER,
        now=start + 2 * DAY,
    )
    await access.accept_invitation(taken_raw, "taken@example.com", now=start + 3 * DAY)
    await access.revoke_invitation(
        alice, PROJECT, gone.id, granted_by=Role.OWNER, now=start + 3 * DAY
    )
    now = start + 5 * DAY

    listed = await access.list_invitations(PROJECT)

    assert [(i.email, i.status(now)) for i in listed] == [
        ("waiting@example.com", InvitationStatus.PENDING),
        ("gone@example.com", InvitationStatus.REVOKED),
        ("taken@example.com", InvitationStatus.ACCEPTED),
        ("old@example.com", InvitationStatus.EXPIRED),
    ]
    assert [i.id for i in listed] == [waiting.id, gone.id, taken.id, old.id]


async def test_revoke_invitation__admin_revokes_owner_invitation__forbidden(
    access: AccessService, alice: Actor
) -> None:
    invitation, _ = await access.invite(
        alice, PROJECT, "carol@example.com", Role.OWNER, granted_by=Role.OWNER
    )

    with pytest.raises(Forbidden, match="an admin cannot revoke the invitation of an owner"):
        await access.revoke_invitation(alice, PROJECT, invitation.id, granted_by=Role.ADMIN)

    [stored] = await access.list_invitations(PROJECT)
    assert stored.revoked_at is None


async def test_revoke_invitation__accepted_or_unknown__refused(
    access: AccessService, alice: Actor
) -> None:
    invitation, raw = await access.invite(
        alice, PROJECT, "carol@example.com", Role.EDITOR, granted_by=Role.OWNER
    )
    await access.accept_invitation(raw, "carol@example.com")

    with pytest.raises(InvalidDefinition, match="accepted already; remove the member instead"):
        await access.revoke_invitation(alice, PROJECT, invitation.id, granted_by=Role.OWNER)
    with pytest.raises(NotFound, match="invitation 'nope' not found"):
        await access.revoke_invitation(alice, PROJECT, "nope", granted_by=Role.OWNER)


async def test_revoke_invitation__twice__second_returns_the_revoked_one(
    access: AccessService, alice: Actor, clock: FakeClock
) -> None:
    invitation, _ = await access.invite(
        alice, PROJECT, "carol@example.com", Role.EDITOR, granted_by=Role.OWNER
    )
    first = await access.revoke_invitation(alice, PROJECT, invitation.id, granted_by=Role.OWNER)

    second = await access.revoke_invitation(
        alice, PROJECT, invitation.id, granted_by=Role.OWNER, now=clock.now + DAY
    )

    assert second == first
