"""The flags list: rows for one environment, then search, filters, sort, pages and the URL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from ff_admin.logic.flag_list import (
    FlagQuery,
    FlagRow,
    RolloutSlice,
    build_rows,
    parse_query,
    query,
    to_params,
)
from ff_core import registry
from ff_core.models import (
    Clause,
    EnvironmentConfig,
    EnvironmentUsage,
    Flag,
    FlagUsage,
    Operator,
    RegistryDefinition,
    Rollout,
    Rule,
    Serve,
    Target,
    WeightedVariant,
    boolean_variants,
)

NOW = datetime(2030, 6, 1, 12, tzinfo=UTC)
ENV = "production"


def flag(key: str, **fields: Any) -> Flag:
    data: dict[str, Any] = {
        "key": key,
        "name": key.replace("-", " ").capitalize(),
        "variants": boolean_variants(),
        "created_at": NOW - timedelta(days=30),
        "updated_at": NOW - timedelta(days=1),
        **fields,
    }
    return Flag(**data)


def config(**fields: Any) -> EnvironmentConfig:
    data: dict[str, Any] = {
        "enabled": True,
        "off_variant": "off",
        "fallthrough": Serve(variant="on"),
        **fields,
    }
    return EnvironmentConfig(**data)


def usage(key: str, last: datetime | None, recent: int = 0) -> FlagUsage:
    daily = {NOW.date(): recent} if recent else {}
    env = EnvironmentUsage.build(recent, last, daily, NOW)
    return FlagUsage.build("shop", key, {ENV: env})


def row(key: str, **fields: Any) -> FlagRow:
    data: dict[str, Any] = {
        "key": key,
        "name": key.capitalize(),
        "kind": "release",
        "value_type": "boolean",
        "tags": [],
        "enabled": True,
        "config_version": 1,
        "flag_version": 1,
        "rule_count": 0,
        "target_count": 0,
        "rollout": [RolloutSlice("on", 100.0)],
        "temporary": True,
        "archived": False,
        "stale": False,
        "last_evaluated": "",
        "recent_count": 0,
        "updated_at": "2030-01-01T00:00:00.000+00:00",
        **fields,
    }
    return FlagRow(**data)


def keys(rows: list[FlagRow]) -> list[str]:
    return [r.key for r in rows]


# -- build_rows --------------------------------------------------------------------------------


def test_build_rows__configured_flag__row_describes_that_environment() -> None:
    rollout = Rollout(
        variants=(
            WeightedVariant(variant="on", weight=25_000),
            WeightedVariant(variant="off", weight=75_000),
        )
    )
    rich = config(
        rules=(
            Rule(
                clauses=(Clause(attribute="country", operator=Operator.EQ, values=("US",)),),
                serve=Serve(variant="on"),
            ),
        ),
        targets=(Target(variant="on", values=("alice",)),),
        fallthrough=Serve(rollout=rollout),
        version=4,
    )
    f = flag(
        "new-checkout",
        tags=("web", "payments"),
        kind="experiment",
        version=9,
        environments={ENV: rich, "staging": config(enabled=False)},
    )
    last = NOW - timedelta(hours=2)
    [r] = build_rows([f], ENV, {"new-checkout": usage("new-checkout", last, 42)}, NOW)
    assert r == FlagRow(
        key="new-checkout",
        name="New checkout",
        kind="experiment",
        value_type="boolean",
        tags=["web", "payments"],
        enabled=True,
        config_version=4,
        flag_version=9,
        rule_count=1,
        target_count=1,
        rollout=[RolloutSlice("on", 25.0), RolloutSlice("off", 75.0)],
        temporary=True,
        archived=False,
        stale=False,
        last_evaluated="2030-06-01T10:00:00.000+00:00",
        recent_count=42,
        updated_at="2030-05-31T12:00:00.000+00:00",
    )


def test_build_rows__disabled_environment__serves_the_off_variant_at_100() -> None:
    f = flag("a", environments={ENV: config(enabled=False, version=2)})
    [r] = build_rows([f], ENV, {}, NOW)
    assert (r.enabled, r.config_version, r.rollout) == (False, 2, [RolloutSlice("off", 100.0)])


def test_build_rows__no_config_for_environment__the_default_disabled_one() -> None:
    [r] = build_rows([flag("a")], ENV, {}, NOW)
    assert (r.enabled, r.config_version, r.rule_count) == (False, 0, 0)
    assert r.rollout == [RolloutSlice("off", 100.0)]


def test_build_rows__usage_in_another_environment_only__not_stale_but_no_local_evaluations() -> (
    None
):
    other = EnvironmentUsage.build(5, NOW - timedelta(days=1), {NOW.date(): 5}, NOW)
    u = FlagUsage.build("shop", "a", {"staging": other})
    [r] = build_rows([flag("a")], ENV, {"a": u}, NOW)
    assert (r.stale, r.last_evaluated, r.recent_count) == (False, "", 0)


@pytest.mark.parametrize(
    ("created_days_ago", "last_days_ago", "stale"),
    [
        (30, 1, False),
        (30, 6.9, False),
        (30, 7.1, True),
        (30, None, True),
        (2, None, False),
        (None, None, True),
    ],
)
def test_build_rows__usage_and_age__stale_after_seven_days_without_evaluations(
    created_days_ago: float | None, last_days_ago: float | None, stale: bool
) -> None:
    created = None if created_days_ago is None else NOW - timedelta(days=created_days_ago)
    f = flag("a", created_at=created)
    usages = {}
    if last_days_ago is not None:
        usages["a"] = usage("a", NOW - timedelta(days=last_days_ago))
    [r] = build_rows([f], ENV, usages, NOW)
    assert r.stale is stale


def test_build_rows__recent_count__sums_the_usage_window_of_that_environment() -> None:
    daily = {date(2030, 6, 1): 3, date(2030, 5, 20): 4, date(2029, 1, 1): 100}
    env = EnvironmentUsage.build(107, NOW, daily, NOW)
    [r] = build_rows([flag("a")], ENV, {"a": FlagUsage.build("shop", "a", {ENV: env})}, NOW)
    assert r.recent_count == 7


def test_build_rows__naive_datetimes__read_as_utc() -> None:
    f = flag("a", updated_at=datetime(2030, 1, 2, 3, 4, 5), created_at=datetime(2030, 1, 1))
    [r] = build_rows([f], ENV, {}, NOW)
    assert r.updated_at == "2030-01-02T03:04:05.000+00:00"
    assert r.stale


# -- query -------------------------------------------------------------------------------------


ROWS = [
    row("checkout", name="New Checkout", tags=["payments", "web"], recent_count=5),
    row("search-v2", name="Search", tags=["Web"], enabled=False, recent_count=50),
    row("banner", name="Banner text", kind="ops", temporary=False, stale=True),
    row("old-pricing", name="Pricing", archived=True, tags=["legacy"], stale=True),
    row(
        "dark-mode", name="dark mode", kind="permission", updated_at="2030-03-01T00:00:00.000+00:00"
    ),
]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("CHECK", ["checkout"]),
        ("banner t", ["banner"]),
        ("web", ["checkout", "search-v2"]),
        ("pricing", []),
        ("  ", ["banner", "checkout", "dark-mode", "search-v2"]),
    ],
)
def test_query__search__matches_key_name_and_tags_case_insensitively(
    search: str, expected: list[str]
) -> None:
    assert keys(query(ROWS, FlagQuery(search=search)).rows) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (FlagQuery(tag="web"), ["checkout"]),
        (FlagQuery(kind="ops"), ["banner"]),
        (FlagQuery(status="enabled"), ["banner", "checkout", "dark-mode"]),
        (FlagQuery(status="disabled"), ["search-v2"]),
        (FlagQuery(lifecycle="stale"), ["banner"]),
        (FlagQuery(lifecycle="temporary"), ["checkout", "dark-mode", "search-v2"]),
        (FlagQuery(lifecycle="permanent"), ["banner"]),
        (FlagQuery(lifecycle="archived"), ["old-pricing"]),
        (FlagQuery(lifecycle="archived", search="check"), []),
        (FlagQuery(status="enabled", lifecycle="temporary", kind="release"), ["checkout"]),
    ],
)
def test_query__filters__combine_and_archived_only_in_their_own_view(
    q: FlagQuery, expected: list[str]
) -> None:
    assert keys(query(ROWS, q).rows) == expected


@pytest.mark.parametrize(
    ("sort", "descending", "expected"),
    [
        ("key", False, ["banner", "checkout", "dark-mode", "search-v2"]),
        ("key", True, ["search-v2", "dark-mode", "checkout", "banner"]),
        ("name", False, ["banner", "dark-mode", "checkout", "search-v2"]),
        ("evaluations", True, ["search-v2", "checkout", "banner", "dark-mode"]),
        ("evaluations", False, ["banner", "dark-mode", "checkout", "search-v2"]),
        ("updated", True, ["dark-mode", "banner", "checkout", "search-v2"]),
    ],
)
def test_query__sort__orders_with_ties_by_ascending_key(
    sort: str, descending: bool, expected: list[str]
) -> None:
    assert keys(query(ROWS, FlagQuery(sort=sort, descending=descending)).rows) == expected


def test_query__tags__every_tag_of_every_row_sorted() -> None:
    page = query(ROWS, FlagQuery(search="nothing matches this"))
    assert page.tags == ["Web", "legacy", "payments", "web"]
    assert (page.total, page.page, page.pages, page.rows) == (0, 1, 1, [])


def test_query__many_rows__pages_of_page_size() -> None:
    rows = [row(f"flag-{i:03d}") for i in range(95)]
    page = query(rows, FlagQuery(page=2, page_size=10))
    assert (page.total, page.page, page.pages) == (95, 2, 10)
    assert keys(page.rows) == [f"flag-{i:03d}" for i in range(10, 20)]
    last = query(rows, FlagQuery(page=10, page_size=10))
    assert keys(last.rows) == [f"flag-{i:03d}" for i in range(90, 95)]


@pytest.mark.parametrize(("asked", "served"), [(0, 1), (-3, 1), (7, 4), (10_000, 4)])
def test_query__page_out_of_range__clamped(asked: int, served: int) -> None:
    rows = [row(f"flag-{i:03d}") for i in range(35)]
    assert query(rows, FlagQuery(page=asked, page_size=10)).page == served


@pytest.mark.parametrize(("asked", "size"), [(1, 10), (10, 10), (75, 75), (1000, 200)])
def test_query__page_size__clamped_between_10_and_200(asked: int, size: int) -> None:
    rows = [row(f"flag-{i:04d}") for i in range(500)]
    assert len(query(rows, FlagQuery(page_size=asked)).rows) == size


def test_query__rows__left_unchanged() -> None:
    rows = list(reversed(ROWS))
    query(rows, FlagQuery(sort="name"))
    assert rows == list(reversed(ROWS))


# -- URL parameters ----------------------------------------------------------------------------


def test_parse_query__every_parameter__read() -> None:
    params = {
        "search": "check",
        "tag": "web",
        "kind": "ops",
        "status": "disabled",
        "lifecycle": "stale",
        "sort": "updated",
        "descending": "true",
        "page": "3",
        "page_size": "100",
    }
    assert parse_query(params) == FlagQuery(
        search="check",
        tag="web",
        kind="ops",
        status="disabled",
        lifecycle="stale",
        sort="updated",
        descending=True,
        page=3,
        page_size=100,
    )


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "bogus", "status": "maybe", "lifecycle": "x", "sort": "random"},
        {"page": "abc", "page_size": "-5"},
        {"page": "²", "page_size": "1e3"},
        {"page": "99999999999999999999999"},
        {"descending": "nope"},
    ],
)
def test_parse_query__bad_values__defaults(params: dict[str, str]) -> None:
    assert parse_query(params) == FlagQuery()


def test_parse_query__page_size_out_of_range__clamped() -> None:
    assert parse_query({"page_size": "5"}).page_size == 10
    assert parse_query({"page_size": "5000"}).page_size == 200


def test_to_params__defaults__omitted() -> None:
    assert to_params(FlagQuery()) == {}


def test_to_params__any_query__parse_query_reads_it_back() -> None:
    q = FlagQuery(search="x y", tag="web", kind="experiment", descending=True, page=2)
    params = to_params(q)
    assert params == {
        "search": "x y",
        "tag": "web",
        "kind": "experiment",
        "descending": "true",
        "page": "2",
    }
    assert parse_query(params) == q


def test_build_rows__registry_flags__default_marked_where_served_orphans_when_enforced() -> None:
    defaults = {ENV: "on", "staging": "off"}
    listed = flag("listed", registry=RegistryDefinition(defaults=defaults), internal_only=True)
    configs = {env: registry.default_config(listed, env) for env in defaults}
    changed = configs[ENV]
    assert changed is not None
    listed = listed.replace(
        environments={ENV: changed.replace(enabled=False), "staging": configs["staging"]}
    )
    stored = flag("stored")

    rows = {r.key: r for r in build_rows([listed, stored], "staging", {}, NOW, enforced=True)}
    assert (rows["listed"].in_registry, rows["listed"].is_default) == (True, True)
    assert (rows["listed"].orphan, rows["listed"].internal_only) == (False, True)
    assert (rows["stored"].in_registry, rows["stored"].orphan) == (False, True)
    # Turned off in ENV: no longer what the registry says there.
    [here] = [r for r in build_rows([listed], ENV, {}, NOW, enforced=True)]
    assert here.is_default is False
    # The same flags in a project that does not enforce its registry: no orphans.
    assert not any(r.orphan for r in build_rows([listed, stored], ENV, {}, NOW))
