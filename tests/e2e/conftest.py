"""The dashboard as it runs: `ff dashboard` (Reflex, prod build) over moto, in Chromium.

One dashboard process per test session (building the frontend takes a while); tests get a
fresh browser context each, and the session's project is re-seeded where a test needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from ff_admin.auth.session import issue_session
from ff_admin.settings import AdminSettings
from ff_core import demo
from ff_core.models import Actor, ActorKind, Role
from ff_core.services import Services
from ff_core.store import DynamoStore
from tests.conftest import TEST_CREDENTIALS

CHROMIUM = "/usr/bin/chromium"
# How long an assertion waits for the page to get there (Playwright's default is 5 s): the
# whole suite runs these last, on a loaded 2-core machine, where a save behind a live
# refresh took longer than 5 s once.
expect.set_options(timeout=10_000)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SECRET = "e2e-key-secret-" + "y" * 40
DEV_USER = "dev@localhost"
OWNER = Actor(kind=ActorKind.SYSTEM, subject="e2e-seed")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
START_TIMEOUT_S = 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Dashboard:
    url: str
    settings: AdminSettings
    log: Path

    def run(self, work):  # type: ignore[no-untyped-def]
        """Run ``await work(services)`` against the dashboard's table (as the API/CLI would)."""

        async def go():  # type: ignore[no-untyped-def]
            async with DynamoStore.open(self.settings, credentials=TEST_CREDENTIALS) as store:
                return await work(Services(store, key_secret=SECRET.encode()))

        # Sync Playwright keeps an event loop in this thread: run the work in its own.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, go()).result()

    def session_cookie(self, email: str) -> dict[str, object]:
        token = issue_session(SECRET.encode(), email, None, 3600)
        return {"name": "ff_session", "value": token, "url": self.url, "httpOnly": True}


def start_dashboard(
    tmp: Path, moto_endpoint: str, extra_env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp / "dashboard.log"
    env = {
        **os.environ,
        "FF_DYNAMODB_ENDPOINT": moto_endpoint,
        "FF_KEY_SECRET": SECRET,
        "FF_ADMIN_HOST": "127.0.0.1",
        "FF_ADMIN_PORT": str(port),
        "FF_PUBLIC_URL": url,
        "FF_API_URL": "http://127.0.0.1:8080",
        # Each dashboard builds into its own folders, so runs never share a half-built .web.
        "REFLEX_WEB_WORKDIR": str(tmp / "web"),
        "REFLEX_STATES_WORKDIR": str(tmp / "states"),
        **extra_env,
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ff_admin.run"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the dashboard exited ({process.returncode}):\n{log.read_text()[-4000:]}")
        with contextlib.suppress(httpx.HTTPError):
            ready = httpx.get(url + "/auth/me", timeout=2).status_code == 401
            if (
                ready
                and httpx.get(url + "/signin", timeout=2, follow_redirects=True).status_code == 200
            ):
                return process, url, log
        time.sleep(1)
    stop(process)
    pytest.fail(f"the dashboard did not start in {START_TIMEOUT_S}s:\n{log.read_text()[-4000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


async def seed(services: Services) -> None:
    await services.store.ensure_table()
    await demo.seed(services)
    members = (
        (DEV_USER, Role.OWNER),
        ("viewer@example.com", Role.VIEWER),
        ("editor@example.com", Role.EDITOR),
    )
    for email, role in members:
        await services.access.set_member(
            OWNER, demo.DEMO_PROJECT, email, role, granted_by=Role.OWNER
        )


@pytest.fixture(scope="session")
def dashboard(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    table = f"ff-e2e-{uuid.uuid4().hex[:10]}"
    settings = AdminSettings(
        dynamodb_endpoint=moto_endpoint,
        table=table,
        key_secret=SECRET,  # type: ignore[arg-type]
    )
    board = Dashboard("", settings, Path())
    board.run(seed)
    process, url, log = start_dashboard(
        tmp_path_factory.mktemp("dashboard"), moto_endpoint, {"FF_TABLE": table, "FF_AUTH": "dev"}
    )
    board.url, board.log = url, log
    yield board
    stop(process)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


def sign_in_dev(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/flags?p=demo")
    page.wait_for_url("**/signin**")
    page.click("#dev-sign-in")
    page.wait_for_url("**/flags/?p=demo**")
    page.wait_for_selector(".flag-row")


@pytest.fixture
def page(context: BrowserContext, dashboard: Dashboard) -> Page:
    """A tab signed in as the dev user (owner of the demo project)."""
    tab = context.new_page()
    sign_in_dev(tab, dashboard)
    return tab


def screenshot(page: Page, name: str) -> None:
    """Keep the page's look under docs/screenshots (shown in the README)."""
    DOCS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS / f"{name}.png"), full_page=False)
