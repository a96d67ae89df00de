"""The Members page: roles, removals, invitations (the link shown once).

Like a raw API key, an invitation link carries a secret token: it goes straight to a
browser-only variable, ``INVITE_LINK``, never into this State.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial

import reflex as rx
from reflex.experimental.client_state import ClientStateVar
from reflex_base.event import EventSpec

from ff_admin.backend import current
from ff_admin.logic import access
from ff_admin.logic.access import InvitationRow, MemberRow
from ff_admin.state import live
from ff_admin.state.guard import Grant, grant
from ff_admin.state.session import SessionState
from ff_core.errors import FFError, InvalidDefinition
from ff_core.models import Invitation, Member, Role
from ff_core.services.writer import utcnow

INVITE_LINK = ClientStateVar.create(var_name="ff_invite_link", default="")


@dataclass(frozen=True)
class _Snapshot:
    members: list[Member]
    # None: the caller may not see invitations (below admin).
    invitations: list[Invitation] | None
    role: Role
    email: str


def _role(value: str) -> Role:
    if value not in {r.value for r in access.ROLES}:
        raise InvalidDefinition(f"{value!r} is not a role", field="role")
    return Role(value)


class MembersState(rx.State):
    rows: list[MemberRow] = []
    invitations: list[InvitationRow] = []
    # Roles the caller may hand out (empty below admin).
    roles: list[str] = []
    invite_email: str = ""
    invite_role: str = "editor"
    invited: str = ""
    remove_email: str = ""

    async def _read(self, project: str) -> _Snapshot:
        who = await grant(self, project)
        services = current().services.access
        members = await services.list_members(project)
        invitations = (
            await services.list_invitations(project) if who.role.allows(Role.ADMIN) else None
        )
        return _Snapshot(members, invitations, who.role, who.email)

    def _show(self, snapshot: _Snapshot) -> None:
        rows = access.member_rows(snapshot.members, snapshot.role, snapshot.email)
        invitations = access.invitation_rows(snapshot.invitations or [], snapshot.role, utcnow())
        roles = access.grantable_roles(snapshot.role)
        if rows != self.rows:
            self.rows = rows
        if invitations != self.invitations:
            self.invitations = invitations
        if roles != self.roles:
            self.roles = roles

    async def _reload(self) -> None:
        session = await self.get_state(SessionState)
        self._show(await self._read(session.project))

    async def _admin(self) -> tuple[str, Grant]:
        session = await self.get_state(SessionState)
        return session.project, await grant(self, session.project, Role.ADMIN)

    @rx.event
    async def load(self) -> AsyncIterator[EventSpec | None]:
        session = await self.get_state(SessionState)
        if not session.project:
            return
        self.remove_email = ""
        yield await live.open_page(self._reload, MembersState.follow)

    @rx.event(background=True)
    async def follow(self) -> None:
        async with self:
            session = await self.get_state(SessionState)
            project = session.project
        await live.poll(self, project, partial(self._read, project), self._show)

    @rx.event
    async def set_role(self, email: str, role: str) -> AsyncIterator[EventSpec | None]:
        try:
            project, who = await self._admin()
            member = await current().services.access.set_member(
                who.actor, project, email, _role(role), granted_by=who.role
            )
        except FFError as exc:
            yield rx.toast.error(exc.message, id="toast-member-refused")
            return
        await self._reload()
        yield rx.toast.success(f"{member.email} is {member.role.value} now")
        if member.email == who.email:  # the shell shows what the new role may do
            yield rx.call_script("window.location.reload()")

    @rx.event
    def ask_remove(self, email: str) -> None:
        self.remove_email = email

    @rx.event
    def cancel_remove(self) -> None:
        self.remove_email = ""

    @rx.event
    async def remove(self, email: str) -> AsyncIterator[EventSpec | None]:
        self.remove_email = ""
        try:
            project, who = await self._admin()
            await current().services.access.remove_member(
                who.actor, project, email, granted_by=who.role
            )
        except FFError as exc:
            yield rx.toast.error(exc.message, id="toast-member-refused")
            return
        yield rx.toast.success(f"{email} was removed from {project}")
        if email == who.email:
            yield rx.redirect("/")
            return
        await self._reload()

    @rx.event
    def set_invite_field(self, name: str, value: str) -> None:
        if name in ("invite_email", "invite_role"):
            setattr(self, name, value)

    @rx.event
    async def invite(self) -> AsyncIterator[EventSpec | None]:
        try:
            project, who = await self._admin()
            invitation, token = await current().services.access.invite(
                who.actor, project, self.invite_email, _role(self.invite_role), granted_by=who.role
            )
        except FFError as exc:
            yield rx.toast.error(exc.message, id="toast-invite-refused")
            return
        self.invited, self.invite_email = invitation.email, ""
        await self._reload()
        yield INVITE_LINK.push(access.invitation_link(current().settings.public_url, token))

    @rx.event
    async def revoke_invitation(self, invitation_id: str) -> AsyncIterator[EventSpec | None]:
        try:
            project, who = await self._admin()
            revoked = await current().services.access.revoke_invitation(
                who.actor, project, invitation_id, granted_by=who.role
            )
        except FFError as exc:
            yield rx.toast.error(exc.message)
            return
        await self._reload()
        yield rx.toast.success(f"The invitation of {revoked.email} was revoked")
