"""The flag page in Chromium: header and usage, the rule builder, saving, conflicts, live."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from ff_core.models import (
    Actor,
    ActorKind,
    Clause,
    EnvironmentConfig,
    Flag,
    HistoryEntry,
    Operator,
    Prerequisite,
    Rule,
    Serve,
    UsageDelta,
    boolean_variants,
)
from ff_core.services import Services
from tests.e2e.conftest import Dashboard, screenshot

CLI = Actor(
    kind=ActorKind.USER, subject="someone-else@example.com", email="someone-else@example.com"
)
DEV = "development"


def _rule(rule_id: str, country: str) -> Rule:
    return Rule(
        id=rule_id,
        description=f"rule {rule_id}",
        clauses=(Clause(attribute="country", operator=Operator.EQ, values=(country,)),),
        serve=Serve(variant="on"),
    )


MakeFlag = Callable[..., str]


@pytest.fixture
def make_flag(dashboard: Dashboard) -> Iterator[MakeFlag]:
    """Boolean flags of the test's own, with ``rules`` in development; deleted afterwards."""
    made: list[str] = []

    def make(*rules: Rule) -> str:
        key = f"detail-{uuid.uuid4().hex[:8]}"
        config = EnvironmentConfig(off_variant="off", fallthrough=Serve(variant="on"), rules=rules)
        flag = Flag(
            key=key, name="Detail test", variants=boolean_variants(), environments={DEV: config}
        )

        async def create(services: Services) -> None:
            await services.flags.create_flag(CLI, "demo", flag)

        dashboard.run(create)
        made.append(key)
        return key

    yield make

    async def delete(services: Services) -> None:
        for key in reversed(made):  # a flag another one needs goes last
            await services.flags.delete_flag(CLI, "demo", key)

    dashboard.run(delete)


def _get(dashboard: Dashboard, key: str) -> Flag:
    async def read(services: Services) -> Flag:
        return await services.flags.get_flag("demo", key)

    flag: Flag = dashboard.run(read)
    return flag


def _open(page: Page, dashboard: Dashboard, key: str, env: str = DEV) -> None:
    page.goto(f"{dashboard.url}/flag?p=demo&key={key}&env={env}")
    page.wait_for_selector(f'[id="env-{env}"]')


def _el(page: Page, id: str) -> Locator:
    return page.locator(f'[id="{id}"]')


def _choose(page: Page, trigger: str, option: str) -> None:
    _el(page, trigger).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_flag_page__demo_flag__header_usage_and_a_card_per_environment(
    page: Page, dashboard: Dashboard
) -> None:
    page.goto(dashboard.url + "/flag?p=demo&key=new-checkout&env=production")
    expect(_el(page, "flag-key")).to_have_text("new-checkout")
    expect(_el(page, "flag-name")).to_have_text("New checkout")
    expect(_el(page, "flag-kind")).to_have_text("release")
    expect(_el(page, "flag-history")).to_be_visible()
    href = page.locator("a", has=_el(page, "flag-history")).get_attribute("href")
    assert href is not None
    assert "/history?p=demo&key=new-checkout" in href
    cards = page.locator(".env-card")
    expect(cards).to_have_count(3)
    assert [c.get_attribute("id") for c in cards.all()] == [
        "env-development",
        "env-staging",
        "env-production",
    ]
    expect(_el(page, "production-rule-0-clause-0-attribute")).to_have_value("country")
    expect(_el(page, "production-rule-0-clause-0-values")).to_have_value("US, CA")
    expect(_el(page, "production-fallthrough-weight-0")).to_have_value("25")
    # Tall enough for the header and all three environments.
    page.set_viewport_size({"width": 1400, "height": 1650})
    screenshot(page, "flag-detail")


def test_flag_page__segment_clause__segment_picker_shows_it(
    page: Page, dashboard: Dashboard
) -> None:
    page.goto(dashboard.url + "/flag?p=demo&key=search.max-results&env=production")
    expect(_el(page, "production-rule-0-clause-0-segment")).to_have_text("beta")
    expect(_el(page, "production-rule-0-clause-0-attribute")).to_have_count(0)


def test_flag_page__usage_recorded__counts_and_last_evaluation_shown(
    page: Page, dashboard: Dashboard, make_flag: MakeFlag
) -> None:
    key = make_flag()

    async def use(services: Services) -> None:
        delta = UsageDelta(count=42, last=datetime.now(UTC))
        await services.store.record_usage("demo", key, {"staging": delta})

    dashboard.run(use)
    _open(page, dashboard, key)
    expect(_el(page, "usage-staging")).to_contain_text("42 / 30 d")
    expect(_el(page, "usage-staging")).not_to_contain_text("stale")
    expect(_el(page, "usage-production")).to_contain_text("never")
    expect(_el(page, "flag-stale")).to_have_count(0)


def test_rule__added_and_saved_with_a_note__stored_with_the_note_and_the_user(
    page: Page, dashboard: Dashboard, make_flag: MakeFlag
) -> None:
    key = make_flag()
    _open(page, dashboard, key)
    _el(page, f"{DEV}-add-rule").click()
    _el(page, f"{DEV}-rule-0-clause-0-attribute").fill("country")
    _choose(page, f"{DEV}-rule-0-clause-0-operator", "in")
    _el(page, f"{DEV}-rule-0-clause-0-values").fill("US,CA")
    _choose(page, f"{DEV}-rule-0-serve", "off")
    _el(page, f"{DEV}-rule-0-clause-0-negate").click()
    _el(page, f"{DEV}-enabled").click()
    _el(page, f"{DEV}-note").fill("North America stays off for now")
    expect(_el(page, f"env-{DEV}")).to_have_attribute("data-dirty", "true")
    _el(page, f"{DEV}-save").click()
    expect(page.get_by_text(f"{key} saved in {DEV}")).to_be_visible()
    expect(_el(page, f"env-{DEV}")).to_have_attribute("data-dirty", "false")

    config = _get(dashboard, key).environments[DEV]
    assert config.enabled is True
    assert len(config.rules) == 1
    (clause,) = config.rules[0].clauses
    assert (clause.attribute, clause.operator, clause.values) == ("country", "in", ("US", "CA"))
    assert clause.negate is True
    assert config.rules[0].serve.variant == "off"

    async def latest(services: Services) -> HistoryEntry:
        return (await services.flags.list_history("demo", key, limit=1)).items[0]

    entry: HistoryEntry = dashboard.run(latest)
    assert entry.note == "North America stays off for now"
    assert entry.actor.email == "dev@localhost"
    assert entry.environment == DEV


def test_rules__second_moved_up__saved_in_the_new_order(
    page: Page, dashboard: Dashboard, make_flag: MakeFlag
) -> None:
    key = make_flag(_rule("first", "FR"), _rule("second", "DE"))
    _open(page, dashboard, key)
    expect(_el(page, f"{DEV}-rule-0-description")).to_have_value("rule first")
    _el(page, f"{DEV}-rule-1-up").click()
    expect(_el(page, f"{DEV}-rule-0-description")).to_have_value("rule second")
    expect(_el(page, f"{DEV}-rule-1-clause-0-values")).to_have_value("FR")
    _el(page, f"{DEV}-save").click()
    expect(page.get_by_text(f"{key} saved in {DEV}")).to_be_visible()
    assert [r.id for r in _get(dashboard, key).environments[DEV].rules] == ["second", "first"]


def test_clause__added_then_removed__only_the_kept_one_saved(
    page: Page, dashboard: Dashboard, make_flag: MakeFlag
) -> None:
    key = make_flag(_rule("only", "FR"))
    _open(page, dashboard, key)
    _el(page, f"{DEV}-rule-0-add-clause").click()
    _el(page, f"{DEV}-rule-0-clause-1-attribute").fill("plan")
    _el(page, f"{DEV}-rule-0-clause-1-values").fill("pro")
    _el(page, f"{DEV}-rule-0-clause-0-remove").click()
    expect(_el(page, f"{DEV}-rule-0-clause-1-attribute")).to_have_count(0)
    _el(page, f"{DEV}-save").click()
    expect(page.get_by_text(f"{key} saved in {DEV}")).to_be_visible()
    (clause,) = _get(dashboard, key).environments[DEV].rules[0].clauses
    assert (clause.attribute, clause.values) == ("plan", ("pro",))


def test_rule__segment_condition__picked_from_the_project_segments(
    page: Page, dashboard: Dashboard, make_flag: MakeFlag
) -> None:
    key = make_flag()
    _open(page, dashboard, key)
    _el(page, f"{DEV}-add-rule").click()
    _choose(page, f"{DEV}-rule-0-clause-0-operator", "in_segment")
    expect(_el(page, f"{DEV}-rule-0-clause-0-attribute")).to_have_count(0)
    expect(_el(page, f"{DEV}-rule-0-clause-0-values")).to_have_count(0)
    _choose(page, f"{DEV}-rule-0-clause-0-segment", "beta")
    _el(page, f"{DEV}-save").click()
    expect(page.get_by_text(f"{key} saved in {DEV}")).to_be_visible()
    (clause,) = _get(dashboard, key).environments[DEV].rules[0].clauses
    assert (clause.operator, clause.values) == ("in_segment", ("beta",))


def test_clause__value_not_a_number__error_beside_the_values_nothing_saved(
    page: Page, dashboard: Dashboard, make_flag: MakeFlag
) -> None:
    key = make_flag(_rule("first", "FR"))
    _open(page, dashboard, key)
    _el(page, f"{DEV}-rule-0-add-clause").click()
    _el(page, f"{DEV}-rule-0-clause-1-attribute").fill("age")
    _choose(page, f"{DEV}-rule-0-clause-1-operator", "gt")
    _el(page, f"{DEV}-rule-0-clause-1-values").fill("eighteen")
    _el(page, f"{DEV}-save").click()
    expect(_el(page, f"error-{DEV}-rules.0.clauses.1.values")).to_contain_text("not a number")
    expect(_el(page, f"error-{DEV}-rules.0.clauses.0.values")).to_have_count(0)
    assert len(_get(dashboard, key).environments[DEV].rules[0].clauses) == 1


def test_prerequisite__picked_flag_and_variant__saved(
    page: Page, dashboard: Dashboard, make_flag: MakeFlag
) -> None:
    key = make_flag()
    _open(page, dashboard, key)
    _el(page, f"{DEV}-add-prerequisite").click()
    _choose(page, f"{DEV}-prerequisite-0-flag", "banner-text")
    _choose(page, f"{DEV}-prerequisite-0-variant", "friendly")
    _el(page, f"{DEV}-save").click()
    expect(page.get_by_text(f"{key} saved in {DEV}")).to_be_visible()
    (prerequisite,) = _get(dashboard, key).environments[DEV].prerequisites
    assert (prerequisite.flag, prerequisite.variant) == ("banner-text", "friendly")


def test_prerequisite__would_form_a_cycle__service_refusal_beside_the_prerequisites(
    page: Page, dashboard: Dashboard, make_flag: MakeFlag
) -> None:
    first = make_flag()
    second = make_flag()

    async def depend(services: Services) -> None:
        config = (await services.flags.get_flag("demo", second)).environments[DEV]
        needs_first = config.replace(prerequisites=(Prerequisite(flag=first, variant="on"),))
        await services.flags.update_environment(CLI, "demo", second, DEV, needs_first)

    dashboard.run(depend)
    _open(page, dashboard, first)
    _el(page, f"{DEV}-add-prerequisite").click()
    _choose(page, f"{DEV}-prerequisite-0-flag", second)
    _choose(page, f"{DEV}-prerequisite-0-variant", "on")
    _el(page, f"{DEV}-save").click()
    expect(_el(page, f"error-{DEV}-prerequisites")).to_contain_text("cycle")
    assert _get(dashboard, first).environments[DEV].prerequisites == ()


def test_flag_page__unknown_key__says_so(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/flag?p=demo&key=no-such-flag")
    expect(_el(page, "flag-missing")).to_contain_text("not found")
    expect(page.locator(".env-card")).to_have_count(0)


def test_fallthrough__rollout_not_adding_up_to_100__error_beside_it_nothing_saved(
    page: Page, dashboard: Dashboard, make_flag: MakeFlag
) -> None:
    key = make_flag()
    before = _get(dashboard, key).environments[DEV]
    _open(page, dashboard, key)
    _el(page, f"{DEV}-fallthrough-mode").get_by_role("radio", name="Rollout").click()
    _el(page, f"{DEV}-fallthrough-weight-0").fill("30")
    _el(page, f"{DEV}-fallthrough-weight-1").fill("30")
    _el(page, f"{DEV}-save").click()
    expect(_el(page, f"error-{DEV}-fallthrough.rollout")).to_contain_text("add up to 60")
    assert _get(dashboard, key).environments[DEV] == before

    _el(page, f"{DEV}-fallthrough-weight-1").fill("70")
    expect(_el(page, f"error-{DEV}-fallthrough.rollout")).to_have_count(0)
    _el(page, f"{DEV}-save").click()
    expect(page.get_by_text(f"{key} saved in {DEV}")).to_be_visible()
    rollout = _get(dashboard, key).environments[DEV].fallthrough.rollout
    assert rollout is not None
    assert [(w.variant, w.weight) for w in rollout.variants] == [("on", 30_000), ("off", 70_000)]


def test_save__changed_elsewhere_meanwhile__conflict_shown_and_nothing_overwritten(
    page: Page, dashboard: Dashboard, make_flag: MakeFlag
) -> None:
    key = make_flag()
    _open(page, dashboard, key)
    _el(page, f"{DEV}-add-target").click()
    _el(page, f"{DEV}-target-0-keys").fill("alice")

    async def elsewhere(services: Services) -> None:
        await services.flags.set_enabled(CLI, "demo", key, DEV, True, note="from the CLI")

    dashboard.run(elsewhere)
    _el(page, f"{DEV}-save").click()
    conflict = _el(page, f"{DEV}-conflict")
    expect(conflict).to_contain_text("Changed by someone-else@example.com meanwhile")
    expect(conflict).to_contain_text("your edits were not saved")
    expect(_el(page, f"{DEV}-target-0-keys")).to_have_value("alice")
    stored = _get(dashboard, key).environments[DEV]
    assert stored.enabled is True
    assert stored.targets == ()

    _el(page, f"{DEV}-load-latest").click()
    expect(conflict).to_have_count(0)
    expect(_el(page, f"{DEV}-target-0-keys")).to_have_count(0)
    expect(_el(page, f"{DEV}-enabled")).to_have_attribute("data-state", "checked")


def test_live__changed_elsewhere__clean_card_refreshes_edited_card_keeps_its_edits(
    page: Page, dashboard: Dashboard, make_flag: MakeFlag
) -> None:
    key = make_flag()
    _open(page, dashboard, key)
    _el(page, "staging-add-target").click()
    _el(page, "staging-target-0-keys").fill("bob")
    expect(_el(page, "env-staging")).to_have_attribute("data-dirty", "true")

    async def elsewhere(services: Services) -> None:
        for env in (DEV, "staging"):
            await services.flags.set_enabled(CLI, "demo", key, env, True)

    dashboard.run(elsewhere)
    expect(_el(page, f"{DEV}-enabled")).to_have_attribute("data-state", "checked", timeout=5_000)
    expect(_el(page, "staging-outdated")).to_be_visible()
    expect(_el(page, "staging-target-0-keys")).to_have_value("bob")
    expect(_el(page, "staging-enabled")).to_have_attribute("data-state", "unchecked")


def test_viewer__flag_page__everything_shown_read_only(
    browser: Browser, dashboard: Dashboard
) -> None:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        ctx.add_cookies([dashboard.session_cookie("viewer@example.com")])  # type: ignore[list-item]
        tab = ctx.new_page()
        tab.goto(dashboard.url + "/flag?p=demo&key=new-checkout&env=production")
        expect(_el(tab, "production-rule-0-clause-0-attribute")).to_have_value("country")
        expect(_el(tab, "production-rule-0-clause-0-attribute")).to_be_disabled()
        expect(_el(tab, "production-enabled")).to_be_disabled()
        for control in ("save", "note", "add-rule", "add-target", "rule-0-up", "rule-0-remove"):
            expect(_el(tab, f"production-{control}")).to_have_count(0)
        expect(tab.locator("button", has_text="Save")).to_have_count(0)
    finally:
        ctx.close()
