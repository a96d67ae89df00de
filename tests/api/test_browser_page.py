"""The example page and /sdk/ff.js in real Chromium, against the API on a loopback port."""

from __future__ import annotations

import functools
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from ff_api import ApiSettings
from tests.api.conftest import ADMIN, Seeded, ServerThread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The official OpenFeature web SDK and OFREP web provider, bundled unchanged (see build.sh).
OFREP_WEB = Path(__file__).parent / "ofrep_web"
PRO_IN_US = {"targetingKey": "alice", "country": "US", "plan": "pro"}
WAIT_MS = 20_000


class RestartableApi:
    """The API on one fixed loopback port, stopped and started again as a deploy would."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._running: ServerThread | None = None

    def start(self) -> str:
        self._running = ServerThread(self.settings)
        config = self._running.server.config
        config.port = self.port
        # Open streams would otherwise hold the shutdown forever.
        config.timeout_graceful_shutdown = 1
        return self._running.start()

    def stop(self) -> None:
        if self._running is not None:
            self._running.stop()
            self._running = None


class QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def static_site(directory: Path) -> Iterator[str]:
    """``directory`` served on its own loopback origin, so its page calls the API cross-origin."""
    handler = functools.partial(QuietFiles, directory=str(directory))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as site:
        thread = threading.Thread(target=site.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{site.server_address[1]}"
        finally:
            site.shutdown()
            thread.join(timeout=10)


@pytest.fixture
def api(seeded: Seeded) -> Iterator[RestartableApi]:
    running = RestartableApi(seeded.settings)
    yield running
    running.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


def example_url(base: str, seeded: Seeded) -> str:
    query = urlencode({"key": seeded.client_key, "context": json.dumps(PRO_IN_US)})
    return f"{base}/sdk/example?{query}"


def value_cell(page: Page, flag: str) -> Locator:
    return page.locator(f'tr[data-flag="{flag}"] td.value')


async def test_example_page__flag_flipped__page_updates_live(
    api: RestartableApi, browser: Browser, seeded: Seeded
) -> None:
    page = await browser.new_page()
    await page.goto(example_url(api.start(), seeded))
    await expect(value_cell(page, "new-checkout")).to_have_text("true", timeout=WAIT_MS)
    api_answers = await page.evaluate(
        """() => [
            flags.isEnabled("new-checkout"),
            flags.value("banner-text", "fallback"),
            flags.value("banner-text", 5),
            flags.value("no-such-flag", "fallback"),
            flags.details("new-checkout"),
            Object.keys(flags.all()).sort(),
        ]"""
    )

    await seeded.services.flags.set_enabled(ADMIN, "demo", "new-checkout", "production", False)

    await expect(value_cell(page, "new-checkout")).to_have_text("false", timeout=WAIT_MS)
    await expect(page.locator("#log li")).to_contain_text("new-checkout")
    await expect(page.locator("#connect")).to_be_hidden()  # the form is for keyless visits
    assert api_answers == [
        True,
        "Good to see you again!",
        5,  # another type than the default's: the default
        "fallback",
        {"value": True, "variant": "on", "reason": "TARGETING_MATCH"},
        ["banner-text", "new-checkout"],
    ]
    assert await page.evaluate('flags.isEnabled("new-checkout")') is False
    assert await page.locator("#status").text_content() == "ready"


async def test_example_page__stream_token_from_a_backend__the_tokens_context(
    api: RestartableApi, browser: Browser, seeded: Seeded
) -> None:
    base = api.start()
    async with httpx.AsyncClient(base_url=base) as http:
        minted = await http.post(
            "/api/v1/stream-tokens",
            json={"context": {"targetingKey": "bob"}},
            headers={"Authorization": f"Bearer {seeded.server_key}"},
        )
    page = await browser.new_page()

    await page.goto(f"{base}/sdk/example?{urlencode({'token': minted.json()['token']})}")

    await expect(value_cell(page, "banner-text")).to_have_text(
        '"Good to see you again!"', timeout=WAIT_MS
    )
    assert await page.locator("tr[data-flag]").count() == 2  # client-visible flags only


async def test_example_page__api_restarts_meanwhile_a_change__reconnects_and_resumes(
    api: RestartableApi, browser: Browser, seeded: Seeded
) -> None:
    page = await browser.new_page()
    streams: list[str] = []
    page.on(
        "request",
        lambda request: streams.append(request.url) if "/browser/stream" in request.url else None,
    )
    await page.goto(example_url(api.start(), seeded))
    await expect(value_cell(page, "new-checkout")).to_have_text("true", timeout=WAIT_MS)
    await page.evaluate("window.sameDocument = true")
    seen = await page.evaluate("flags.lastEventId")

    api.stop()
    await expect(page.locator("#status")).to_have_text("reconnecting", timeout=WAIT_MS)
    await seeded.services.flags.set_enabled(ADMIN, "demo", "new-checkout", "production", False)
    api.start()

    await expect(value_cell(page, "new-checkout")).to_have_text("false", timeout=WAIT_MS)
    await expect(page.locator("#status")).to_have_text("ready")
    assert await page.evaluate("window.sameDocument") is True  # ff.js reconnected, no reload
    resumed = [parse_qs(urlsplit(url).query).get("last_event_id") for url in streams]
    assert resumed[0] is None
    assert [seen] in resumed[1:]
    assert int(await page.evaluate("flags.lastEventId")) == int(seen) + 1


async def test_ofrep_web_provider__official_package_unchanged__follows_our_stream(
    browser: Browser, seeded: Seeded
) -> None:
    with static_site(OFREP_WEB) as origin:
        settings = ApiSettings(**{**seeded.settings.model_dump(), "cors_origins": [origin]})
        api = RestartableApi(settings)
        base = api.start()
        page = await browser.new_page()
        requests: list[str] = []
        errors: list[str] = []
        page.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        query = urlencode({"api": base, "key": seeded.client_key, "context": json.dumps(PRO_IN_US)})
        try:
            await page.goto(f"{origin}/index.html?{query}")
            await expect(page.locator("#value")).to_have_text("true", timeout=WAIT_MS)
            await seeded.services.flags.set_enabled(
                ADMIN, "demo", "new-checkout", "production", False
            )
            await expect(page.locator("#value")).to_have_text("false", timeout=WAIT_MS)
            changes = int(await page.locator("#changes").text_content() or 0)
        finally:
            await page.close()
            api.stop()

    streams = [r for r in requests if r.startswith(f"GET {base}/api/v1/browser/stream?token=")]
    bulk = [r for r in requests if r.startswith(f"POST {base}/ofrep/v1/evaluate/flags")]
    assert changes >= 1, errors
    assert len(streams) == 1, requests  # one EventSource, kept: no polling, no reconnects
    # The first evaluation, then the refetch our notification asked for, naming its etag.
    assert bulk[0] == f"POST {base}/ofrep/v1/evaluate/flags", requests
    assert any("?flagConfigEtag=" in r for r in bulk[1:]), requests
