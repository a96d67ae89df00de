"""The flags list in Chromium: sign-in, toggles (optimistic, toast, conflicts), live updates."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from ff_core.models import Actor, ActorKind
from ff_core.services import Services
from tests.e2e.conftest import Dashboard, screenshot

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
        from tests.e2e.conftest import sign_in_dev

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
