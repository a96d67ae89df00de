"""The Members page in Chromium: roles, the last owner, removals, invitations, live list."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from ff_core import keys
from ff_core.models import Actor, ActorKind, Invitation, InvitationStatus, Member, Role
from ff_core.services import Services
from ff_core.services.writer import utcnow
from tests.e2e.conftest import DEV_USER, SECRET, Dashboard, screenshot

CLI = Actor(kind=ActorKind.USER, subject="cli@example.com")


def _email(what: str) -> str:
    return f"{what}-{uuid.uuid4().hex[:8]}@example.com"


def _members(dashboard: Dashboard) -> dict[str, Role]:
    async def read(services: Services) -> list[Member]:
        return await services.access.list_members("demo")

    return {m.email: m.role for m in dashboard.run(read)}


def _invitation(dashboard: Dashboard, email: str) -> Invitation:
    async def read(services: Services) -> list[Invitation]:
        return await services.access.list_invitations("demo")

    return next(i for i in dashboard.run(read) if i.email == email)


def _set_role(dashboard: Dashboard, email: str, role: Role) -> None:
    async def write(services: Services) -> None:
        await services.access.set_member(CLI, "demo", email, role, granted_by=Role.OWNER)

    dashboard.run(write)


def _remove(dashboard: Dashboard, email: str) -> None:
    async def write(services: Services) -> None:
        await services.access.remove_member(CLI, "demo", email, granted_by=Role.OWNER)

    dashboard.run(write)


def _invite(dashboard: Dashboard, email: str, role: Role = Role.EDITOR) -> tuple[Invitation, str]:
    async def write(services: Services) -> tuple[Invitation, str]:
        return await services.access.invite(CLI, "demo", email, role, granted_by=Role.OWNER)

    return dashboard.run(write)


def _row(page: Page, email: str):  # type: ignore[no-untyped-def]
    return page.locator(f'[id="member-{email}"]')


def _pick_role(page: Page, email: str, role: str) -> None:
    page.click(f'[id="role-{email}"]')
    page.get_by_role("option", name=role, exact=True).click()


@pytest.fixture
def only_owner(dashboard: Dashboard) -> Iterator[None]:
    assert [e for e, r in _members(dashboard).items() if r is Role.OWNER] == [DEV_USER]
    yield
    assert _members(dashboard)[DEV_USER] is Role.OWNER


@pytest.fixture
def as_viewer(browser: Browser, dashboard: Dashboard) -> Iterator[BrowserContext]:
    ctx = browser.new_context()
    ctx.add_cookies([dashboard.session_cookie("viewer@example.com")])  # type: ignore[list-item]
    yield ctx
    ctx.close()


def test_change_role__editor_to_admin__store_updated(page: Page, dashboard: Dashboard) -> None:
    email = _email("member")
    _set_role(dashboard, email, Role.EDITOR)
    try:
        page.goto(dashboard.url + "/members?p=demo")
        expect(_row(page, email)).to_have_attribute("data-role", "editor")
        _pick_role(page, email, "admin")
        expect(page.get_by_text(f"{email} is admin now")).to_be_visible()
        expect(_row(page, email)).to_have_attribute("data-role", "admin")
        assert _members(dashboard)[email] is Role.ADMIN
    finally:
        _remove(dashboard, email)


def test_last_owner__demoted__refused_and_unchanged(
    page: Page, dashboard: Dashboard, only_owner: None
) -> None:
    page.goto(dashboard.url + "/members?p=demo")
    expect(_row(page, DEV_USER)).to_have_attribute("data-role", "owner")
    _pick_role(page, DEV_USER, "viewer")
    expect(page.get_by_text("is the last owner of project")).to_be_visible()
    expect(_row(page, DEV_USER)).to_have_attribute("data-role", "owner")
    expect(page.locator(f'[id="role-{DEV_USER}"]')).to_have_text("owner")
    expect(page.locator("#role-badge")).to_have_text("owner")


def test_last_owner__removed__refused_and_unchanged(
    page: Page, dashboard: Dashboard, only_owner: None
) -> None:
    page.goto(dashboard.url + "/members?p=demo")
    page.click(f'[id="remove-{DEV_USER}"]')
    page.click("#remove-confirm")
    expect(page.get_by_text("is the last owner of project")).to_be_visible()
    expect(_row(page, DEV_USER)).to_be_visible()


def test_remove__confirmed__member_gone(page: Page, dashboard: Dashboard) -> None:
    email = _email("leaving")
    _set_role(dashboard, email, Role.VIEWER)
    page.goto(dashboard.url + "/members?p=demo")
    page.click(f'[id="remove-{email}"]')
    expect(page.get_by_text(f"Remove {email}?")).to_be_visible()
    page.click("#remove-confirm")
    expect(_row(page, email)).to_have_count(0)
    assert email not in _members(dashboard)


def test_invite__new_email__link_shown_once_and_another_user_refused(
    page: Page, browser: Browser, dashboard: Dashboard
) -> None:
    page.goto(dashboard.url + "/members?p=demo")
    page.fill("#invite-email", "new@example.com")
    page.click("#invite-submit")
    link = page.locator("#invite-link")
    expect(link).to_have_text(re.compile(rf"^{re.escape(dashboard.url)}/auth/invite/ffi_\S+$"))
    url = link.inner_text()
    token = url.rsplit("/", 1)[1]
    invitation = _invitation(dashboard, "new@example.com")
    assert invitation.role is Role.EDITOR
    assert invitation.token_hash == keys.digest(token, SECRET.encode())
    assert token not in invitation.model_dump_json()

    page.click("#invite-link-done")
    expect(page.locator("#invite-link")).to_have_count(0)
    assert token not in page.content()
    row = page.locator(f"#invitation-{invitation.id}")
    expect(row).to_have_attribute("data-status", "pending")
    expect(row.locator(".invitation-status")).to_have_text("pending")
    screenshot(page, "members")

    other = browser.new_context()
    try:
        tab = other.new_page()
        tab.goto(url)
        tab.wait_for_url("**/signin/?invite=1")
        expect(tab.locator("#invite-notice")).to_be_visible()
        tab.click("#dev-sign-in")
        expect(
            tab.get_by_text(
                "this invitation is for new@example.com; you signed in as dev@localhost"
            )
        ).to_be_visible()
    finally:
        other.close()
    assert _invitation(dashboard, "new@example.com").status(utcnow()) is InvitationStatus.PENDING
    assert "new@example.com" not in _members(dashboard)


def test_invitation__accepted_elsewhere__member_listed_without_reload(
    page: Page, dashboard: Dashboard
) -> None:
    email = _email("joining")
    invitation, token = _invite(dashboard, email, Role.VIEWER)
    page.goto(dashboard.url + "/members?p=demo")
    expect(page.locator(f"#invitation-{invitation.id}")).to_have_attribute("data-status", "pending")
    page.evaluate("window.__same_page = true")

    async def accept(services: Services) -> Member:
        return await services.access.accept_invitation(token, email)

    dashboard.run(accept)
    expect(_row(page, email)).to_have_attribute("data-role", "viewer", timeout=5_000)
    expect(page.locator(f"#invitation-{invitation.id}")).to_have_attribute(
        "data-status", "accepted"
    )
    expect(page.locator(f"#revoke-invitation-{invitation.id}")).to_have_count(0)
    assert page.evaluate("window.__same_page") is True
    _remove(dashboard, email)


def test_revoke_invitation__click__listed_as_revoked(page: Page, dashboard: Dashboard) -> None:
    email = _email("uninvited")
    invitation, _ = _invite(dashboard, email)
    page.goto(dashboard.url + "/members?p=demo")
    page.click(f"#revoke-invitation-{invitation.id}")
    row = page.locator(f"#invitation-{invitation.id}")
    expect(row).to_have_attribute("data-status", "revoked")
    expect(page.locator(f"#revoke-invitation-{invitation.id}")).to_have_count(0)
    assert _invitation(dashboard, email).status(utcnow()) is InvitationStatus.REVOKED


def test_invite__existing_member__refused_with_the_reason(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/members?p=demo")
    page.fill("#invite-email", "viewer@example.com")
    page.click("#invite-submit")
    expect(page.get_by_text("is already a member of project")).to_be_visible()
    expect(page.locator("#invite-link")).to_have_count(0)


def test_admin__members_page__no_owner_option_and_owners_read_only(
    browser: Browser, dashboard: Dashboard
) -> None:
    admin, member = _email("admin"), _email("helper")
    _set_role(dashboard, admin, Role.ADMIN)
    _set_role(dashboard, member, Role.VIEWER)
    ctx = browser.new_context()
    try:
        ctx.add_cookies([dashboard.session_cookie(admin)])  # type: ignore[list-item]
        page = ctx.new_page()
        page.goto(dashboard.url + "/members?p=demo")
        expect(_row(page, DEV_USER)).to_have_attribute("data-role", "owner")
        # The owner's role is shown, not offered: an admin can neither change nor remove it.
        expect(page.locator(f'[id="role-{DEV_USER}"][role="combobox"]')).to_have_count(0)
        expect(page.locator(f'[id="remove-{DEV_USER}"]')).to_have_count(0)
        page.click(f'[id="role-{member}"]')
        expect(page.get_by_role("option")).to_have_text(["admin", "editor", "viewer"])
        page.keyboard.press("Escape")
        page.click("#invite-role")
        expect(page.get_by_role("option")).to_have_text(["admin", "editor", "viewer"])
        page.keyboard.press("Escape")
        _pick_role(page, member, "editor")
        expect(_row(page, member)).to_have_attribute("data-role", "editor")
        assert _members(dashboard)[member] is Role.EDITOR
    finally:
        ctx.close()
        _remove(dashboard, admin)
        _remove(dashboard, member)


def test_viewer__members_page__list_without_controls(
    as_viewer: BrowserContext, dashboard: Dashboard
) -> None:
    page = as_viewer.new_page()
    page.goto(dashboard.url + "/members?p=demo")
    expect(_row(page, DEV_USER)).to_have_attribute("data-role", "owner")
    expect(_row(page, "viewer@example.com")).to_have_attribute("data-role", "viewer")
    expect(page.locator('.member-row [role="combobox"]')).to_have_count(0)
    expect(page.locator(f'[id="remove-{DEV_USER}"]')).to_have_count(0)
    expect(page.locator("#invite-email")).to_have_count(0)
    expect(page.locator("#invitations-table")).to_have_count(0)
