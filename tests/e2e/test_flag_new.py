"""The create-flag page in Chromium: key from the name, errors by field, created and listed."""

from __future__ import annotations

import uuid

from playwright.sync_api import Browser, Page, expect

from ff_core.demo import SYSTEM
from ff_core.errors import NotFound
from ff_core.models import Flag
from ff_core.services import Services
from tests.e2e.conftest import Dashboard, screenshot


def _open(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/flags/new?p=demo")
    page.wait_for_selector("#flag-name")


def _stored(dashboard: Dashboard, key: str) -> Flag | None:
    async def read(services: Services) -> Flag | None:
        try:
            return await services.flags.get_flag("demo", key)
        except NotFound:
            return None

    result: Flag | None = dashboard.run(read)
    return result


def _error(page: Page, key: str):  # type: ignore[no-untyped-def]
    return page.locator(f'[id="error-{key}"]')


def test_create__string_flag_filled_in__stored_listed_and_opened(
    page: Page, dashboard: Dashboard
) -> None:
    page.click("#new-flag")
    page.wait_for_selector("#flag-name")
    suffix = uuid.uuid4().hex[:6]
    page.fill("#flag-name", f"Checkout Banner {suffix}")
    key = f"checkout-banner-{suffix}"
    expect(page.locator("#flag-key")).to_have_value(key)
    page.locator("#flag-value-type").get_by_role("radio", name="string").click()
    page.fill('[id="variant-0-value"]', "Hello")
    page.fill('[id="variant-1-value"]', "Welcome back")
    page.fill("#flag-description", "The banner above the cart")
    page.fill("#flag-tags", "checkout, web")
    page.click("#flag-client-visible")
    thumb = page.locator("#flag-rollout [role=slider]")
    thumb.press("ArrowLeft")
    thumb.press("ArrowLeft")
    expect(page.locator("#flag-rollout-value")).to_have_text("90 %")
    expect(page.locator("#flag-client-visible")).to_be_checked()
    screenshot(page, "flag-new")
    page.click("#create-flag")

    page.wait_for_url(f"**/flag?p=demo&key={key}**")
    expect(page.get_by_text(f"Flag {key} created")).to_be_visible()
    expect(page.locator("#flag-key")).to_have_text(key)
    flag = _stored(dashboard, key)
    assert flag is not None
    assert flag.name == f"Checkout Banner {suffix}"
    assert flag.value_type == "string"
    assert {k: v.value for k, v in flag.variants.items()} == {
        "control": "Hello",
        "treatment": "Welcome back",
    }
    assert flag.tags == ("checkout", "web")
    assert flag.client_visible is True
    assert flag.description == "The banner above the cart"
    rollout = flag.environments["production"].fallthrough.rollout
    assert rollout is not None
    assert [(w.variant, w.weight) for w in rollout.variants] == [
        ("control", 90_000),
        ("treatment", 10_000),
    ]

    page.goto(dashboard.url + "/flags?p=demo")
    expect(page.locator(f'[id="row-{key}"]')).to_be_visible()

    async def delete(services: Services) -> None:
        await services.flags.delete_flag(SYSTEM, "demo", key)

    dashboard.run(delete)


def test_key__edited_by_hand__the_name_no_longer_fills_it(page: Page, dashboard: Dashboard) -> None:
    _open(page, dashboard)
    page.fill("#flag-name", "Dark mode")
    expect(page.locator("#flag-key")).to_have_value("dark-mode")
    page.fill("#flag-key", "ui.dark-mode")
    page.fill("#flag-name", "Dark mode for everyone")
    page.press("#flag-name", "Tab")  # sends the name now instead of after the debounce
    page.wait_for_timeout(1_000)
    expect(page.locator("#flag-key")).to_have_value("ui.dark-mode")


def test_create__number_variant_not_a_number__error_beside_it_and_nothing_stored(
    page: Page, dashboard: Dashboard
) -> None:
    _open(page, dashboard)
    key = f"page-size-{uuid.uuid4().hex[:6]}"
    page.fill("#flag-name", "Page size")
    page.fill("#flag-key", key)
    page.locator("#flag-value-type").get_by_role("radio", name="number").click()
    page.fill('[id="variant-0-value"]', "twenty")
    page.fill('[id="variant-1-value"]', "100")
    page.click("#create-flag")

    expect(_error(page, "variants.0.value")).to_contain_text("is not a number")
    expect(_error(page, "variants.1.value")).to_have_count(0)
    assert _stored(dashboard, key) is None
    assert "/flags/new" in page.url


def test_create__empty_name__error_beside_the_name(page: Page, dashboard: Dashboard) -> None:
    _open(page, dashboard)
    page.fill("#flag-key", f"nameless-{uuid.uuid4().hex[:6]}")
    page.click("#create-flag")
    expect(_error(page, "name")).to_have_text("enter a name")
    page.fill("#flag-name", "Named")
    expect(_error(page, "name")).to_have_count(0)


def test_create__key_taken__already_exists_on_the_key_field(
    page: Page, dashboard: Dashboard
) -> None:
    _open(page, dashboard)
    page.fill("#flag-name", "New checkout")
    expect(page.locator("#flag-key")).to_have_value("new-checkout")
    page.click("#create-flag")
    expect(_error(page, "key")).to_contain_text("already exists")
    assert "/flags/new" in page.url


def test_viewer__new_flag_page__no_form(browser: Browser, dashboard: Dashboard) -> None:
    ctx = browser.new_context()
    try:
        ctx.add_cookies([dashboard.session_cookie("viewer@example.com")])  # type: ignore[list-item]
        tab = ctx.new_page()
        tab.goto(dashboard.url + "/flags/new?p=demo")
        expect(tab.locator("#flag-new-forbidden")).to_be_visible()
        expect(tab.locator("#create-flag")).to_have_count(0)
    finally:
        ctx.close()
