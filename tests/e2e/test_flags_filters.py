"""The flags list's search, filters, sort and pages in Chromium, over a project of 120 flags."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from ff_core.models import (
    Actor,
    ActorKind,
    EnvironmentConfig,
    Flag,
    FlagKind,
    Project,
    Role,
    Serve,
    Variant,
)
from ff_core.services import Services
from tests.e2e.conftest import DEV_USER, Dashboard

SEED = Actor(kind=ActorKind.SYSTEM, subject="e2e-seed")
PROJECT = "big"


def _flag(i: int) -> Flag:
    on = i % 3 == 0
    return Flag(
        key=f"flag-{i:03d}",
        name=f"Flag number {i}",
        kind=FlagKind.OPS if i % 10 == 0 else FlagKind.RELEASE,
        tags=("checkout",) if i % 4 == 0 else ("search",),
        temporary=i % 2 == 0,
        variants={"on": Variant(value=True), "off": Variant(value=False)},
        environments={
            "production": EnvironmentConfig(
                enabled=on, off_variant="off", fallthrough=Serve(variant="on")
            )
        },
    )


@pytest.fixture(scope="module")
def big_project(dashboard: Dashboard) -> str:
    async def seed(services: Services) -> None:
        await services.projects.create_project(SEED, Project(key=PROJECT, name="Big"))
        await services.access.set_member(SEED, PROJECT, DEV_USER, Role.OWNER, granted_by=Role.OWNER)
        for i in range(120):
            await services.flags.create_flag(SEED, PROJECT, _flag(i))

    dashboard.run(seed)
    return PROJECT


def _keys(page: Page) -> list[str]:
    return [
        k.removeprefix("row-")
        for k in page.eval_on_selector_all(".flag-row", "rows => rows.map(r => r.id)")
    ]


def _open(page: Page, dashboard: Dashboard, query: str = "") -> None:
    page.goto(f"{dashboard.url}/flags?p={PROJECT}&env=production{query}")
    page.wait_for_selector(".flag-row")


def test_pages__120_flags__50_per_page_and_next(
    page: Page, dashboard: Dashboard, big_project: str
) -> None:
    _open(page, dashboard)
    expect(page.locator("#flag-total")).to_have_text("120 flags")
    expect(page.locator("#page-of")).to_have_text("Page 1 of 3")
    assert _keys(page)[0] == "flag-000"
    assert len(_keys(page)) == 50
    page.click("#page-next")
    expect(page.locator("#page-of")).to_have_text("Page 2 of 3")
    assert _keys(page)[0] == "flag-050"
    # The URL is pushed after the rows render: wait for it like for the rows.
    expect(page).to_have_url(re.compile(r"[?&]page=2(&|$)"))


def test_search__typed__narrows_the_list(
    page: Page, dashboard: Dashboard, big_project: str
) -> None:
    _open(page, dashboard)
    page.fill("#flag-search", "flag-11")
    expect(page.locator("#flag-total")).to_have_text("10 flags")
    assert all(k.startswith("flag-11") for k in _keys(page))


def test_filters__status_kind_tag_lifecycle__combine(
    page: Page, dashboard: Dashboard, big_project: str
) -> None:
    # enabled: i % 3 == 0 -> 40; of those ops (i % 10 == 0): i % 30 == 0 -> 4
    _open(page, dashboard, "&status=enabled")
    expect(page.locator("#flag-total")).to_have_text("40 flags")
    page.click("#filter-kind")
    page.get_by_role("option", name="Ops").click()
    expect(page.locator("#flag-total")).to_have_text("4 flags")
    assert _keys(page) == ["flag-000", "flag-030", "flag-060", "flag-090"]
    # tag checkout (i % 4 == 0) among those: 0, 60
    page.click("#filter-tag")
    page.get_by_role("option", name="checkout").click()
    expect(page.locator("#flag-total")).to_have_text("2 flags")
    page.click("#filter-lifecycle")
    page.get_by_role("option", name="Permanent").click()  # all four are even: temporary
    expect(page.locator("#flag-total")).to_have_text("0 flags")


def test_sort__descending__reverses_the_order(
    page: Page, dashboard: Dashboard, big_project: str
) -> None:
    _open(page, dashboard)
    page.click("#sort-order")
    expect(page.locator(".flag-row").first).to_have_id("row-flag-119")
    expect(page).to_have_url(re.compile(r"[?&]descending=true(&|$)"))
