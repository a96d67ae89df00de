"""The tenants page's pure logic: list search and pages, one tenant's view, one flag across
tenants; and that its values are the service's (the API's) values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ff_admin.logic import tenants as logic
from ff_admin.logic.tenants import AcrossRow, ValueCell
from ff_core import registry
from ff_core.models import (
    Actor,
    EnvironmentConfig,
    Flag,
    RegistryDefinition,
    Serve,
    Tenant,
    TenantValue,
    boolean_variants,
)
from ff_core.services import Services
from ff_core.store import Store
from tests.core.services_support import ENVIRONMENTS, PROJECT, boolean_flag, project_services
from tests.core.test_services_tenants import ON_IN_DEV, enforce, put_registry_flag

AT = datetime(2030, 1, 1, tzinfo=UTC)


def registry_flag(key: str, defaults: dict[str, str], **fields: object) -> Flag:
    flag = Flag(
        key=key,
        name=key.capitalize(),
        variants=boolean_variants(),
        registry=RegistryDefinition(defaults=defaults),
        **fields,
    )
    configs = {env: registry.default_config(flag, env) for env in defaults}
    return flag.replace(environments={k: v for k, v in configs.items() if v is not None})


def tenant(
    key: str, state: dict[str, dict[str, TenantValue]] | None = None, **fields: object
) -> Tenant:
    return Tenant(key=key, name=fields.pop("name", key.upper()), state=state or {}, **fields)


def explicit(variant: str) -> TenantValue:
    return TenantValue(variant=variant)


def overridden(variant: str) -> TenantValue:
    return TenantValue(variant=variant, overridden=True)


# -- the list ----------------------------------------------------------------------------------


def test_list_tenants__search__matches_key_or_name_in_any_case_sorted_by_key() -> None:
    tenants = [tenant("globex", name="Globex Corp"), tenant("acme", name="ACME"), tenant("initech")]

    found = logic.list_tenants(tenants, "  corp ", 1)
    assert [r.key for r in found.rows] == ["globex"]
    found = logic.list_tenants(tenants, "AC", 1)
    assert [r.key for r in found.rows] == ["acme"]
    everyone = logic.list_tenants(tenants, "", 1)
    assert [r.key for r in everyone.rows] == ["acme", "globex", "initech"]
    assert (everyone.total, everyone.page, everyone.pages) == (3, 1, 1)


def test_list_tenants__many__paged_and_out_of_range_page_clamped() -> None:
    tenants = [tenant(f"t{i:03d}") for i in range(logic.PAGE_SIZE * 2 + 5)]

    second = logic.list_tenants(tenants, "", 2)
    assert (second.total, second.page, second.pages) == (105, 2, 3)
    assert second.rows[0].key == f"t{logic.PAGE_SIZE:03d}"
    assert len(second.rows) == logic.PAGE_SIZE
    last = logic.list_tenants(tenants, "", 99)
    assert (last.page, [r.key for r in last.rows]) == (3, [f"t{i:03d}" for i in range(100, 105)])
    assert logic.list_tenants(tenants, "", -4).page == 1
    assert logic.list_tenants([], "", 1).pages == 1


def test_list_tenants__row__counts_overrides_only_and_shows_when_changed() -> None:
    state = {
        "a": {"development": overridden("on"), "production": explicit("off")},
        "b": {"staging": overridden("off")},
    }
    [row] = logic.list_tenants([tenant("acme", state, updated_at=AT)], "", 1).rows
    assert (row.key, row.name, row.overrides) == ("acme", "ACME", 2)
    assert row.updated_at == "2030-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("raw", "page"), [(None, 1), ("", 1), ("3", 3), ("0", 1), ("-2", 1), ("x", 1), ("9" * 40, 1)]
)
def test_parse_page__url_value__a_positive_page_or_the_first(raw: str | None, page: int) -> None:
    assert logic.parse_page(raw) == page


# -- one tenant --------------------------------------------------------------------------------


def test_tenant_view__explicit_overridden_and_missing__each_status_and_its_variant() -> None:
    flags = {
        "checkout": registry_flag("checkout", ON_IN_DEV),
        "search": registry_flag("search", {e: "on" for e in ENVIRONMENTS}),
        "not-registry": boolean_flag("not-registry"),
        "retired": registry_flag("retired", ON_IN_DEV, archived=True),
    }
    acme = tenant(
        "acme",
        {
            "checkout": {
                "development": explicit("on"),
                "staging": overridden("on"),
                "production": explicit("off"),
            },
            "gone": {"development": explicit("on")},
        },
    )

    view = logic.tenant_view(flags, acme, list(ENVIRONMENTS))

    assert [(r.flag, r.variants) for r in view.rows] == [
        ("checkout", ["on", "off"]),
        ("search", ["on", "off"]),
    ]
    assert view.rows[0].cells == [
        ValueCell("checkout", "development", "on", "true", "explicit"),
        ValueCell("checkout", "staging", "on", "true", "overridden"),
        ValueCell("checkout", "production", "off", "false", "explicit"),
    ]
    # Added to the registry after acme was onboarded: acme gets what it serves everyone.
    assert [(c.variant, c.status) for c in view.rows[1].cells] == [("on", "default")] * 3
    assert view.orphaned == ["gone"]


def test_tenant_view__default_changed_after_onboarding__explicit_value_kept() -> None:
    flag = registry_flag("checkout", {"development": "off"})
    flag = flag.replace(
        environments={
            "development": EnvironmentConfig(
                off_variant="off", enabled=True, fallthrough=Serve(variant="on")
            )
        }
    )
    acme = tenant("acme", {"checkout": {"development": explicit("off")}})

    [row] = logic.tenant_view({"checkout": flag}, acme, ["development"]).rows

    assert [(c.variant, c.status) for c in row.cells] == [("off", "explicit")]


# -- one flag across tenants -------------------------------------------------------------------


def test_across__tenants__each_value_in_that_environment_by_tenant_key() -> None:
    flag = registry_flag("checkout", ON_IN_DEV)
    tenants = [
        tenant("globex", {"checkout": {"production": overridden("on")}}),
        tenant("acme", {"checkout": {"production": explicit("off")}}),
        tenant("initech"),
    ]

    page = logic.across(flag, tenants, "production", 1)

    assert page.rows == [
        AcrossRow("acme", "ACME", "off", "false", "explicit"),
        AcrossRow("globex", "GLOBEX", "on", "true", "overridden"),
        AcrossRow("initech", "INITECH", "off", "false", "default"),
    ]
    assert (page.total, page.pages) == (3, 1)


def test_across__many_tenants__paged() -> None:
    flag = registry_flag("checkout", ON_IN_DEV)
    tenants = [tenant(f"t{i:03d}") for i in range(logic.PAGE_SIZE + 1)]

    page = logic.across(flag, tenants, "development", 2)

    assert (page.page, page.pages, page.total) == (2, 2, logic.PAGE_SIZE + 1)
    assert [r.tenant for r in page.rows] == [f"t{logic.PAGE_SIZE:03d}"]


def test_registry_flags__mixed__registry_and_live_only_by_key() -> None:
    flags = [
        registry_flag("b", ON_IN_DEV),
        boolean_flag("c"),
        registry_flag("a", ON_IN_DEV),
        registry_flag("z", ON_IN_DEV, archived=True),
    ]
    assert [f.key for f in logic.registry_flags(flags)] == ["a", "b"]


# -- the same answers as the service -----------------------------------------------------------


async def test_views__after_onboarding_overrides_and_clears__same_as_the_service(
    services: Services, alice: Actor
) -> None:
    await put_registry_flag(services, alice, "checkout", ON_IN_DEV)
    await enforce(services, alice)
    for key in ("acme", "globex"):
        await services.tenants.onboard(alice, PROJECT, key)
    await put_registry_flag(services, alice, "search", {e: "on" for e in ENVIRONMENTS})
    await services.tenants.set_override(alice, PROJECT, "acme", "checkout", "production", "on")
    await services.tenants.set_override(alice, PROJECT, "globex", "checkout", "staging", "on")
    await services.tenants.clear_override(alice, PROJECT, "globex", "checkout", "staging")
    state = await services.store.load_project(PROJECT)

    for key in ("acme", "globex"):
        theirs = await services.tenants.view(PROJECT, key)
        ours = logic.tenant_view(state.flags, state.tenants[key], list(ENVIRONMENTS))
        assert [
            (c.flag, c.environment, c.variant, c.status) for r in ours.rows for c in r.cells
        ] == [
            (v.flag, v.environment, v.variant, logic.status(v.explicit, v.overridden))
            for v in theirs.values
        ]
    for env in ENVIRONMENTS:
        theirs_across = await services.tenants.across(PROJECT, "checkout", env)
        ours_across = logic.across(state.flags["checkout"], state.tenants.values(), env, 1)
        assert [(r.tenant, r.variant, r.status) for r in ours_across.rows] == [
            (v.tenant, v.variant, logic.status(v.explicit, v.overridden))
            for v in theirs_across.items
        ]
    statuses = {
        (c.flag, c.environment): c.status
        for r in logic.tenant_view(state.flags, state.tenants["globex"], list(ENVIRONMENTS)).rows
        for c in r.cells
    }
    assert statuses[("checkout", "staging")] == "default"  # the override was cleared
    assert statuses[("checkout", "development")] == "explicit"
    assert statuses[("search", "development")] == "default"


@pytest.fixture
async def services(store: Store, alice: Actor) -> Services:
    return await project_services(store, alice)
