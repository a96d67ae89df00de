"""The tenants page in Chromium: onboarding (twice is a no-op), one tenant's values with an
override set and cleared, one flag across tenants, live updates, and viewers read only."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from ff_core.models import Tenant
from ff_core.services import Services
from tests.e2e.conftest import Dashboard, screenshot
from tests.e2e.test_registry import CLI, seed_registry_project

PROJECT = "tenants-e2e"


@pytest.fixture(scope="module", autouse=True)
def _project(dashboard: Dashboard) -> None:
    seed_registry_project(dashboard, PROJECT)


def _el(page: Page, id: str) -> Locator:
    return page.locator(f'[id="{id}"]')


def _onboarded(dashboard: Dashboard, *names: str) -> list[str]:
    """Tenants of the test's own (unique keys), onboarded as the API or CLI would."""
    keys = [f"{name}-{uuid.uuid4().hex[:6]}" for name in names]

    async def onboard(services: Services) -> None:
        for key in keys:
            await services.tenants.onboard(CLI, PROJECT, key, key.split("-")[0].title() + " Inc")

    dashboard.run(onboard)
    return keys


def _tenant(dashboard: Dashboard, key: str) -> Tenant:
    async def read(services: Services) -> Tenant:
        return await services.tenants.get_tenant(PROJECT, key)

    tenant: Tenant = dashboard.run(read)
    return tenant


def _cell(page: Page, flag: str, env: str) -> Locator:
    return _el(page, f"value-{flag}-{env}")


def test_onboarding__two_tenants_then_one_again__listed_once_and_told_so(
    page: Page, dashboard: Dashboard
) -> None:
    suffix = uuid.uuid4().hex[:6]
    acme, globex = f"acme-{suffix}", f"globex-{suffix}"
    page.goto(f"{dashboard.url}/tenants?p={PROJECT}")
    expect(_el(page, "page-title")).to_have_text("Tenants")

    for key, name in ((acme, "Acme Inc"), (globex, "")):
        _el(page, "onboard-key").fill(key)
        _el(page, "onboard-name").fill(name)
        _el(page, "onboard-submit").click()
        expect(page.get_by_text(f"{key} is onboarded with the registry's defaults")).to_be_visible()
        expect(_el(page, f"tenant-row-{key}")).to_be_visible()
    _el(page, "onboard-key").fill(acme)
    _el(page, "onboard-submit").click()

    expect(page.get_by_text(f"{acme} was already onboarded; nothing was written")).to_be_visible()
    _el(page, "tenant-search").fill(suffix)
    expect(page.locator(".tenant-row")).to_have_count(2)
    _el(page, "tenant-search").fill("acme-" + suffix)
    expect(page.locator(".tenant-row")).to_have_count(1)
    expect(_el(page, f"tenant-row-{acme}")).to_contain_text("Acme Inc")
    stored = _tenant(dashboard, acme)
    assert (stored.name, stored.version) == ("Acme Inc", 1)  # the second onboarding wrote nothing
    assert stored.value("checkout", "production") is not None
    assert _tenant(dashboard, globex).name == globex


def test_tenant_view__override_set_then_cleared__badges_and_store_follow(
    page: Page, dashboard: Dashboard
) -> None:
    [acme] = _onboarded(dashboard, "acme")
    page.goto(f"{dashboard.url}/tenants?p={PROJECT}")
    _el(page, "tenant-search").fill(acme)
    _el(page, f"tenant-link-{acme}").click()
    page.wait_for_url(f"**tenant={acme}**")
    expect(_el(page, "tenant-key")).to_have_text(acme)
    for env in ("development", "staging", "production"):
        expect(_cell(page, "search-v2", env)).to_have_attribute("data-status", "explicit")
    expect(_cell(page, "checkout", "production")).to_have_attribute("data-variant", "on")

    _el(page, "override-checkout-production").click()
    page.get_by_role("option", name="off", exact=True).click()

    expect(page.get_by_text(f"{acme} gets off of checkout in production")).to_be_visible()
    cell = _cell(page, "checkout", "production")
    expect(cell).to_have_attribute("data-status", "overridden")
    expect(cell).to_have_attribute("data-variant", "off")
    expect(_cell(page, "checkout", "staging")).to_have_attribute("data-status", "explicit")
    value = _tenant(dashboard, acme).value("checkout", "production")
    assert value is not None
    assert (value.variant, value.overridden) == ("off", True)
    page.set_viewport_size({"width": 1400, "height": 700})
    screenshot(page, "tenants")

    _el(page, "clear-checkout-production").click()

    expect(cell).to_have_attribute("data-status", "default")
    expect(_el(page, "clear-checkout-production")).to_have_count(0)
    assert _tenant(dashboard, acme).value("checkout", "production") is None


def test_flag_across_tenants__one_overridden__both_listed_and_the_override_cleared_there(
    page: Page, dashboard: Dashboard
) -> None:
    acme, globex = _onboarded(dashboard, "acme", "globex")

    async def override(services: Services) -> None:
        await services.tenants.set_override(CLI, PROJECT, acme, "search-v2", "staging", "on")

    dashboard.run(override)
    page.goto(f"{dashboard.url}/flag?p={PROJECT}&key=search-v2&env=staging")
    _el(page, "flag-tenants").click()
    page.wait_for_url("**flag=search-v2**")

    expect(_el(page, "across-flag-key")).to_have_text("search-v2")
    expect(_el(page, f"across-row-{acme}")).to_have_attribute("data-status", "overridden")
    expect(_el(page, f"across-row-{acme}")).to_have_attribute("data-variant", "on")
    expect(_el(page, f"across-row-{globex}")).to_have_attribute("data-status", "explicit")
    expect(_el(page, f"across-row-{globex}")).to_have_attribute("data-variant", "off")

    _el(page, f"across-clear-{acme}").click()

    expect(_el(page, f"across-row-{acme}")).to_have_attribute("data-status", "default")
    assert _tenant(dashboard, acme).value("search-v2", "staging") is None


def test_tenant_view__override_made_elsewhere__shows_without_reload(
    page: Page, dashboard: Dashboard
) -> None:
    [acme] = _onboarded(dashboard, "acme")
    page.goto(f"{dashboard.url}/tenants?p={PROJECT}&tenant={acme}")
    cell = _cell(page, "checkout", "development")
    expect(cell).to_have_attribute("data-status", "explicit")

    async def override(services: Services) -> None:
        await services.tenants.set_override(CLI, PROJECT, acme, "checkout", "development", "off")

    dashboard.run(override)

    expect(cell).to_have_attribute("data-status", "overridden", timeout=3_000)
    expect(cell).to_have_attribute("data-variant", "off")


def test_viewer__tenants__reads_but_cannot_onboard_or_override(
    browser: Browser, dashboard: Dashboard
) -> None:
    [acme] = _onboarded(dashboard, "acme")
    ctx = browser.new_context()
    try:
        ctx.add_cookies([dashboard.session_cookie("viewer@example.com")])  # type: ignore[list-item]
        tab = ctx.new_page()
        tab.goto(f"{dashboard.url}/tenants?p={PROJECT}")
        expect(_el(tab, "role-badge")).to_have_text("viewer")
        expect(_el(tab, "tenants-table")).to_be_visible()
        expect(_el(tab, "onboard-key")).to_have_count(0)

        tab.goto(f"{dashboard.url}/tenants?p={PROJECT}&tenant={acme}")
        expect(_cell(tab, "checkout", "production")).to_have_attribute("data-status", "explicit")
        expect(_el(tab, "override-checkout-production")).to_be_disabled()
    finally:
        ctx.close()
    assert _tenant(dashboard, acme).version == 1
