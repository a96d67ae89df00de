"""Cross-site requests to the dashboard's state-changing auth routes, and its cookies'
attributes (issue 9, point 11). The Reflex event socket's Origin check runs against the
real dashboard in tests/e2e/test_security.py.

The POST routes (dev sign-in, sign-out) accept a request when its ``Origin`` is the
dashboard's own; without ``Origin`` they fall back on Fetch Metadata (``Sec-Fetch-Site``);
a request with neither is not a browser's and carries no ambient cookie to abuse.

Every cookie is HttpOnly and ``SameSite=Lax``, and ``Secure`` when the public URL is https.
Lax, not Strict: the OIDC provider sends the browser back with a cross-site top-level GET,
which must carry the ``ff_login`` cookie (Strict would drop it and no sign-in could finish),
and a link to the dashboard from mail or chat should open it signed in. Lax still keeps
every cookie off cross-site POSTs, frames, fetches and sockets; the GET routes change no
state on their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ff_admin.auth import build_auth_app
from ff_admin.auth.routes import INVITE_COOKIE, LOGIN_COOKIE
from ff_admin.settings import AdminSettings, AuthMode
from ff_core import tokens
from tests.admin.test_auth_routes import SECRET, set_cookie

HTTP = "http://127.0.0.1:3000"
HTTPS = "https://ff.example.com"


async def _no_hook(email: str, invite: str | None = None) -> None:
    return None


def _client(public_url: str, signed_out: list[str] | None = None) -> httpx.AsyncClient:
    settings = AdminSettings(auth=AuthMode.DEV, public_url=public_url)

    async def on_sign_out(email: str) -> None:
        if signed_out is not None:
            signed_out.append(email)

    app = build_auth_app(settings, SECRET, _no_hook, on_sign_out)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    return httpx.AsyncClient(transport=transport, base_url=public_url)


@pytest.fixture
async def dashboard() -> AsyncIterator[httpx.AsyncClient]:
    async with _client(HTTP) as client:
        yield client


def _session() -> str:
    return tokens.issue(SECRET, tokens.Audience.SESSION, {"sub": "ada@example.com"}, 600)


# Headers a browser sends with a POST from another site (or a sandboxed/opaque origin).
CROSS_SITE = [
    pytest.param({"Origin": "https://evil.example"}, id="foreign-origin"),
    pytest.param({"Origin": "null"}, id="opaque-origin"),
    pytest.param({"Origin": "http://127.0.0.1:3001"}, id="same-host-other-port"),
    pytest.param({"Origin": "https://127.0.0.1"}, id="same-host-other-scheme-and-port"),
    pytest.param({"Sec-Fetch-Site": "cross-site"}, id="no-origin-fetch-metadata-cross-site"),
    pytest.param({"Sec-Fetch-Site": "same-site"}, id="no-origin-fetch-metadata-sibling-site"),
]
SAME_SITE = [
    pytest.param({"Origin": HTTP}, id="own-origin"),
    pytest.param({"Origin": HTTP, "Sec-Fetch-Site": "same-origin"}, id="own-origin-metadata"),
    pytest.param({"Sec-Fetch-Site": "same-origin"}, id="no-origin-fetch-metadata-same-origin"),
    pytest.param({"Sec-Fetch-Site": "none"}, id="typed-by-the-user"),
    pytest.param({}, id="not-a-browser"),
]


@pytest.mark.parametrize("headers", CROSS_SITE)
async def test_dev_sign_in__cross_site__refused_no_cookie(
    dashboard: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await dashboard.post("/auth/dev", headers=headers)

    assert response.status_code == 403
    assert "another site" in response.text
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("headers", SAME_SITE)
async def test_dev_sign_in__same_site__signs_in(
    dashboard: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await dashboard.post("/auth/dev", headers=headers)

    assert response.status_code == 303
    assert set_cookie(response, tokens.SESSION_COOKIE)["value"]


@pytest.mark.parametrize("headers", CROSS_SITE)
async def test_sign_out__cross_site__refused_session_kept(headers: dict[str, str]) -> None:
    signed_out: list[str] = []
    async with _client(HTTP, signed_out) as client:
        client.cookies.set(tokens.SESSION_COOKIE, _session())
        response = await client.post("/auth/logout", headers=headers)

    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert signed_out == []


@pytest.mark.parametrize("headers", SAME_SITE)
async def test_sign_out__same_site__ends_the_users_sessions(headers: dict[str, str]) -> None:
    signed_out: list[str] = []
    async with _client(HTTP, signed_out) as client:
        client.cookies.set(tokens.SESSION_COOKIE, _session())
        response = await client.post("/auth/logout", headers=headers)

    assert response.status_code == 303
    assert set_cookie(response, tokens.SESSION_COOKIE)["max-age"] == "0"
    assert signed_out == ["ada@example.com"]


@pytest.mark.parametrize(("public_url", "secure"), [(HTTP, False), (HTTPS, True)])
async def test_cookies__every_route__httponly_lax_and_secure_over_https(
    public_url: str, secure: bool
) -> None:
    """Each cookie the auth routes set or clear: session, sign-in under way, invitation."""
    settings = AdminSettings(auth=AuthMode.DEV, public_url=public_url)
    origin = {"Origin": public_url}
    async with _client(public_url) as client:
        responses = {
            "dev": await client.post("/auth/dev", headers=origin),
            "invite": await client.get("/auth/invite/tok-123"),
            "logout": await client.post("/auth/logout", headers=origin),
        }
    cookies = [
        set_cookie(responses["dev"], tokens.SESSION_COOKIE),
        set_cookie(responses["dev"], LOGIN_COOKIE),  # cleared
        set_cookie(responses["invite"], INVITE_COOKIE),
        set_cookie(responses["logout"], tokens.SESSION_COOKIE),  # cleared
    ]
    assert settings.secure_cookies is secure
    for cookie in cookies:
        assert "httponly" in cookie, cookie
        assert cookie["samesite"].lower() == "lax", cookie
        assert ("secure" in cookie) is secure, cookie
