"""RegistryService on every store: create, update, orphans, prune, idempotency, enforcement,
and tenants that keep their state when a default changes."""

from __future__ import annotations

import pytest

from ff_core import registry
from ff_core.errors import NotInRegistry
from ff_core.evaluation import CompiledEnvironment, evaluate
from ff_core.models import Action, Actor, EntityKind
from ff_core.registry import RegistryInvalid
from ff_core.services import Services
from ff_core.tenancy import served_flags
from tests.core.services_support import ENVIRONMENTS, PROJECT, boolean_flag, config, written

FILE = """
[flags.new-checkout]
description = "The one-page checkout"
owner = "payments"
client_visible = true
default = { development = true, "*" = false }

[flags.page-size]
type = "number"
kind = "ops"
temporary = false
variants = { small = 10, large = 50 }
default = "small"
"""


def reg(text: str = FILE) -> registry.Registry:
    return registry.parse(text)


def changed_default(text: str = FILE) -> registry.Registry:
    return reg(text.replace('default = "small"', 'default = "large"'))


async def test_sync__new_file__creates_flags_at_defaults_and_enforces(
    services: Services, alice: Actor
) -> None:
    report = await services.registry.sync(alice, PROJECT, reg())

    state = await services.store.load_project(PROJECT)
    checkout, size = state.flags["new-checkout"], state.flags["page-size"]
    assert (report.plan.create, report.written) == (["new-checkout", "page-size"], 3)
    assert state.project.registry_enforced
    assert checkout.registry is not None
    assert checkout.registry.defaults == {
        "development": "on",
        "staging": "off",
        "production": "off",
    }
    assert (checkout.owner, checkout.client_visible) == ("payments", True)
    assert {e: c.fallthrough.variant for e, c in checkout.environments.items()} == {
        "development": "on",
        "staging": "off",
        "production": "off",
    }
    assert all(registry.is_default(checkout, env) for env in ENVIRONMENTS)
    assert all(c.enabled for c in size.environments.values())
    assert {k: v.value for k, v in size.variants.items()} == {"small": 10, "large": 50}
    history = (await services.store.list_history(PROJECT, EntityKind.FLAG, "page-size", 5)).items
    assert [(h.action, h.actor.subject, h.note) for h in history] == [
        (Action.CREATED, "alice", "registry sync")
    ]


async def test_sync__same_file_twice__second_writes_nothing(
    services: Services, alice: Actor
) -> None:
    await services.registry.sync(alice, PROJECT, reg())
    before = await written(services, "new-checkout", "page-size")

    again = await services.registry.sync(alice, PROJECT, reg())

    assert (again.plan.pending, again.written) == (False, 0)
    assert again.plan.unchanged == ["new-checkout", "page-size"]
    assert await written(services, "new-checkout", "page-size") == before


async def test_sync__changed_default__moves_default_environments_keeps_admin_changed(
    services: Services, alice: Actor, bob: Actor
) -> None:
    await services.registry.sync(alice, PROJECT, reg())
    # An admin turns the kill switch off in production: that environment is theirs now.
    await services.flags.set_enabled(bob, PROJECT, "page-size", "production", False)

    report = await services.registry.sync(alice, PROJECT, changed_default())

    flag = await services.flags.get_flag(PROJECT, "page-size")
    [update] = report.plan.update
    assert (update.key, update.fields, update.environments) == (
        "page-size",
        ("default",),
        ("development", "staging"),
    )
    assert [(k.key, k.environment, k.default) for k in report.plan.kept] == [
        ("page-size", "production", "large")
    ]
    assert flag.registry is not None
    assert flag.registry.defaults["production"] == "large"
    assert flag.environments["staging"].fallthrough.variant == "large"
    production = flag.environments["production"]
    assert (production.enabled, production.fallthrough.variant) == (False, "small")


async def test_sync__metadata_changed__registry_fields_updated_variant_names_kept(
    services: Services, alice: Actor
) -> None:
    await services.registry.sync(alice, PROJECT, reg())
    edited = FILE.replace('owner = "payments"', 'owner = "checkout-team"').replace(
        "variants = { small = 10, large = 50 }", "variants = { small = 10, large = 100 }"
    )

    report = await services.registry.sync(alice, PROJECT, reg(edited))

    assert [(u.key, u.fields) for u in report.plan.update] == [
        ("new-checkout", ("owner",)),
        ("page-size", ("variants",)),
    ]
    assert (await services.flags.get_flag(PROJECT, "new-checkout")).owner == "checkout-team"
    size = await services.flags.get_flag(PROJECT, "page-size")
    assert size.variants["large"].value == 100


async def test_sync__flag_left_the_file__unregistered_state_kept_writes_refused(
    services: Services, alice: Actor
) -> None:
    await services.registry.sync(alice, PROJECT, reg())
    await services.flags.set_enabled(alice, PROJECT, "page-size", "staging", False)
    only_checkout = FILE.split("[flags.page-size]")[0]

    report = await services.registry.sync(alice, PROJECT, reg(only_checkout))

    orphan = await services.flags.get_flag(PROJECT, "page-size")
    assert [(o.key, o.registered) for o in report.plan.orphans] == [("page-size", True)]
    assert orphan.registry is None
    assert orphan.environments["staging"].enabled is False  # state kept
    with pytest.raises(NotInRegistry, match="page-size"):
        await services.flags.set_enabled(alice, PROJECT, "page-size", "staging", True)
    # Reported again, written no more.
    again = await services.registry.sync(alice, PROJECT, reg(only_checkout))
    assert ([o.key for o in again.plan.orphans], again.written) == (["page-size"], 0)


async def test_sync__prune__deletes_orphans_and_refuses_a_needed_one(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("old-a"))
    await services.flags.create_flag(alice, PROJECT, boolean_flag("old-b"))
    needs_b = {env: config(prerequisites={"old-b": "on"}) for env in ENVIRONMENTS}
    await services.flags.create_flag(alice, PROJECT, boolean_flag("old-c", environments=needs_b))
    await services.registry.sync(alice, PROJECT, reg())
    # new-checkout (a file flag) now depends on old-b: pruning old-b must be refused.
    await services.flags.update_environment(
        alice, PROJECT, "new-checkout", "staging", config(prerequisites={"old-b": "on"})
    )
    before = await written(services, "old-a", "old-b", "old-c")

    with pytest.raises(RegistryInvalid) as refused:
        await services.registry.sync(alice, PROJECT, reg(), prune=True)

    assert [(p.flag, p.field) for p in refused.value.problems] == [("old-b", "(prune)")]
    assert "prerequisite of ['new-checkout']" in str(refused.value)
    assert await written(services, "old-a", "old-b", "old-c") == before
    # Once the file flag no longer needs it, the orphans go, dependents first.
    await services.flags.update_environment(alice, PROJECT, "new-checkout", "staging", config())
    report = await services.registry.sync(alice, PROJECT, reg(), prune=True)
    state = await services.store.load_project(PROJECT)
    assert report.written == 3
    assert sorted(state.flags) == ["new-checkout", "page-size"]


async def test_sync__existing_flag_adopted__its_environments_keep_their_state(
    services: Services, alice: Actor
) -> None:
    live = {"production": config(enabled=True, serve="on")}
    await services.flags.create_flag(
        alice, PROJECT, boolean_flag("new-checkout", environments=live)
    )

    report = await services.registry.sync(alice, PROJECT, reg())

    flag = await services.flags.get_flag(PROJECT, "new-checkout")
    [update] = report.plan.update
    assert "registry" in update.fields
    # development/staging were disabled defaults nobody used: they take the registry's;
    # production was live, serving "on": it keeps that and is reported.
    assert [(k.environment, k.default) for k in report.plan.kept] == [
        ("development", "on"),
        ("staging", "off"),
        ("production", "off"),
    ]
    assert flag.environments["production"].fallthrough.variant == "on"
    assert flag.environments["production"].enabled
    assert flag.registry is not None


async def test_sync__dry_run__reports_and_writes_nothing(services: Services, alice: Actor) -> None:
    before = await written(services, "new-checkout")

    report = await services.registry.sync(alice, PROJECT, reg(), dry_run=True)

    assert (report.dry_run, report.written, report.plan.writes) == (True, 0, 3)
    assert report.plan.enforce
    assert await written(services, "new-checkout") == before


async def test_sync__environment_not_in_project__every_problem_listed_nothing_written(
    services: Services, alice: Actor
) -> None:
    bad = (
        'environments = ["development", "moon"]\n'
        "[flags.a]\ndefault = { development = true, moon = false }\n"
        "[flags.b]\ndefault = { production = true }\n"
    )
    before = await written(services, "a", "b")

    with pytest.raises(RegistryInvalid) as refused:
        await services.registry.sync(alice, PROJECT, reg(bad))

    assert [(p.flag, p.field) for p in refused.value.problems] == [
        (None, "environments"),
        ("a", "default.moon"),
        ("a", "default"),
        ("b", "default"),
    ]
    assert "no default for ['development', 'staging']" in str(refused.value)
    assert await written(services, "a", "b") == before


async def test_sync__variant_removed_that_an_admin_config_serves__refused(
    services: Services, alice: Actor, bob: Actor
) -> None:
    await services.registry.sync(alice, PROJECT, reg())
    large = config(enabled=True, serve="large").replace(off_variant="small")
    await services.flags.update_environment(bob, PROJECT, "page-size", "staging", large)
    no_large = FILE.replace("variants = { small = 10, large = 50 }", "variants = { small = 10 }")

    with pytest.raises(RegistryInvalid) as refused:
        await services.registry.sync(alice, PROJECT, reg(no_large))

    [problem] = refused.value.problems
    assert problem.flag == "page-size"
    assert "unknown variant(s) ['large']" in problem.message


async def test_enforced__writes_to_keys_not_in_the_registry__refused(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("legacy"))
    created = await services.flags.list_history(PROJECT, "legacy")
    await services.registry.sync(alice, PROJECT, reg())
    before = await written(services, "legacy", "unknown")

    attempts = [
        services.flags.create_flag(alice, PROJECT, boolean_flag("unknown")),
        services.flags.update_flag(alice, PROJECT, "legacy", {"name": "Legacy 2"}),
        services.flags.set_enabled(alice, PROJECT, "legacy", "production", True),
        services.flags.delete_flag(alice, PROJECT, "legacy"),
        services.flags.rollback(alice, PROJECT, "legacy", created.items[0].id),
    ]
    for attempt in attempts:
        with pytest.raises(NotInRegistry, match="add it to the registry file"):
            await attempt
    assert (await written(services, "legacy", "unknown")) == before
    # Registry flags: what admins own is writable, what the file owns is not.
    await services.flags.set_enabled(alice, PROJECT, "new-checkout", "production", False)
    with pytest.raises(NotInRegistry, match="come from the registry file"):
        await services.flags.update_flag(alice, PROJECT, "new-checkout", {"owner": "me"})


async def test_sync__changed_default__existing_tenants_keep_their_value(
    services: Services, alice: Actor
) -> None:
    await services.registry.sync(alice, PROJECT, reg())
    await services.tenants.onboard(alice, PROJECT, "acme")

    await services.registry.sync(alice, PROJECT, changed_default())
    await services.tenants.onboard(alice, PROJECT, "globex")

    state = await services.store.load_project(PROJECT)
    flags = served_flags(state)

    def value(environment: str, tenant: str | None) -> object:
        compiled = CompiledEnvironment(environment, flags.values(), state.segments.values())
        context = {"targeting_key": "u", **({"tenant": tenant} if tenant else {})}
        return evaluate(compiled, "page-size", context, now=0.0).value

    for env in ENVIRONMENTS:
        assert (value(env, "acme"), value(env, "globex"), value(env, None)) == (10, 50, 50), env


async def test_sync__variant_removed_that_a_prerequisite_needs__refused_naming_the_flag(
    services: Services, alice: Actor, bob: Actor
) -> None:
    await services.registry.sync(alice, PROJECT, reg())
    needs_large = config(enabled=True, prerequisites={"page-size": "large"})
    await services.flags.update_environment(bob, PROJECT, "new-checkout", "staging", needs_large)
    no_large = FILE.replace("variants = { small = 10, large = 50 }", "variants = { small = 10 }")
    before = await written(services, "new-checkout", "page-size")

    with pytest.raises(RegistryInvalid) as refused:
        await services.registry.sync(alice, PROJECT, reg(no_large))

    [problem] = refused.value.problems
    assert (problem.flag, problem.field) == ("page-size", "variants")
    assert "flag 'new-checkout' requires variant 'large'" in problem.message
    assert await written(services, "new-checkout", "page-size") == before
