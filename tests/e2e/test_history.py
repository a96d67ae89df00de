"""A flag's history in Chromium: who, when, note and diff; live; paging; rollback; viewers."""

from __future__ import annotations

import uuid

from playwright.sync_api import Browser, Page, expect

from ff_core.errors import NotFound
from ff_core.models import Actor, ActorKind, Flag, Role, boolean_variants
from ff_core.services import Services
from ff_core.store import Page as HistoryPage
from tests.e2e.conftest import DEV_USER, OWNER, Dashboard, screenshot

OPS = Actor(kind=ActorKind.USER, subject="ops-person@example.com", email="ops-person@example.com")
PAGE_SIZE = 20


def _new_flag(dashboard: Dashboard, description: str = "first") -> str:
    key = f"hist-{uuid.uuid4().hex[:8]}"

    async def create(services: Services) -> None:
        flag = Flag(
            key=key,
            name="History check",
            description=description,
            tags=("web",),
            salt="s",
            variants=boolean_variants(),
        )
        await services.flags.create_flag(OPS, "demo", flag, note="made for a test")

    dashboard.run(create)
    return key


def _open(page: Page, dashboard: Dashboard, key: str) -> None:
    page.goto(f"{dashboard.url}/history?p=demo&key={key}")
    page.wait_for_selector(".history-entry")


def _entry(page: Page, index: int = 0):  # type: ignore[no-untyped-def]
    return page.locator(".history-entry").nth(index)


def test_history__change_with_actor_and_note__who_note_and_diff_shown(
    page: Page, dashboard: Dashboard
) -> None:
    key = _new_flag(dashboard)
    note = f"Launch in staging {uuid.uuid4().hex[:6]}"

    async def change(services: Services) -> None:
        await services.flags.update_flag(
            OPS, "demo", key, {"description": "second", "tags": ["web", "checkout"]}, note="tidy"
        )
        await services.flags.set_enabled(OPS, "demo", key, "staging", True, note=note)

    dashboard.run(change)
    _open(page, dashboard, key)
    top = _entry(page)
    expect(top.locator(".entry-summary")).to_have_text("enabled in staging")
    expect(top.locator(".entry-who")).to_have_text("ops-person@example.com")
    expect(top.locator(".entry-note")).to_have_text(note)
    expect(top.locator(".entry-env")).to_have_text("staging")
    expect(top.locator(".entry-ago")).to_contain_text("ago")
    line = top.locator(".diff-line")
    expect(line).to_have_count(1)
    expect(line).to_have_attribute("data-change", "changed")
    expect(line).to_contain_text("environments.staging.enabled")
    expect(line).to_contain_text("false")
    expect(line).to_contain_text("true")
    edited = _entry(page, 1)
    expect(edited.locator(".entry-summary")).to_have_text("edited description and tags")
    expect(edited.locator(".diff-line").first).to_contain_text('"second"')
    created = _entry(page, 2)
    expect(created.locator(".entry-summary")).to_have_text("created")
    expect(created.locator('.diff-line[data-change="added"]').first).to_be_visible()
    expect(page.locator("#back-to-flag")).to_have_attribute(
        "href", f"/flag?p=demo&key={key}&env=development"
    )
    expect(page.locator("#load-older")).to_have_count(0)
    screenshot(page, "history")


def test_history__change_from_the_services__appears_without_reload(
    page: Page, dashboard: Dashboard
) -> None:
    key = _new_flag(dashboard)
    _open(page, dashboard, key)
    expect(page.locator(".history-entry")).to_have_count(1)
    note = f"from the CLI {uuid.uuid4().hex[:6]}"

    async def change(services: Services) -> None:
        await services.flags.set_enabled(OPS, "demo", key, "production", True, note=note)

    dashboard.run(change)
    expect(page.locator(".history-entry")).to_have_count(2, timeout=5_000)
    expect(_entry(page).locator(".entry-note")).to_have_text(note)


def test_rollback__with_a_note__store_restored_and_entry_on_top(
    page: Page, dashboard: Dashboard
) -> None:
    key = _new_flag(dashboard, description="first")

    async def change(services: Services) -> None:
        await services.flags.update_flag(OPS, "demo", key, {"description": "second"})

    dashboard.run(change)
    _open(page, dashboard, key)
    expect(page.locator(".history-entry")).to_have_count(2)
    created = _entry(page, 1)
    expect(created.locator(".entry-summary")).to_have_text("created")
    created.locator(".rollback-button").click()
    expect(page.locator("#rollback-dialog")).to_be_visible()
    note = f"second broke checkout {uuid.uuid4().hex[:6]}"
    page.fill("#rollback-note", note)
    page.click("#rollback-confirm")
    expect(page.locator("#rollback-dialog")).to_have_count(0)
    expect(page.get_by_text(f"{key} is rolled back")).to_be_visible()
    expect(page.locator(".history-entry")).to_have_count(3)
    top = _entry(page)
    expect(top).to_have_attribute("data-action", "rolled_back")
    expect(top.locator(".entry-summary")).to_contain_text("rolled back to the change of")
    expect(top.locator(".entry-note")).to_have_text(note)
    expect(top.locator(".entry-who")).to_have_text(DEV_USER)
    expect(top.locator(".diff-line")).to_contain_text('"first"')

    async def read(services: Services) -> tuple[str, str, str]:
        flag = await services.flags.get_flag("demo", key)
        newest = (await services.flags.list_history("demo", key, limit=1)).items[0]
        return flag.description, newest.note, newest.actor.subject

    assert dashboard.run(read) == ("first", note, DEV_USER)


def test_rollback__entry_that_deleted_the_flag__refused_with_the_reason(
    page: Page, dashboard: Dashboard
) -> None:
    key = _new_flag(dashboard)

    async def delete(services: Services) -> None:
        await services.flags.delete_flag(OPS, "demo", key, note="gone")

    dashboard.run(delete)
    _open(page, dashboard, key)
    expect(_entry(page)).to_have_attribute("data-action", "deleted")
    _entry(page).locator(".rollback-button").click()
    page.click("#rollback-confirm")
    expect(page.locator("#rollback-error")).to_contain_text("deleted the flag")

    async def still_deleted(services: Services) -> bool:
        try:
            await services.flags.get_flag("demo", key)
        except NotFound:
            return True
        return False

    assert dashboard.run(still_deleted)


def test_load_older__more_entries_than_a_page__older_ones_appended(
    page: Page, dashboard: Dashboard
) -> None:
    key = _new_flag(dashboard)
    changes = PAGE_SIZE + 4

    async def toggle_many(services: Services) -> HistoryPage:  # type: ignore[type-arg]
        for i in range(changes):
            await services.flags.set_enabled(OPS, "demo", key, "development", i % 2 == 0)
        return await services.flags.list_history("demo", key, limit=500)

    total = len(dashboard.run(toggle_many).items)
    assert total == changes + 1
    _open(page, dashboard, key)
    expect(page.locator(".history-entry")).to_have_count(PAGE_SIZE)
    expect(page.locator("#history-end")).to_have_count(0)
    page.click("#load-older")
    expect(page.locator(".history-entry")).to_have_count(total)
    expect(page.locator("#load-older")).to_have_count(0)
    expect(page.locator("#history-end")).to_be_visible()
    expect(_entry(page, total - 1).locator(".entry-summary")).to_have_text("created")


def test_viewer__history__no_rollback_buttons(browser: Browser, dashboard: Dashboard) -> None:
    ctx = browser.new_context()
    try:
        ctx.add_cookies([dashboard.session_cookie("viewer@example.com")])  # type: ignore[list-item]
        tab = ctx.new_page()
        _open(tab, dashboard, "new-checkout")
        expect(tab.locator("#role-badge")).to_have_text("viewer")
        expect(_entry(tab).locator(".entry-summary")).to_be_visible()
        expect(tab.locator(".rollback-button")).to_have_count(0)
    finally:
        ctx.close()


def test_rollback__editor_demoted_while_the_dialog_is_open__refused_by_the_server(
    browser: Browser, dashboard: Dashboard
) -> None:
    key = _new_flag(dashboard, description="first")
    email = f"demoted-{uuid.uuid4().hex[:6]}@example.com"

    async def setup(services: Services) -> None:
        await services.access.set_member(OWNER, "demo", email, Role.EDITOR, granted_by=Role.OWNER)
        await services.flags.update_flag(OPS, "demo", key, {"description": "second"})

    async def demote(services: Services) -> None:
        await services.access.set_member(OWNER, "demo", email, Role.VIEWER, granted_by=Role.OWNER)

    async def description(services: Services) -> str:
        return (await services.flags.get_flag("demo", key)).description

    dashboard.run(setup)
    ctx = browser.new_context()
    try:
        ctx.add_cookies([dashboard.session_cookie(email)])  # type: ignore[list-item]
        tab = ctx.new_page()
        _open(tab, dashboard, key)
        _entry(tab, 1).locator(".rollback-button").click()
        dashboard.run(demote)
        tab.click("#rollback-confirm")
        expect(tab.locator("#rollback-error")).to_contain_text("a viewer cannot")
    finally:
        ctx.close()
    assert dashboard.run(description) == "second"
