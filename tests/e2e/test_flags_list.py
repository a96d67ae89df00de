"""The flags list in Chromium: sign-in, toggles (optimistic, toast, conflicts), live updates."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from ff_core.models import Actor, ActorKind
from ff_core.services import Services
from tests.e2e.conftest import Dashboard, screenshot, sign_in_dev, start_dashboard, stop

CLI = Actor(kind=ActorKind.USER, subject="someone-else@example.com")


def _enabled(page: Page, key: str) -> str | None:
    return page.get_attribute(f"#row-{key}", "data-enabled")


def test_flags_page__dev_sign_in__lists_the_demo_flags(page: Page) -> None:
    expect(page.locator("#page-title")).to_have_text("Flags")
    expect(page.locator("#row-new-checkout")).to_be_visible()
    expect(page.locator("#signed-in-as")).to_have_text("dev@localhost")
    screenshot(page, "flags")


def test_toggle__click__written_with_a_toast(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/flags?p=demo&env=staging")
    page.wait_for_selector("#row-new-checkout")
    before = _enabled(page, "new-checkout")
    page.click("#toggle-new-checkout")
    want = "false" if before == "true" else "true"
    expect(page.locator("#row-new-checkout")).to_have_attribute("data-enabled", want)
    expect(page.get_by_text("new-checkout is")).to_be_visible()

    async def read(services: Services) -> bool:
        flag = await services.flags.get_flag("demo", "new-checkout")
        return flag.environments["staging"].enabled

    assert dashboard.run(read) is (want == "true")


def test_live__change_from_the_services__shows_without_reload(
    page: Page, dashboard: Dashboard
) -> None:
    page.goto(dashboard.url + "/flags?p=demo&env=development")
    page.wait_for_selector("#row-new-checkout")
    before = _enabled(page, "new-checkout") == "true"

    async def flip(services: Services) -> None:
        await services.flags.set_enabled(CLI, "demo", "new-checkout", "development", not before)

    dashboard.run(flip)
    expect(page.locator("#row-new-checkout")).to_have_attribute(
        "data-enabled", "false" if before else "true", timeout=3_000
    )


def test_second_browser__toggle_in_one__seen_in_the_other(
    browser: Browser, page: Page, dashboard: Dashboard
) -> None:
    other_context = browser.new_context()
    try:
        other = other_context.new_page()
        sign_in_dev(other, dashboard)
        for tab in (page, other):
            tab.goto(dashboard.url + "/flags?p=demo&env=production")
            tab.wait_for_selector("#row-banner-text")
        before = _enabled(other, "banner-text")
        page.click("#toggle-banner-text")
        want = "false" if before == "true" else "true"
        expect(other.locator("#row-banner-text")).to_have_attribute(
            "data-enabled", want, timeout=3_000
        )
    finally:
        other_context.close()


def test_viewer__flags_page__toggles_disabled(browser: Browser, dashboard: Dashboard) -> None:
    ctx = browser.new_context()
    try:
        ctx.add_cookies([dashboard.session_cookie("viewer@example.com")])  # type: ignore[list-item]
        tab = ctx.new_page()
        tab.goto(dashboard.url + "/flags?p=demo")
        tab.wait_for_selector("#row-new-checkout")
        expect(tab.locator("#role-badge")).to_have_text("viewer")
        expect(tab.locator("#toggle-new-checkout")).to_be_disabled()
        expect(tab.locator("#new-flag")).to_have_count(0)
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def slow_dashboard(
    dashboard: Dashboard, moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    """A dashboard on the same table that notices outside changes only every 60 s, so a
    change made behind an open page's back stays unseen until the page writes."""
    env = {"FF_TABLE": dashboard.settings.table, "FF_AUTH": "dev", "FF_LIVE_POLL_S": "60"}
    process, url, log = start_dashboard(tmp_path_factory.mktemp("slow"), moto_endpoint, env)
    yield Dashboard(url, dashboard.settings, log)
    stop(process)


def test_toggle__changed_elsewhere_meanwhile__conflict_reported_and_fresh_value_shown(
    page: Page, slow_dashboard: Dashboard
) -> None:
    # The session cookie of the `page` fixture is valid here too (same host and secret).
    page.goto(slow_dashboard.url + "/flags?p=demo&env=development")
    page.wait_for_selector("[id='row-search.max-results']")
    shown = page.get_attribute("[id='row-search.max-results']", "data-enabled") == "true"

    async def flip(services: Services) -> None:
        await services.flags.set_enabled(
            CLI, "demo", "search.max-results", "development", not shown
        )

    async def history(services: Services) -> int:
        entries = await services.flags.list_history("demo", "search.max-results", limit=100)
        return len(entries.items)

    slow_dashboard.run(flip)  # the page still shows the old value
    written = slow_dashboard.run(history)
    expect(page.locator("[id='row-search.max-results']")).to_have_attribute(
        "data-enabled", "true" if shown else "false"
    )
    page.click("[id='toggle-search.max-results']")  # asks for what is already stored
    expect(page.get_by_text("was changed by someone else meanwhile")).to_be_visible()
    expect(page.locator("[id='row-search.max-results']")).to_have_attribute(
        "data-enabled", "false" if shown else "true"
    )
    assert slow_dashboard.run(history) == written  # the refused click wrote nothing


def test_project_switcher__other_project__its_flags_listed(
    page: Page, dashboard: Dashboard
) -> None:
    async def second_project(services: Services) -> None:
        from ff_core.models import Project, Role

        await services.projects.create_project(CLI, Project(key="second", name="Second"))
        await services.access.set_member(
            CLI, "second", "dev@localhost", Role.VIEWER, granted_by=Role.OWNER
        )

    dashboard.run(second_project)
    page.reload()
    page.click("#project-switcher")
    page.get_by_role("option", name="Second").click()
    page.wait_for_url("**p=second**")
    expect(page.locator("#flag-total")).to_have_text("0 flags")
    expect(page.locator("#role-badge")).to_have_text("viewer")
