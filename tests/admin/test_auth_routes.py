"""The sign-in routes end to end: the auth app under uvicorn on loopback, signing in through
oidc-provider-mock (a real OpenID provider over HTTP) with httpx as the browser."""

from __future__ import annotations

import logging
import socket
import threading
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from authlib.deprecate import AuthlibDeprecationWarning

from ff_admin.auth import build_auth_app, safe_next, session_from_cookie_header
from ff_admin.auth.routes import INVITE_COOKIE, LOGIN_COOKIE
from ff_admin.settings import AdminSettings, AuthMode
from ff_core import tokens
from ff_core.errors import Forbidden

with warnings.catch_warnings():
    # The mock provider still imports authlib.jose, which Authlib deprecates.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    import oidc_provider_mock

# The mock's token endpoint (in its server thread) calls an Authlib API that Authlib
# deprecates; warnings are process-wide, so let it through rather than fail its request.
pytestmark = pytest.mark.filterwarnings(
    "ignore:get_jwt_config\\(self, grant\\) is deprecated:DeprecationWarning"
)

SECRET = b"k" * 32
CLIENT_ID = "ff-dashboard"
Hook = Callable[[str, str | None], Awaitable[str | None]]


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with oidc_provider_mock.run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


@dataclass
class Dashboard:
    url: str
    settings: AdminSettings
    sign_ins: list[tuple[str, str | None]] = field(default_factory=list)


@pytest.fixture
def serve(provider: str) -> Iterator[Callable[..., Dashboard]]:
    """Start the auth app under uvicorn on a free loopback port (OIDC against the mock)."""
    running: list[tuple[uvicorn.Server, threading.Thread, socket.socket]] = []

    def start(hook: Hook | None = None, **overrides: Any) -> Dashboard:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        options: dict[str, Any] = {
            "auth": AuthMode.OIDC,
            "oidc_issuer": provider,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": "client-secret",
            "public_url": url,
            **overrides,
        }
        dashboard = Dashboard(url, AdminSettings(**options))

        async def on_sign_in(email: str, invite: str | None) -> str | None:
            dashboard.sign_ins.append((email, invite))
            return None if hook is None else await hook(email, invite)

        app = build_auth_app(dashboard.settings, SECRET, on_sign_in)
        config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
        thread.start()
        running.append((server, thread, sock))
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the auth app did not start")
            time.sleep(0.01)
        return dashboard

    yield start
    for server, thread, sock in running:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def register(provider: str, email: str, *, verified: bool = True) -> None:
    claims = {"email": email, "email_verified": verified, "name": "Ada Lovelace"}
    async with httpx.AsyncClient() as client:
        response = await client.put(f"{provider}/users/{email}", json=claims)
    assert response.status_code == 204


async def start_login(browser: httpx.AsyncClient, dashboard: Dashboard, next_path: str) -> str:
    """GET /auth/login; the provider's authorization URL it redirects to."""
    login = await browser.get(f"{dashboard.url}/auth/login", params={"next": next_path})
    assert login.status_code == 302, login.text
    return login.headers["location"]


async def authorize(browser: httpx.AsyncClient, authorize_url: str, email: str) -> httpx.Response:
    """Submit the mock's authorization form as ``email``; answers the callback's response."""
    form = await browser.get(authorize_url)
    assert form.status_code == 200
    assert 'name="sub"' in form.text
    data = {"sub": email} if email else {"action": "deny"}
    answer = await browser.post(authorize_url, data=data)
    assert answer.status_code == 302, answer.text
    return await browser.get(answer.headers["location"])


async def sign_in(
    browser: httpx.AsyncClient, dashboard: Dashboard, email: str, next_path: str = "/"
) -> httpx.Response:
    return await authorize(browser, await start_login(browser, dashboard, next_path), email)


def set_cookie(response: httpx.Response, name: str) -> dict[str, str]:
    """The attributes of the ``Set-Cookie`` header for ``name`` (lower-case keys)."""
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = (part.strip() for part in header.split(";"))
        key, _, value = first.partition("=")
        if key == name:
            parsed = {"value": value}
            for attribute in attributes:
                attr, _, attr_value = attribute.partition("=")
                parsed[attr.lower()] = attr_value
            return parsed
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.get_list('set-cookie')}")


async def test_login__oidc__redirects_to_provider_with_pkce_s256(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient, provider: str
) -> None:
    dashboard = serve()
    response = await browser.get(f"{dashboard.url}/auth/login", params={"next": "/flags"})

    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    query = {key: values[0] for key, values in parse_qs(location.query).items()}
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"{provider}/oauth2/authorize"
    )
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == f"{dashboard.url}/auth/callback"
    assert query["scope"] == "openid email profile"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43  # base64url of a SHA-256 digest
    login = set_cookie(response, LOGIN_COOKIE)
    assert {"httponly", "path", "max-age", "samesite"} <= login.keys()
    assert (login["path"], login["max-age"], login["samesite"]) == ("/auth", "600", "lax")
    kept = tokens.verify(SECRET, tokens.Audience.LOGIN, login["value"])
    assert (kept["state"], kept["nonce"]) == (query["state"], query["nonce"])
    assert kept["next"] == "/flags"


async def test_callback__verified_user__sets_session_that_me_and_parser_accept(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient, provider: str
) -> None:
    dashboard = serve()
    await register(provider, "Ada@Example.com")

    response = await sign_in(browser, dashboard, "Ada@Example.com", "/flags?env=prod")

    assert response.status_code == 302, response.text
    assert response.headers["location"] == "/flags?env=prod"
    cookie = set_cookie(response, tokens.SESSION_COOKIE)
    assert {"httponly", "path", "max-age", "samesite"} <= cookie.keys()
    assert "secure" not in cookie  # public_url is http
    assert (cookie["path"], cookie["samesite"]) == ("/", "lax")
    assert cookie["max-age"] == str(dashboard.settings.session_ttl_s)
    session = session_from_cookie_header(SECRET, f"ff_session={cookie['value']}")
    assert session is not None
    assert (session.email, session.name) == ("ada@example.com", "Ada Lovelace")
    assert set_cookie(response, LOGIN_COOKIE)["max-age"] == "0"
    assert dashboard.sign_ins == [("ada@example.com", None)]
    me = await browser.get(f"{dashboard.url}/auth/me")
    assert me.json() == {"email": "ada@example.com", "name": "Ada Lovelace"}


async def test_callback__state_mismatch__refused(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient, provider: str
) -> None:
    dashboard = serve()
    await register(provider, "ada@example.com")
    authorize_url = await start_login(browser, dashboard, "/")
    form = await browser.post(authorize_url, data={"sub": "ada@example.com"})
    callback = httpx.URL(form.headers["location"])

    response = await browser.get(callback.copy_set_param("state", "forged"))

    assert response.status_code == 400
    assert "state mismatch" in response.text
    assert "ff_session" not in response.headers.get("set-cookie", "")
    assert dashboard.sign_ins == []


async def test_callback__no_login_cookie__refused(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient, provider: str
) -> None:
    dashboard = serve()
    await register(provider, "ada@example.com")
    authorize_url = await start_login(browser, dashboard, "/")
    browser.cookies.clear()

    response = await authorize(browser, authorize_url, "ada@example.com")

    assert response.status_code == 400
    assert "Sign in again" in response.text
    assert dashboard.sign_ins == []


async def test_callback__nonce_differs_from_id_token__refused(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient, provider: str
) -> None:
    dashboard = serve()
    await register(provider, "ada@example.com")
    authorize_url = await start_login(browser, dashboard, "/")
    # A login cookie with the same state and verifier but another nonce: the ID token the
    # provider issues carries the nonce of the authorization request, which now differs.
    kept = tokens.verify(SECRET, tokens.Audience.LOGIN, browser.cookies[LOGIN_COOKIE])
    forged = {key: kept[key] for key in ("state", "verifier", "next")} | {"nonce": "replayed"}
    value = tokens.issue(SECRET, tokens.Audience.LOGIN, forged, 600)
    browser.cookies.set(LOGIN_COOKIE, value, domain="127.0.0.1", path="/auth")

    response = await authorize(browser, authorize_url, "ada@example.com")

    assert response.status_code == 403
    assert "ID token was refused (Invalid claim: &#x27;nonce&#x27;)" in response.text
    assert dashboard.sign_ins == []


async def test_callback__email_domain_not_allowed__refused(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient, provider: str
) -> None:
    dashboard = serve(allowed_domains=["Example.com"])
    await register(provider, "eve@example.com.evil.org")

    response = await sign_in(browser, dashboard, "eve@example.com.evil.org")

    assert response.status_code == 403
    assert "Addresses at example.com.evil.org may not sign in" in response.text
    assert dashboard.sign_ins == []


async def test_callback__email_domain_allowed_any_case__signs_in(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient, provider: str
) -> None:
    dashboard = serve(allowed_domains=["Example.com"])
    await register(provider, "ada@EXAMPLE.com")

    response = await sign_in(browser, dashboard, "ada@EXAMPLE.com")

    assert response.status_code == 302
    assert dashboard.sign_ins == [("ada@example.com", None)]


async def test_callback__email_not_verified__refused(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient, provider: str
) -> None:
    dashboard = serve()
    await register(provider, "unverified@example.com", verified=False)

    response = await sign_in(browser, dashboard, "unverified@example.com")

    assert response.status_code == 403
    assert "has not verified unverified@example.com" in response.text
    assert "ff_session" not in response.headers.get("set-cookie", "")


async def test_callback__user_denies_at_provider__refused(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient
) -> None:
    dashboard = serve()

    response = await authorize(browser, await start_login(browser, dashboard, "/"), "")

    assert response.status_code == 403
    assert "cancelled or refused" in response.text
    assert 'href="/signin"' in response.text


async def test_login__next_protocol_relative__falls_back_to_root(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient, provider: str
) -> None:
    dashboard = serve()
    await register(provider, "ada@example.com")

    response = await sign_in(browser, dashboard, "ada@example.com", "//evil.com/x")

    assert response.status_code == 302
    assert response.headers["location"] == "/"


@pytest.mark.parametrize(
    ("asked", "safe"),
    [
        ("/flags?env=prod#top", "/flags?env=prod#top"),
        ("//evil.com", "/"),
        ("/\\evil.com", "/"),
        ("/\t/evil.com", "/"),
        ("https://evil.com/", "/"),
        ("flags", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_safe_next__path__only_same_site_paths(asked: str | None, safe: str) -> None:
    assert safe_next(asked) == safe


async def test_callback__provider_unreachable__502(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient
) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        issuer = f"http://127.0.0.1:{closed.getsockname()[1]}"
    dashboard = serve(oidc_issuer=issuer)

    response = await browser.get(f"{dashboard.url}/auth/login")

    assert response.status_code == 502
    assert "could not be reached" in response.text
    assert "Traceback" not in response.text


async def test_dev__loopback__signs_in_dev_user(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient
) -> None:
    dashboard = serve(auth=AuthMode.DEV, dev_user="Dev@Localhost")

    response = await browser.post(
        f"{dashboard.url}/auth/dev", data={"next": "/flags"}, headers={"Origin": dashboard.url}
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/flags"
    assert set_cookie(response, tokens.SESSION_COOKIE)["path"] == "/"
    assert dashboard.sign_ins == [("dev@localhost", None)]
    me = await browser.get(f"{dashboard.url}/auth/me")
    assert me.json() == {"email": "dev@localhost", "name": None}


async def test_dev__oidc_mode__not_found(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient
) -> None:
    dashboard = serve()

    response = await browser.post(f"{dashboard.url}/auth/dev", data={"next": "/"})

    assert response.status_code == 404
    assert dashboard.sign_ins == []


async def test_dev__off_loopback__forbidden() -> None:
    settings = AdminSettings(auth=AuthMode.DEV)
    signed_in: list[str] = []

    async def on_sign_in(email: str, invite: str | None) -> None:
        signed_in.append(email)

    app = build_auth_app(settings, SECRET, on_sign_in)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as client:
        response = await client.post("/auth/dev", data={"next": "/"})

    assert response.status_code == 403
    assert "only works from this machine" in response.text
    assert signed_in == []


async def test_dev__https_public_url__secure_cookie() -> None:
    settings = AdminSettings(auth=AuthMode.DEV, public_url="https://ff.example.com")

    async def on_sign_in(email: str, invite: str | None) -> None:
        return None

    transport = httpx.ASGITransport(app=build_auth_app(settings, SECRET, on_sign_in))
    async with httpx.AsyncClient(transport=transport, base_url="https://ff.example.com") as c:
        response = await c.post("/auth/dev", headers={"Origin": "https://ff.example.com"})

    assert response.status_code == 303
    assert "secure" in set_cookie(response, tokens.SESSION_COOKIE)


async def test_login__dev_mode__redirects_to_signin_page(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient
) -> None:
    dashboard = serve(auth=AuthMode.DEV)

    response = await browser.get(f"{dashboard.url}/auth/login", params={"next": "/flags"})

    assert response.status_code == 302
    assert response.headers["location"] == "/signin?next=%2Fflags"


async def test_logout__signed_in__clears_session_cookie(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient
) -> None:
    dashboard = serve(auth=AuthMode.DEV)
    await browser.post(f"{dashboard.url}/auth/dev", headers={"Origin": dashboard.url})
    assert (await browser.get(f"{dashboard.url}/auth/me")).status_code == 200

    response = await browser.post(f"{dashboard.url}/auth/logout", headers={"Origin": dashboard.url})

    assert response.status_code == 303
    assert response.headers["location"] == "/signin"
    assert set_cookie(response, tokens.SESSION_COOKIE)["max-age"] == "0"
    assert tokens.SESSION_COOKIE not in browser.cookies
    me = await browser.get(f"{dashboard.url}/auth/me")
    assert me.status_code == 401
    assert me.json()["code"] == "unauthorized"


async def test_logout__cross_origin__forbidden(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient
) -> None:
    dashboard = serve(auth=AuthMode.DEV)
    await browser.post(f"{dashboard.url}/auth/dev", headers={"Origin": dashboard.url})

    response = await browser.post(
        f"{dashboard.url}/auth/logout", headers={"Origin": "https://evil.example"}
    )

    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert (await browser.get(f"{dashboard.url}/auth/me")).status_code == 200


async def test_dev__cross_origin__forbidden(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient
) -> None:
    dashboard = serve(auth=AuthMode.DEV)

    response = await browser.post(f"{dashboard.url}/auth/dev", headers={"Origin": "null"})

    assert response.status_code == 403
    assert dashboard.sign_ins == []


async def test_invite__then_sign_in__hook_receives_token(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient, provider: str
) -> None:
    async def to_project(email: str, invite: str | None) -> str:
        return "/projects/demo"

    dashboard = serve(hook=to_project)
    await register(provider, "ada@example.com")

    invited = await browser.get(f"{dashboard.url}/auth/invite/inv_abc123")
    assert invited.status_code == 302
    assert invited.headers["location"] == "/signin?invite=1"
    invite = set_cookie(invited, INVITE_COOKIE)
    assert {"httponly", "samesite"} <= invite.keys()
    assert (invite["max-age"], invite["path"], invite["samesite"]) == ("3600", "/auth", "lax")
    response = await sign_in(browser, dashboard, "ada@example.com", "/flags")

    assert response.status_code == 302
    assert response.headers["location"] == "/projects/demo"
    assert dashboard.sign_ins == [("ada@example.com", "inv_abc123")]
    assert INVITE_COOKIE not in browser.cookies


async def test_invite__token_not_url_safe__refused(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient
) -> None:
    dashboard = serve()

    response = await browser.get(f"{dashboard.url}/auth/invite/a%3Bb%3Cscript%3E")

    assert response.status_code == 400
    assert INVITE_COOKIE not in browser.cookies


async def test_callback__hook_raises_fferror__shows_its_message(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient, provider: str
) -> None:
    async def refuse(email: str, invite: str | None) -> str:
        raise Forbidden("This invitation is for <bob@example.com>, not you")

    dashboard = serve(hook=refuse)
    await register(provider, "ada@example.com")
    await browser.get(f"{dashboard.url}/auth/invite/inv_abc123")

    response = await sign_in(browser, dashboard, "ada@example.com")

    assert response.status_code == 403
    assert "This invitation is for &lt;bob@example.com&gt;, not you" in response.text
    assert "<bob@" not in response.text
    assert tokens.SESSION_COOKIE not in browser.cookies
    assert INVITE_COOKIE not in browser.cookies


async def test_me__no_session__unauthorized(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient
) -> None:
    dashboard = serve()

    response = await browser.get(f"{dashboard.url}/auth/me")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
