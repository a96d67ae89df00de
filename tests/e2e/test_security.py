"""The dashboard's defences as they run (issue 9, point 11): Reflex's event socket refuses
another site, a signed-out session is refused even from a copied cookie with its page
still open, and a removed member's next click is refused.

Every state change in the dashboard travels as an event over one socket.io WebSocket
(``/_event``), authenticated by the session cookie sent at the handshake. Two locks keep
another site off it: the cookie is ``SameSite=Lax`` (not sent with a cross-site socket),
and the socket server only accepts the dashboard's own ``Origin`` (rxconfig.py). A page on
``127.0.0.1`` at another port is the same *site*, so SameSite does not help there: the
Origin check alone refuses it, which is what these tests show.
"""

from __future__ import annotations

import base64
import os
import socket
import uuid
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from ff_core.models import Actor, ActorKind, Role
from ff_core.services import Services
from tests.e2e.conftest import Dashboard

SEED = Actor(kind=ActorKind.SYSTEM, subject="e2e-seed")
EVENT_SOCKET = "/_event/?EIO=4&transport=websocket"
# Opens the dashboard's event socket from the page it runs in; answers what became of it.
OPEN_SOCKET = """async (url) => await new Promise((done) => {
    const socket = new WebSocket(url);
    const timer = setTimeout(() => done("timeout"), 10000);
    socket.onopen = () => { clearTimeout(timer); socket.close(); done("open"); };
    socket.onerror = () => { clearTimeout(timer); done("refused"); };
})"""


def handshake(dashboard: Dashboard, origin: str | None) -> str:
    """The status line a WebSocket handshake to the event socket gets (raw, no client lib)."""
    parts = urlsplit(dashboard.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {EVENT_SOCKET} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *([f"Origin: {origin}"] if origin else []),
    ]
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while b"\r\n" not in answer:
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode()


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://127.0.0.1:1", "http://localhost", "null"]
)
def test_event_socket__foreign_origin__handshake_refused(dashboard: Dashboard, origin: str) -> None:
    status = handshake(dashboard, origin)

    assert " 101 " not in status + " ", status
    assert status.startswith("HTTP/1.1 4"), status


def test_event_socket__own_origin__handshake_accepted(dashboard: Dashboard) -> None:
    """The control: the same handshake from the dashboard's own origin is switched."""
    assert handshake(dashboard, dashboard.url).startswith("HTTP/1.1 101"), dashboard.url


def test_event_socket__page_of_another_site_in_chromium__refused(
    browser: Browser, dashboard: Dashboard
) -> None:
    """A signed-in browser visits another site whose script opens the event socket."""
    ws_url = "ws://" + urlsplit(dashboard.url).netloc + EVENT_SOCKET
    ctx = browser.new_context()
    try:
        ctx.add_cookies([dashboard.session_cookie("dev@localhost")])  # type: ignore[list-item]
        tab = ctx.new_page()

        def evil_site(route: Route) -> None:
            route.fulfill(status=200, content_type="text/html", body="<p>cat pictures</p>")

        tab.route("http://evil.example/**", evil_site)
        tab.goto("http://evil.example/")
        assert tab.evaluate(OPEN_SOCKET, ws_url) == "refused"
        # The same script on the dashboard's own page opens it: the origin made the difference.
        tab.goto(dashboard.url + "/signin")
        assert tab.evaluate(OPEN_SOCKET, ws_url) == "open"
    finally:
        ctx.close()


def _member(dashboard: Dashboard, role: Role | None) -> str:
    email = f"sec-{uuid.uuid4().hex[:8]}@example.com"
    if role is not None:

        async def add(services: Services) -> None:
            await services.access.set_member(SEED, "demo", email, role, granted_by=Role.OWNER)

        dashboard.run(add)
    return email


def _staging(dashboard: Dashboard) -> tuple[bool, int]:
    async def read(services: Services) -> tuple[bool, int]:
        config = (await services.flags.get_flag("demo", "new-checkout")).environments["staging"]
        return config.enabled, config.version

    result: tuple[bool, int] = dashboard.run(read)
    return result


def _open_flags(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/flags?p=demo&env=staging")
    page.wait_for_selector("#row-new-checkout")
    expect(page.locator("#toggle-new-checkout")).to_be_enabled()


def test_sign_out__copied_cookie_with_page_open__next_event_refused(
    browser: Browser, dashboard: Dashboard
) -> None:
    email = _member(dashboard, Role.EDITOR)
    cookie = dashboard.session_cookie(email)  # one value, in two browsers
    mine, copy = browser.new_context(), browser.new_context()
    try:
        mine.add_cookies([cookie])  # type: ignore[list-item]
        copy.add_cookies([cookie])  # type: ignore[list-item]
        stolen = copy.new_page()
        _open_flags(stolen, dashboard)
        own = mine.new_page()
        _open_flags(own, dashboard)
        before = _staging(dashboard)

        own.click("#sign-out")
        own.wait_for_url("**/signin**")
        stolen.click("#toggle-new-checkout")

        expect(stolen.get_by_text("your session has ended")).to_be_visible()
        assert _staging(dashboard) == before
        stolen.goto(dashboard.url + "/flags?p=demo")
        stolen.wait_for_url("**/signin**")
    finally:
        mine.close()
        copy.close()


def test_member_removed__page_still_open__next_click_refused(
    browser: Browser, dashboard: Dashboard
) -> None:
    email = _member(dashboard, Role.EDITOR)
    ctx = browser.new_context()
    try:
        ctx.add_cookies([dashboard.session_cookie(email)])  # type: ignore[list-item]
        tab = ctx.new_page()
        _open_flags(tab, dashboard)
        before = _staging(dashboard)

        async def remove(services: Services) -> None:
            await services.access.remove_member(SEED, "demo", email, granted_by=Role.OWNER)

        dashboard.run(remove)
        tab.click("#toggle-new-checkout")

        expect(tab.get_by_text("project 'demo' not found")).to_be_visible()
        assert _staging(dashboard) == before
    finally:
        ctx.close()
