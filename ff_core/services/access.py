"""API keys and members. Raw keys are returned once, at creation, and never stored."""

from __future__ import annotations

import uuid

from ff_core import keys
from ff_core.errors import NotFound
from ff_core.models import Actor, ApiKey, KeyKind, Role
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
    ) -> tuple[ApiKey, str]:
        """A new key and its raw value: show the raw value once; only its HMAC is kept."""
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
