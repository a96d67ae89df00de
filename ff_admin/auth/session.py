"""The dashboard session: a signed ``Audience.SESSION`` token in the ``ff_session`` cookie.

ff_api accepts the same cookie (``ff_api/principals.py``): ``sub`` is the lower-case email.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import cookie_parser

from ff_core import tokens
from ff_core.errors import Unauthorized


@dataclass(frozen=True, slots=True)
class Session:
    email: str
    name: str | None
    expires_at: int  # Unix seconds


def issue_session(
    secret: bytes, email: str, name: str | None, ttl_s: int, now: float | None = None
) -> str:
    claims = {"sub": email.lower(), "name": name}
    return tokens.issue(secret, tokens.Audience.SESSION, claims, ttl_s, now)


def session_from_cookie_header(
    secret: bytes, cookie_header: str, now: float | None = None
) -> Session | None:
    """The session named by a raw ``Cookie:`` header; None when missing, invalid or expired."""
    # Starlette's parser reads cookies as browsers send them, even beside malformed
    # ones from other apps on the same host, where SimpleCookie would stop early.
    token = cookie_parser(cookie_header).get(tokens.SESSION_COOKIE)
    if not token:
        return None
    try:
        claims = tokens.verify(secret, tokens.Audience.SESSION, token, now)
    except Unauthorized:
        return None
    email = claims.get("sub")
    name = claims.get("name")
    if not isinstance(email, str) or "@" not in email:
        return None
    return Session(
        email=email.lower(),
        name=name if isinstance(name, str) else None,
        expires_at=int(claims["exp"]),
    )
