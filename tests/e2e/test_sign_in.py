"""Sign-in in Chromium: OIDC against a real local provider (oidc-provider-mock), an
invitation accepted on sign-in, unauthenticated visitors sent to sign-in, sign-out, and a
viewer whose events the server refuses even when the page still offers the control."""

from __future__ import annotations

import logging
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from authlib.deprecate import AuthlibDeprecationWarning
from playwright.sync_api import Browser, Page, expect

from ff_core.models import Actor, ActorKind, Role
from ff_core.services import Services
from tests.e2e.conftest import Dashboard, screenshot, sign_in_dev, start_dashboard, stop

with warnings.catch_warnings():
    # The mock provider still imports authlib.jose, which Authlib deprecates.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    import oidc_provider_mock

pytestmark = pytest.mark.filterwarnings(
    # The mock provider's own token endpoint calls a deprecated Authlib API (in its thread).
    "ignore:get_jwt_config\\(self, grant\\) is deprecated:DeprecationWarning"
)
SEED = Actor(kind=ActorKind.SYSTEM, subject="e2e-seed")


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with oidc_provider_mock.run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def oidc_dashboard(
    provider: str,
    dashboard: Dashboard,
    moto_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Dashboard]:
    """A second dashboard on the same table, signing in through the OIDC provider."""
    env = {
        "FF_TABLE": dashboard.settings.table,
        "FF_AUTH": "oidc",
        "FF_OIDC_ISSUER": provider,
        "FF_OIDC_CLIENT_ID": "ff-dashboard",
        "FF_OIDC_CLIENT_SECRET": "ff-dashboard-secret",
        "FF_ALLOWED_DOMAINS": '["example.com"]',
    }
    process, url, log = start_dashboard(tmp_path_factory.mktemp("oidc"), moto_endpoint, env)
    yield Dashboard(url, dashboard.settings, Path(log))
    stop(process)


def register(provider: str, email: str) -> None:
    claims = {"email": email, "email_verified": True, "name": email.split("@")[0].title()}
    assert httpx.put(f"{provider}/users/{email}", json=claims).status_code == 204


def oidc_sign_in(page: Page, board: Dashboard, email: str, start: str = "/flags?p=demo") -> None:
    page.goto(board.url + start)
    page.wait_for_url("**/signin**")
    page.click("#oidc-sign-in")
    page.wait_for_selector("input[name=sub]")  # the provider's own authorization page
    page.fill("input[name=sub]", email)
    page.locator("form button[type=submit], form input[type=submit]").first.click()


def test_unauthenticated__any_page__sent_to_sign_in(browser: Browser, dashboard: Dashboard) -> None:
    ctx = browser.new_context()
    try:
        tab = ctx.new_page()
        tab.goto(dashboard.url + "/members?p=demo")
        tab.wait_for_url("**/signin**")
        expect(tab.locator("#dev-sign-in")).to_be_visible()
        assert "next=%2Fmembers" in tab.url
        screenshot(tab, "signin")
    finally:
        ctx.close()


def test_oidc__member_signs_in__lands_on_the_page_asked_for(
    browser: Browser, oidc_dashboard: Dashboard, provider: str
) -> None:
    register(provider, "editor@example.com")
    ctx = browser.new_context()
    try:
        tab = ctx.new_page()
        oidc_sign_in(tab, oidc_dashboard, "editor@example.com")
        tab.wait_for_selector("#row-new-checkout")
        expect(tab.locator("#signed-in-as")).to_have_text("editor@example.com")
        expect(tab.locator("#role-badge")).to_have_text("editor")
        cookie = next(c for c in ctx.cookies() if c["name"] == "ff_session")
        assert cookie["httpOnly"]
        assert cookie["sameSite"] == "Lax"
        tab.click("#sign-out")
        tab.wait_for_url("**/signin**")
        assert not [c for c in ctx.cookies() if c["name"] == "ff_session"]
    finally:
        ctx.close()


def test_oidc__email_domain_not_allowed__refused(
    browser: Browser, oidc_dashboard: Dashboard, provider: str
) -> None:
    register(provider, "mallory@elsewhere.org")
    ctx = browser.new_context()
    try:
        tab = ctx.new_page()
        oidc_sign_in(tab, oidc_dashboard, "mallory@elsewhere.org")
        expect(tab.get_by_text("elsewhere.org")).to_be_visible()
        assert not [c for c in ctx.cookies() if c["name"] == "ff_session"]
    finally:
        ctx.close()


def test_oidc__invitation_link__accepted_on_sign_in_with_that_email(
    browser: Browser, oidc_dashboard: Dashboard, provider: str
) -> None:
    email = f"new-{uuid.uuid4().hex[:6]}@example.com"
    register(provider, email)

    async def invite(services: Services) -> str:
        _, token = await services.access.invite(
            SEED, "demo", email, Role.EDITOR, granted_by=Role.OWNER
        )
        return token

    token = oidc_dashboard.run(invite)
    ctx = browser.new_context()
    try:
        tab = ctx.new_page()
        tab.goto(f"{oidc_dashboard.url}/auth/invite/{token}")
        tab.wait_for_url("**/signin**")
        expect(tab.locator("#invite-notice")).to_be_visible()
        tab.click("#oidc-sign-in")
        tab.wait_for_selector("input[name=sub]")
        tab.fill("input[name=sub]", email)
        tab.locator("form button[type=submit], form input[type=submit]").first.click()
        tab.wait_for_selector("#row-new-checkout")
        expect(tab.locator("#role-badge")).to_have_text("editor")

        async def role(services: Services) -> Role | None:
            return await services.access.role_of("demo", email)

        assert oidc_dashboard.run(role) is Role.EDITOR
    finally:
        ctx.close()


def test_viewer__control_still_on_screen_after_demotion__server_refuses(
    browser: Browser, dashboard: Dashboard
) -> None:
    """The page was loaded as an editor; the member is demoted meanwhile. The toggle is
    still on screen, but the click is refused by the server and nothing is written."""
    email = f"demoted-{uuid.uuid4().hex[:6]}@example.com"

    async def set_role(services: Services, role: Role) -> None:
        await services.access.set_member(SEED, "demo", email, role, granted_by=Role.OWNER)

    async def as_editor(services: Services) -> None:
        await set_role(services, Role.EDITOR)

    async def as_viewer(services: Services) -> None:
        await set_role(services, Role.VIEWER)

    async def staging(services: Services) -> tuple[bool, int]:
        config = (await services.flags.get_flag("demo", "new-checkout")).environments["staging"]
        return config.enabled, config.version

    dashboard.run(as_editor)
    ctx = browser.new_context()
    try:
        ctx.add_cookies([dashboard.session_cookie(email)])  # type: ignore[list-item]
        tab = ctx.new_page()
        tab.goto(dashboard.url + "/flags?p=demo&env=staging")
        tab.wait_for_selector("#row-new-checkout")
        expect(tab.locator("#toggle-new-checkout")).to_be_enabled()
        before = dashboard.run(staging)
        dashboard.run(as_viewer)
        tab.click("#toggle-new-checkout")
        expect(tab.get_by_text("a viewer cannot do this")).to_be_visible()
        expect(tab.locator("#row-new-checkout")).to_have_attribute(
            "data-enabled", "true" if before[0] else "false"
        )
        assert dashboard.run(staging) == before
    finally:
        ctx.close()


def test_environment_switcher__choice__kept_in_the_url(page: Page, dashboard: Dashboard) -> None:
    page.click("#environment-switcher")
    page.get_by_role("option", name="production").click()
    page.wait_for_url("**env=production**")
    expect(page.locator("#environment-switcher")).to_have_text("production")
    page.reload()
    expect(page.locator("#environment-switcher")).to_have_text("production")


def test_small_screen__sidebar__folds_into_a_menu(browser: Browser, dashboard: Dashboard) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 800})
    try:
        tab = ctx.new_page()
        sign_in_dev(tab, dashboard)
        expect(tab.locator("#mobile-menu")).to_be_visible()
        expect(tab.locator("#nav-members").first).to_be_hidden()
        tab.click("#mobile-menu")
        expect(tab.locator("#nav-members").last).to_be_visible()
        screenshot(tab, "mobile-menu")
    finally:
        ctx.close()


def test_theme__toggle__switches_to_dark(page: Page) -> None:
    before = page.evaluate("document.documentElement.className")
    page.locator("#theme-toggle").first.click()
    expect(page.locator("html")).not_to_have_class(before)
    assert "dark" in page.evaluate("document.documentElement.className") or "dark" in before
