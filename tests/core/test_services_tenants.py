"""TenantService on every store (moto's DynamoDB over HTTP and the in-memory double)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import pytest

from ff_core import registry
from ff_core.errors import InvalidDefinition, NotFound, NotInRegistry, VersionConflict
from ff_core.evaluation import CompiledEnvironment, evaluate
from ff_core.models import (
    Action,
    Actor,
    EntityKind,
    Flag,
    RegistryDefinition,
    Tenant,
    TenantValue,
    Variant,
    boolean_variants,
)
from ff_core.services import Services
from ff_core.services.writer import Change
from ff_core.tenancy import served_flags
from tests.core.services_support import ENVIRONMENTS, PROJECT, boolean_flag

ON_IN_DEV = {"development": "on", "staging": "off", "production": "off"}


async def put_registry_flag(
    services: Services, actor: Actor, key: str, defaults: dict[str, str], **fields: object
) -> Flag:
    """Write a registry flag the way a registry sync does: through the audited Writer with
    its own plan (FlagService refuses flags that carry ``registry``)."""
    store = services.store
    state = await store.load_project(PROJECT)
    old = state.flags.get(key)
    version = 1 if old is None else old.version + 1
    flag = Flag(
        key=key,
        name=key,
        variants=fields.pop("variants", boolean_variants()),
        registry=RegistryDefinition(defaults=defaults),
        version=version,
        **fields,
    )
    configs = {env: registry.default_config(flag, env, version) for env in ENVIRONMENTS}
    flag = flag.replace(environments=configs)

    async def plan() -> Change:
        return Change(old=old, new=flag, action=Action.CREATED if old is None else Action.UPDATED)

    written = await services.flags._writer.apply(  # the sync's write path
        actor, PROJECT, EntityKind.FLAG, key, {"registry": key, "v": version}, plan
    )
    assert isinstance(written, Flag)
    return written


async def enforce(services: Services, actor: Actor) -> None:
    project = await services.projects.get_project(PROJECT)
    await services.projects.update_project(
        actor, PROJECT, {"registry_enforced": True}, expected_version=project.version
    )


def answer(state_flags: dict[str, Flag], env: str, key: str, tenant: str | None) -> object:
    context = {"targeting_key": "user-1"} | ({"tenant": tenant} if tenant else {})
    return evaluate(CompiledEnvironment(env, state_flags.values()), key, context).value


async def test_onboarding_writes_every_registry_default_once(
    services: Services, alice: Actor
) -> None:
    await put_registry_flag(services, alice, "checkout", ON_IN_DEV)
    await put_registry_flag(services, alice, "search", {e: "on" for e in ENVIRONMENTS})
    await services.flags.create_flag(alice, PROJECT, boolean_flag("not-registry"))

    tenant, created = await services.tenants.onboard(alice, PROJECT, "acme", "Acme Inc")

    assert created
    assert tenant.name == "Acme Inc"
    assert tenant.state == {
        "checkout": {e: TenantValue(variant=v) for e, v in ON_IN_DEV.items()},
        "search": {e: TenantValue(variant="on") for e in ENVIRONMENTS},
    }
    again, created_again = await services.tenants.onboard(alice, PROJECT, "acme", "Other name")
    assert not created_again
    assert again == tenant
    history = await services.store.list_history(PROJECT, EntityKind.TENANT, "acme")
    assert [e.action for e in history.items] == [Action.ONBOARDED]


async def test_a_retried_onboarding_with_its_idempotency_key_writes_one_entry(
    services: Services, alice: Actor
) -> None:
    await put_registry_flag(services, alice, "checkout", ON_IN_DEV)
    first, _ = await services.tenants.onboard(alice, PROJECT, "acme", idempotency_key="k-1")
    second, _ = await services.tenants.onboard(alice, PROJECT, "acme", idempotency_key="k-1")

    assert first == second
    history = await services.store.list_history(PROJECT, EntityKind.TENANT, "acme")
    assert len(history.items) == 1
    assert await services.store.get_seq(PROJECT) == 3  # project, flag, tenant


async def test_a_changed_default_reaches_only_tenants_onboarded_after_it(
    services: Services, alice: Actor
) -> None:
    await put_registry_flag(services, alice, "checkout", ON_IN_DEV)
    await services.tenants.onboard(alice, PROJECT, "early")
    await put_registry_flag(services, alice, "checkout", {e: "on" for e in ENVIRONMENTS})
    await services.tenants.onboard(alice, PROJECT, "late")

    state = await services.store.load_project(PROJECT)
    served = served_flags(state)
    assert answer(served, "production", "checkout", "early") is False
    assert answer(served, "production", "checkout", "late") is True
    assert answer(served, "production", "checkout", None) is True
    # The stored definition never holds tenant state.
    assert state.flags["checkout"].environments["production"].targets == ()


async def test_override_and_clear(services: Services, alice: Actor, bob: Actor) -> None:
    await put_registry_flag(services, alice, "checkout", ON_IN_DEV)
    tenant, _ = await services.tenants.onboard(alice, PROJECT, "acme")

    changed = await services.tenants.set_override(
        bob, PROJECT, "acme", "checkout", "production", "on", expected_version=tenant.version
    )
    assert changed.value("checkout", "production") == TenantValue(variant="on", overridden=True)
    assert changed.version == tenant.version + 1
    state = await services.store.load_project(PROJECT)
    assert answer(served_flags(state), "production", "checkout", "acme") is True

    with pytest.raises(VersionConflict):
        await services.tenants.set_override(
            bob, PROJECT, "acme", "checkout", "staging", "on", expected_version=tenant.version
        )
    with pytest.raises(InvalidDefinition, match="variant 'maybe'"):
        await services.tenants.set_override(bob, PROJECT, "acme", "checkout", "staging", "maybe")
    with pytest.raises(InvalidDefinition, match="unknown environment"):
        await services.tenants.set_override(bob, PROJECT, "acme", "checkout", "prod", "on")
    with pytest.raises(NotFound, match="not in the registry"):
        await services.tenants.set_override(bob, PROJECT, "acme", "nope", "production", "on")
    with pytest.raises(NotFound, match="tenant 'ghost'"):
        await services.tenants.set_override(bob, PROJECT, "ghost", "checkout", "production", "on")

    cleared = await services.tenants.clear_override(bob, PROJECT, "acme", "checkout", "production")
    assert cleared.value("checkout", "production") is None
    view = await services.tenants.view(PROJECT, "acme")
    production = next(
        v for v in view.values if (v.flag, v.environment) == ("checkout", "production")
    )
    assert (production.variant, production.explicit, production.overridden) == ("off", False, False)
    history = await services.store.list_history(PROJECT, EntityKind.TENANT, "acme")
    assert [e.action for e in history.items] == [
        Action.OVERRIDE_CLEARED,
        Action.OVERRIDE_SET,
        Action.ONBOARDED,
    ]
    assert history.items[1].actor == bob


async def test_views_explicit_and_default(services: Services, alice: Actor) -> None:
    await put_registry_flag(services, alice, "checkout", ON_IN_DEV)
    await services.tenants.onboard(alice, PROJECT, "acme")
    # Added to the registry after acme was onboarded: acme follows the flag's default.
    await put_registry_flag(
        services,
        alice,
        "plan",
        {e: "basic" for e in ENVIRONMENTS},
        value_type="string",
        variants={"basic": Variant(value="basic"), "pro": Variant(value="pro")},
    )
    view = await services.tenants.view(PROJECT, "acme")

    rows = {(v.flag, v.environment): (v.value, v.explicit) for v in view.values}
    assert rows[("checkout", "development")] == (True, True)
    assert rows[("checkout", "production")] == (False, True)
    assert rows[("plan", "production")] == ("basic", False)
    assert len(rows) == 2 * len(ENVIRONMENTS)
    assert view.orphaned == []


async def test_one_flag_across_tenants_is_paginated(services: Services, alice: Actor) -> None:
    await put_registry_flag(services, alice, "checkout", ON_IN_DEV)
    for key in ("c", "a", "b"):
        await services.tenants.onboard(alice, PROJECT, key)
    await services.tenants.set_override(alice, PROJECT, "b", "checkout", "production", "on")

    first = await services.tenants.across(PROJECT, "checkout", "production", limit=2)
    assert [(i.tenant, i.value, i.overridden) for i in first.items] == [
        ("a", False, False),
        ("b", True, True),
    ]
    assert first.next_cursor == "b"
    rest = await services.tenants.across(
        PROJECT, "checkout", "production", limit=2, after=first.next_cursor
    )
    assert [i.tenant for i in rest.items] == ["c"]
    assert rest.next_cursor is None
    listed = await services.tenants.list_tenants(PROJECT, limit=500)
    assert [t.key for t in listed.items] == ["a", "b", "c"]
    with pytest.raises(InvalidDefinition, match="limit"):
        await services.tenants.list_tenants(PROJECT, limit=0)


async def test_orphaned_state_is_ignored_logged_once_and_cleaned_up(
    services: Services, alice: Actor, caplog: pytest.LogCaptureFixture
) -> None:
    await put_registry_flag(services, alice, "checkout", ON_IN_DEV)
    await put_registry_flag(services, alice, "legacy", {e: "on" for e in ENVIRONMENTS})
    # Logged once per process: a tenant key of its own per store run.
    acme = f"acme-{uuid.uuid4().hex[:8]}"
    await services.tenants.onboard(alice, PROJECT, acme)
    # "legacy" leaves the registry: the flag stays, the tenant's state for it is orphaned.
    legacy = await services.flags.get_flag(PROJECT, "legacy")
    await services.flags.update_flag(alice, PROJECT, "legacy", {"name": "Legacy"})
    stored = (await services.store.load_project(PROJECT)).flags["legacy"]
    assert stored.version == legacy.version + 1

    async def unregister() -> Change:
        current = await services.store.get_flag(PROJECT, "legacy")
        new = current.replace(registry=None, version=current.version + 1)
        return Change(old=current, new=new, action=Action.UPDATED)

    await services.flags._writer.apply(  # the sync's write path
        alice, PROJECT, EntityKind.FLAG, "legacy", {"unregister": 1}, unregister
    )
    await services.flags.set_enabled(alice, PROJECT, "legacy", "production", False)

    caplog.set_level(logging.WARNING, logger="ff.tenants")
    state = await services.store.load_project(PROJECT)
    for _ in range(3):
        served = served_flags(state)
    assert answer(served, "production", "legacy", acme) is False  # the tenant's "on" ignored
    warnings = [r for r in caplog.records if "'legacy'" in r.getMessage()]
    assert len(warnings) == 1

    view = await services.tenants.view(PROJECT, acme)
    assert view.orphaned == ["legacy"]
    assert {v.flag for v in view.values} == {"checkout"}

    seq = await services.store.get_seq(PROJECT)
    assert await services.tenants.cleanup(alice, PROJECT, dry_run=True) == {acme: ["legacy"]}
    assert await services.store.get_seq(PROJECT) == seq  # a dry run writes nothing
    assert await services.tenants.cleanup(alice, PROJECT) == {acme: ["legacy"]}
    tenant = await services.tenants.get_tenant(PROJECT, acme)
    assert set(tenant.state) == {"checkout"}
    assert await services.tenants.cleanup(alice, PROJECT) == {}


async def test_offboarding_removes_state_and_keeps_history(
    services: Services, alice: Actor
) -> None:
    await put_registry_flag(services, alice, "checkout", ON_IN_DEV)
    tenant, _ = await services.tenants.onboard(alice, PROJECT, "acme")
    await services.tenants.remove(alice, PROJECT, "acme", expected_version=tenant.version)

    with pytest.raises(NotFound):
        await services.tenants.get_tenant(PROJECT, "acme")
    again, created = await services.tenants.onboard(alice, PROJECT, "acme")
    assert created
    assert again.version > tenant.version  # followers never see the new one as older
    history = await services.store.list_history(PROJECT, EntityKind.TENANT, "acme")
    assert [e.action for e in history.items] == [Action.ONBOARDED, Action.DELETED, Action.ONBOARDED]


async def test_registry_enforced_projects_refuse_writes_to_other_keys(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("adhoc"))
    await put_registry_flag(services, alice, "checkout", ON_IN_DEV)
    await enforce(services, alice)

    with pytest.raises(NotInRegistry, match="'brand-new' is not in the registry"):
        await services.flags.create_flag(alice, PROJECT, boolean_flag("brand-new"))
    with pytest.raises(NotInRegistry, match="'adhoc'"):
        await services.flags.set_enabled(alice, PROJECT, "adhoc", "production", True)
    with pytest.raises(NotInRegistry, match="'adhoc'"):
        await services.flags.delete_flag(alice, PROJECT, "adhoc")
    with pytest.raises(NotInRegistry, match=r"\['description'\].*registry file"):
        await services.flags.update_flag(alice, PROJECT, "checkout", {"description": "x"})
    with pytest.raises(InvalidDefinition, match="registry: set by"):
        await services.flags.create_flag(
            alice,
            PROJECT,
            boolean_flag("sneaky", registry=RegistryDefinition(defaults={"production": "on"})),
        )

    # Registry flags stay writable where the registry does not own the field.
    flag = await services.flags.set_enabled(alice, PROJECT, "checkout", "production", False)
    assert flag.environments["production"].enabled is False
    assert not registry.is_default(flag, "production")
    assert registry.is_default(flag, "development")
    renamed = await services.flags.update_flag(alice, PROJECT, "checkout", {"name": "Checkout"})
    assert renamed.name == "Checkout"
    state = await services.store.load_project(PROJECT)
    assert set(state.flags) == {"adhoc", "checkout"}


async def test_tenant_store_round_trip(services: Services, alice: Actor) -> None:
    await put_registry_flag(services, alice, "checkout", ON_IN_DEV)
    tenant, _ = await services.tenants.onboard(alice, PROJECT, "org:42@eu")
    assert await services.store.get_tenant(PROJECT, "org:42@eu") == tenant
    state = await services.store.load_project(PROJECT)
    assert state.tenants == {"org:42@eu": tenant}
    changes = await services.store.read_changes(PROJECT, 0)
    assert (changes[-1].entity, changes[-1].key) == (EntityKind.TENANT, "org:42@eu")
    assert isinstance(tenant.created_at, datetime)
    assert tenant.created_at.tzinfo == UTC
    with pytest.raises(InvalidDefinition, match="tenant"):
        await services.tenants.onboard(alice, PROJECT, "bad key with spaces")
    assert Tenant(key="t", name="t").value("x", "y") is None
