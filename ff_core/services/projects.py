"""Project use cases."""

from __future__ import annotations

from typing import Any

from ff_core.errors import AlreadyExists, InvalidDefinition, NotFound
from ff_core.models import Action, Actor, EntityKind, Environment, Project
from ff_core.services.writer import Change, Writer, check_version
from ff_core.validation import validated

PROJECT_FIELDS = frozenset({"name", "description", "registry_enforced", "tenant_attribute"})


class ProjectService:
    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._store = writer.store

    async def list_projects(self) -> list[Project]:
        return await self._store.list_projects()

    async def get_project(self, key: str) -> Project:
        return await self._store.get_project(key)

    async def create_project(
        self, actor: Actor, project: Project, *, note: str = "", idempotency_key: str | None = None
    ) -> Project:
        async def plan() -> Change:
            try:
                await self._store.get_project(project.key)
            except NotFound:
                new = validated(
                    lambda: project.replace(version=1, created_at=self._writer.clock()), "project"
                )
                return Change(old=None, new=new, action=Action.CREATED)
            raise AlreadyExists(f"project {project.key!r} already exists")

        written = await self._writer.apply(
            actor,
            project.key,
            EntityKind.PROJECT,
            project.key,
            {"op": "create", "project": project.model_dump(mode="json")},
            plan,
            note=note,
            idempotency_key=idempotency_key,
        )
        assert isinstance(written, Project)
        return written

    async def add_environment(
        self,
        actor: Actor,
        project: str,
        environment: Environment,
        *,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> Project:
        """Add an environment; existing flags start disabled there."""

        async def plan() -> Change | None:
            old = await self._store.get_project(project)
            if environment.key in old.environment_keys():
                return None
            new = validated(
                lambda: old.replace(
                    environments=(*old.environments, environment), version=old.version + 1
                ),
                "project",
            )
            return Change(old=old, new=new, action=Action.UPDATED, environments=(environment.key,))

        written = await self._writer.apply(
            actor,
            project,
            EntityKind.PROJECT,
            project,
            {"op": "add_environment", "environment": environment.model_dump(mode="json")},
            plan,
            note=note,
            idempotency_key=idempotency_key,
        )
        if written is None:
            return await self._store.get_project(project)
        assert isinstance(written, Project)
        return written

    async def update_project(
        self,
        actor: Actor,
        project: str,
        changes: dict[str, Any],
        *,
        expected_version: int | None = None,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> Project:
        """Change ``PROJECT_FIELDS`` (name, description, registry enforcement, the tenant
        attribute); nothing is written when nothing changes."""
        unknown = sorted(set(changes) - PROJECT_FIELDS)
        if unknown:
            raise InvalidDefinition(
                f"cannot update {unknown} here; updatable fields are {sorted(PROJECT_FIELDS)}",
                field=unknown[0],
            )

        async def plan() -> Change | None:
            old = await self._store.get_project(project)
            check_version(old, expected_version)
            if all(getattr(old, k) == v for k, v in changes.items()):
                return None
            new = validated(lambda: old.replace(**changes, version=old.version + 1), "project")
            return Change(old=old, new=new, action=Action.UPDATED)

        written = await self._writer.apply(
            actor,
            project,
            EntityKind.PROJECT,
            project,
            {"op": "update", "changes": changes, "expected": expected_version},
            plan,
            note=note,
            idempotency_key=idempotency_key,
        )
        if written is None:
            return await self._store.get_project(project)
        assert isinstance(written, Project)
        return written
