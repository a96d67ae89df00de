"""API keys and members. Raw keys are returned once, at creation, and never stored."""

from __future__ import annotations

import uuid

from ff_core import keys
from ff_core.errors import Forbidden, InvalidDefinition, NotFound
from ff_core.models import Actor, ApiKey, KeyKind, Member, Role
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
        for member in await self._store.list_memberships(email.lower()):
            if member.project == project:
                return member.role
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
        member = validated(
            lambda: Member(
                project=project,
                email=email,
                role=role,
                added_by=actor.subject,
                added_at=self._writer.clock(),
            ),
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
