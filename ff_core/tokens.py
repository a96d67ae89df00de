"""Short-lived signed tokens (JWT, HS256 through joserfc): browser streams, sessions, sign-ins.

Each purpose is an audience with its own key derived from the deployment's key secret, so
a token minted for one purpose is refused by the other, and every replica verifies what
any replica issued. Tokens are signed, not encrypted: claims must hold nothing secret.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from ff_core.errors import Unauthorized

_ALGORITHM = "HS256"
# The dashboard's session cookie (signed, HttpOnly, SameSite): an ``Audience.SESSION`` token.
SESSION_COOKIE = "ff_session"
_LEEWAY_S = 5


class Audience(StrEnum):
    STREAM = "ff-stream"  # a browser's EventSource: project, environment, key id, context
    SESSION = "ff-session"  # a dashboard sign-in: the verified email
    LOGIN = "ff-login"  # a dashboard sign-in under way: OIDC state, nonce, PKCE verifier, next


@functools.lru_cache(maxsize=32)
def _key(secret: bytes, audience: Audience) -> OctKey:
    # Derived once per secret and purpose: importing a key costs more than signing a token.
    derived = hmac.new(secret, f"ff-token:{audience.value}".encode(), hashlib.sha256).digest()
    return OctKey.import_key(derived)


def issue(
    secret: bytes,
    audience: Audience,
    claims: dict[str, Any],
    ttl_s: float,
    now: float | None = None,
) -> str:
    issued = int(time.time() if now is None else now)
    body = {**claims, "aud": audience.value, "iat": issued, "exp": issued + int(ttl_s)}
    return jwt.encode({"alg": _ALGORITHM}, body, _key(secret, audience), algorithms=[_ALGORITHM])


def issued_at(claims: dict[str, Any]) -> datetime:
    """When a token was issued: to the millisecond where it says (``iat_ms``, which sessions
    carry so that a sign-out and a new sign-in within one second are told apart), else to
    the second (``iat``). Rounded down, so a token never looks newer than it is."""
    iat_ms = claims.get("iat_ms")
    if isinstance(iat_ms, int) and not isinstance(iat_ms, bool):
        return datetime.fromtimestamp(iat_ms // 1_000, UTC) + timedelta(milliseconds=iat_ms % 1_000)
    iat = claims.get("iat")
    if isinstance(iat, int) and not isinstance(iat, bool):
        return datetime.fromtimestamp(iat, UTC)
    return datetime.fromtimestamp(0, UTC)


def verify(
    secret: bytes, audience: Audience, token: str, now: float | None = None
) -> dict[str, Any]:
    """The claims of a valid, unexpired token for ``audience``; else Unauthorized."""
    try:
        decoded = jwt.decode(token, _key(secret, audience), algorithms=[_ALGORITHM])
        registry = jwt.JWTClaimsRegistry(
            now=int(time.time() if now is None else now),
            leeway=_LEEWAY_S,
            aud={"essential": True, "value": audience.value},
            exp={"essential": True},
        )
        registry.validate(decoded.claims)
    except (JoseError, ValueError):
        raise Unauthorized(f"invalid or expired {audience.value} token") from None
    return dict(decoded.claims)
