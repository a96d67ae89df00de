"""The API keys page in Chromium: the raw key once, only its hash stored, revoke, roles."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from ff_core import keys
from ff_core.models import Actor, ActorKind, ApiKey, KeyKind, Role
from ff_core.services import Services
from tests.e2e.conftest import SECRET, Dashboard, screenshot

CLI = Actor(kind=ActorKind.USER, subject="cli@example.com")


def _keys(dashboard: Dashboard) -> list[ApiKey]:
    async def read(services: Services) -> list[ApiKey]:
        return await services.access.list_keys("demo")

    return dashboard.run(read)


def _create_in_ui(page: Page, name: str) -> str:
    page.click("#new-key")
    page.fill("#key-name", name)
    page.click("#create-key-submit")
    raw = page.locator("#raw-key")
    expect(raw).to_have_text(re.compile(r"^ffs_\S{20,}$"))
    return raw.inner_text()


def test_create_key__server__raw_key_shown_once_and_only_its_hash_stored(
    page: Page, dashboard: Dashboard
) -> None:
    name = f"svc-{uuid.uuid4().hex[:8]}"
    page.goto(dashboard.url + "/keys?p=demo")
    raw = _create_in_ui(page, name)
    expect(page.locator("#raw-key-warning")).to_contain_text("will not be shown again")

    stored = next(k for k in _keys(dashboard) if k.name == name)
    assert stored.kind is KeyKind.SERVER
    assert stored.environment == "development"
    assert stored.prefix == raw[: keys.DISPLAY_PREFIX_LENGTH]
    assert stored.hash == keys.digest(raw, SECRET.encode())
    assert raw not in stored.model_dump_json()
    # Reflex keeps page State on disk between events: the raw key never went there.
    states = Path(dashboard.log).parent / "states"
    for file in states.rglob("*"):
        if file.is_file():
            assert raw.encode() not in file.read_bytes(), file

    page.click("#raw-key-done")
    expect(page.locator("#raw-key")).to_have_count(0)
    row = page.locator(f'.key-row[data-name="{name}"]')
    expect(row).to_have_attribute("data-status", "active")
    expect(row.locator(".key-prefix")).to_have_text(stored.prefix + "…")
    assert raw not in page.content()
    screenshot(page, "keys")


def test_raw_key_dialog__copy_then_escape__copied_and_gone_from_the_page(
    page: Page, dashboard: Dashboard
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=dashboard.url)
    page.goto(dashboard.url + "/keys?p=demo")
    raw = _create_in_ui(page, f"svc-{uuid.uuid4().hex[:8]}")
    page.click("#copy-raw-key")
    expect(page.get_by_text("Key copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == raw
    page.keyboard.press("Escape")
    expect(page.locator("#raw-key")).to_have_count(0)
    assert raw not in page.content()


def test_revoke_key__confirmed__listed_as_revoked(page: Page, dashboard: Dashboard) -> None:
    name = f"old-{uuid.uuid4().hex[:8]}"

    async def create(services: Services) -> ApiKey:
        key, _ = await services.access.create_key(
            CLI, "demo", KeyKind.CLIENT, name, environment="staging"
        )
        return key

    key = dashboard.run(create)
    page.goto(dashboard.url + "/keys?p=demo")
    row = page.locator(f"#key-{key.id}")
    expect(row).to_have_attribute("data-status", "active")
    page.click(f"#revoke-{key.id}")
    expect(page.get_by_text(f"Revoke {name}?")).to_be_visible()
    page.click("#revoke-confirm")
    expect(row).to_have_attribute("data-status", "revoked")
    expect(page.locator(f"#revoke-{key.id}")).to_have_count(0)
    assert next(k for k in _keys(dashboard) if k.id == key.id).revoked_at is not None


def test_revoke_key__cancelled__stays_active(page: Page, dashboard: Dashboard) -> None:
    async def create(services: Services) -> ApiKey:
        key, _ = await services.access.create_key(
            CLI, "demo", KeyKind.SERVER, f"keep-{uuid.uuid4().hex[:8]}", environment="staging"
        )
        return key

    key = dashboard.run(create)
    page.goto(dashboard.url + "/keys?p=demo")
    page.click(f"#revoke-{key.id}")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#revoke-confirm")).to_have_count(0)
    expect(page.locator(f"#key-{key.id}")).to_have_attribute("data-status", "active")
    assert next(k for k in _keys(dashboard) if k.id == key.id).revoked_at is None


def test_create_key__admin_kind__role_recorded(page: Page, dashboard: Dashboard) -> None:
    name = f"ci-{uuid.uuid4().hex[:8]}"
    page.goto(dashboard.url + "/keys?p=demo")
    page.click("#new-key")
    page.fill("#key-name", name)
    page.click("#key-kind")
    page.get_by_role("option", name=re.compile("^Admin")).click()
    page.click("#key-role")
    page.get_by_role("option", name="editor", exact=True).click()
    page.click("#create-key-submit")
    expect(page.locator("#raw-key")).to_have_text(re.compile(r"^ffa_"))
    page.click("#raw-key-done")
    stored = next(k for k in _keys(dashboard) if k.name == name)
    assert (stored.kind, stored.role, stored.environment) == (KeyKind.ADMIN, Role.EDITOR, None)


def test_create_key__no_name__refused_nothing_stored(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/keys?p=demo")
    before = len(_keys(dashboard))
    page.click("#new-key")
    page.click("#create-key-submit")
    expect(page.get_by_text("give the key a name")).to_be_visible()
    expect(page.locator("#raw-key")).to_have_count(0)
    assert len(_keys(dashboard)) == before


def test_editor__keys_page__sees_the_list_without_create_or_revoke(
    browser: Browser, dashboard: Dashboard
) -> None:
    async def create(services: Services) -> ApiKey:
        key, _ = await services.access.create_key(
            CLI, "demo", KeyKind.SERVER, f"seen-{uuid.uuid4().hex[:8]}", environment="production"
        )
        return key

    key = dashboard.run(create)
    ctx = browser.new_context()
    try:
        ctx.add_cookies([dashboard.session_cookie("editor@example.com")])  # type: ignore[list-item]
        page = ctx.new_page()
        page.goto(dashboard.url + "/keys?p=demo")
        row = page.locator(f"#key-{key.id}")
        expect(row.locator(".key-prefix")).to_have_text(key.prefix + "…")
        expect(page.locator("#role-badge")).to_have_text("editor")
        expect(page.locator("#new-key")).to_have_count(0)
        expect(page.locator(f"#revoke-{key.id}")).to_have_count(0)
        assert key.hash not in page.content()
    finally:
        ctx.close()


def test_create_key__admin_demoted_meanwhile__server_refuses(
    browser: Browser, dashboard: Dashboard
) -> None:
    """The controls a page shows are a hint: every write checks the role again."""
    email = f"keys-admin-{uuid.uuid4().hex[:6]}@example.com"
    name = f"late-{uuid.uuid4().hex[:8]}"

    dashboard.run(lambda s: _set_role(s, email, Role.ADMIN))
    ctx = browser.new_context()
    try:
        ctx.add_cookies([dashboard.session_cookie(email)])  # type: ignore[list-item]
        page = ctx.new_page()
        page.goto(dashboard.url + "/keys?p=demo")
        page.click("#new-key")
        page.fill("#key-name", name)
        dashboard.run(lambda s: _set_role(s, email, Role.EDITOR))
        page.click("#create-key-submit")
        expect(page.get_by_text("cannot do this; it needs admin")).to_be_visible()
        expect(page.locator("#raw-key")).to_have_count(0)
        assert all(k.name != name for k in _keys(dashboard))
    finally:
        ctx.close()
        dashboard.run(lambda s: s.access.remove_member(CLI, "demo", email, granted_by=Role.OWNER))


async def _set_role(services: Services, email: str, role: Role) -> None:
    await services.access.set_member(CLI, "demo", email, role, granted_by=Role.OWNER)
