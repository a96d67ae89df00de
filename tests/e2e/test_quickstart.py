"""The Quickstart page in Chromium: snippets filled with the API URL, project, keys, flags."""

from __future__ import annotations

import uuid

from playwright.sync_api import Browser, Page, expect

from ff_core.models import Actor, ActorKind, ApiKey, KeyKind
from ff_core.services import Services
from tests.e2e.conftest import Dashboard, screenshot

CLI = Actor(kind=ActorKind.USER, subject="cli@example.com")
API_URL = "http://127.0.0.1:8080"  # FF_API_URL of the e2e dashboard
SDK = "#snippet-python-service-ff-sdk"
FF_JS = "#snippet-browser-module-ff-js"
CURL = "#snippet-curl-ofrep"


def _create(dashboard: Dashboard, kind: KeyKind, environment: str, revoke: bool = False) -> ApiKey:
    async def go(services: Services) -> ApiKey:
        key, _ = await services.access.create_key(
            CLI, "demo", kind, f"qs-{uuid.uuid4().hex[:8]}", environment=environment
        )
        if revoke:
            key = await services.access.revoke_key(CLI, "demo", key.id)
        return key

    return dashboard.run(go)


def test_quickstart__keys_of_the_environment__snippets_filled(
    page: Page, dashboard: Dashboard
) -> None:
    server = _create(dashboard, KeyKind.SERVER, "staging")
    client = _create(dashboard, KeyKind.CLIENT, "staging")
    _create(dashboard, KeyKind.SERVER, "staging", revoke=True)  # newer, but revoked
    _create(dashboard, KeyKind.SERVER, "production")  # newer, other environment

    page.goto(dashboard.url + "/quickstart?p=demo&env=staging")
    expect(page.locator("#quickstart-server-key")).to_have_text(server.prefix + "…")
    expect(page.locator("#quickstart-client-key")).to_have_text(client.prefix + "…")
    expect(page.locator("#quickstart-api-url")).to_have_text(API_URL)

    sdk = page.locator(SDK)
    expect(sdk).to_contain_text(f'FF_API_URL = "{API_URL}"')
    expect(sdk).to_contain_text("project 'demo', environment 'staging'")
    expect(sdk).to_contain_text(f'FF_SERVER_KEY = "{server.prefix}..."')
    expect(sdk).to_contain_text('is_enabled("banner-text"')
    screenshot(page, "quickstart")

    page.click("#tab-snippet-browser-module-ff-js")
    ff_js = page.locator(FF_JS)
    expect(ff_js).to_contain_text(f'clientKey: "{client.prefix}..."')
    expect(ff_js).to_contain_text(f"{API_URL}/sdk/ff.js")

    page.click("#tab-snippet-curl-ofrep")
    expect(page.locator(CURL)).to_contain_text(f"{API_URL}/ofrep/v1/evaluate/flags/banner-text")
    expect(page.locator(CURL)).to_contain_text(f"FF_KEY={server.prefix}...")


def test_quickstart__environment_switched__that_environments_key(
    page: Page, dashboard: Dashboard
) -> None:
    key = _create(dashboard, KeyKind.SERVER, "production")
    page.goto(dashboard.url + "/quickstart?p=demo&env=development")
    expect(page.locator(SDK)).to_contain_text("environment 'development'")
    page.click("#environment-switcher")
    page.get_by_role("option", name="production", exact=True).click()
    page.wait_for_url("**env=production**")
    expect(page.locator("#quickstart-server-key")).to_have_text(key.prefix + "…")
    expect(page.locator(SDK)).to_contain_text(f'FF_SERVER_KEY = "{key.prefix}..."')


def test_copy_button__click__snippet_on_the_clipboard(page: Page, dashboard: Dashboard) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=dashboard.url)
    page.goto(dashboard.url + "/quickstart?p=demo&env=development")
    page.click("#copy-snippet-python-service-ff-sdk")
    expect(page.get_by_text("Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "from ff_core.client import FlagClient" in copied
    assert f'FF_API_URL = "{API_URL}"' in copied


def test_viewer__quickstart__snippets_shown(browser: Browser, dashboard: Dashboard) -> None:
    ctx = browser.new_context()
    try:
        ctx.add_cookies([dashboard.session_cookie("viewer@example.com")])  # type: ignore[list-item]
        page = ctx.new_page()
        page.goto(dashboard.url + "/quickstart?p=demo")
        expect(page.locator("#role-badge")).to_have_text("viewer")
        expect(page.locator(SDK)).to_contain_text("project 'demo'")
    finally:
        ctx.close()
