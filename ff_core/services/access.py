"""API keys, members and invitations. Raw keys and invitation tokens are returned once, at
creation, and never stored."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from ff_core import keys
from ff_core.errors import AlreadyExists, Forbidden, InvalidDefinition, NotFound
from ff_core.models import (
    Actor,
    ApiKey,
    Invitation,
    InvitationStatus,
    KeyKind,
    Member,
    Role,
)
from ff_core.models.access import EMAIL_PATTERN, INVITATION_LIFETIME
from ff_core.services.checks import check_environments
from ff_core.services.writer import Writer
from ff_core.validation import validated


class AccessService:
    def __init__(self, writer: Writer, secret: bytes) -> None:
        self._writer = writer
        self._store = writer.store
        self._secret = secret

    async def create_key(
        self,
        actor: Actor,
        project: str,
        kind: KeyKind,
        name: str,
        *,
        environment: str | None = None,
        role: Role | None = None,
        granted_by: Role = Role.OWNER,
    ) -> tuple[ApiKey, str]:
        """A new key and its raw value: show the raw value once; only its HMAC is kept.

        ``granted_by`` is the creator's own role: nobody hands out more than they hold.
        """
        if role is not None and not granted_by.allows(role):
            raise Forbidden(
                f"a {granted_by.value} cannot create a key with role {role.value!r}",
                field="role",
            )
        meta = await self._store.get_project(project)
        if environment is not None:
            check_environments(meta, [environment])
        raw = keys.generate(kind)
        key = validated(
            lambda: ApiKey(
                id=uuid.uuid4().hex[:16],
                project=project,
                kind=kind,
                name=name,
                prefix=keys.display_prefix(raw),
                hash=keys.digest(raw, self._secret),
                environment=environment,
                role=role,
                created_by=actor.subject,
                created_at=self._writer.clock(),
            ),
            "API key",
        )
        await self._store.save_api_key(key, create=True)
        return key, raw

    async def list_keys(self, project: str) -> list[ApiKey]:
        return await self._store.list_api_keys(project)

    async def revoke_key(self, actor: Actor, project: str, key_id: str) -> ApiKey:
        found = [k for k in await self._store.list_api_keys(project) if k.id == key_id]
        if not found:
            raise NotFound(f"API key {key_id!r} not found in project {project!r}", key=key_id)
        if found[0].revoked_at is not None:
            return found[0]
        revoked = found[0].replace(revoked_at=self._writer.clock())
        await self._store.save_api_key(revoked, create=False)
        return revoked

    # -- members -----------------------------------------------------------------------------

    async def list_members(self, project: str) -> list[Member]:
        await self._store.get_project(project)
        return sorted(await self._store.list_members(project), key=lambda m: m.email)

    async def role_of(self, project: str, email: str) -> Role | None:
        """``email``'s role in ``project``, or None when not a member."""
        member = await self._membership(project, email)
        return None if member is None else member.role

    async def _membership(self, project: str, email: str) -> Member | None:
        for member in await self._store.list_memberships(email.strip().lower()):
            if member.project == project:
                return member
        return None

    async def set_member(
        self, actor: Actor, project: str, email: str, role: Role, *, granted_by: Role
    ) -> Member:
        """Add a member or change their role. Only owners grant or take away ownership,
        nobody grants more than they hold, and the last owner cannot be demoted."""
        await self._store.get_project(project)
        email = email.strip().lower()
        current = await self.role_of(project, email)
        self._check_grant(granted_by, role, current)
        if current is Role.OWNER and role is not Role.OWNER:
            await self._keep_an_owner(project, email)
        return await self._save_member(project, email, role, actor.subject, self._writer.clock())

    async def _save_member(
        self, project: str, email: str, role: Role, added_by: str, at: datetime
    ) -> Member:
        member = validated(
            lambda: Member(project=project, email=email, role=role, added_by=added_by, added_at=at),
            "member",
        )
        await self._store.save_member(member)
        return member

    async def remove_member(
        self, actor: Actor, project: str, email: str, *, granted_by: Role
    ) -> None:
        email = email.strip().lower()
        current = await self.role_of(project, email)
        if current is None:
            raise NotFound(
                f"{email!r} is not a member of project {project!r}", entity="member", key=email
            )
        self._check_grant(granted_by, current, current)
        if current is Role.OWNER:
            await self._keep_an_owner(project, email)
        await self._store.delete_member(project, email)

    # -- invitations -------------------------------------------------------------------------
    # Like member changes, invitations are not in the audited history (that holds flags,
    # segments and projects); each record keeps who invited, who accepted and when.

    async def invite(
        self,
        actor: Actor,
        project: str,
        email: str,
        role: Role,
        *,
        granted_by: Role,
        now: datetime | None = None,
    ) -> tuple[Invitation, str]:
        """A new invitation and its raw token: put the token in the link, once; only its HMAC
        is kept. It expires after ``INVITATION_LIFETIME``.

        Inviting an email again replaces its pending invitation (that one is revoked), so
        "invite again" is how a lost link is resent.
        """
        await self._store.get_project(project)
        email = email.strip().lower()
        if len(email) > 320 or not re.fullmatch(EMAIL_PATTERN, email):
            raise InvalidDefinition(f"{email!r} is not an email address", field="email")
        self._check_invite(granted_by, role)
        current = await self.role_of(project, email)
        if current is not None:
            raise AlreadyExists(
                f"{email} is already a member of project {project!r} (role {current.value!r}); "
                "change their role instead",
                field="email",
            )
        at = now or self._writer.clock()
        replaced = [
            i
            for i in await self._store.list_invitations(project)
            if i.email == email and i.status(at) is InvitationStatus.PENDING
        ]
        for earlier in replaced:
            self._check_invite(granted_by, earlier.role, revoking=True)
        raw = keys.generate_invitation_token()
        invitation = validated(
            lambda: Invitation(
                id=uuid.uuid4().hex[:16],
                project=project,
                email=email,
                role=role,
                token_hash=keys.digest(raw, self._secret),
                invited_by=actor.subject,
                created_at=at,
                expires_at=at + INVITATION_LIFETIME,
            ),
            "invitation",
        )
        await self._store.save_invitation(invitation, create=True)
        for earlier in replaced:
            await self._store.save_invitation(earlier.replace(revoked_at=at), create=False)
        return invitation, raw

    async def list_invitations(self, project: str) -> list[Invitation]:
        """Every invitation still stored, newest first, whatever its ``status(now)``: expired,
        accepted and revoked ones are removed by the table's TTL some weeks after expiry."""
        await self._store.get_project(project)
        invitations = await self._store.list_invitations(project)
        return sorted(invitations, key=lambda i: (i.created_at, i.id), reverse=True)

    async def revoke_invitation(
        self,
        actor: Actor,
        project: str,
        invitation_id: str,
        *,
        granted_by: Role,
        now: datetime | None = None,
    ) -> Invitation:
        """Revoke a pending (or expired) invitation; revoking twice returns the revoked one."""
        found = [i for i in await self._store.list_invitations(project) if i.id == invitation_id]
        if not found:
            raise NotFound(
                f"invitation {invitation_id!r} not found in project {project!r}",
                entity="invitation",
                key=invitation_id,
            )
        invitation = found[0]
        self._check_invite(granted_by, invitation.role, revoking=True)
        if invitation.accepted_at is not None:
            raise InvalidDefinition(
                f"the invitation of {invitation.email} was accepted already; remove the member "
                "instead",
                field="invitation",
            )
        if invitation.revoked_at is not None:
            return invitation
        revoked = invitation.replace(revoked_at=now or self._writer.clock())
        await self._store.save_invitation(revoked, create=False)
        return revoked

    async def accept_invitation(
        self, raw_token: str, email: str, *, now: datetime | None = None
    ) -> Member:
        """Make the signed-in ``email`` a member with the invitation's role; added by the
        inviter. Accepting never lowers a role the member has meanwhile.

        Accepting again with the same email, while still a member, returns the membership
        and writes nothing; once the member was removed, the used invitation is refused.
        """
        at = now or self._writer.clock()
        email = email.strip().lower()
        invitation = None
        if keys.looks_like_invitation_token(raw_token):
            invitation = await self._store.get_invitation_by_hash(
                keys.digest(raw_token, self._secret)
            )
        if invitation is None:
            raise NotFound(
                "invitation not found: the link is incomplete, or the invitation was removed",
                entity="invitation",
            )
        if invitation.email != email:
            raise Forbidden(
                f"this invitation is for {invitation.email}; you signed in as {email}",
                field="email",
                reason="wrong_email",
            )
        status = invitation.status(at)
        if status is InvitationStatus.ACCEPTED:
            member = await self._membership(invitation.project, email)
            if member is not None and invitation.accepted_by == email:
                return member
            raise Forbidden(
                f"this invitation was accepted already, on {invitation.accepted_at:%Y-%m-%d}; "
                "ask a project admin for a new one",
                reason="accepted",
            )
        if status is InvitationStatus.REVOKED:
            raise Forbidden(
                "this invitation was revoked; ask a project admin for a new one", reason="revoked"
            )
        if status is InvitationStatus.EXPIRED:
            raise Forbidden(
                f"this invitation expired on {invitation.expires_at:%Y-%m-%d}; ask a project "
                "admin for a new one",
                reason="expired",
            )
        await self._store.get_project(invitation.project)
        member = await self._membership(invitation.project, email)
        if member is None or not member.role.allows(invitation.role):
            member = await self._save_member(
                invitation.project, email, invitation.role, invitation.invited_by, at
            )
        accepted = invitation.replace(accepted_at=at, accepted_by=email)
        await self._store.save_invitation(accepted, create=False)
        return member

    @staticmethod
    def _check_invite(granted_by: Role, role: Role, *, revoking: bool = False) -> None:
        """Owners and admins invite and revoke, each up to their own role: an admin neither
        invites an owner nor revokes an owner's invitation."""
        if not granted_by.allows(Role.ADMIN):
            raise Forbidden(
                f"{_a(granted_by)} cannot invite members; owners and admins can", field="role"
            )
        if not granted_by.allows(role):
            what = f"revoke the invitation of {_a(role)}" if revoking else f"invite {_a(role)}"
            raise Forbidden(f"{_a(granted_by)} cannot {what}", field="role")

    @staticmethod
    def _check_grant(granted_by: Role, role: Role, current: Role | None) -> None:
        for needed in (role, current):
            if needed is not None and not granted_by.allows(needed):
                raise Forbidden(
                    f"a {granted_by.value} cannot change a member's role to or from "
                    f"{needed.value!r}",
                    field="role",
                )

    async def _keep_an_owner(self, project: str, leaving: str) -> None:
        owners = [m for m in await self._store.list_members(project) if m.role is Role.OWNER]
        if all(m.email == leaving for m in owners):
            raise InvalidDefinition(
                f"{leaving!r} is the last owner of project {project!r}; make someone else "
                "an owner first",
                field="role",
            )


def _a(role: Role) -> str:
    return f"{'an' if role.value[0] in 'aeiou' else 'a'} {role.value}"
