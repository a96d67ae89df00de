"""Segments in Chromium: list, create (field errors), edit (conflicts), delete, viewers."""

from __future__ import annotations

import uuid

from playwright.sync_api import Browser, Page, expect

from ff_core.errors import NotFound
from ff_core.models import Actor, ActorKind, Role, Segment
from ff_core.services import Services
from tests.e2e.conftest import OWNER, Dashboard, screenshot

CLI = Actor(kind=ActorKind.USER, subject="someone-else@example.com")


def _key() -> str:
    return f"seg-{uuid.uuid4().hex[:8]}"


def _row(page: Page, key: str):  # type: ignore[no-untyped-def]
    return page.locator(f'[id="segment-{key}"]')


def _open(page: Page, dashboard: Dashboard) -> None:
    page.goto(f"{dashboard.url}/segments?p=demo")
    page.wait_for_selector('[id="segment-beta"]')


def _stored(dashboard: Dashboard, key: str) -> Segment | None:
    async def read(services: Services) -> Segment | None:
        try:
            return await services.segments.get_segment("demo", key)
        except NotFound:
            return None

    return dashboard.run(read)


def _save(dashboard: Dashboard, segment: Segment) -> None:
    async def save(services: Services) -> None:
        await services.segments.save_segment(CLI, "demo", segment)

    dashboard.run(save)


def test_segments_page__demo__lists_beta_with_counts_and_users(
    page: Page, dashboard: Dashboard
) -> None:
    async def more(services: Services) -> None:
        for segment in (
            Segment(
                key="internal-staff",
                name="Internal staff",
                description="Everyone on the company account",
                included=("ana", "ben", "chen", "dara", "eli"),
                excluded=("contractor-7",),
            ),
            Segment(key="eu-pilot", name="EU pilot tenants", included=("acme-eu", "globex-de")),
        ):
            await services.segments.save_segment(
                CLI, "demo", segment, idempotency_key=f"e2e-segments-{segment.key}"
            )

    dashboard.run(more)
    _open(page, dashboard)
    beta = _row(page, "beta")
    expect(beta.locator(".segment-name")).to_have_text("Beta testers")
    expect(beta.locator(".included-count")).to_have_text("2")
    expect(beta.locator(".excluded-count")).to_have_text("0")
    expect(beta.locator(".rules-count")).to_have_text("0")
    expect(beta.locator(".used-by")).to_contain_text("search.max-results")
    expect(_row(page, "internal-staff").locator(".used-by")).to_have_text("no flags")
    screenshot(page, "segments")


def test_segments_page__segment_saved_elsewhere__appears_without_reload(
    page: Page, dashboard: Dashboard
) -> None:
    key = _key()
    _open(page, dashboard)
    expect(_row(page, key)).to_have_count(0)
    _save(dashboard, Segment(key=key, name="From the CLI", included=("x", "y")))
    expect(_row(page, key).locator(".included-count")).to_have_text("2", timeout=5_000)


def test_create__form__field_errors_then_stored_and_listed(
    page: Page, dashboard: Dashboard
) -> None:
    key = _key()
    _open(page, dashboard)
    page.click("#new-segment")
    page.fill("#segment-key", "Not A Key")
    page.fill("#segment-included", "alice\nbob")
    page.fill("#segment-excluded", "bob")
    page.click("#segment-save")
    expect(page.locator("#segment-key-error")).to_contain_text("lower-case")
    expect(page.locator("#segment-name-error")).to_have_text("enter a name")
    expect(page.locator("#segment-excluded-error")).to_contain_text("bob")
    page.fill("#segment-key", key)
    page.fill("#segment-name", "Early adopters")
    page.fill("#segment-included", "alice\nbob, carol\n\nalice")
    page.fill("#segment-excluded", "mallory")
    page.click("#segment-save")
    expect(page.locator("#segment-dialog")).to_have_count(0)
    expect(page.get_by_text(f"Segment {key} created")).to_be_visible()
    expect(_row(page, key).locator(".included-count")).to_have_text("3")
    expect(_row(page, key).locator(".excluded-count")).to_have_text("1")
    stored = _stored(dashboard, key)
    assert stored is not None
    assert (stored.name, stored.included, stored.excluded) == (
        "Early adopters",
        ("alice", "bob", "carol"),
        ("mallory",),
    )


def test_create__existing_key__error_on_the_key(page: Page, dashboard: Dashboard) -> None:
    _open(page, dashboard)
    page.click("#new-segment")
    page.fill("#segment-key", "beta")
    page.fill("#segment-name", "Another beta")
    page.click("#segment-save")
    expect(page.locator("#segment-key-error")).to_contain_text("already exists")
    stored = _stored(dashboard, "beta")
    assert stored is not None
    assert stored.name == "Beta testers"


def test_edit__change_fields__stored_and_listed(page: Page, dashboard: Dashboard) -> None:
    key = _key()
    _save(dashboard, Segment(key=key, name="Old name", included=("a",)))
    _open(page, dashboard)
    page.click(f'[id="edit-{key}"]')
    expect(page.locator("#segment-key")).to_be_disabled()
    expect(page.locator("#segment-name")).to_have_value("Old name")
    expect(page.locator("#segment-included")).to_have_value("a")
    page.fill("#segment-name", "New name")
    page.fill("#segment-included", "a, b, c, d")
    page.click("#segment-save")
    expect(page.locator("#segment-dialog")).to_have_count(0)
    expect(_row(page, key).locator(".segment-name")).to_have_text("New name")
    expect(_row(page, key).locator(".included-count")).to_have_text("4")
    stored = _stored(dashboard, key)
    assert stored is not None
    assert (stored.name, stored.included, stored.version) == ("New name", ("a", "b", "c", "d"), 2)


def test_edit__changed_elsewhere_meanwhile__conflict_reported_nothing_overwritten(
    page: Page, dashboard: Dashboard
) -> None:
    key = _key()
    _save(dashboard, Segment(key=key, name="Start", included=("a",)))
    _open(page, dashboard)
    page.click(f'[id="edit-{key}"]')
    expect(page.locator("#segment-name")).to_have_value("Start")

    async def other(services: Services) -> None:
        segment = await services.segments.get_segment("demo", key)
        await services.segments.save_segment(
            CLI, "demo", segment.replace(name="Theirs"), expected_version=segment.version
        )

    dashboard.run(other)
    page.fill("#segment-name", "Mine")
    page.click("#segment-save")
    expect(page.locator("#segment-form-error")).to_contain_text("changed by someone else")
    stored = _stored(dashboard, key)
    assert stored is not None
    assert stored.name == "Theirs"


def test_delete__segment_used_by_a_flag__refused_naming_the_flag(
    page: Page, dashboard: Dashboard
) -> None:
    _open(page, dashboard)
    page.click('[id="delete-beta"]')
    expect(page.locator("#delete-dialog")).to_be_visible()
    page.click("#delete-confirm")
    expect(page.locator("#delete-error")).to_contain_text("search.max-results")
    assert _stored(dashboard, "beta") is not None


def test_delete__unused_segment__confirmed_and_gone(page: Page, dashboard: Dashboard) -> None:
    key = _key()
    _save(dashboard, Segment(key=key, name="Disposable"))
    _open(page, dashboard)
    page.click(f'[id="delete-{key}"]')
    page.click("#delete-confirm")
    expect(page.locator("#delete-dialog")).to_have_count(0)
    expect(_row(page, key)).to_have_count(0)
    assert _stored(dashboard, key) is None


def test_viewer__segments__no_write_buttons(browser: Browser, dashboard: Dashboard) -> None:
    ctx = browser.new_context()
    try:
        ctx.add_cookies([dashboard.session_cookie("viewer@example.com")])  # type: ignore[list-item]
        tab = ctx.new_page()
        _open(tab, dashboard)
        expect(tab.locator("#role-badge")).to_have_text("viewer")
        expect(_row(tab, "beta").locator(".included-count")).to_have_text("2")
        expect(tab.locator("#new-segment")).to_have_count(0)
        expect(tab.locator('[id="edit-beta"]')).to_have_count(0)
        expect(tab.locator('[id="delete-beta"]')).to_have_count(0)
    finally:
        ctx.close()


def test_create__editor_demoted_while_the_form_is_open__refused_by_the_server(
    browser: Browser, dashboard: Dashboard
) -> None:
    key = _key()
    email = f"demoted-{uuid.uuid4().hex[:6]}@example.com"

    async def grant(services: Services) -> None:
        await services.access.set_member(OWNER, "demo", email, Role.EDITOR, granted_by=Role.OWNER)

    async def demote(services: Services) -> None:
        await services.access.set_member(OWNER, "demo", email, Role.VIEWER, granted_by=Role.OWNER)

    dashboard.run(grant)
    ctx = browser.new_context()
    try:
        ctx.add_cookies([dashboard.session_cookie(email)])  # type: ignore[list-item]
        tab = ctx.new_page()
        _open(tab, dashboard)
        tab.click("#new-segment")
        tab.fill("#segment-key", key)
        tab.fill("#segment-name", "Not allowed")
        dashboard.run(demote)
        tab.click("#segment-save")
        expect(tab.locator("#segment-form-error")).to_contain_text("a viewer cannot")
    finally:
        ctx.close()
    assert _stored(dashboard, key) is None
