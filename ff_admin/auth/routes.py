"""The dashboard's sign-in routes, served beside its pages on the same origin.

OIDC: ``/auth/login`` sends the browser to the provider with a fresh state, nonce and PKCE
challenge, kept in the short-lived ``ff_login`` cookie; ``/auth/callback`` checks what comes
back and sets the ``ff_session`` cookie. Dev mode signs ``dev_user`` in from loopback only.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ff_admin.auth.oidc import OidcClient, ProviderUnavailable, identity_from_claims
from ff_admin.auth.pages import error_page
from ff_admin.auth.session import end_sessions, issue_session, session_from_cookie_header
from ff_admin.settings import AdminSettings, AuthMode, is_loopback
from ff_core import tokens
from ff_core.errors import FFError, StoreError, Unauthorized

# Called after a sign-in with the verified email and the pending invitation token, if any;
# answers where to go next (or None for the page the user asked for). Its FFErrors are
# shown to the user.
SignInHook = Callable[[str, str | None], Awaitable[str | None]]
# Called at sign-out with the signed-out email: ends its sessions everywhere (copies of the
# cookie included). Its FFErrors are logged; the browser is signed out regardless.
SignOutHook = Callable[[str], Awaitable[None]]

LOGIN_COOKIE = "ff_login"
INVITE_COOKIE = "ff_invite"
CALLBACK_PATH = "/auth/callback"
SIGNIN_PAGE = "/signin"
_LOGIN_TTL_S = 10 * 60
_INVITE_TTL_S = 60 * 60
# Only the /auth routes read the login and invitation cookies.
_AUTH_PATH = "/auth"
_INVITE_TOKEN = re.compile(r"[A-Za-z0-9._~-]{1,512}")
_UNREACHABLE = "The sign-in provider could not be reached. Try again in a moment."
_EXPIRED = "This sign-in expired or was started in another browser. Sign in again."
_STATE_MISMATCH = (
    "This sign-in does not match the one this browser started (state mismatch). Sign in again."
)

logger = logging.getLogger(__name__)


def safe_next(path: str | None) -> str:
    """``path`` if it stays on this site, else "/": sign-in must not be an open redirect."""
    if (
        not path
        or len(path) > 2048
        or not path.startswith("/")
        or path.startswith("//")
        # Browsers read "\" as "/" and drop tabs and newlines: "/\evil.com", "/\t/evil.com".
        or "\\" in path
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in path)
    ):
        return "/"
    return path


def build_auth_app(
    settings: AdminSettings,
    secret: bytes,
    on_sign_in: SignInHook,
    on_sign_out: SignOutHook = end_sessions,
) -> Starlette:
    oidc = None
    if settings.auth is AuthMode.OIDC:
        # AdminSettings refuses FF_AUTH=oidc without these.
        assert settings.oidc_issuer is not None
        assert settings.oidc_client_id is not None
        assert settings.oidc_client_secret is not None
        oidc = OidcClient(
            settings.oidc_issuer,
            settings.oidc_client_id,
            settings.oidc_client_secret.get_secret_value(),
            redirect_uri=settings.public_url.rstrip("/") + CALLBACK_PATH,
        )
    auth = _SignIn(settings, secret, on_sign_in, on_sign_out, oidc)
    return Starlette(
        routes=[
            Route("/auth/login", auth.login, methods=["GET"]),
            Route(CALLBACK_PATH, auth.callback, methods=["GET"]),
            Route("/auth/dev", auth.dev, methods=["POST"]),
            Route("/auth/logout", auth.logout, methods=["POST"]),
            Route("/auth/invite/{token}", auth.invite, methods=["GET"]),
            Route("/auth/me", auth.me, methods=["GET"]),
        ]
    )


class _SignIn:
    def __init__(
        self,
        settings: AdminSettings,
        secret: bytes,
        on_sign_in: SignInHook,
        on_sign_out: SignOutHook,
        oidc: OidcClient | None,
    ) -> None:
        self.settings = settings
        self.secret = secret
        self.on_sign_in = on_sign_in
        self.on_sign_out = on_sign_out
        self.oidc = oidc

    async def login(self, request: Request) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        if self.oidc is None:
            query = "" if next_path == "/" else "?" + urlencode({"next": next_path})
            return RedirectResponse(SIGNIN_PAGE + query, status_code=302)
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(48)
        try:
            url = await self.oidc.authorization_url(
                state=state, nonce=nonce, code_verifier=verifier
            )
        except ProviderUnavailable as exc:
            logger.warning("sign-in provider unavailable: %s", exc)
            return error_page(_UNREACHABLE, 502)
        # Signed, not encrypted: the PKCE verifier is readable by whoever holds the cookie,
        # which is only this browser (HttpOnly); PKCE guards against a code intercepted on
        # its way back, and that interceptor never sees this cookie.
        login = {"state": state, "nonce": nonce, "verifier": verifier, "next": next_path}
        response = _no_store(RedirectResponse(url, status_code=302))
        value = tokens.issue(self.secret, tokens.Audience.LOGIN, login, _LOGIN_TTL_S)
        self._set_cookie(response, LOGIN_COOKIE, value, _LOGIN_TTL_S, _AUTH_PATH)
        return response

    async def callback(self, request: Request) -> Response:
        if self.oidc is None:
            return error_page("Single sign-on is not configured for this dashboard.", 404)
        params = request.query_params
        login = self._login(request)
        error = params.get("error")
        if error:
            message = (
                "Sign-in was cancelled or refused at the sign-in provider."
                if error == "access_denied"
                else f"The sign-in provider reported an error: {error}."
            )
            return self._failed(error_page(message, 403 if error == "access_denied" else 400))
        if login is None:
            return self._failed(error_page(_EXPIRED, 400))
        if not hmac.compare_digest(params.get("state", ""), str(login.get("state", ""))):
            return self._failed(error_page(_STATE_MISMATCH, 400))
        code = params.get("code")
        if not code:
            return self._failed(error_page("The sign-in provider sent no code.", 400))
        try:
            claims = await self.oidc.sign_in(
                code=code, code_verifier=str(login["verifier"]), nonce=str(login["nonce"])
            )
            identity = identity_from_claims(claims, self.settings.allowed_domains)
        except FFError as exc:
            logger.info("sign-in refused: %s", exc.message)
            return self._failed(error_page(exc.message, 403))
        except ProviderUnavailable as exc:
            logger.warning("sign-in provider unavailable: %s", exc)
            return self._failed(error_page(_UNREACHABLE, 502))
        except Exception:
            logger.exception("sign-in with the provider failed unexpectedly")
            return self._failed(error_page(_UNREACHABLE, 502))
        return await self._signed_in(
            request, identity.email, identity.name, safe_next(str(login.get("next"))), 302
        )

    async def dev(self, request: Request) -> Response:
        if self.settings.auth is not AuthMode.DEV:
            return error_page("Dev sign-in is off: this dashboard uses single sign-on.", 404)
        if not self._same_origin(request):
            return error_page("Sign-in was refused: the request came from another site.", 403)
        # The dashboard refuses to start off loopback in dev mode; this is the second lock.
        if request.client is None or not is_loopback(request.client.host):
            return error_page("Dev sign-in only works from this machine.", 403)
        form = await request.form()
        next_value = form.get("next")
        next_path = safe_next(next_value if isinstance(next_value, str) else None)
        return await self._signed_in(request, self.settings.dev_user, None, next_path, 303)

    async def logout(self, request: Request) -> Response:
        if not self._same_origin(request):
            return error_page("Sign-out was refused: the request came from another site.", 403)
        session = session_from_cookie_header(self.secret, request.headers.get("cookie", ""))
        if session is not None:
            try:
                await self.on_sign_out(session.email)
            except FFError as exc:
                # This browser is signed out all the same; copies of its cookie stay valid
                # until they expire, which the log says.
                logger.warning(
                    "sign-out of %s not recorded, copies of its session stay valid: %s",
                    session.email,
                    exc.message,
                )
        response = _no_store(RedirectResponse(SIGNIN_PAGE, status_code=303))
        self._clear_cookie(response, tokens.SESSION_COOKIE, "/")
        return response

    async def invite(self, request: Request) -> Response:
        token = request.path_params["token"]
        if not _INVITE_TOKEN.fullmatch(token):
            return error_page("This invitation link is not valid.", 400)
        response = _no_store(RedirectResponse(f"{SIGNIN_PAGE}?invite=1", status_code=302))
        self._set_cookie(response, INVITE_COOKIE, token, _INVITE_TTL_S, _AUTH_PATH)
        return response

    async def me(self, request: Request) -> Response:
        # Signature and expiry only: it answers with what the cookie itself says (its claims
        # are signed, not secret), and the pages' events check sign-outs.
        session = session_from_cookie_header(self.secret, request.headers.get("cookie", ""))
        if session is None:
            body = Unauthorized("not signed in").to_dict()
            return _no_store(JSONResponse(body, status_code=401))
        return _no_store(JSONResponse({"email": session.email, "name": session.name}))

    async def _signed_in(
        self, request: Request, email: str, name: str | None, next_path: str, status_code: int
    ) -> Response:
        invite = request.cookies.get(INVITE_COOKIE) or None
        try:
            target = await self.on_sign_in(email.lower(), invite)
        except StoreError as exc:  # nothing the user did: keep the invitation for a retry
            logger.warning("sign-in of %s failed in the store: %s", email, exc.message)
            message = "The dashboard could not reach its store. Try again in a moment."
            return self._failed(error_page(message, 503))
        except FFError as exc:
            logger.info("sign-in of %s refused: %s", email, exc.message)
            # A refused invitation is spent too: otherwise every sign-in for the next hour
            # would trip over it. The user can open the link again.
            refused = self._failed(error_page(exc.message, 403))
            self._clear_cookie(refused, INVITE_COOKIE, _AUTH_PATH)
            return refused
        destination = safe_next(target) if target else next_path
        response = _no_store(RedirectResponse(destination, status_code=status_code))
        ttl_s = self.settings.session_ttl_s
        session = issue_session(self.secret, email, name, ttl_s)
        self._set_cookie(response, tokens.SESSION_COOKIE, session, ttl_s, "/")
        self._clear_cookie(response, LOGIN_COOKIE, _AUTH_PATH)
        self._clear_cookie(response, INVITE_COOKIE, _AUTH_PATH)
        return response

    def _login(self, request: Request) -> dict[str, Any] | None:
        value = request.cookies.get(LOGIN_COOKIE)
        if not value:
            return None
        try:
            return tokens.verify(self.secret, tokens.Audience.LOGIN, value)
        except Unauthorized:
            return None

    def _failed(self, response: Response) -> Response:
        """A failed callback: the login attempt is spent."""
        self._clear_cookie(response, LOGIN_COOKIE, _AUTH_PATH)
        return response

    def _same_origin(self, request: Request) -> bool:
        """Whether a POST comes from the dashboard's own pages (CSRF defense)."""
        origin = request.headers.get("origin")
        if origin is None:
            # Browsers send Origin with every POST; without it, Fetch Metadata (sent by every
            # current browser) still tells a cross-site request. Neither: not a browser (no
            # cookie to ride on), or an old one, where SameSite=Lax still keeps the cookie off.
            site = request.headers.get("sec-fetch-site")
            return site is None or site in ("same-origin", "none")
        if _origin(origin) == _origin(self.settings.public_url):
            return True
        host = request.headers.get("host", "")
        return bool(host) and urlsplit(origin).netloc.lower() == host.lower()

    def _set_cookie(
        self, response: Response, key: str, value: str, max_age: int, path: str
    ) -> None:
        response.set_cookie(
            key,
            value,
            max_age=max_age,
            path=path,
            secure=self.settings.secure_cookies,
            httponly=True,
            samesite="lax",
        )

    def _clear_cookie(self, response: Response, key: str, path: str) -> None:
        response.delete_cookie(
            key, path=path, secure=self.settings.secure_cookies, httponly=True, samesite="lax"
        )


def _origin(url: str) -> str:
    parts = urlsplit(url.strip().lower())
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return ""
    netloc = parts.hostname or ""
    if port is not None and port != default_port:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}"


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
