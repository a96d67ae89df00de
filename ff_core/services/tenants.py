"""Tenant use cases: onboarding from the registry defaults, overrides, views, cleanup.

A tenant's state is one item (``PROJECT#<p>`` / ``TENANT#<tenant>``): onboarding writes it
whole in one audited transaction, so a retry either finds it and writes nothing, or writes
it once. Each later change (an override, a cleanup) is one audited write of that item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from ff_core.errors import InvalidDefinition, NotFound
from ff_core.models import Action, Actor, EntityKind, Flag, Tenant, TenantValue
from ff_core.services.checks import check_environments
from ff_core.services.writer import Change, Writer, check_version
from ff_core.store import Page, ProjectState
from ff_core.tenancy import orphaned
from ff_core.validation import validated

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class TenantFlagValue:
    """What one tenant gets for one registry flag in one environment."""

    flag: str
    environment: str
    variant: str
    value: JsonValue
    # True: the tenant's own stored state; False: the flag's default (nothing stored).
    explicit: bool
    overridden: bool


@dataclass(frozen=True, slots=True)
class TenantView:
    tenant: Tenant
    values: list[TenantFlagValue]
    # State for keys no longer in the registry: ignored, removed by ``cleanup``.
    orphaned: list[str]


@dataclass(frozen=True, slots=True)
class FlagTenantValue:
    tenant: str
    name: str
    variant: str
    value: JsonValue
    explicit: bool
    overridden: bool


class TenantService:
    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._store = writer.store

    # -- reads -------------------------------------------------------------------------------

    async def get_tenant(self, project: str, key: str) -> Tenant:
        return await self._store.get_tenant(project, key)

    async def list_tenants(
        self, project: str, *, limit: int = 100, after: str | None = None
    ) -> Page[Tenant]:
        """Tenants by key; pass ``next_cursor`` back as ``after`` for the next page."""
        _check_limit(limit)
        state = await self._store.load_project(project)
        keys = sorted(k for k in state.tenants if after is None or k > after)
        page = keys[:limit]
        cursor = page[-1] if len(keys) > limit else None
        return Page([state.tenants[k] for k in page], cursor)

    async def view(self, project: str, key: str) -> TenantView:
        """Every registry flag in every environment for one tenant: explicit or default."""
        state = await self._store.load_project(project)
        tenant = _tenant(state, key)
        values = [
            value_for(flag, env, tenant)
            for flag in _registry_flags(state)
            for env in state.project.environment_keys()
        ]
        return TenantView(tenant, values, orphaned(state.flags, tenant))

    async def across(
        self,
        project: str,
        flag_key: str,
        environment: str,
        *,
        limit: int = 100,
        after: str | None = None,
    ) -> Page[FlagTenantValue]:
        """One registry flag across tenants (by tenant key), paginated."""
        _check_limit(limit)
        state = await self._store.load_project(project)
        check_environments(state.project, [environment])
        flag = _registry_flag(state, flag_key)
        keys = sorted(k for k in state.tenants if after is None or k > after)
        page = keys[:limit]
        items = []
        for key in page:
            tenant = state.tenants[key]
            value = value_for(flag, environment, tenant)
            items.append(
                FlagTenantValue(
                    key, tenant.name, value.variant, value.value, value.explicit, value.overridden
                )
            )
        return Page(items, page[-1] if len(keys) > limit else None)

    # -- writes ------------------------------------------------------------------------------

    async def onboard(
        self,
        actor: Actor,
        project: str,
        key: str,
        name: str | None = None,
        *,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> tuple[Tenant, bool]:
        """Write explicit state for every registry flag from its current registry defaults.

        Returns the tenant and whether this call created it: onboarding a tenant that exists
        writes nothing (a retry is safe), and its state stays as first written.
        """

        async def plan() -> Change | None:
            state = await self._store.load_project(project)
            if key in state.tenants:
                return None
            now = self._writer.clock()
            tenant_state = {
                flag.key: {
                    env: TenantValue(variant=variant)
                    for env, variant in flag.registry.defaults.items()
                    if env in state.project.environment_keys()
                }
                for flag in _registry_flags(state)
                if flag.registry is not None
            }
            version = await self._writer.next_version(project, EntityKind.TENANT, key)
            new = validated(
                lambda: Tenant(
                    key=key,
                    name=name or key,
                    state=tenant_state,
                    version=version,
                    created_at=now,
                    updated_at=now,
                ),
                "tenant",
            )
            return Change(
                old=None,
                new=new,
                action=Action.ONBOARDED,
                environments=tuple(state.project.environment_keys()),
            )

        request = {"op": "onboard", "name": name}
        written = await self._apply(actor, project, key, request, plan, note, idempotency_key)
        if written is None:
            return await self._store.get_tenant(project, key), False
        return written, True

    async def set_override(
        self,
        actor: Actor,
        project: str,
        key: str,
        flag_key: str,
        environment: str,
        variant: str,
        *,
        expected_version: int | None = None,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> Tenant:
        """Give tenant ``key`` variant ``variant`` of ``flag_key`` in ``environment``."""

        async def plan() -> Change | None:
            state = await self._store.load_project(project)
            check_environments(state.project, [environment])
            old = _tenant(state, key)
            check_version(old, expected_version)
            flag = _registry_flag(state, flag_key)
            if variant not in flag.variants:
                raise InvalidDefinition(
                    f"variant {variant!r} is not one of flag {flag_key!r}'s variants "
                    f"{sorted(flag.variants)}",
                    field="variant",
                )
            wanted = TenantValue(variant=variant, overridden=True)
            if old.value(flag_key, environment) == wanted:
                return None
            values = {**old.state.get(flag_key, {}), environment: wanted}
            new = self._next(old, {**old.state, flag_key: values})
            return Change(old, new, Action.OVERRIDE_SET, (environment,), environment)

        request = {
            "op": "override",
            "flag": flag_key,
            "environment": environment,
            "variant": variant,
            "expected": expected_version,
        }
        return await self._changed(actor, project, key, request, plan, note, idempotency_key)

    async def clear_override(
        self,
        actor: Actor,
        project: str,
        key: str,
        flag_key: str,
        environment: str,
        *,
        expected_version: int | None = None,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> Tenant:
        """Remove the tenant's explicit value: it then gets what the flag serves everyone."""

        async def plan() -> Change | None:
            state = await self._store.load_project(project)
            check_environments(state.project, [environment])
            old = _tenant(state, key)
            check_version(old, expected_version)
            if old.value(flag_key, environment) is None:
                return None
            values = {e: v for e, v in old.state[flag_key].items() if e != environment}
            tenant_state = {k: v for k, v in old.state.items() if k != flag_key}
            if values:
                tenant_state[flag_key] = values
            new = self._next(old, tenant_state)
            return Change(old, new, Action.OVERRIDE_CLEARED, (environment,), environment)

        request = {
            "op": "clear",
            "flag": flag_key,
            "environment": environment,
            "expected": expected_version,
        }
        return await self._changed(actor, project, key, request, plan, note, idempotency_key)

    async def cleanup(
        self, actor: Actor, project: str, *, dry_run: bool = False, note: str = ""
    ) -> dict[str, list[str]]:
        """Remove state for keys no longer in the registry: tenant -> keys removed (or that
        would be, with ``dry_run``). One audited write per tenant that has any."""
        state = await self._store.load_project(project)
        found = {
            key: keys
            for key, tenant in state.tenants.items()
            if (keys := orphaned(state.flags, tenant))
        }
        if dry_run:
            return found
        for tenant_key in found:

            async def plan(tenant_key: str = tenant_key) -> Change | None:
                current = await self._store.load_project(project)
                old = _tenant(current, tenant_key)
                stale = set(orphaned(current.flags, old))
                if not stale:
                    return None
                kept = {k: v for k, v in old.state.items() if k not in stale}
                return Change(old, self._next(old, kept), Action.CLEANED_UP)

            await self._apply(
                actor, project, tenant_key, {"op": "cleanup"}, plan, note, idempotency_key=None
            )
        return found

    async def remove(
        self,
        actor: Actor,
        project: str,
        key: str,
        *,
        expected_version: int | None = None,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> None:
        """Offboard a tenant: its state goes (its history stays)."""

        async def plan() -> Change:
            state = await self._store.load_project(project)
            old = _tenant(state, key)
            check_version(old, expected_version)
            return Change(old, None, Action.DELETED, tuple(state.project.environment_keys()))

        request = {"op": "delete", "expected": expected_version}
        await self._apply(actor, project, key, request, plan, note, idempotency_key)

    # -- helpers -----------------------------------------------------------------------------

    def _next(self, old: Tenant, state: dict[str, dict[str, TenantValue]]) -> Tenant:
        return validated(
            lambda: old.replace(
                state=state, version=old.version + 1, updated_at=self._writer.clock()
            ),
            "tenant",
        )

    async def _changed(
        self,
        actor: Actor,
        project: str,
        key: str,
        request: dict[str, Any],
        plan: Any,
        note: str,
        idempotency_key: str | None,
    ) -> Tenant:
        written = await self._apply(actor, project, key, request, plan, note, idempotency_key)
        return written if written is not None else await self._store.get_tenant(project, key)

    async def _apply(
        self,
        actor: Actor,
        project: str,
        key: str,
        request: dict[str, Any],
        plan: Any,
        note: str,
        idempotency_key: str | None,
    ) -> Tenant | None:
        written = await self._writer.apply(
            actor,
            project,
            EntityKind.TENANT,
            key,
            request,
            plan,
            note=note,
            idempotency_key=idempotency_key,
        )
        assert written is None or isinstance(written, Tenant)
        return written


def _registry_flags(state: ProjectState) -> list[Flag]:
    return sorted(
        (f for f in state.flags.values() if f.registry is not None and not f.archived),
        key=lambda f: f.key,
    )


def _registry_flag(state: ProjectState, key: str) -> Flag:
    flag = state.flags.get(key)
    if flag is None or flag.registry is None:
        raise NotFound(
            f"flag {key!r} is not in the registry of project {state.project.key!r}; "
            "tenant state exists only for registry flags",
            entity="flag",
            key=key,
        )
    return flag


def _tenant(state: ProjectState, key: str) -> Tenant:
    tenant = state.tenants.get(key)
    if tenant is None:
        raise NotFound(
            f"tenant {key!r} not found in project {state.project.key!r}",
            entity="tenant",
            key=key,
        )
    return tenant


def value_for(flag: Flag, environment: str, tenant: Tenant) -> TenantFlagValue:
    """What ``tenant`` gets for ``flag`` in ``environment``: its explicit value, else the
    flag's default there (its fallthrough, or its off variant while disabled; rules aside).
    The API, the CLI and the dashboard all show tenants through this one rule."""
    stored = tenant.value(flag.key, environment)
    if stored is not None and stored.variant in flag.variants:
        variant, explicit, overridden = stored.variant, True, stored.overridden
    else:
        config = flag.environments.get(environment)
        served = config.fallthrough.variant if config is not None else None
        if config is not None and not config.enabled:
            served = config.off_variant
        # A flag whose default is a rollout has no single default variant: name the
        # registry's default, which is what onboarding would write.
        if served is None and flag.registry is not None:
            served = flag.registry.defaults.get(environment)
        variant, explicit, overridden = served or next(iter(flag.variants)), False, False
    return TenantFlagValue(
        flag.key,
        environment,
        variant,
        flag.variants[variant].value,
        explicit,
        overridden,
    )


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidDefinition(f"limit: between 1 and {MAX_PAGE}", field="limit")
