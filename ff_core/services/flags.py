"""Flag use cases. Every mutation takes the acting identity and is audited."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from ff_core.errors import AlreadyExists, InvalidDefinition, NotFound, VersionConflict
from ff_core.evaluation import default_environment_config
from ff_core.models import (
    Action,
    Actor,
    EntityKind,
    EnvironmentConfig,
    Flag,
    HistoryEntry,
)
from ff_core.services.checks import (
    check_environments,
    check_references,
    check_registry,
    check_registry_fields,
    dependents,
)
from ff_core.services.writer import Change, Plan, Writer, check_version
from ff_core.store import Page, ProjectState
from ff_core.validation import validated

# Fields of a flag that update_flag may change; the rest have their own operations.
METADATA_FIELDS = frozenset(
    {
        "name",
        "description",
        "tags",
        "owner",
        "kind",
        "temporary",
        "expires_at",
        "client_visible",
        "internal_only",
        "variants",
        "archived",
    }
)


class FlagService:
    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._store = writer.store

    # -- reads -------------------------------------------------------------------------------

    async def get_flag(self, project: str, key: str) -> Flag:
        return await self._store.get_flag(project, key)

    async def list_flags(
        self, project: str, *, search: str | None = None, tag: str | None = None
    ) -> list[Flag]:
        state = await self._store.load_project(project)
        flags = sorted(state.flags.values(), key=lambda f: f.key)
        if search:
            needle = search.lower()
            flags = [f for f in flags if needle in f.key or needle in f.name.lower()]
        if tag:
            flags = [f for f in flags if tag in f.tags]
        return flags

    async def list_history(
        self, project: str, key: str, *, limit: int = 50, before: str | None = None
    ) -> Page[HistoryEntry]:
        if not 1 <= limit <= 500:
            raise InvalidDefinition("limit: between 1 and 500", field="limit")
        return await self._store.list_history(project, EntityKind.FLAG, key, limit, before)

    # -- writes ------------------------------------------------------------------------------

    async def create_flag(
        self,
        actor: Actor,
        project: str,
        flag: Flag,
        *,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> Flag:
        """Create ``flag``; environments it has no config for start disabled."""
        if flag.registry is not None:
            raise InvalidDefinition(
                "registry: set by `ff registry sync` from the registry file, not in a create",
                field="registry",
            )

        async def plan() -> Change:
            state = await self._store.load_project(project)
            check_registry(state.project, flag.key, None)
            if flag.key in state.flags:
                raise AlreadyExists(f"flag {flag.key!r} already exists in project {project!r}")
            version = await self._writer.next_version(project, EntityKind.FLAG, flag.key)
            envs = state.project.environment_keys()
            check_environments(state.project, list(flag.environments))
            now = self._writer.clock()
            configs = {
                env: flag.environments.get(env) or default_environment_config(flag) for env in envs
            }
            new = validated(
                lambda: flag.replace(
                    environments={k: c.replace(version=version) for k, c in configs.items()},
                    version=version,
                    created_at=now,
                    updated_at=now,
                ),
                "flag",
            )
            check_references(new, state.flags, state.segments, envs)
            return Change(old=None, new=new, action=Action.CREATED, environments=tuple(envs))

        written = await self._writer.apply(
            actor,
            project,
            EntityKind.FLAG,
            flag.key,
            {"op": "create", "flag": flag.model_dump(mode="json", exclude={"salt"})},
            plan,
            note=note,
            idempotency_key=idempotency_key,
        )
        assert isinstance(written, Flag)
        return written

    async def update_flag(
        self,
        actor: Actor,
        project: str,
        key: str,
        changes: dict[str, Any],
        *,
        expected_version: int | None = None,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> Flag:
        """Change metadata fields (``METADATA_FIELDS``); ``expected_version`` is the flag's."""
        unknown = sorted(set(changes) - METADATA_FIELDS)
        if unknown:
            raise InvalidDefinition(
                f"cannot update {unknown} here; updatable fields are {sorted(METADATA_FIELDS)}",
                field=unknown[0],
            )

        async def plan() -> Change:
            state = await self._store.load_project(project)
            old = _existing(state.flags, key, project)
            check_registry(state.project, key, old)
            check_registry_fields(state.project, old, list(changes))
            check_version(old, expected_version)
            new = validated(
                lambda: old.replace(
                    **changes, version=old.version + 1, updated_at=self._writer.clock()
                ),
                "flag",
            )
            check_references(new, state.flags, state.segments, state.project.environment_keys())
            if "archived" in changes and changes["archived"] and not old.archived:
                _refuse_if_needed(key, state.flags, "archive")
            return Change(old=old, new=new, action=Action.UPDATED)

        return await self._flag(
            actor,
            project,
            key,
            {"op": "update", **changes},
            plan,
            note,
            idempotency_key,
            expected_version,
        )

    async def update_environment(
        self,
        actor: Actor,
        project: str,
        key: str,
        environment: str,
        config: EnvironmentConfig,
        *,
        expected_version: int | None = None,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> Flag:
        """Replace one environment's config; ``expected_version`` is that config's version."""

        async def plan() -> Change:
            state, old, current = await self._environment(
                project, key, environment, expected_version
            )
            new = _with_environment(
                old, environment, config.replace(version=current.version + 1), self._writer
            )
            check_references(new, state.flags, state.segments, [environment])
            return Change.in_environments(old, new, Action.ENVIRONMENT_UPDATED, (environment,))

        request = {
            "op": "environment",
            "environment": environment,
            "config": config.model_dump(mode="json"),
            "expected": expected_version,
        }
        return await self._flag(actor, project, key, request, plan, note, idempotency_key, None)

    async def set_enabled(
        self,
        actor: Actor,
        project: str,
        key: str,
        environment: str,
        enabled: bool,
        *,
        expected_version: int | None = None,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> Flag:
        """Flip one environment's kill switch."""

        async def plan() -> Change | None:
            _, old, current = await self._environment(project, key, environment, expected_version)
            if current.enabled == enabled:
                return None
            new = _with_environment(
                old,
                environment,
                current.replace(enabled=enabled, version=current.version + 1),
                self._writer,
            )
            return Change.in_environments(old, new, Action.ENABLED_SET, (environment,))

        request = {
            "op": "enabled",
            "environment": environment,
            "enabled": enabled,
            "expected": expected_version,
        }
        return await self._flag(actor, project, key, request, plan, note, idempotency_key, None)

    async def set_enabled_in(
        self,
        actor: Actor,
        project: str,
        key: str,
        environments: Iterable[str],
        *,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> Flag:
        """Enable the flag in exactly ``environments`` and disable it in every other one.

        One transaction and one history entry; nothing is written when nothing changes.
        """
        wanted = sorted(set(environments))

        async def plan() -> Change | None:
            state = await self._store.load_project(project)
            check_environments(state.project, wanted)
            old = _existing(state.flags, key, project)
            check_registry(state.project, key, old)
            configs = dict(old.environments)
            changed: list[str] = []
            for env in state.project.environment_keys():
                current = configs.get(env) or default_environment_config(old)
                enabled = env in wanted
                if current.enabled != enabled:
                    configs[env] = current.replace(enabled=enabled, version=current.version + 1)
                    changed.append(env)
            if not changed:
                return None
            new = validated(
                lambda: old.replace(
                    environments=configs, version=old.version + 1, updated_at=self._writer.clock()
                ),
                "flag",
            )
            return Change.in_environments(old, new, Action.ENABLED_SET, tuple(changed))

        request = {"op": "enabled_in", "environments": wanted}
        return await self._flag(actor, project, key, request, plan, note, idempotency_key, None)

    async def delete_flag(
        self,
        actor: Actor,
        project: str,
        key: str,
        *,
        expected_version: int | None = None,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> None:
        """Delete the flag; its history stays. Refused while another flag depends on it."""

        async def plan() -> Change:
            state = await self._store.load_project(project)
            old = _existing(state.flags, key, project)
            check_registry(state.project, key, old)
            check_version(old, expected_version)
            _refuse_if_needed(key, state.flags, "delete")
            return Change(
                old=old,
                new=None,
                action=Action.DELETED,
                environments=tuple(old.environments),
            )

        await self._writer.apply(
            actor,
            project,
            EntityKind.FLAG,
            key,
            {"op": "delete", "expected": expected_version},
            plan,
            note=note,
            idempotency_key=idempotency_key,
        )

    async def rollback(
        self,
        actor: Actor,
        project: str,
        key: str,
        history_id: str,
        *,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> Flag:
        """Restore the flag as it was right after history entry ``history_id``.

        An entry about one environment restores only that environment's config; any other
        entry restores the whole definition. The rollback is itself a new, audited write.
        """
        entry = await self._store.get_history_entry(project, EntityKind.FLAG, key, history_id)
        if entry.new is None:
            raise InvalidDefinition(
                f"history entry {history_id!r} deleted the flag; roll back to an earlier entry",
                field="history_id",
            )
        target = Flag.model_validate(entry.new)

        async def plan() -> Change:
            state = await self._store.load_project(project)
            old = state.flags.get(key)
            check_registry(state.project, key, old)
            now = self._writer.clock()
            if old is not None and entry.environments:
                configs = dict(old.environments)
                for env in entry.environments:
                    restored = target.environments.get(env) or default_environment_config(target)
                    current = old.environments.get(env) or default_environment_config(old)
                    configs[env] = restored.replace(version=current.version + 1)
                new = validated(
                    lambda: old.replace(
                        environments=configs, version=old.version + 1, updated_at=now
                    ),
                    "flag",
                )
                change = Change.in_environments(old, new, Action.ROLLED_BACK, entry.environments)
            else:
                version = (
                    old.version + 1
                    if old
                    else await self._writer.next_version(project, EntityKind.FLAG, key)
                )
                previous = old.environments if old else {}
                configs = {
                    env: config.replace(
                        version=previous[env].version + 1 if env in previous else version
                    )
                    for env, config in target.environments.items()
                }
                # The registry membership is the registry file's, not history's to restore.
                registry = old.registry if old is not None else None
                new = validated(
                    lambda: target.replace(
                        environments=configs, version=version, updated_at=now, registry=registry
                    ),
                    "flag",
                )
                change = Change(old, new, Action.ROLLED_BACK, tuple(configs))
            check_references(new, state.flags, state.segments, state.project.environment_keys())
            if new.archived and (old is None or not old.archived):
                _refuse_if_needed(key, state.flags, "archive")
            return replace(change, rolled_back_to=history_id)

        return await self._flag(
            actor,
            project,
            key,
            {"op": "rollback", "to": history_id},
            plan,
            note,
            idempotency_key,
            None,
        )

    async def _environment(
        self, project: str, key: str, environment: str, expected_version: int | None
    ) -> tuple[ProjectState, Flag, EnvironmentConfig]:
        """The project, the flag and its config in ``environment``, at the expected version."""
        state = await self._store.load_project(project)
        check_environments(state.project, [environment])
        flag = _existing(state.flags, key, project)
        check_registry(state.project, key, flag)
        current = flag.environments.get(environment) or default_environment_config(flag)
        if expected_version is not None and current.version != expected_version:
            raise _conflict(key, environment, expected_version, current.version)
        return state, flag, current

    async def _flag(
        self,
        actor: Actor,
        project: str,
        key: str,
        request: dict[str, Any],
        plan: Plan,
        note: str,
        idempotency_key: str | None,
        expected_version: int | None,
    ) -> Flag:
        if expected_version is not None:
            request = {**request, "expected": expected_version}
        written = await self._writer.apply(
            actor,
            project,
            EntityKind.FLAG,
            key,
            request,
            plan,
            note=note,
            idempotency_key=idempotency_key,
        )
        if written is None:  # nothing to change: the flag as it is
            return await self._store.get_flag(project, key)
        assert isinstance(written, Flag)
        return written


def _existing(flags: dict[str, Flag], key: str, project: str) -> Flag:
    flag = flags.get(key)
    if flag is None:
        raise NotFound(f"flag {key!r} not found in project {project!r}", entity="flag", key=key)
    return flag


def _conflict(key: str, environment: str, expected: int, current: int) -> VersionConflict:
    return VersionConflict(
        f"flag {key!r} in {environment!r} is at version {current}, not {expected}; "
        "reload it and apply your change again",
        expected=expected,
        current=current,
    )


def _with_environment(
    flag: Flag, environment: str, config: EnvironmentConfig, writer: Writer
) -> Flag:
    return validated(
        lambda: flag.replace(
            environments={**flag.environments, environment: config},
            version=flag.version + 1,
            updated_at=writer.clock(),
        ),
        "flag",
    )


def _refuse_if_needed(key: str, flags: dict[str, Flag], verb: str) -> None:
    needed_by = dependents(key, flags)
    if needed_by:
        raise InvalidDefinition(
            f"cannot {verb} flag {key!r}: it is a prerequisite of {needed_by}",
            field="key",
            dependents=needed_by,
        )
