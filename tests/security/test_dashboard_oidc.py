"""OIDC sign-in refusals that tests/admin does not already cover (issue 9, point 11).

Already covered there, against oidc-provider-mock: state mismatch, a missing login cookie
and another nonce (test_auth_routes: the whole callback), the email domain and
``email_verified`` (both ways), and at the ID-token level a forged payload, an unsigned
token and another audience (test_auth_oidc). Here: PKCE, the issuer, and tampering with
the signed login cookie.

oidc-provider-mock does not check PKCE itself (its authorization codes keep no challenge),
so the provider here is the mock behind a thin WSGI layer that does what RFC 7636 asks of
a provider: remember each code's ``code_challenge`` and refuse a token request whose
``code_verifier`` does not hash to it. The genuine sign-in passes through the same layer,
so it also proves that the dashboard sends a verifier matching its S256 challenge.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import werkzeug.serving
from authlib.deprecate import AuthlibDeprecationWarning

from ff_admin.auth.oidc import OidcClient
from ff_admin.auth.routes import LOGIN_COOKIE
from ff_core import tokens
from ff_core.errors import Forbidden
from tests.admin import test_auth_oidc as oidc_tests
from tests.admin import test_auth_routes as routes
from tests.admin.test_auth_routes import (
    SECRET,
    Dashboard,
    authorize,
    register,
    set_cookie,
    sign_in,
    start_login,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    import oidc_provider_mock

pytestmark = pytest.mark.filterwarnings(
    "ignore:get_jwt_config\\(self, grant\\) is deprecated:DeprecationWarning"
)

# The dashboard on a loopback port and an httpx browser, as tests/admin runs them; their
# ``provider`` is this module's PKCE-checking one.
serve = routes.serve
browser = routes.browser

StartResponse = Callable[..., Any]


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class PkceChecked:
    """The provider's half of PKCE (RFC 7636 section 4.6) in front of the mock."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.challenges: dict[str, str] = {}
        self.refused = 0

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
        if method == "POST" and path == "/oauth2/authorize":
            return self._authorize(environ, start_response)
        if method == "POST" and path == "/oauth2/token":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            challenge = self.challenges.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier")
            if challenge is not None and (verifier is None or s256(verifier) != challenge):
                self.refused += 1
                error = {"error": "invalid_grant", "error_description": "PKCE check failed"}
                start_response("400 BAD REQUEST", [("Content-Type", "application/json")])
                return [json.dumps(error).encode()]
        return self.app(environ, start_response)  # type: ignore[no-any-return]

    def _authorize(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}

        def remember(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            location = dict((k.lower(), v) for k, v in headers).get("location", "")
            code = parse_qs(urlsplit(location).query).get("code")
            if code and query.get("code_challenge_method") == "S256":
                self.challenges[code[0]] = query["code_challenge"]
            return start_response(status, headers, *rest)

        return self.app(environ, remember)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def checked() -> Iterator[tuple[str, PkceChecked]]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    layer = PkceChecked(oidc_provider_mock.app(require_nonce=True))
    server = werkzeug.serving.make_server("localhost", 0, layer, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://localhost:{server.server_port}", layer
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="module")
def provider(checked: tuple[str, PkceChecked]) -> str:
    return checked[0]


def refuse_count(checked: tuple[str, PkceChecked]) -> int:
    return checked[1].refused


# -- PKCE -----------------------------------------------------------------------------------


async def test_callback__pkce_checked_by_provider__genuine_sign_in_passes(
    serve: Callable[..., Dashboard],
    browser: httpx.AsyncClient,
    provider: str,
    checked: tuple[str, PkceChecked],
) -> None:
    dashboard = serve()
    await register(provider, "ada@example.com")
    refused = refuse_count(checked)

    response = await sign_in(browser, dashboard, "ada@example.com")

    assert response.status_code == 302, response.text
    assert set_cookie(response, tokens.SESSION_COOKIE)["value"]
    assert refuse_count(checked) == refused
    assert dashboard.sign_ins == [("ada@example.com", None)]


async def test_callback__other_pkce_verifier__provider_refuses_and_no_session(
    serve: Callable[..., Dashboard],
    browser: httpx.AsyncClient,
    provider: str,
    checked: tuple[str, PkceChecked],
) -> None:
    dashboard = serve()
    await register(provider, "ada@example.com")
    authorize_url = await start_login(browser, dashboard, "/")
    # The same state and nonce, another verifier (re-signed, as only the server could):
    # the code the provider issues was bound to the original challenge.
    kept = tokens.verify(SECRET, tokens.Audience.LOGIN, browser.cookies[LOGIN_COOKIE])
    forged = kept | {"verifier": "another-verifier-" + "v" * 40}
    value = tokens.issue(SECRET, tokens.Audience.LOGIN, forged, 600)
    browser.cookies.set(LOGIN_COOKIE, value, domain="127.0.0.1", path="/auth")
    refused = refuse_count(checked)

    response = await authorize(browser, authorize_url, "ada@example.com")

    assert response.status_code == 403
    assert "refused the sign-in (invalid_grant: PKCE check failed)" in response.text
    assert refuse_count(checked) == refused + 1
    assert tokens.SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert dashboard.sign_ins == []


async def test_callback__code_of_another_browsers_sign_in__refused(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient, provider: str
) -> None:
    """Code injection: an attacker pastes a code issued to the victim's sign-in into the
    callback of their own sign-in (their own state): the victim's PKCE challenge stops it."""
    dashboard = serve()
    await register(provider, "victim@example.com")
    async with httpx.AsyncClient(timeout=10) as victim:
        victim_url = await start_login(victim, dashboard, "/")
        await victim.get(victim_url)
        answer = await victim.post(victim_url, data={"sub": "victim@example.com"})
        stolen = httpx.URL(answer.headers["location"]).params["code"]
    attacker_url = await start_login(browser, dashboard, "/")
    state = httpx.URL(attacker_url).params["state"]

    response = await browser.get(
        f"{dashboard.url}/auth/callback", params={"code": stolen, "state": state}
    )

    assert response.status_code == 403
    assert "invalid_grant" in response.text
    assert dashboard.sign_ins == []


# -- the signed login cookie ----------------------------------------------------------------


async def test_callback__login_cookie_edited_without_the_secret__refused(
    serve: Callable[..., Dashboard], browser: httpx.AsyncClient, provider: str
) -> None:
    dashboard = serve()
    await register(provider, "ada@example.com")
    authorize_url = await start_login(browser, dashboard, "/")
    header, payload, signature = browser.cookies[LOGIN_COOKIE].split(".")
    claims = oidc_tests.unb64(payload) | {"nonce": "attacker-chosen"}
    edited = f"{header}.{oidc_tests.b64(claims)}.{signature}"
    browser.cookies.set(LOGIN_COOKIE, edited, domain="127.0.0.1", path="/auth")

    response = await authorize(browser, authorize_url, "ada@example.com")

    assert response.status_code == 400
    assert "expired or was started in another browser" in response.text
    assert dashboard.sign_ins == []


# -- the issuer -----------------------------------------------------------------------------


async def test_verify_id_token__genuine_token_of_another_issuer__refused(provider: str) -> None:
    """The mock names itself after the host it was reached by: the same provider, keys and
    client, reached as 127.0.0.1, issues tokens whose ``iss`` is not the configured one."""
    other_issuer = provider.replace("localhost", "127.0.0.1")
    token = await _id_token(other_issuer)
    assert oidc_tests.unb64(token.split(".")[1])["iss"] == other_issuer

    # The token itself is sound: a client configured for that issuer accepts it.
    accepted = await _client(other_issuer).verify_id_token(token, nonce=oidc_tests.NONCE)
    assert accepted["email"] == "ada@example.com"
    with pytest.raises(Forbidden, match="'iss'"):
        await _client(provider).verify_id_token(token, nonce=oidc_tests.NONCE)


def _client(issuer: str) -> OidcClient:
    return OidcClient(issuer, oidc_tests.CLIENT_ID, "client-secret", oidc_tests.REDIRECT_URI)


async def _id_token(issuer: str) -> str:
    """A genuine ID token from ``issuer`` (the mock's own form and token endpoint)."""
    async with httpx.AsyncClient(timeout=10) as client:
        await client.put(
            f"{issuer}/users/ada@example.com",
            json={"email": "ada@example.com", "email_verified": True},
        )
        authorize_url = httpx.URL(f"{issuer}/oauth2/authorize").copy_merge_params(
            {
                "response_type": "code",
                "client_id": oidc_tests.CLIENT_ID,
                "redirect_uri": oidc_tests.REDIRECT_URI,
                "scope": "openid email",
                "state": "state",
                "nonce": oidc_tests.NONCE,
            }
        )
        answer = await client.post(authorize_url, data={"sub": "ada@example.com"})
        code = httpx.URL(answer.headers["location"]).params["code"]
        token = await client.post(
            f"{issuer}/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": oidc_tests.REDIRECT_URI,
            },
            auth=(oidc_tests.CLIENT_ID, "client-secret"),
        )
    value = token.json()["id_token"]
    assert isinstance(value, str)
    return value
