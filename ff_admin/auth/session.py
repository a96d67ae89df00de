"""The dashboard session: a signed ``Audience.SESSION`` token in the ``ff_session`` cookie.

ff_api accepts the same cookie (``ff_api/principals.py``): ``sub`` is the lower-case email.
The token is stateless; a sign-out reaches its copies through the store
(``ff_core.services.sessions``), which the guard and ff_api consult on every use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from starlette.requests import cookie_parser

from ff_admin.backend import current
from ff_core import tokens
from ff_core.errors import Unauthorized

_LONG_AGO = datetime.fromtimestamp(0, UTC)


@dataclass(frozen=True, slots=True)
class Session:
    email: str
    name: str | None
    expires_at: int  # Unix seconds
    # When it was issued (to the millisecond): a sign-out ends the sessions issued before it.
    issued_at: datetime = field(default=_LONG_AGO, compare=False)


def issue_session(
    secret: bytes, email: str, name: str | None, ttl_s: int, now: float | None = None
) -> str:
    issued = time.time() if now is None else now
    claims = {"sub": email.lower(), "name": name, "iat_ms": int(issued * 1_000)}
    return tokens.issue(secret, tokens.Audience.SESSION, claims, ttl_s, issued)


def session_from_cookie_header(
    secret: bytes, cookie_header: str, now: float | None = None
) -> Session | None:
    """The session named by a raw ``Cookie:`` header; None when missing, invalid or expired.

    Only the signature and expiry are checked here; whether the user signed out since is
    the store's to say (``ff_admin.state.guard.session_of``)."""
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
        issued_at=tokens.issued_at(claims),
    )


async def end_sessions(email: str) -> None:
    """The sign-out hook of the running dashboard: every session of ``email`` ends."""
    await current().services.sessions.sign_out(email)
