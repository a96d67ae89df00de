"""served_flags: tenant state as evaluation sees it, on the pure engine (no store)."""

from __future__ import annotations

import logging

import pytest

from ff_core import tenancy
from ff_core.evaluation import CompiledEnvironment, Reason, evaluate
from ff_core.models import (
    Clause,
    EnvironmentConfig,
    Flag,
    Operator,
    Project,
    RegistryDefinition,
    Rule,
    Serve,
    Target,
    Tenant,
    TenantValue,
    boolean_variants,
)
from ff_core.store import ProjectState

ENV = "production"


def registry_flag(key: str = "search.v2", **config: object) -> Flag:
    settings: dict[str, object] = {
        "enabled": True,
        "off_variant": "off",
        "fallthrough": Serve(variant="off"),
        **config,
    }
    return Flag(
        key=key,
        name=key,
        variants=boolean_variants(),
        registry=RegistryDefinition(defaults={ENV: "off"}),
        environments={ENV: EnvironmentConfig.model_validate(settings)},
    )


def tenant(key: str, **values: str) -> Tenant:
    return Tenant(
        key=key,
        name=key,
        state={flag: {ENV: TenantValue(variant=v)} for flag, v in values.items()},
    )


def state(flags: list[Flag], tenants: list[Tenant], attribute: str = "tenant") -> ProjectState:
    project = Project(key="shop", name="Shop", tenant_attribute=attribute)
    return ProjectState(project, {f.key: f for f in flags}, {}, 1, {t.key: t for t in tenants})


def answer(served: dict[str, Flag], key: str, context: dict[str, object]) -> tuple[str, Reason]:
    result = evaluate(CompiledEnvironment(ENV, served.values()), key, context)
    assert result.variant is not None
    return result.variant, result.reason


def test_served_flags__tenant_state__tenant_gets_its_value_others_the_default() -> None:
    served = tenancy.served_flags(
        state([registry_flag()], [tenant("acme", **{"search.v2": "on"}), tenant("globex")])
    )

    assert answer(served, "search.v2", {"tenant": "acme"}) == ("on", Reason.TARGETING_MATCH)
    assert answer(served, "search.v2", {"tenant": "globex"})[0] == "off"
    assert answer(served, "search.v2", {"targeting_key": "acme"})[0] == "off"


def test_served_flags__configured_attribute__targets_that_attribute() -> None:
    served = tenancy.served_flags(
        state([registry_flag()], [tenant("acme", **{"search.v2": "on"})], attribute="org_id")
    )

    assert answer(served, "search.v2", {"org_id": "acme"})[0] == "on"
    assert answer(served, "search.v2", {"tenant": "acme"})[0] == "off"


def test_served_flags__user_target__wins_over_tenant_state() -> None:
    flag = registry_flag(targets=(Target(variant="off", values=("vip-user",)),))
    served = tenancy.served_flags(state([flag], [tenant("acme", **{"search.v2": "on"})]))

    assert answer(served, "search.v2", {"targeting_key": "vip-user", "tenant": "acme"})[0] == "off"
    assert answer(served, "search.v2", {"targeting_key": "other", "tenant": "acme"})[0] == "on"


def test_served_flags__kill_switch_off__tenant_gets_the_off_variant() -> None:
    flag = registry_flag(enabled=False)
    served = tenancy.served_flags(state([flag], [tenant("acme", **{"search.v2": "on"})]))

    assert answer(served, "search.v2", {"tenant": "acme"}) == ("off", Reason.DISABLED)


def test_served_flags__rule_matches_too__tenant_state_comes_before_rules() -> None:
    rule = Rule(
        clauses=(Clause(attribute="country", operator=Operator.EQ, values=("NL",)),),
        serve=Serve(variant="on"),
    )
    flag = registry_flag(rules=(rule,))
    served = tenancy.served_flags(state([flag], [tenant("acme", **{"search.v2": "off"})]))

    # The tenant was onboarded with "off": a rule added later does not flip it.
    assert answer(served, "search.v2", {"tenant": "acme", "country": "NL"})[0] == "off"
    assert answer(served, "search.v2", {"tenant": "globex", "country": "NL"})[0] == "on"


def test_served_flags__stored_flag__left_as_it_was() -> None:
    flag = registry_flag()
    project = state([flag], [tenant("acme", **{"search.v2": "on"})])

    served = tenancy.served_flags(project)

    assert project.flags["search.v2"].environments[ENV].targets == ()
    assert served["search.v2"].environments[ENV].targets[0].values == ("acme",)


def test_served_flags__orphaned_state__ignored_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plain = Flag(key="plain", name="plain", variants=boolean_variants())  # not in the registry
    acme = tenant("acme", **{"gone": "on", "plain": "on", "search.v2": "on"})
    project = state([registry_flag(), plain], [acme])
    tenancy._logged.clear()

    with caplog.at_level(logging.WARNING, logger="ff.tenants"):
        served = tenancy.served_flags(project)
        tenancy.served_flags(project)

    warnings = [r.getMessage() for r in caplog.records if r.name == "ff.tenants"]
    assert len(warnings) == 2  # "gone" and "plain", once each over two reads
    assert all("acme" in w and "ff tenants cleanup" in w for w in warnings)
    assert "gone" not in served
    assert served["plain"].environments == {}
    assert answer(served, "search.v2", {"tenant": "acme"})[0] == "on"
    assert tenancy.orphaned(project.flags, acme) == ["gone", "plain"]
