"""A registry-enforced project in Chromium: the flags come from the registry file (no "New
flag"), registry defaults are marked per environment, registry-owned fields are not offered
for editing while toggles and rules still work, and an orphan's refused write is a toast."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from ff_core import registry
from ff_core.models import Actor, ActorKind, Flag, Project, Role, boolean_variants
from ff_core.services import Services
from tests.e2e.conftest import DEV_USER, OWNER, Dashboard

PROJECT = "registry-e2e"
CLI = Actor(kind=ActorKind.USER, subject="ci@example.com", email="ci@example.com")
REGISTRY = """
[flags.checkout]
description = "The new checkout"
owner = "payments"
default = { development = true, staging = true, production = true }

[flags.search-v2]
description = "Search, second edition"
internal_only = true
default = false
"""


def seed_registry_project(dashboard: Dashboard, project: str, text: str = REGISTRY) -> None:
    """``project`` with the dev user as owner and a viewer, a freeform flag ``legacy`` made
    before the registry, then the registry synced (which enforces it: ``legacy`` is an
    orphan)."""

    async def seed(services: Services) -> None:
        await services.projects.create_project(OWNER, Project(key=project, name=project))
        for email, role in ((DEV_USER, Role.OWNER), ("viewer@example.com", Role.VIEWER)):
            await services.access.set_member(OWNER, project, email, role, granted_by=Role.OWNER)
        legacy = Flag(key="legacy", name="Legacy", variants=boolean_variants())
        await services.flags.create_flag(CLI, project, legacy)
        await services.registry.sync(CLI, project, registry.parse(text))

    dashboard.run(seed)


@pytest.fixture(scope="module", autouse=True)
def _project(dashboard: Dashboard) -> None:
    seed_registry_project(dashboard, PROJECT)


def _el(page: Page, id: str) -> Locator:
    return page.locator(f'[id="{id}"]')


def _flag(dashboard: Dashboard, key: str) -> Flag:
    async def read(services: Services) -> Flag:
        return await services.flags.get_flag(PROJECT, key)

    flag: Flag = dashboard.run(read)
    return flag


def _open_list(page: Page, dashboard: Dashboard, env: str) -> None:
    page.goto(f"{dashboard.url}/flags?p={PROJECT}&env={env}")
    page.wait_for_selector("#row-checkout")


def test_enforced_project__flags_page__registry_line_instead_of_new_flag_and_marks(
    page: Page, dashboard: Dashboard
) -> None:
    _open_list(page, dashboard, "development")

    expect(_el(page, "registry-note")).to_contain_text("ff registry sync")
    expect(_el(page, "new-flag")).to_have_count(0)
    expect(_el(page, "default-checkout")).to_be_visible()
    expect(_el(page, "default-search-v2")).to_be_visible()
    expect(_el(page, "internal-search-v2")).to_be_visible()
    expect(_el(page, "orphan-legacy")).to_be_visible()
    expect(_el(page, "default-legacy")).to_have_count(0)
    # Writes to an orphan are refused: its switch is not offered.
    expect(_el(page, "toggle-legacy")).to_be_disabled()
    expect(_el(page, "toggle-checkout")).to_be_enabled()


def test_enforced_project__new_flag_page__back_to_the_list_with_why(
    page: Page, dashboard: Dashboard
) -> None:
    page.goto(f"{dashboard.url}/flags/new?p={PROJECT}")
    page.wait_for_url(f"**/flags?p={PROJECT}**")
    expect(page.get_by_text("flags come from its registry file: add the flag")).to_be_visible()
    expect(_el(page, "flag-name")).to_have_count(0)


def test_registry_flag__toggled_in_the_list__written_and_no_longer_at_its_default(
    page: Page, dashboard: Dashboard
) -> None:
    _open_list(page, dashboard, "production")
    expect(_el(page, "row-checkout")).to_have_attribute("data-enabled", "true")
    expect(_el(page, "default-checkout")).to_be_visible()

    _el(page, "toggle-checkout").click()

    expect(page.get_by_text("checkout is off in production")).to_be_visible()
    expect(_el(page, "row-checkout")).to_have_attribute("data-enabled", "false")
    expect(_el(page, "default-checkout")).to_have_count(0)
    assert _flag(dashboard, "checkout").environments["production"].enabled is False
    assert registry.is_default(_flag(dashboard, "checkout"), "production") is False


def test_registry_flag__detail__definition_read_only_and_the_kill_switch_saves(
    page: Page, dashboard: Dashboard
) -> None:
    page.goto(f"{dashboard.url}/flag?p={PROJECT}&key=checkout&env=staging")
    page.wait_for_selector('[id="env-staging"]')

    expect(_el(page, "registry-note")).to_contain_text("come from the registry file")
    expect(_el(page, "flag-description")).to_have_text("The new checkout")
    expect(_el(page, "default-development")).to_be_visible()
    expect(_el(page, "default-staging")).to_be_visible()
    # Nothing outside the environment cards can be typed into: the definition (description,
    # variants, kind, visibility) is the registry file's.
    editable = page.evaluate(
        """() => [...document.querySelectorAll('input, textarea, [contenteditable="true"]')]
            .filter(e => e.type !== 'hidden' && !e.closest('.env-card')).length"""
    )
    assert editable == 0
    expect(_el(page, "flag-tenants")).to_be_visible()

    _el(page, "staging-enabled").click()
    _el(page, "staging-save").click()

    expect(page.get_by_text("checkout saved in staging")).to_be_visible()
    expect(_el(page, "default-staging")).to_have_count(0)
    expect(_el(page, "default-development")).to_be_visible()
    assert _flag(dashboard, "checkout").environments["staging"].enabled is False


def test_orphan__saved_in_the_detail_page__refused_with_the_service_message(
    page: Page, dashboard: Dashboard
) -> None:
    before = _flag(dashboard, "legacy")
    page.goto(f"{dashboard.url}/flag?p={PROJECT}&key=legacy&env=development")
    page.wait_for_selector('[id="env-development"]')
    expect(_el(page, "orphan-note")).to_be_visible()
    expect(_el(page, "flag-tenants")).to_have_count(0)

    _el(page, "development-enabled").click()
    _el(page, "development-save").click()

    toast = page.get_by_text(f"flag 'legacy' is not in the registry of project '{PROJECT}'")
    expect(toast).to_be_visible()
    expect(page.get_by_text("Traceback")).to_have_count(0)
    assert _flag(dashboard, "legacy") == before
